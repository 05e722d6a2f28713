package cpg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	proto "github.com/corogo/corogo/internal/service/cpg"
	"github.com/corogo/corogo/totem"
)

// MaxNameLen is the longest group name, in bytes (CPG_MAX_NAME_LENGTH).
const MaxNameLen = 128

// eventBuffer is the capacity of the Events channel; beyond it events wait
// in an unbounded queue (see Client).
const eventBuffer = 256

// Retry pacing of Join and Leave while the daemon answers ErrTryAgain.
const (
	retryMin = 5 * time.Millisecond
	retryMax = 200 * time.Millisecond
)

// Option configures Dial.
type Option func(*options)

type options struct {
	socket  string
	pid     uint32
	track   bool
	initial bool
}

// WithSocket connects to the daemon's socket at path instead of the
// default ($COROSYNCD_SOCKET, else /run/corosyncd/corosyncd.sock).
func WithSocket(path string) Option {
	return func(o *options) { o.socket = path }
}

// WithTotemEvents asks for a *TotemConfChange event after every ring
// change; with initial, the current ring is reported right after Dial
// (libcpg's CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF).
func WithTotemEvents(initial bool) Option {
	return func(o *options) { o.track, o.initial = true, initial }
}

// WithPID makes Join join as process pid instead of this process (the
// daemon's view of the peer, from the socket's credentials). The daemon
// lets a (pid, group) join once per node, so several clients of one
// process that join the same group, as tests and simulations do, need
// distinct pids. 0 means the default.
func WithPID(pid uint32) Option {
	return func(o *options) { o.pid = pid }
}

// Client is a connection to the local daemon's CPG service, the
// counterpart of a libcpg handle. A client may join several groups. Its
// methods are safe for concurrent use.
//
// Events arrive on the Events channel, in the daemon's order. A goroutine
// of the client reads them from the connection as they come and keeps
// them in an unbounded queue until the application takes them, so that a
// slow reader never stalls the connection or the flow control; an
// application that never reads Events makes that queue grow.
type Client struct {
	ic     *ipc.Client
	pid    uint32
	nodeID uint32
	events chan Event
	done   chan struct{} // closed when the event goroutine ended
	stop   chan struct{} // closed by Close
	once   sync.Once

	maxAtomic atomic.Int64

	// mu guards the fields below.
	mu     sync.Mutex
	joined map[string]bool
	flowOn bool
	// flowWake is closed at the next change of flowOn or when the
	// connection ends; nil when nobody waits.
	flowWake chan struct{}
	ended    bool  // the event goroutine saw the connection end
	err      error // a protocol error found in an event
}

