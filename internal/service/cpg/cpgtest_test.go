package cpg

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// sent is one message handed to a fake API.
type sent struct {
	from uint32
	g    totem.Guarantee
	data []byte
}

// fakeAPI is a service.API. Sent messages go to a ring if it has one
// (which delivers them to every member in one total order), else to sent.
type fakeAPI struct {
	node    uint32
	maxMsg  int
	syncing bool
	// room is how many more sends are accepted before ErrTryAgain; < 0
	// means unlimited.
	room int
	// fail, if set, is returned by every send.
	fail    error
	discard bool // count only (benchmarks)
	nsent   int
	sent    []sent
	ring    *ring
	log     *slog.Logger
}

func newFakeAPI(node uint32) *fakeAPI {
	return &fakeAPI{node: node, maxMsg: 1 << 20, room: -1, log: slog.New(slog.DiscardHandler)}
}

func (a *fakeAPI) NodeID() service.NodeID { return a.node }
func (a *fakeAPI) MaxMessage() int        { return a.maxMsg }
func (a *fakeAPI) Syncing() bool          { return a.syncing }
func (a *fakeAPI) Logger() *slog.Logger   { return a.log }
func (a *fakeAPI) Ring() (service.RingID, []service.NodeID) {
	if a.ring != nil {
		return a.ring.id, slices.Clone(a.ring.members)
	}
	return service.RingID{Rep: a.node, Seq: 4}, []service.NodeID{a.node}
}

func (a *fakeAPI) Send(msg []byte, g totem.Guarantee) error { return a.SendVec(g, msg) }

func (a *fakeAPI) SendVec(g totem.Guarantee, parts ...[]byte) error {
	if a.fail != nil {
		return a.fail
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > a.maxMsg {
		return totem.ErrMessageTooBig
	}
	if a.room == 0 {
		return totem.ErrTryAgain
	}
	if a.room > 0 {
		a.room--
	}
	a.nsent++
	if a.discard {
		return nil
	}
	msg := slices.Concat(parts...)
	if a.ring != nil {
		a.ring.queue = append(a.ring.queue, sent{a.node, g, msg})
		return nil
	}
	a.sent = append(a.sent, sent{a.node, g, msg})
	return nil
}

// take returns and forgets the messages sent so far.
func (a *fakeAPI) take() []sent {
	s := a.sent
	a.sent = nil
	return s
}

// execOf builds the service.Exec the daemon would give for m.
func execOf(t testing.TB, m sent) service.Exec {
	t.Helper()
	h, err := service.ParseHeader(m.data, false)
	if err != nil || h.Service != service.CPG {
		t.Fatalf("sent a non-cpg message: %v %+v", err, h)
	}
	return service.Exec{From: m.from, Fn: h.Fn, Data: m.data, Guarantee: m.g}
}

// loop delivers everything a lone node sent back to it, as a one-node
// ring does, until nothing more is sent.
func loop(t testing.TB, a *fakeAPI, e *Engine) {
	t.Helper()
	for len(a.sent) > 0 {
		for _, m := range a.take() {
			e.Exec(execOf(t, m))
		}
	}
}

type reply struct {
	id      uint32
	status  service.Status
	payload []byte
}

type event struct {
	kind    uint16
	payload []byte
}

// fakeConn is a service.Conn that records what it gets.
type fakeConn struct {
	id      uint64
	cred    service.Cred
	replies []reply
	events  []event
	closed  error
	discard bool
	nevents int
}

func newConn(id uint64, pid int32) *fakeConn {
	return &fakeConn{id: id, cred: service.Cred{PID: pid}}
}

func (c *fakeConn) ID() uint64         { return c.id }
func (c *fakeConn) Cred() service.Cred { return c.cred }
func (c *fakeConn) Close(reason error) { c.closed = reason }
func (c *fakeConn) Reply(id uint32, st service.Status, payload []byte) {
	c.replies = append(c.replies, reply{id, st, slices.Clone(payload)})
}
func (c *fakeConn) Event(kind uint16, hdr, body []byte) {
	c.nevents++
	if c.discard {
		return
	}
	c.events = append(c.events, event{kind, slices.Concat(hdr, body)})
}

// lastReply returns the last reply and forgets all.
func (c *fakeConn) lastReply(t testing.TB) reply {
	t.Helper()
	if len(c.replies) == 0 {
		t.Fatalf("conn %d: no reply", c.id)
	}
	r := c.replies[len(c.replies)-1]
	c.replies = nil
	return r
}

// takeEvents returns and forgets the events.
func (c *fakeConn) takeEvents() []event {
	ev := c.events
	c.events = nil
	return ev
}

// describe renders events as text, for comparisons and failure messages.
func describe(t testing.TB, evs []event) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		out = append(out, describeEvent(t, ev))
	}
	return out
}

func addrs(list []Address) string {
	var sb strings.Builder
	for i, a := range list {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%d/%d", a.NodeID, a.PID)
		if a.Reason != ReasonUndefined {
			fmt.Fprintf(&sb, ":%d", a.Reason)
		}
	}
	return sb.String()
}

