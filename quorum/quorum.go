package quorum

import (
	"context"
	"fmt"
	"slices"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	squorum "github.com/corogo/corogo/internal/service/quorum"
)

// Type is the quorum provider type (libquorum's quorum_type).
type Type uint32

// Provider types.
const (
	// None: no provider is configured; the node is always quorate.
	None Type = 0
	// Votequorum: corosync_votequorum decides.
	Votequorum Type = 1
)

// String names the type as corosync-quorumtool prints the provider:
// "Not configured" or "corosync_votequorum".
func (t Type) String() string {
	switch t {
	case None:
		return "Not configured"
	case Votequorum:
		return "corosync_votequorum"
	}
	return fmt.Sprintf("quorum type %d", uint32(t))
}

// RingID identifies a ring: the representative's node id and the ring
// sequence number (libquorum's quorum_ring_id).
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// String formats the ring id as corosync logs it and corosync-quorumtool
// prints it: both numbers in hexadecimal, "1.2c".
func (r RingID) String() string { return fmt.Sprintf("%x.%x", r.NodeID, r.Seq) }

// Event is a notification from Client.Events: a *View or a *NodeList.
type Event interface {
	quorumEvent()
}

// View is a quorum view: whether the node is quorate, and the ring's id
// and members (libquorum's quorum_notify_fn arguments).
type View struct {
	Quorate bool
	Ring    RingID
	// Members are the ring's node ids, ascending.
	Members []uint32
}

// NodeList is the membership of a ring once the services are in sync:
// its members, and the nodes that joined and left since the previous one
// (libquorum v1's nodelist_notify_fn arguments).
type NodeList struct {
	Ring    RingID
	Members []uint32
	Joined  []uint32
	Left    []uint32
}

func (*View) quorumEvent()     {}
func (*NodeList) quorumEvent() {}

// TrackFlags select what Track delivers: corosync's CS_TRACK_* bits.
type TrackFlags uint32

// Tracking flags.
const (
	// TrackCurrent delivers the current View and NodeList once.
	TrackCurrent TrackFlags = 1
	// TrackChanges delivers the current View and NodeList, then every
	// change.
	TrackChanges TrackFlags = 2
	// TrackChangesOnly delivers every change, not the current state.
	TrackChangesOnly TrackFlags = 4
)

// Option configures Dial.
type Option func(*options)

type options struct {
	socket string
}

// WithSocket connects to the daemon's socket at path instead of the
// default ($COROSYNCD_SOCKET, else /run/corosyncd/corosyncd.sock).
func WithSocket(path string) Option { return func(o *options) { o.socket = path } }

// Client is a connection to the daemon's quorum service. Its methods are
// safe for concurrent use.
//
// It runs one goroutine of its own, which decodes events into the Events
// channel; Close stops it.
type Client struct {
	c *client.Conn[Event]
}

// Dial connects to the daemon and opens its quorum service. ctx bounds
// the connection and the handshake. Its errors match ErrNotRunning,
// ErrAccessDenied or ErrNoService.
func Dial(ctx context.Context, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	c, err := client.Dial(ctx, o.socket, service.Quorum, "quorum", ErrMalformed, decodeEvent)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// NodeID is the local node's id.
func (c *Client) NodeID() uint32 { return c.c.NodeID() }

// Close ends the connection (quorum_finalize) and waits for the client's
// goroutines. Events not yet received are dropped and the Events channel
// is closed. Close always returns nil.
func (c *Client) Close() error {
	c.c.Close()
	return nil
}

// Err returns why the connection ended, nil while it is up: an error
// matching ErrDisconnected when the daemon went away, ErrClosed after
// Close, or a malformed event from the daemon.
func (c *Client) Err() error { return c.c.Err() }

// Events returns the channel of notifications requested with Track, in
// the order the daemon sent them: *View and *NodeList values. It is
// closed when the connection ends (Err tells why), after the events
// received before. Events the application does not read wait in an
// unbounded queue, so a slow reader never blocks the daemon or the
// Client's requests.
func (c *Client) Events() <-chan Event { return c.c.Events() }

// decodeEvent decodes one event; false for a kind of a later version.
func decodeEvent(ev ipc.Event) (Event, bool, error) {
	var e Event
	var err error
	switch ev.Fn {
	case squorum.EventNotify:
		var v squorum.View
		if v, err = squorum.DecodeView(ev.Payload); err == nil {
			e = viewOf(v)
		}
	case squorum.EventNodeList:
		var n squorum.NodeList
		if n, err = squorum.DecodeNodeList(ev.Payload); err == nil {
			e = &NodeList{Ring: ringOf(n.Ring), Members: ids(n.Members), Joined: ids(n.Joined), Left: ids(n.Left)}
		}
	default:
		// An event kind of a later version: ignore it.
		return nil, false, nil
	}
	return e, true, err
}

// Quorate reports whether this node is quorate (quorum_getquorate).
func (c *Client) Quorate(ctx context.Context) (bool, error) {
	const op = "get quorate"
	reply, err := c.call(ctx, op, squorum.FnGetQuorate, nil)
	if err != nil {
		return false, err
	}
	q, err := squorum.DecodeQuorate(reply)
	if err != nil {
		return false, fmt.Errorf("quorum: %s: %w: %w", op, ErrMalformed, err)
	}
	return q, nil
}

// Type returns the quorum provider type.
func (c *Client) Type(ctx context.Context) (Type, error) {
	const op = "get type"
	reply, err := c.call(ctx, op, squorum.FnGetType, nil)
	if err != nil {
		return 0, err
	}
	t, err := squorum.DecodeType(reply)
	if err != nil {
		return 0, fmt.Errorf("quorum: %s: %w: %w", op, ErrMalformed, err)
	}
	return Type(t), nil
}

// View returns the current view: the last one the daemon published (an
// empty ring before the first one).
func (c *Client) View(ctx context.Context) (View, error) {
	const op = "get view"
	reply, err := c.call(ctx, op, squorum.FnGetView, nil)
	if err != nil {
		return View{}, err
	}
	v, err := squorum.DecodeView(reply)
	if err != nil {
		return View{}, fmt.Errorf("quorum: %s: %w: %w", op, ErrMalformed, err)
	}
	return *viewOf(v), nil
}

// Track asks for notifications on Events (quorum_trackstart): see
// TrackFlags. The events asked for arrive after Track returns. While
// already tracking, TrackChanges or TrackChangesOnly fail with an error
// matching ErrExist; unknown flags with ErrInvalidArg.
func (c *Client) Track(ctx context.Context, flags TrackFlags) error {
	_, err := c.call(ctx, "track start", squorum.FnTrackStart, squorum.AppendTrackStart(nil, squorum.TrackFlags(flags)))
	return err
}

// StopTracking stops the notifications (quorum_trackstop); events already
// sent may still arrive. It fails with an error matching ErrNotExist when
// the client was not tracking.
func (c *Client) StopTracking(ctx context.Context) error {
	_, err := c.call(ctx, "track stop", squorum.FnTrackStop, nil)
	return err
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

func ringOf(r service.RingID) RingID { return RingID{NodeID: r.Rep, Seq: r.Seq} }

func ids(s []service.NodeID) []uint32 {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func viewOf(v squorum.View) *View {
	return &View{Quorate: v.Quorate, Ring: ringOf(v.Ring), Members: ids(v.Members)}
}
