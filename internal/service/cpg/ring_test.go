package cpg

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

// groupEvents returns a client's confchgs and deliveries as text.
func groupEvents(t *testing.T, c *fakeConn) []string {
	t.Helper()
	var out []string
	for _, s := range describe(t, c.takeEvents()) {
		if strings.HasPrefix(s, "confchg ") || strings.HasPrefix(s, "deliver ") {
			out = append(out, s)
		}
	}
	return out
}

// sameEvents checks that the clients got the same events.
func sameEvents(t *testing.T, want []string, conns ...*fakeConn) {
	t.Helper()
	for _, c := range conns {
		if got := groupEvents(t, c); !slices.Equal(got, want) {
			t.Fatalf("conn %d events\n got %q\nwant %q", c.id, got, want)
		}
	}
}

// membersOf returns a node's view of a group.
func membersOf(n *simNode, group string) []Member {
	for _, g := range n.e.Groups() {
		if g.Name == group {
			return g.Members
		}
	}
	return nil
}

// sameGroups checks that the nodes agree on every group.
func sameGroups(t *testing.T, nodes ...*simNode) {
	t.Helper()
	want := fmt.Sprint(nodes[0].e.Groups())
	for _, n := range nodes[1:] {
		if got := fmt.Sprint(n.e.Groups()); got != want {
			t.Fatalf("node %d groups %s, node %d %s", n.id, got, nodes[0].id, want)
		}
	}
}

// TestRingJoinsAndMessages: clients on three nodes join and multicast in
// an interleaved order; every client sees the same confchgs (from its own
// join on) and the same messages in the same order.
func TestRingJoinsAndMessages(t *testing.T) {
	cl := newCluster(t)
	n1, n2, n3 := cl.start(1), cl.start(2), cl.start(3)
	r := cl.ring()
	r.reconfigure(1, 2, 3)
	c1, c2, c3 := n1.connect(t, 1, 100), n2.connect(t, 1, 200), n3.connect(t, 1, 300)
	for _, x := range []struct {
		n *simNode
		c *fakeConn
	}{{n1, c1}, {n2, c2}, {n3, c3}} {
		if st := x.n.do(t, x.c, joinReq(1, "g", 0)); st != service.OK {
			t.Fatal(st)
		}
	}
	// Before any delivery, nobody knows anything.
	if len(n1.e.Groups()) != 0 {
		t.Fatal("state before delivery")
	}
	r.run()
	n1.do(t, c1, mcastReq(0, "g", "a1"))
	n3.do(t, c3, mcastReq(0, "g", "c1"))
	n2.do(t, c2, mcastReq(0, "g", "b1"))
	n1.do(t, c1, mcastReq(0, "g", "a2"))
	r.run()
	n2.do(t, c2, leaveReq(1, "g"))
	n3.do(t, c3, mcastReq(0, "g", "c2"))
	r.run()

	full := []string{
		"confchg g members[1/100] left[] joined[1/100:1]",
		"confchg g members[1/100 2/200] left[] joined[2/200:1]",
		"confchg g members[1/100 2/200 3/300] left[] joined[3/300:1]",
		`deliver g from 1/100 g0 "a1"`,
		`deliver g from 3/300 g0 "c1"`,
		`deliver g from 2/200 g0 "b1"`,
		`deliver g from 1/100 g0 "a2"`,
		"confchg g members[1/100 3/300] left[2/200:2] joined[]",
		`deliver g from 3/300 g0 "c2"`,
	}
	sameEvents(t, full, c1)
	sameEvents(t, full[1:8], c2) // from its join to its leave
	sameEvents(t, full[2:], c3)
	sameGroups(t, n1, n2, n3)
}

// TestRingNodeDown: a crashed node's processes leave with reason
// NODEDOWN, identically on the survivors; its last messages are gone with
// it.
func TestRingNodeDown(t *testing.T) {
	cl := newCluster(t)
	n1, n2, n3 := cl.start(1), cl.start(2), cl.start(3)
	r := cl.ring()
	r.reconfigure(1, 2, 3)
	c1, c2 := n1.connect(t, 1, 100), n2.connect(t, 1, 200)
	c3a, c3b := n3.connect(t, 1, 300), n3.connect(t, 2, 301)
	for _, x := range []struct {
		n *simNode
		c *fakeConn
		g string
	}{{n1, c1, "g"}, {n2, c2, "g"}, {n3, c3a, "g"}, {n3, c3b, "g"}, {n3, c3b, "h"}} {
		x.n.do(t, x.c, joinReq(1, x.g, 0))
	}
	r.run()
	c1.takeEvents()
	c2.takeEvents()
	n3.do(t, c3a, mcastReq(0, "g", "lost"))
	cl.crash(3)
	r.reconfigure(1, 2)
	want := []string{"confchg g members[1/100 2/200] left[3/300:3 3/301:3] joined[]"}
	sameEvents(t, want, c1, c2)
	sameGroups(t, n1, n2)
	if id, ms := n1.e.Ring(); id.Seq != 8 || !slices.Equal(ms, []uint32{1, 2}) {
		t.Fatalf("ring %v %v", id, ms)
	}
	if got := membersOf(n1, "h"); got != nil {
		t.Fatalf("group h: %v", got)
	}
	// The totem confchg of the new ring reaches tracking clients.
	n1.do(t, c1, service.Request{ID: 1, Fn: ReqTrackTotem, Payload: AppendTrackTotemRequest(nil, TrackTotemRequest{On: true, Initial: true})})
	if got := describe(t, c1.takeEvents()); !slices.Equal(got, []string{"totem 1.8 [1 2]"}) {
		t.Fatalf("%q", got)
	}
}