// Dial connects to the daemon and opens its CPG service. ctx bounds the
// connection, the handshake and the first requests. Errors match
// ErrNotRunning (no daemon), ErrAccess or ErrNotSupported.
func Dial(ctx context.Context, opts ...Option) (*Client, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	ic, err := ipc.Dial(ctx, o.socket, uint16(service.CPG))
	if err != nil {
		return nil, ipcErr("dial", err)
	}
	c := &Client{
		ic:     ic,
		pid:    o.pid,
		nodeID: ic.NodeID(),
		events: make(chan Event, eventBuffer),
		done:   make(chan struct{}),
		stop:   make(chan struct{}),
		joined: make(map[string]bool),
	}
	go c.run()
	if err := c.start(ctx, o); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// start asks for what the client needs to know before it is handed out.
func (c *Client) start(ctx context.Context, o options) error {
	if _, err := c.MaxAtomic(ctx); err != nil {
		return err
	}
	if c.nodeID == 0 {
		p, err := c.call(ctx, "local get", "", proto.ReqLocalGet, nil)
		if err != nil {
			return err
		}
		if c.nodeID, err = proto.DecodeLocalGetReply(p); err != nil {
			return fmt.Errorf("cpg: local get: %w", err)
		}
	}
	if o.track {
		req := proto.AppendTrackTotemRequest(nil, proto.TrackTotemRequest{On: true, Initial: o.initial})
		if _, err := c.call(ctx, "track totem", "", proto.ReqTrackTotem, req); err != nil {
			return err
		}
	}
	return nil
}

// call sends a request and waits for its reply: transport errors and
// error statuses become errors.
func (c *Client) call(ctx context.Context, op, group string, fn uint16, payload []byte) ([]byte, error) {
	st, reply, err := c.ic.Call(ctx, fn, payload)
	if err != nil {
		return nil, ipcErr(op, err)
	}
	if err := statusErr(op, group, st); err != nil {
		return nil, err
	}
	return reply, nil
}

// LocalNodeID is the local node's id.
func (c *Client) LocalNodeID() uint32 { return c.nodeID }

// checkName validates a group name as the daemon does.
func checkName(op, group string) error {
	switch {
	case group == "":
		return fmt.Errorf("cpg: %s: empty group name: %w", op, ErrInvalidArg)
	case len(group) > MaxNameLen:
		return fmt.Errorf("cpg: %s: group name of %d bytes (at most %d): %w", op, len(group), MaxNameLen, ErrNameTooLong)
	}
	return nil
}

// retry runs a request until the daemon stops answering ErrTryAgain or
// ctx ends.
func retry(ctx context.Context, f func() error) error {
	wait := retryMin
	for {
		err := f()
		if !errors.Is(err, ErrTryAgain) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		}
		wait = min(2*wait, retryMax)
	}
}

