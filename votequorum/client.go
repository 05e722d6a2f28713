package votequorum

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	svq "github.com/corogo/corogo/internal/service/votequorum"
)

// Client is a connection to the daemon's votequorum service. Its methods
// are safe for concurrent use.
//
// It runs one goroutine of its own, which decodes events into the Events
// channel; Close stops it.
type Client struct {
	c *client.Conn[Event]
}

// Dial connects to the daemon's socket at path (when "", ipc.SocketPath:
// $COROSYNCD_SOCKET, else /run/corosyncd/corosyncd.sock) and opens its
// votequorum service (votequorum_initialize). ctx bounds the connection
// and the handshake. Its errors match ErrNotRunning, ErrAccess or
// ErrNoService.
func Dial(ctx context.Context, path string) (*Client, error) {
	c, err := client.Dial(ctx, path, service.Votequorum, "votequorum", ErrMalformed, func(ev ipc.Event) (Event, bool, error) {
		e, err := decodeEvent(ev)
		return e, e != nil || err != nil, err
	})
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// LocalNodeID is this node's id, as the daemon announced it when the
// connection opened.
func (c *Client) LocalNodeID() uint32 { return c.c.NodeID() }

// Close ends the connection (votequorum_finalize) and waits for the
// client's goroutine. Tracking stops; a quorum device registered through
// this connection stays registered, as with corosync. Events not yet
// received are dropped and the Events channel is closed. Close always
// returns nil.
func (c *Client) Close() error {
	c.c.Close()
	return nil
}

// Err returns why the connection ended, nil while it is up: an error
// matching ErrDisconnected when the daemon went away, ErrClosed after
// Close, or ErrMalformed for an event the client could not decode.
func (c *Client) Err() error { return c.c.Err() }

// Events returns the channel of notifications requested with TrackStart,
// in the order the daemon sent them: *QuorumNotification,
// *NodeListNotification and *ExpectedVotesNotification values. It is
// closed when the connection ends (Err tells why), after the events
// received before. Events the application does not read wait in an
// unbounded queue, so a slow reader never blocks the daemon or the
// Client's requests.
func (c *Client) Events() <-chan Event { return c.c.Events() }

// decodeEvent decodes one event; nil, nil for an unknown kind.
func decodeEvent(ev ipc.Event) (Event, error) {
	switch ev.Fn {
	case svq.EventQuorum:
		q, err := svq.DecodeQuorumEvent(ev.Payload)
		if err != nil {
			return nil, err
		}
		n := &QuorumNotification{Quorate: q.Quorate, Context: q.Context}
		if len(q.Nodes) > 0 {
			n.Nodes = make([]NodeStatus, len(q.Nodes))
			for i, s := range q.Nodes {
				n.Nodes[i] = NodeStatus{NodeID: s.NodeID, State: NodeState(s.State)}
			}
		}
		return n, nil
	case svq.EventNodeList:
		l, err := svq.DecodeNodeListEvent(ev.Payload)
		if err != nil {
			return nil, err
		}
		return &NodeListNotification{
			Context: l.Context,
			Ring:    RingID{NodeID: l.Ring.Rep, Seq: l.Ring.Seq},
			Members: slices.Clip(l.Members),
		}, nil
	case svq.EventExpectedVotes:
		x, err := svq.DecodeExpectedVotesEvent(ev.Payload)
		if err != nil {
			return nil, err
		}
		return &ExpectedVotesNotification{Context: x.Context, ExpectedVotes: x.ExpectedVotes}, nil
	}
	return nil, nil
}

// GetInfo returns a node's votequorum information (votequorum_getinfo);
// nodeID 0 means this node. An unknown node fails with an error matching
// ErrNotExist.
func (c *Client) GetInfo(ctx context.Context, nodeID uint32) (Info, error) {
	const op = "get info"
	reply, err := c.call(ctx, op, svq.FnGetInfo, svq.AppendGetInfo(nil, nodeID))
	if err != nil {
		return Info{}, err
	}
	in, err := svq.DecodeInfo(reply)
	if err != nil {
		return Info{}, fmt.Errorf("votequorum: %s: %w: %w", op, ErrMalformed, err)
	}
	return Info{
		NodeID:          in.NodeID,
		State:           NodeState(in.State),
		Votes:           in.Votes,
		ExpectedVotes:   in.ExpectedVotes,
		HighestExpected: in.HighestExpected,
		TotalVotes:      in.TotalVotes,
		Quorum:          in.Quorum,
		Flags:           InfoFlags(in.Flags),
		QdeviceVotes:    in.QdeviceVotes,
		QdeviceName:     in.QdeviceName,
	}, nil
}

// SetExpected changes the expected votes of every node
// (votequorum_setexpected). A value that would make the cluster lose
// quorum at once fails with an error matching ErrInvalidArg; 0 changes
// nothing, as in corosync.
func (c *Client) SetExpected(ctx context.Context, expected uint32) error {
	_, err := c.call(ctx, "set expected", svq.FnSetExpected, svq.AppendSetExpected(nil, expected))
	return err
}

// SetVotes changes a node's votes on every node (votequorum_setvotes);
// nodeID 0 is the quorum device, as in corosync (corosync-quorumtool
// passes this node's id). An unknown node fails with an error matching
// ErrNotExist, a value that would make the cluster lose quorum with
// ErrInvalidArg.
func (c *Client) SetVotes(ctx context.Context, nodeID, votes uint32) error {
	_, err := c.call(ctx, "set votes", svq.FnSetVotes, svq.AppendSetVotes(nil, nodeID, votes))
	return err
}

// TrackStart asks for notifications on Events (votequorum_trackstart):
// see TrackFlags. context comes back in every notification. The
// notifications of the current state arrive after TrackStart returns.
// While already tracking it fails with an error matching ErrExist.
func (c *Client) TrackStart(ctx context.Context, flags TrackFlags, context uint64) error {
	_, err := c.call(ctx, "track start", svq.FnTrackStart, svq.AppendTrackStart(nil, svq.TrackFlags(flags), context))
	return err
}

// TrackStop stops the notifications (votequorum_trackstop); those already
// sent may still arrive. It fails with an error matching ErrNotExist when
// the client was not tracking.
func (c *Client) TrackStop(ctx context.Context) error {
	_, err := c.call(ctx, "track stop", svq.FnTrackStop, nil)
	return err
}

// QdeviceRegister registers a quorum device named name
// (votequorum_qdevice_register). It fails with an error matching
// ErrAccess when the configuration allows no device, ErrExist when a
// device of another name is registered, ErrTryAgain while another
// registration is in progress.
func (c *Client) QdeviceRegister(ctx context.Context, name string) error {
	const op = "qdevice register"
	if err := checkName(op, name); err != nil {
		return err
	}
	_, err := c.call(ctx, op, svq.FnQdeviceRegister, svq.AppendName(nil, name))
	return err
}

// QdeviceUnregister unregisters the quorum device named name
// (votequorum_qdevice_unregister). It fails with an error matching
// ErrInvalidArg when another device is registered, ErrNotExist when none
// is.
func (c *Client) QdeviceUnregister(ctx context.Context, name string) error {
	const op = "qdevice unregister"
	if err := checkName(op, name); err != nil {
		return err
	}
	_, err := c.call(ctx, op, svq.FnQdeviceUnregister, svq.AppendName(nil, name))
	return err
}

// QdeviceUpdate renames the registered quorum device from oldName to
// newName (votequorum_qdevice_update).
func (c *Client) QdeviceUpdate(ctx context.Context, oldName, newName string) error {
	const op = "qdevice update"
	if err := checkName(op, oldName); err != nil {
		return err
	}
	if err := checkName(op, newName); err != nil {
		return err
	}
	_, err := c.call(ctx, op, svq.FnQdeviceUpdate, svq.AppendNames(nil, oldName, newName))
	return err
}

// QdevicePoll is the quorum device's heartbeat (votequorum_qdevice_poll):
// the device named name is alive and casts its vote or not, as of ring.
// A ring other than the last one votequorum synced fails with an error
// matching ErrMessage, and the poll is ignored.
func (c *Client) QdevicePoll(ctx context.Context, name string, castVote bool, ring RingID) error {
	const op = "qdevice poll"
	if err := checkName(op, name); err != nil {
		return err
	}
	p := svq.Poll{Name: name, CastVote: castVote, Ring: service.RingID{Rep: ring.NodeID, Seq: ring.Seq}}
	_, err := c.call(ctx, op, svq.FnQdevicePoll, svq.AppendPoll(nil, p))
	return err
}

// QdeviceMasterWins turns the quorum device's master wins mode on or off
// (votequorum_qdevice_master_wins).
func (c *Client) QdeviceMasterWins(ctx context.Context, name string, allow bool) error {
	const op = "qdevice master wins"
	if err := checkName(op, name); err != nil {
		return err
	}
	_, err := c.call(ctx, op, svq.FnQdeviceMasterWins, svq.AppendMasterWins(nil, name, allow))
	return err
}

// CancelWaitForAll cancels wait_for_all on every node, as setting
// corosync's cmap key quorum.cancel_wait_for_all does (pcs uses it).
func (c *Client) CancelWaitForAll(ctx context.Context) error {
	_, err := c.call(ctx, "cancel wait for all", svq.FnCancelWaitForAll, nil)
	return err
}

// checkName refuses a quorum device name the protocol cannot carry, as
// libvotequorum refuses a name too long for its buffer.
func checkName(op, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("votequorum: %s: %w: empty quorum device name", op, ErrInvalidArg)
	case len(name) > MaxQdeviceNameLen:
		return fmt.Errorf("votequorum: %s: %w: quorum device name of %d bytes (at most %d)", op, ErrInvalidArg, len(name), MaxQdeviceNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("votequorum: %s: %w: quorum device name holds a NUL byte", op, ErrInvalidArg)
	}
	return nil
}

// call sends one request and turns its status into an error.
func (c *Client) call(ctx context.Context, op string, fn uint16, payload []byte) ([]byte, error) {
	st, reply, err := c.c.Call(ctx, op, fn, payload)
	if err != nil {
		return nil, err
	}
	if st != service.OK {
		return nil, &StatusError{Op: op, Status: Status(st)}
	}
	return reply, nil
}