// TestRingMergeAndPartition: a partition gives NODEDOWN on both sides; the
// merge gives NODEUP from the JOINLISTs; each side agrees with itself.
func TestRingMergeAndPartition(t *testing.T) {
	cl := newCluster(t)
	n1, n2, n3 := cl.start(1), cl.start(2), cl.start(3)
	left, right := cl.ring(), cl.ring()
	left.reconfigure(1, 2)
	right.reconfigure(3)
	c1, c2, c3 := n1.connect(t, 1, 100), n2.connect(t, 1, 200), n3.connect(t, 1, 300)
	n1.do(t, c1, joinReq(1, "g", 0))
	n2.do(t, c2, joinReq(1, "g", 0))
	n3.do(t, c3, joinReq(1, "g", 0))
	left.run()
	right.run()
	c1.takeEvents()
	c2.takeEvents()
	c3.takeEvents()

	all := cl.ring()
	all.reconfigure(1, 2, 3)
	sameEvents(t, []string{"confchg g members[1/100 2/200 3/300] left[] joined[3/300:4]"}, c1, c2)
	sameEvents(t, []string{"confchg g members[1/100 2/200 3/300] left[] joined[1/100:4 2/200:4]"}, c3)
	sameGroups(t, n1, n2, n3)
	// Messages now flow both ways.
	n3.do(t, c3, mcastReq(0, "g", "hi"))
	all.run()
	sameEvents(t, []string{`deliver g from 3/300 g0 "hi"`}, c1, c2, c3)

	// Partition {1} | {2,3}.
	a, b := cl.ring(), cl.ring()
	a.reconfigure(1)
	b.reconfigure(2, 3)
	sameEvents(t, []string{"confchg g members[1/100] left[2/200:3 3/300:3] joined[]"}, c1)
	sameEvents(t, []string{"confchg g members[2/200 3/300] left[1/100:3] joined[]"}, c2, c3)
	sameGroups(t, n2, n3)
	// Each side works alone; a message from 1 does not reach 2 and 3.
	n1.do(t, c1, mcastReq(0, "g", "alone"))
	a.run()
	b.run()
	sameEvents(t, []string{`deliver g from 1/100 g0 "alone"`}, c1)
	sameEvents(t, nil, c2, c3)
	// Heal.
	cl.ring().reconfigure(1, 2, 3)
	sameEvents(t, []string{"confchg g members[1/100 2/200 3/300] left[] joined[2/200:4 3/300:4]"}, c1)
	sameEvents(t, []string{"confchg g members[1/100 2/200 3/300] left[] joined[1/100:4]"}, c2, c3)
	sameGroups(t, n1, n2, n3)
}

// TestRingZombie: a node that restarted faster than the membership
// noticed comes back in the transitional list with none of its old
// processes; the others remove them with reason PROCDOWN.
func TestRingZombie(t *testing.T) {
	cl := newCluster(t)
	n1, n2 := cl.start(1), cl.start(2)
	r := cl.ring()
	r.reconfigure(1, 2)
	c1, c2 := n1.connect(t, 1, 100), n2.connect(t, 1, 200)
	n1.do(t, c1, joinReq(1, "g", 0))
	n2.do(t, c2, joinReq(1, "g", 0))
	n2.do(t, c2, joinReq(1, "h", 201))
	r.run()
	c1.takeEvents()

	// Node 2 restarts: a fresh engine that remembers the ring (as if the
	// daemon had been told it was in it), and one new client.
	fresh := cl.start(2)
	fresh.api.ring = r
	fresh.view = []uint32{1, 2}
	c2new := fresh.connect(t, 1, 250)
	r.reconfigure(1, 2)
	if got := groupEvents(t, c1); !slices.Equal(got, []string{"confchg g members[1/100] left[2/200:5] joined[]"}) {
		t.Fatalf("%q", got)
	}
	if got := membersOf(n1, "h"); got != nil {
		t.Fatalf("zombie in h: %v", got)
	}
	fresh.do(t, c2new, joinReq(1, "g", 0))
	r.run()
	sameEvents(t, []string{"confchg g members[1/100 2/250] left[] joined[2/250:1]"}, c1)
	sameGroups(t, n1, fresh)
}