// Join joins group. It returns once the daemon has sent the join to the
// ring; the *ConfChange that lists this process in Joined follows on
// Events, and from it on the client gets the group's messages and
// changes. Messages sent with Mcast after Join returns are delivered
// after that ConfChange. While the daemon answers ErrTryAgain (a
// synchronisation after a membership change, a previous leave of the same
// process not delivered yet) Join retries until ctx ends. It fails with
// ErrExist if the process has joined the group already.
func (c *Client) Join(ctx context.Context, group string) error {
	if err := checkName("join", group); err != nil {
		return err
	}
	req := proto.AppendJoinRequest(nil, proto.JoinRequest{PID: c.pid, Group: []byte(group)})
	err := retry(ctx, func() error {
		_, err := c.call(ctx, "join", group, proto.ReqJoin, req)
		return err
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.joined[group] = true
	c.mu.Unlock()
	return nil
}

// Leave leaves group. It returns once the daemon has sent the leave; the
// last *ConfChange of the group, listing this process in Left, follows on
// Events. Like Join it retries while the daemon answers ErrTryAgain, which
// it does until the ConfChange of the join has been delivered. It fails
// with ErrNotJoined if the client has not joined group.
func (c *Client) Leave(ctx context.Context, group string) error {
	if err := checkName("leave", group); err != nil {
		return err
	}
	if !c.isJoined(group) {
		return fmt.Errorf("cpg: leaving %q: %w", group, ErrNotJoined)
	}
	req := proto.AppendLeaveRequest(nil, proto.LeaveRequest{Group: []byte(group)})
	err := retry(ctx, func() error {
		_, err := c.call(ctx, "leave", group, proto.ReqLeave, req)
		return err
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.joined, group)
	c.mu.Unlock()
	return nil
}

func (c *Client) isJoined(group string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.joined[group]
}

// checkMcast validates a multicast and returns the request's header.
func (c *Client) checkMcast(group string, g Guarantee, data [][]byte) ([]byte, error) {
	if err := checkName("mcast", group); err != nil {
		return nil, err
	}
	if g > Safe {
		return nil, fmt.Errorf("cpg: mcast: %v: %w", g, ErrInvalidArg)
	}
	if !c.isJoined(group) {
		return nil, fmt.Errorf("cpg: mcast to %q: %w", group, ErrNotJoined)
	}
	n := 0
	for _, d := range data {
		n += len(d)
	}
	if limit := int(c.maxAtomic.Load()); n > limit {
		return nil, fmt.Errorf("cpg: mcast of %d bytes (at most %d): %w", n, limit, ErrTooBig)
	}
	return proto.AppendMcastRequestHeader(nil, totem.Guarantee(g), []byte(group)), nil
}

// Mcast multicasts the concatenation of data to group, which the client
// must have joined, with guarantee g. It is pipelined: it returns once the
// message is queued for the daemon, which answers nothing; a message the
// daemon refuses comes back as a *SendError event. data is copied before
// Mcast returns. Every member of the group, this client included, gets
// the message on Events, all in the same order.
//
// Under flow control (a *FlowControl{On: true} event: the ring's send
// queue is full) Mcast waits until it is off, and when the connection's
// buffers are full it waits for room, until ctx ends. It fails at once
// with ErrNotJoined if the client has not joined group, and with
// ErrTooBig for more than MaxAtomic bytes.
func (c *Client) Mcast(ctx context.Context, group string, g Guarantee, data ...[]byte) error {
	hdr, err := c.checkMcast(group, g, data)
	if err != nil {
		return err
	}
	if err := c.waitFlow(ctx); err != nil {
		return err
	}
	return ipcErr("mcast", c.ic.Send(ctx, proto.ReqMcast, append([][]byte{hdr}, data...)...))
}

// TryMcast is Mcast that never waits: under flow control, or when the
// connection's buffers are full, it returns ErrTryAgain (corosync's
// CS_ERR_TRY_AGAIN), and the message is not sent.
func (c *Client) TryMcast(group string, g Guarantee, data ...[]byte) error {
	hdr, err := c.checkMcast(group, g, data)
	if err != nil {
		return err
	}
	if c.FlowControl() {
		return fmt.Errorf("cpg: mcast: flow control: %w", ErrTryAgain)
	}
	ctx := new(noWait)
	err = c.ic.Send(ctx, proto.ReqMcast, append([][]byte{hdr}, data...)...)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("cpg: mcast: connection buffers full: %w", ErrTryAgain)
	}
	return ipcErr("mcast", err)
}

// WaitFlow waits until flow control is off (it returns at once when it
// is), the connection ends or ctx ends; only the last is an error. With
// TryMcast it makes the loop of a sender that counts its retries:
//
//	for err := c.TryMcast(g, cpg.Agreed, m); errors.Is(err, cpg.ErrTryAgain); err = c.TryMcast(g, cpg.Agreed, m) {
//		retries++
//		if err := c.WaitFlow(ctx); err != nil { ... }
//	}
//
// (When the connection's buffers are full with flow control off, WaitFlow
// does not wait: Mcast is the call that waits for room.)
func (c *Client) WaitFlow(ctx context.Context) error { return c.waitFlow(ctx) }

// waitFlow waits until flow control is off, the connection ends (Mcast
// then fails with its error) or ctx ends.
func (c *Client) waitFlow(ctx context.Context) error {
	for {
		c.mu.Lock()
		if !c.flowOn || c.ended {
			c.mu.Unlock()
			return nil
		}
		if c.flowWake == nil {
			c.flowWake = make(chan struct{})
		}
		wake := c.flowWake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("cpg: mcast: waiting for flow control to end: %w", ctx.Err())
		}
	}
}

// noWait is a context that is cancelled the moment anything waits for it,
// that is asks for its Done channel: it makes a blocking operation give
// up instead of waiting, and tells afterwards (Err) whether it did.
type noWait struct {
	once sync.Once
	ch   chan struct{}
	gave atomic.Bool
}

var errWouldWait = errors.New("cpg: would wait")

func (n *noWait) Deadline() (time.Time, bool) { return time.Time{}, false }
func (n *noWait) Value(any) any               { return nil }
func (n *noWait) Done() <-chan struct{} {
	n.once.Do(func() {
		n.ch = make(chan struct{})
		close(n.ch)
		n.gave.Store(true)
	})
	return n.ch
}
func (n *noWait) Err() error {
	if n.gave.Load() {
		return errWouldWait
	}
	return nil
}

// FlowControl reports whether the daemon holds this client's messages
// because the ring's send queue is full, as the last *FlowControl event
// said (CPG_FLOW_CONTROL_ENABLED). The state is updated as soon as the
// event arrives, whether or not the application has read it.
func (c *Client) FlowControl() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flowOn
}

