package votequorum

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// A small ring model for engine tests: every node's messages go to one
// FIFO queue and are delivered, in that order, to every running node of
// the sender's partition (agreed order). A membership change runs the
// sync steps the service host runs: SyncInit on every member, then
// SyncProcess and delivery until all are done, then SyncActivate.

type qmsg struct {
	from uint32
	part int
	msg  []byte
}

type testNet struct {
	t     testing.TB
	nodes map[uint32]*tnode
	queue []qmsg
	seq   uint64
	now   time.Duration
	s     Settings
}

type tnode struct {
	id      uint32
	net     *testNet
	e       *Engine
	up      bool
	part    int
	ring    service.RingID
	members []uint32
	syncing bool
	quorate bool // last OnQuorum
	ev      *MemStore
	conn    *fakeConn
}

func (n *tnode) NodeID() service.NodeID { return n.id }
func (n *tnode) Send(msg []byte, g totem.Guarantee) error {
	n.net.queue = append(n.net.queue, qmsg{from: n.id, part: n.part, msg: slices.Clone(msg)})
	return nil
}
func (n *tnode) SendVec(g totem.Guarantee, parts ...[]byte) error {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return n.Send(b, g)
}
func (n *tnode) MaxMessage() int                          { return 1 << 20 }
func (n *tnode) Ring() (service.RingID, []service.NodeID) { return n.ring, n.members }
func (n *tnode) Syncing() bool                            { return n.syncing }
func (n *tnode) Logger() *slog.Logger                     { return slog.New(slog.DiscardHandler) }

func newNet(t testing.TB, s Settings) *testNet {
	return &testNet{t: t, nodes: map[uint32]*tnode{}, s: s}
}

// start brings node id up (a fresh engine) in partition part, without a
// membership change.
func (tn *testNet) start(id uint32, part int, s Settings) *tnode {
	n := tn.nodes[id]
	if n == nil {
		n = &tnode{id: id, net: tn, ev: &MemStore{}}
		tn.nodes[id] = n
	}
	n.up, n.part, n.quorate = true, part, false
	n.conn = &fakeConn{id: uint64(id)}
	e, err := New(n, Options{Settings: s, EVStore: n.ev, OnQuorum: func(q bool, _ service.RingID, _ []uint32) { n.quorate = q }})
	if err != nil {
		tn.t.Fatal(err)
	}
	e.Tick(tn.now)
	n.e = e
	return n
}

func (tn *testNet) deliver() {
	for len(tn.queue) > 0 {
		m := tn.queue[0]
		tn.queue = tn.queue[1:]
		for _, id := range tn.sorted() {
			n := tn.nodes[id]
			if !n.up || n.part != m.part {
				continue
			}
			h, err := service.ParseHeader(m.msg, false)
			if err != nil || h.Service != service.Votequorum {
				tn.t.Fatalf("bad message from %d: %v", m.from, err)
			}
			n.e.Exec(service.Exec{From: m.from, Fn: h.Fn, Data: m.msg, Guarantee: totem.Agreed})
		}
	}
}

func (tn *testNet) sorted() []uint32 {
	var ids []uint32
	for id := range tn.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// form forms a new ring in every partition with running nodes and runs
// the sync. Messages queued before are delivered first, in the old rings.
func (tn *testNet) form() {
	tn.deliver()
	parts := map[int][]uint32{}
	for _, id := range tn.sorted() {
		if n := tn.nodes[id]; n.up {
			parts[n.part] = append(parts[n.part], id)
		}
	}
	var keys []int
	for p := range parts {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		ms := parts[p]
		tn.seq += 4
		ring := service.RingID{Rep: ms[0], Seq: tn.seq}
		for _, id := range ms {
			n := tn.nodes[id]
			var trans []uint32
			for _, o := range n.members {
				if slices.Contains(ms, o) {
					trans = append(trans, o)
				}
			}
			n.ring, n.members, n.syncing = ring, slices.Clone(ms), true
			n.e.SyncInit(trans, ms, ring)
		}
		for range 100 {
			done := true
			for _, id := range ms {
				if !tn.nodes[id].e.SyncProcess() {
					done = false
				}
			}
			tn.deliver()
			if done {
				break
			}
		}
		for _, id := range ms {
			n := tn.nodes[id]
			n.e.SyncActivate()
			n.syncing = false
		}
	}
	tn.deliver()
}

func (tn *testNet) advance(d time.Duration) {
	end := tn.now + d
	for {
		next := end
		for _, id := range tn.sorted() {
			n := tn.nodes[id]
			if at, ok := n.e.NextTimer(); n.up && ok && at < next {
				next = at
			}
		}
		tn.now = max(tn.now, next)
		for _, id := range tn.sorted() {
			if n := tn.nodes[id]; n.up {
				n.e.Tick(tn.now)
			}
		}
		tn.deliver()
		if tn.now >= end {
			return
		}
	}
}

func (tn *testNet) kill(ids ...uint32) {
	for _, id := range ids {
		tn.nodes[id].up = false
	}
}

func (tn *testNet) move(part int, ids ...uint32) {
	for _, id := range ids {
		tn.nodes[id].part = part
	}
}

// show is one line per running node: id, quorate, votes/expected/
// highest/total/quorum.
func (tn *testNet) show() string {
	var b strings.Builder
	for _, id := range tn.sorted() {
		n := tn.nodes[id]
		if !n.up {
			continue
		}
		in, _ := n.e.Info(0)
		q := 0
		if n.quorate {
			q = 1
		}
		fmt.Fprintf(&b, "%d:q=%d v=%d e=%d h=%d t=%d Q=%d\n", id, q, in.Votes, in.ExpectedVotes, in.HighestExpected, in.TotalVotes, in.Quorum)
	}
	return b.String()
}

func (tn *testNet) quorate() []uint32 {
	var ids []uint32
	for _, id := range tn.sorted() {
		if n := tn.nodes[id]; n.up && n.quorate {
			ids = append(ids, id)
		}
	}
	return ids
}

// fakeConn records replies and events.
type fakeConn struct {
	id      uint64
	replies []fakeReply
	events  []fakeEvent
}

type fakeReply struct {
	req     uint32
	status  service.Status
	payload []byte
}

type fakeEvent struct {
	kind uint16
	body []byte
}

func (c *fakeConn) ID() uint64         { return c.id }
func (c *fakeConn) Cred() service.Cred { return service.Cred{} }
func (c *fakeConn) Close(error)        {}
func (c *fakeConn) Reply(req uint32, st service.Status, p []byte) {
	c.replies = append(c.replies, fakeReply{req, st, slices.Clone(p)})
}
func (c *fakeConn) Event(kind uint16, hdr, body []byte) {
	c.events = append(c.events, fakeEvent{kind, slices.Clone(append(slices.Clone(hdr), body...))})
}

func (c *fakeConn) last(t testing.TB) fakeReply {
	t.Helper()
	if len(c.replies) == 0 {
		t.Fatal("no reply")
	}
	return c.replies[len(c.replies)-1]
}

func serviceReq(fn uint16, payload []byte) service.Request {
	return service.Request{ID: 99, Fn: fn, Payload: payload}
}