// TestRingProcDown: a client that disconnects leaves with PROCDOWN on
// every node; its messages sent before go first.
func TestRingProcDown(t *testing.T) {
	cl := newCluster(t)
	n1, n2 := cl.start(1), cl.start(2)
	r := cl.ring()
	r.reconfigure(1, 2)
	c1, c2 := n1.connect(t, 1, 100), n2.connect(t, 1, 200)
	n1.do(t, c1, joinReq(1, "g", 0))
	n2.do(t, c2, joinReq(1, "g", 0))
	r.run()
	c1.takeEvents()
	n2.do(t, c2, mcastReq(0, "g", "bye"))
	n2.e.Disconnect(c2)
	r.run()
	sameEvents(t, []string{`deliver g from 2/200 g0 "bye"`, "confchg g members[1/100] left[2/200:5] joined[]"}, c1)
	sameGroups(t, n1, n2)
}

// TestRingSyncTryAgain: a full send queue during sync only delays it.
func TestRingSyncTryAgain(t *testing.T) {
	cl := newCluster(t)
	n1, n2 := cl.start(1), cl.start(2)
	a, b := cl.ring(), cl.ring()
	a.reconfigure(1)
	b.reconfigure(2)
	c1, c2 := n1.connect(t, 1, 100), n2.connect(t, 1, 200)
	n1.do(t, c1, joinReq(1, "g", 0))
	n2.do(t, c2, joinReq(1, "g", 0))
	a.run()
	b.run()
	c1.takeEvents()
	c2.takeEvents()
	// Drive the sync by hand, node 2's queue full for a while.
	r := cl.ring()
	r.members = []uint32{1, 2}
	r.id = service.RingID{Rep: 1, Seq: 100}
	n2.api.room = 0
	calls := 0
	for _, n := range []*simNode{n1, n2} {
		n.api.ring = r
		n.api.syncing = true
		n.e.SyncInit([]uint32{n.id}, r.members, r.id)
	}
	if !n1.e.SyncProcess() {
		t.Fatal("node 1 not done")
	}
	for !n2.e.SyncProcess() {
		calls++
		if calls == 3 {
			n2.api.room = -1
		}
		r.run()
	}
	r.run()
	n1.e.SyncActivate()
	n2.e.SyncActivate()
	n1.api.syncing, n2.api.syncing = false, false
	if calls != 3 {
		t.Fatalf("%d retries", calls)
	}
	sameEvents(t, []string{"confchg g members[1/100 2/200] left[] joined[2/200:4]"}, c1)
	sameEvents(t, []string{"confchg g members[1/100 2/200] left[] joined[1/100:4]"}, c2)
}

// TestRingRandomised runs a seeded random workload (joins, leaves,
// messages, disconnects, crashes, restarts, partitions, merges) and checks
// after every step that the nodes of each ring agree on every group, that
// every joined client's last confchg shows its node's view of the group,
// and that no client got a message from a node outside its view.
func TestRingRandomised(t *testing.T) {
	for seed := range uint64(100) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { randomRun(t, seed) })
	}
}

// rng is a small deterministic generator (splitmix64).
type rng uint64

func (r *rng) intn(n int) int {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return int((z ^ z>>31) % uint64(n))
}