// MaxAtomic asks the daemon for the largest message Mcast takes, in bytes.
func (c *Client) MaxAtomic(ctx context.Context) (int, error) {
	p, err := c.call(ctx, "max atomic", "", proto.ReqMaxAtomic, nil)
	if err != nil {
		return 0, err
	}
	v, err := proto.DecodeMaxAtomicReply(p)
	if err != nil {
		return 0, fmt.Errorf("cpg: max atomic: %w", err)
	}
	// The request must fit in one IPC frame too.
	n := min(int(v), c.ic.MaxFrame()-ipc.HeaderSize-proto.MaxDeliverHeader)
	c.maxAtomic.Store(int64(n))
	return n, nil
}

// Membership returns the members of group, ascending by (NodeID, PID);
// none when the group does not exist. Any client may ask, joined or not.
func (c *Client) Membership(ctx context.Context, group string) ([]Address, error) {
	if err := checkName("membership", group); err != nil {
		return nil, err
	}
	p, err := c.call(ctx, "membership", group, proto.ReqMembership, proto.AppendMembershipRequest(nil, proto.MembershipRequest{Group: []byte(group)}))
	if err != nil {
		return nil, err
	}
	ms, err := proto.DecodeMembershipReply(p)
	if err != nil {
		return nil, fmt.Errorf("cpg: membership: %w", err)
	}
	out := make([]Address, len(ms))
	for i, m := range ms {
		out[i] = Address{NodeID: m.NodeID, PID: m.PID}
	}
	return out, nil
}

// Groups lists every group that has members, sorted by name (byte order),
// with its members (cpg_iteration with CPG_ITERATION_ALL).
func (c *Client) Groups(ctx context.Context) ([]Group, error) {
	entries, err := c.iterate(ctx, proto.IterAll)
	if err != nil {
		return nil, err
	}
	var out []Group
	for _, e := range entries {
		name := string(e.Group)
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, Group{Name: name})
		}
		g := &out[len(out)-1]
		g.Members = append(g.Members, Address{NodeID: e.NodeID, PID: e.PID})
	}
	return out, nil
}

// GroupNames lists the names of the groups that have members, sorted
// (CPG_ITERATION_NAME_ONLY).
func (c *Client) GroupNames(ctx context.Context) ([]string, error) {
	entries, err := c.iterate(ctx, proto.IterNameOnly)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = string(e.Group)
	}
	return out, nil
}

func (c *Client) iterate(ctx context.Context, mode proto.IterMode) ([]proto.IterEntry, error) {
	p, err := c.call(ctx, "iterate", "", proto.ReqIterate, proto.AppendIterateRequest(nil, proto.IterateRequest{Mode: mode}))
	if err != nil {
		return nil, err
	}
	entries, err := proto.DecodeIterateReply(p)
	if err != nil {
		return nil, fmt.Errorf("cpg: iterate: %w", err)
	}
	return entries, nil
}

// Events returns the channel of events. It is closed when the connection
// ends (the daemon went away, or Close); Err then tells why.
func (c *Client) Events() <-chan Event { return c.events }

// Err returns why the connection ended, nil while it is up: an error
// matching ErrDisconnected when the daemon went away, ErrClosed after
// Close.
func (c *Client) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return ipcErr("connection", c.ic.Err())
}

// Close closes the connection: the daemon makes the client leave its
// groups (other members see ReasonProcDown). Messages queued by Mcast are
// flushed first, for up to 2 s. Events not yet read are dropped and the
// channel is closed. Close waits for the client's goroutines and always
// returns nil.
func (c *Client) Close() error {
	c.once.Do(func() {
		close(c.stop)
		c.ic.Close()
	})
	<-c.done
	return nil
}