func describeEvent(t testing.TB, ev event) string {
	t.Helper()
	switch ev.kind {
	case EvDeliver:
		m, err := DecodeDeliverEvent(ev.payload)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("deliver %s from %d/%d g%d %q", m.Group, m.NodeID, m.PID, m.Guarantee, m.Data)
	case EvConfChg:
		m, err := DecodeConfChgEvent(ev.payload)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("confchg %s members[%s] left[%s] joined[%s]", m.Group, addrs(m.Members), addrs(m.Left), addrs(m.Joined))
	case EvTotemConfChg:
		m, err := DecodeTotemConfChgEvent(ev.payload)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("totem %s %v", m.Ring, m.Members)
	case EvFlowControl:
		on, err := DecodeFlowControlEvent(ev.payload)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("flow %v", on)
	case EvError:
		m, err := DecodeErrorEvent(ev.payload)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("error fn %d: %v", m.Fn, m.Status)
	}
	t.Fatalf("unknown event kind %d", ev.kind)
	return ""
}

// Request helpers.

func joinReq(id uint32, group string, pid uint32) service.Request {
	return service.Request{ID: id, Fn: ReqJoin, Payload: AppendJoinRequest(nil, JoinRequest{PID: pid, Group: []byte(group)})}
}

func leaveReq(id uint32, group string) service.Request {
	return service.Request{ID: id, Fn: ReqLeave, Payload: AppendLeaveRequest(nil, LeaveRequest{Group: []byte(group)})}
}

func mcastReq(id uint32, group, data string) service.Request {
	return service.Request{ID: id, Fn: ReqMcast, Payload: AppendMcastRequest(nil, McastRequest{Group: []byte(group), Data: []byte(data)})}
}

// cluster holds simulated nodes; each is in at most one ring at a time.
// Rings are partitions: a message is delivered to the members of the
// sender's ring.
type cluster struct {
	t     testing.TB
	nodes map[uint32]*simNode
	seq   uint64
}

// ring is a simulated Totem ring: every message sent by a member is
// delivered to every member, in one total order (the order of sends).
type ring struct {
	c       *cluster
	members []uint32
	id      service.RingID
	queue   []sent
}

// simNode is one node of a cluster.
type simNode struct {
	id    uint32
	api   *fakeAPI
	e     *Engine
	conns map[uint64]*fakeConn
	// view is the member list of the node's last ring.
	view []uint32
}

func newCluster(t testing.TB) *cluster {
	return &cluster{t: t, nodes: map[uint32]*simNode{}}
}

// start adds a fresh node (a new or restarted daemon) with no ring; it
// must be put in one with reconfigure before it can send.
func (c *cluster) start(id uint32) *simNode {
	api := newFakeAPI(id)
	n := &simNode{id: id, api: api, e: New(api, Options{}), conns: map[uint64]*fakeConn{}}
	c.nodes[id] = n
	return n
}

// ring returns a new, empty ring.
func (c *cluster) ring() *ring { return &ring{c: c} }

// run delivers queued messages to the members until the queue is empty.
func (r *ring) run() {
	for len(r.queue) > 0 {
		m := r.queue[0]
		r.queue = r.queue[1:]
		for _, id := range r.members {
			r.c.nodes[id].e.Exec(execOf(r.c.t, m))
		}
	}
}

// reconfigure installs a new ring of members (taken from whatever ring
// they were in, whose pending messages are delivered first): every
// member gets its transitional and regular configuration and runs the
// CPG sync, in one total order.
func (r *ring) reconfigure(members ...uint32) {
	members = slices.Clone(members)
	slices.Sort(members)
	for _, id := range members {
		if old := r.c.nodes[id].api.ring; old != nil {
			old.run()
			old.members = slices.DeleteFunc(old.members, func(m uint32) bool { return m == id })
		}
	}
	r.run()
	r.c.seq += 4
	r.id = service.RingID{Rep: members[0], Seq: r.c.seq}
	r.members = members
	for _, id := range members {
		n := r.c.nodes[id]
		n.api.ring = r
		var trans []uint32
		for _, v := range n.view {
			if slices.Contains(members, v) {
				trans = append(trans, v)
			}
		}
		if !slices.Contains(trans, id) {
			trans = append(trans, id)
			slices.Sort(trans)
		}
		n.api.syncing = true
		n.e.ConfChange(&totem.ConfChange{Transitional: true, RingID: r.id, Members: trans})
		n.e.ConfChange(&totem.ConfChange{RingID: r.id, Members: members})
		n.e.SyncInit(trans, members, r.id)
		n.view = slices.Clone(members)
	}
	done := map[uint32]bool{}
	for len(done) < len(members) {
		for _, id := range members {
			if !done[id] && r.c.nodes[id].e.SyncProcess() {
				done[id] = true
			}
		}
		r.run()
	}
	for _, id := range members {
		r.c.nodes[id].e.SyncActivate()
	}
	for _, id := range members {
		r.c.nodes[id].api.syncing = false
		r.c.nodes[id].e.Resume()
	}
	r.run()
}

// crash stops a node: it leaves its ring without a word.
func (c *cluster) crash(id uint32) {
	n := c.nodes[id]
	if r := n.api.ring; r != nil {
		r.members = slices.DeleteFunc(r.members, func(m uint32) bool { return m == id })
		r.queue = slices.DeleteFunc(r.queue, func(m sent) bool { return m.from == id })
	}
	delete(c.nodes, id)
}

// connect opens a client connection on node n.
func (n *simNode) connect(t testing.TB, id uint64, pid int32) *fakeConn {
	t.Helper()
	c := newConn(id, pid)
	if st := n.e.Connect(c); st != service.OK {
		t.Fatalf("connect: %v", st)
	}
	n.conns[id] = c
	return c
}

// do sends a request and returns the reply status (OK for id 0).
func (n *simNode) do(t testing.TB, c *fakeConn, r service.Request) service.Status {
	t.Helper()
	n.e.Request(c, r)
	if r.ID == 0 {
		return service.OK
	}
	return c.lastReply(t).status
}