func randomRun(t *testing.T, seed uint64) {
	g := rng(seed)
	cl := newCluster(t)
	const nodes = 4
	for id := uint32(1); id <= nodes; id++ {
		cl.start(id)
	}
	cl.ring().reconfigure(1, 2, 3, 4)
	groups := []string{"a", "b"}
	var nextConn uint64 = 1
	views := map[*fakeConn]map[string][]Member{}
	pick := func() *simNode {
		ids := make([]uint32, 0, len(cl.nodes))
		for id := range cl.nodes {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return cl.nodes[ids[g.intn(len(ids))]]
	}
	pickConn := func(n *simNode) *fakeConn {
		if len(n.conns) == 0 {
			return nil
		}
		ids := make([]uint64, 0, len(n.conns))
		for id := range n.conns {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return n.conns[ids[g.intn(len(ids))]]
	}
	rings := func() []*ring {
		var out []*ring
		for id := uint32(1); id <= nodes; id++ {
			if n := cl.nodes[id]; n != nil && n.api.ring != nil && !slices.Contains(out, n.api.ring) {
				out = append(out, n.api.ring)
			}
		}
		return out
	}
	for step := range 300 {
		n := pick()
		switch op := g.intn(20); {
		case op < 4:
			c := n.connect(t, nextConn, int32(1000+nextConn))
			nextConn++
			n.do(t, c, joinReq(1, groups[g.intn(len(groups))], 0))
		case op < 6:
			if c := pickConn(n); c != nil {
				n.do(t, c, joinReq(1, groups[g.intn(len(groups))], 0))
			}
		case op < 8:
			if c := pickConn(n); c != nil {
				n.do(t, c, leaveReq(1, groups[g.intn(len(groups))]))
			}
		case op < 14:
			// A message to a group the client joined, if any.
			if c := pickConn(n); c != nil {
				group := groups[g.intn(len(groups))]
				if js := n.e.conns[c.id].joins; len(js) > 0 {
					group = js[g.intn(len(js))].g.name
				}
				n.do(t, c, mcastReq(0, group, fmt.Sprint("m", step)))
			}
		case op < 16:
			if c := pickConn(n); c != nil {
				n.e.Disconnect(c)
				delete(n.conns, c.id)
			}
		case op < 16+g.intn(2):
			// Crash and restart a node, alone in a ring; the others of its
			// ring form a new one.
			id, old := n.id, n.api.ring
			cl.crash(id)
			if len(old.members) > 0 {
				cl.ring().reconfigure(old.members...)
			}
			cl.start(id)
			cl.ring().reconfigure(id)
		default:
			// Regroup the nodes into one or two rings.
			var a, b []uint32
			split := g.intn(2) == 0
			for id := uint32(1); id <= nodes; id++ {
				if split && g.intn(2) == 0 {
					b = append(b, id)
				} else {
					a = append(a, id)
				}
			}
			if len(a) > 0 {
				cl.ring().reconfigure(a...)
			}
			if len(b) > 0 {
				cl.ring().reconfigure(b...)
			}
		}
		for _, r := range rings() {
			r.run()
		}
		checkViews(t, seed, step, cl, views)
		// Invariant: the members of each ring agree on every group.
		for _, r := range rings() {
			var ns []*simNode
			for _, id := range r.members {
				ns = append(ns, cl.nodes[id])
			}
			if len(ns) > 1 {
				want := fmt.Sprint(ns[0].e.Groups())
				for _, x := range ns[1:] {
					if got := fmt.Sprint(x.e.Groups()); got != want {
						t.Fatalf("seed=%d step %d: node %d groups %s, node %d %s", seed, step, x.id, got, ns[0].id, want)
					}
				}
			}
		}
	}
	var st Stats
	for id := uint32(1); id <= nodes; id++ {
		s := cl.nodes[id].e.Stats()
		st.Delivered += s.Delivered
		st.DroppedUnknown += s.DroppedUnknown
	}
	t.Logf("since the last restarts: delivered %d, dropped from unknown nodes %d", st.Delivered, st.DroppedUnknown)
}

// checkViews folds each client's new events into its view of its groups
// and checks it against the engine.
func checkViews(t *testing.T, seed uint64, step int, cl *cluster, views map[*fakeConn]map[string][]Member) {
	t.Helper()
	for id := uint32(1); id <= 4; id++ {
		n := cl.nodes[id]
		if n == nil {
			continue
		}
		for _, cid := range slices.Sorted(maps.Keys(n.conns)) {
			c := n.conns[cid]
			v := views[c]
			if v == nil {
				v = map[string][]Member{}
				views[c] = v
			}
			for _, ev := range c.takeEvents() {
				switch ev.kind {
				case EvConfChg:
					m, err := DecodeConfChgEvent(ev.payload)
					if err != nil {
						t.Fatal(err)
					}
					var ms []Member
					for _, a := range m.Members {
						ms = append(ms, Member{a.NodeID, a.PID})
					}
					v[string(m.Group)] = ms
				case EvDeliver:
					d, err := DecodeDeliverEvent(ev.payload)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.ContainsFunc(v[string(d.Group)], func(m Member) bool { return m.NodeID == d.NodeID }) {
						t.Fatalf("seed=%d step %d: conn %d got a message from node %d, not in its view of %s: %v",
							seed, step, c.id, d.NodeID, d.Group, v[string(d.Group)])
					}
				}
			}
			cn := n.e.conns[c.id]
			if cn == nil {
				continue
			}
			for _, j := range cn.joins {
				if j.state == joined && !slices.Equal(v[j.g.name], j.g.members) {
					t.Fatalf("seed=%d step %d: node %d conn %d sees %s as %v, the node as %v",
						seed, step, id, c.id, j.g.name, v[j.g.name], j.g.members)
				}
			}
		}
	}
}