// run is the event goroutine: it decodes the connection's events, applies
// what concerns the client's own state (flow control) at once, and queues
// them for the Events channel, which it closes at the end.
func (c *Client) run() {
	defer close(c.done)
	defer close(c.events)
	in := c.ic.Events()
	var queue []Event
	for {
		var out chan<- Event
		var head Event
		if len(queue) > 0 {
			out, head = c.events, queue[0]
		} else if in == nil {
			return
		}
		select {
		case ev, ok := <-in:
			if !ok {
				in = nil
				c.connEnded()
				continue
			}
			e, err := c.decode(ev)
			if err != nil {
				c.mu.Lock()
				if c.err == nil {
					c.err = err
				}
				c.mu.Unlock()
				c.ic.Close() // closes in
				continue
			}
			if e != nil {
				queue = append(queue, e)
			}
		case out <- head:
			queue[0] = nil
			queue = queue[1:]
			if len(queue) == 0 {
				queue = nil
			}
		case <-c.stop:
			// Close: drop what is left, wait for the transport to end.
			queue = nil
			if in != nil {
				for range in {
				}
				c.connEnded()
			}
			return
		}
	}
}

// connEnded wakes the goroutines waiting in Mcast.
func (c *Client) connEnded() {
	c.mu.Lock()
	c.ended = true
	c.wakeLocked()
	c.mu.Unlock()
}

func (c *Client) wakeLocked() {
	if c.flowWake != nil {
		close(c.flowWake)
		c.flowWake = nil
	}
}

// decode turns an IPC event into an Event. The payload belongs to the
// client (the transport hands each event its own copy), so Message.Data
// may alias it.
func (c *Client) decode(ev ipc.Event) (Event, error) {
	switch ev.Fn {
	case proto.EvDeliver:
		m, err := proto.DecodeDeliverEvent(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("cpg: event from corosyncd: %w", err)
		}
		return &Message{Group: string(m.Group), NodeID: m.NodeID, PID: m.PID, Guarantee: Guarantee(m.Guarantee), Data: m.Data}, nil
	case proto.EvConfChg:
		m, err := proto.DecodeConfChgEvent(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("cpg: event from corosyncd: %w", err)
		}
		return &ConfChange{Group: string(m.Group), Members: addrs(m.Members), Left: addrs(m.Left), Joined: addrs(m.Joined)}, nil
	case proto.EvTotemConfChg:
		m, err := proto.DecodeTotemConfChgEvent(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("cpg: event from corosyncd: %w", err)
		}
		return &TotemConfChange{RingID: RingID{NodeID: m.Ring.Rep, Seq: m.Ring.Seq}, Members: m.Members}, nil
	case proto.EvFlowControl:
		on, err := proto.DecodeFlowControlEvent(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("cpg: event from corosyncd: %w", err)
		}
		c.mu.Lock()
		if c.flowOn != on {
			c.flowOn = on
			c.wakeLocked()
		}
		c.mu.Unlock()
		return &FlowControl{On: on}, nil
	case proto.EvError:
		m, err := proto.DecodeErrorEvent(ev.Payload)
		if err != nil {
			return nil, fmt.Errorf("cpg: event from corosyncd: %w", err)
		}
		op := "mcast"
		if m.Fn != proto.ReqMcast {
			op = fmt.Sprintf("request %d", m.Fn)
		}
		return &SendError{Err: &StatusError{Op: op, Status: Status(m.Status)}}, nil
	}
	// Unknown kinds are events of a later protocol version: ignore them.
	return nil, nil
}

// addrs converts a confchg list; nil stays nil.
func addrs(list []proto.Address) []Address {
	if len(list) == 0 {
		return nil
	}
	out := make([]Address, len(list))
	for i, a := range list {
		out[i] = Address{NodeID: a.NodeID, PID: a.PID, Reason: Reason(a.Reason)}
	}
	return out
}
