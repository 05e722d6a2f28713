package qdisk

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/qdevice"
)

// simNode is one node of the simulated cluster.
type simNode struct {
	id      uint32
	core    *Core
	inc     uint64
	running bool // the daemon runs (ticks, writes, reads)
	diskOK  bool // its I/O to the shared storage works
}

// sim is a cluster sharing one simulated disk, stepped in lockstep:
// every running node ticks and writes, then every running node reads.
type sim struct {
	t       *testing.T
	tko     int
	min     int
	disk    [][]byte
	nodes   []*simNode // by id; [0] unused
	ringSeq uint64
	groups  [][]uint32 // current partitions
	step    int
	// order, when set, interleaves the nodes' cycles in a random order
	// within each step (each node writes then reads at once), so that
	// nodes see each other's writes up to one cycle apart. Otherwise all
	// nodes write, then all read.
	order *rand.Rand
}

func newSim(t *testing.T, n, tko int) *sim {
	s := &sim{t: t, tko: tko, disk: make([][]byte, MaxNodeID+1), nodes: make([]*simNode, n+1)}
	for id := 1; id <= n; id++ {
		s.nodes[id] = &simNode{id: uint32(id)}
		s.start(uint32(id))
	}
	all := make([]uint32, n)
	for i := range all {
		all[i] = uint32(i + 1)
	}
	s.partition(all)
	return s
}

// start (re)starts a node's daemon with a new incarnation.
func (s *sim) start(id uint32) {
	n := s.nodes[id]
	n.inc++
	n.core = NewCore(Params{NodeID: id, Incarnation: n.inc, TKO: s.tko, MinScore: s.min, MaxNodeID: uint32(len(s.nodes) - 1)})
	n.running, n.diskOK = true, true
	for _, g := range s.groups {
		if slices.Contains(g, id) {
			n.core.SetMembership(qdevice.NewMembership(qdevice.RingID{NodeID: g[0], Seq: s.ringSeq}, g))
		}
	}
}

// partition sets the rings: each group is one partition.
func (s *sim) partition(groups ...[]uint32) {
	s.ringSeq += 4
	s.groups = groups
	for _, g := range groups {
		m := qdevice.NewMembership(qdevice.RingID{NodeID: slices.Min(g), Seq: s.ringSeq}, g)
		for _, id := range g {
			if n := s.nodes[id]; n.running {
				n.core.SetMembership(m)
			}
		}
	}
}

// run steps n cycles, checking safety after each.
func (s *sim) run(n int) {
	for range n {
		s.step++
		if s.order == nil {
			for _, nd := range s.nodes[1:] {
				s.write(nd)
			}
			for _, nd := range s.nodes[1:] {
				s.read(nd)
			}
		} else {
			for _, i := range s.order.Perm(len(s.nodes) - 1) {
				nd := s.nodes[i+1]
				s.write(nd)
				s.read(nd)
				s.checkSafety()
			}
		}
		s.checkSafety()
	}
}

func (s *sim) write(nd *simNode) {
	if !nd.running {
		return
	}
	b, ok := nd.core.Tick()
	if !ok || !nd.diskOK {
		return
	}
	enc, err := b.AppendTo(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	s.disk[nd.id] = enc
}

func (s *sim) read(nd *simNode) {
	if !nd.running {
		return
	}
	if !nd.diskOK {
		nd.core.Observe(errors.New("I/O error"), nil)
		return
	}
	slots := make([][]byte, len(s.disk))
	copy(slots, s.disk)
	nd.core.Observe(nil, slots)
}

// casting returns the ids of nodes whose device casts its vote.
func (s *sim) casting() []uint32 {
	var ids []uint32
	for _, nd := range s.nodes[1:] {
		if nd.running && nd.core.Decision().Cast {
			ids = append(ids, nd.id)
		}
	}
	return ids
}

// checkSafety fails when devices in two different partitions cast.
func (s *sim) checkSafety() {
	s.t.Helper()
	var ring qdevice.RingID
	for _, id := range s.casting() {
		r := s.nodes[id].core.Membership().Ring
		if ring.IsZero() {
			ring = r
		} else if r != ring {
			s.t.Fatalf("step %d: devices of two partitions cast their vote: %s\n%s", s.step, s.describe(), s.status())
		}
	}
}

func (s *sim) describe() string {
	var b strings.Builder
	for _, nd := range s.nodes[1:] {
		d := nd.core.Decision()
		fmt.Fprintf(&b, "node %d running %v disk %v ring %s master %d cast %v (%s)\n", nd.id, nd.running, nd.diskOK, nd.core.Membership().Ring, d.Master, d.Cast, d.Reason)
		snap := nd.core.Snapshot()
		for _, p := range snap.Peers {
			fmt.Fprintf(&b, "\tpeer %d %v seq %d eligible %v state %v unchanged %d\n", p.ID, p.State, p.Block.Seq, p.Block.Eligible, p.Block.State, p.Unchanged)
		}
	}
	return b.String()
}

func (s *sim) status() string {
	var b strings.Builder
	for _, g := range s.groups {
		fmt.Fprintf(&b, "partition %v\n", g)
	}
	return b.String()
}

// wantCasting checks the set of nodes casting.
func (s *sim) wantCasting(ids ...uint32) {
	s.t.Helper()
	if got := s.casting(); !slices.Equal(got, ids) {
		s.t.Fatalf("step %d: casting %v, want %v\n%s", s.step, got, ids, s.describe())
	}
}

func (s *sim) wantMaster(id, master uint32) {
	s.t.Helper()
	if got := s.nodes[id].core.Decision().Master; got != master {
		s.t.Fatalf("step %d: node %d sees master %d, want %d\n%s", s.step, id, got, master, s.describe())
	}
}

// untilCasting steps until exactly ids cast, at most limit cycles, and
// returns how many cycles it took.
func (s *sim) untilCasting(limit int, ids ...uint32) int {
	s.t.Helper()
	for i := 0; i <= limit; i++ {
		if slices.Equal(s.casting(), ids) {
			return i
		}
		s.run(1)
	}
	s.t.Fatalf("step %d: casting %v after %d cycles, want %v\n%s", s.step, s.casting(), limit, ids, s.describe())
	return 0
}

func TestStartup(t *testing.T) {
	s := newSim(t, 3, 10)
	s.run(9)
	s.wantCasting() // initializing: tko reads first
	for _, nd := range s.nodes[1:] {
		if st := nd.core.Snapshot().State; st != StateInit {
			t.Fatalf("node %d state %v during init", nd.id, st)
		}
	}
	s.run(1)
	// Nodes become eligible at their 10th read; the master must then
	// settle.
	n := s.untilCasting(Settle+2, 1, 2, 3)
	if n < Settle-1 {
		t.Fatalf("cast %d cycles after init, want a settle delay", n)
	}
	s.wantMaster(3, 1)
	for _, p := range s.nodes[2].core.Snapshot().Peers {
		if p.State != PeerLive {
			t.Fatalf("node 2 sees node %d %v", p.ID, p.State)
		}
	}
}

func TestSplitBothSeeDisk(t *testing.T) {
	s := newSim(t, 4, 10)
	s.untilCasting(30, 1, 2, 3, 4)
	s.partition([]uint32{1, 2}, []uint32{3, 4})
	// Decided at once on the membership change, before any cycle.
	s.wantCasting(1, 2)
	s.run(50)
	s.wantCasting(1, 2)
	s.partition([]uint32{1}, []uint32{2, 3, 4})
	s.wantCasting(1) // one node of four keeps quorum with the device's votes
	s.run(20)
	s.wantCasting(1)
	// Heal: every node casts again at once.
	s.partition([]uint32{1, 2, 3, 4})
	s.wantCasting(1, 2, 3, 4)
}

func TestMasterDies(t *testing.T) {
	const tko = 10
	s := newSim(t, 3, tko)
	s.untilCasting(30, 1, 2, 3)
	s.partition([]uint32{1}, []uint32{2, 3})
	s.wantCasting(1)
	s.nodes[1].running = false // crash: its block stops changing
	n := s.untilCasting(tko+Settle+2, 2, 3)
	if n < tko+Settle-2 {
		t.Fatalf("took over after %d cycles; a live master could still be casting", n)
	}
	s.wantMaster(2, 2)
	if p := s.nodes[2].core.Snapshot().Peers[0]; p.ID != 1 || p.State != PeerDead {
		t.Fatalf("node 2 sees node 1 as %+v", p)
	}
}

func TestMasterLosesDisk(t *testing.T) {
	const tko = 10
	s := newSim(t, 3, tko)
	s.untilCasting(30, 1, 2, 3)
	s.partition([]uint32{1}, []uint32{2, 3})
	s.nodes[1].diskOK = false
	// Node 1 stops at once (its block is not read back); the others wait
	// for tko before taking over.
	s.run(1)
	s.wantCasting()
	s.untilCasting(tko+Settle+2, 2, 3)
	// Node 1's storage comes back: node 1 reads tko cycles in a row
	// again (not eligible meanwhile, so nodes 2 and 3 keep the vote),
	// then, lowest and eligible again, becomes master, and the vote
	// moves with it.
	s.nodes[1].diskOK = true
	for range tko {
		s.run(1)
		s.wantCasting(2, 3)
	}
	s.untilCasting(Settle+2, 1)
}

func TestRestartNewIncarnation(t *testing.T) {
	const tko = 10
	s := newSim(t, 3, tko)
	s.untilCasting(30, 1, 2, 3)
	s.start(1) // restart within the same ring, faster than tko
	// While node 1 initializes, the master moves to node 2 (a member):
	// nodes 2 and 3 keep casting without a gap.
	for range tko + Settle + 2 {
		s.run(1)
		c := s.casting()
		if !slices.Contains(c, 2) || !slices.Contains(c, 3) {
			t.Fatalf("step %d: casting %v; the vote was lost during a restart\n%s", s.step, c, s.describe())
		}
	}
	s.wantCasting(1, 2, 3)
	s.wantMaster(2, 1)
	if r := s.nodes[2].core.Snapshot().Peers[0].Restarts; r != 1 {
		t.Fatalf("node 2 counted %d restarts of node 1, want 1", r)
	}
}

func TestHeuristicsFailOnLowest(t *testing.T) {
	s := newSim(t, 3, 10)
	s.min = 1
	for _, nd := range s.nodes[1:] {
		s.start(nd.id)
		nd.core.SetScore(1, 1)
	}
	s.untilCasting(30, 1, 2, 3)
	s.partition([]uint32{1}, []uint32{2, 3})
	s.wantCasting(1)
	s.nodes[1].core.SetScore(0, 1)
	// Node 1 stops at once; 2 and 3 take over once node 1's block says
	// it is not eligible and the new master has settled.
	s.wantCasting()
	n := s.untilCasting(Settle+2, 2, 3)
	if n < Settle {
		t.Fatalf("took over after %d cycles, before the master settled", n)
	}
	s.wantMaster(1, 2)
	// Healthy again: the master moves back to node 1.
	s.nodes[1].core.SetScore(1, 1)
	s.untilCasting(Settle+2, 1)
}

func TestCorruptBlocks(t *testing.T) {
	const tko = 10
	s := newSim(t, 3, tko)
	s.untilCasting(30, 1, 2, 3)
	s.partition([]uint32{1, 3}, []uint32{2})
	// Node 1's slot is overwritten with garbage every cycle (and node 1
	// cannot write): it stops, then counts as dead for the others.
	s.nodes[1].diskOK = false
	garbage := []byte("not a qdisk block, not zeros either........................................")
	for i := 0; i < tko+Settle+2; i++ {
		s.disk[1] = garbage
		s.run(1)
	}
	snap := s.nodes[2].core.Snapshot()
	if p := snap.Peers[0]; p.Corrupt == 0 || p.State != PeerDead {
		t.Fatalf("node 2 sees node 1 as %+v", p)
	}
	s.wantCasting(2) // node 2 is master now, alone in its partition
}

func TestSharedStorageCheck(t *testing.T) {
	// A node alone on its (unshared) storage never casts.
	c := NewCore(Params{NodeID: 1, Incarnation: 1, TKO: 4, MaxNodeID: 3})
	c.SetMembership(qdevice.NewMembership(qdevice.RingID{NodeID: 1, Seq: 4}, []uint32{1}))
	disk := make([][]byte, 4)
	for range 50 {
		b, ok := c.Tick()
		if !ok {
			t.Fatal("tick refused")
		}
		disk[1], _ = b.AppendTo(nil)
		c.Observe(nil, disk)
	}
	d := c.Decision()
	if d.Cast || d.Master != 1 || !strings.Contains(d.Reason, "shared") {
		t.Fatalf("decision %+v", d)
	}
}

func TestDisconnectedNotEligible(t *testing.T) {
	s := newSim(t, 2, 10)
	s.untilCasting(30, 1, 2)
	s.partition([]uint32{1}, []uint32{2})
	s.wantCasting(1)
	s.nodes[1].core.SetDisconnected()
	s.wantCasting()
	s.untilCasting(Settle+2, 2)
}

func TestMissedTicks(t *testing.T) {
	s := newSim(t, 2, 10)
	s.untilCasting(30, 1, 2)
	c := s.nodes[1].core
	// A cycle whose I/O does not complete before the next tick: the
	// next Tick is refused and the vote is withdrawn.
	if _, ok := c.Tick(); !ok {
		t.Fatal("tick refused")
	}
	if !c.Decision().Cast {
		t.Fatal("vote withdrawn while the first cycle is in flight")
	}
	if _, ok := c.Tick(); ok {
		t.Fatal("second tick accepted while I/O is in flight")
	}
	if d := c.Decision(); d.Cast {
		t.Fatalf("still casting with a stuck cycle: %+v", d)
	}
}

func TestLeaving(t *testing.T) {
	s := newSim(t, 2, 10)
	s.untilCasting(30, 1, 2)
	s.partition([]uint32{1}, []uint32{2})
	s.nodes[1].core.Leave()
	s.wantCasting()
	s.run(1) // the leaving block is written
	s.nodes[1].running = false
	// Node 2 takes over without waiting for tko.
	n := s.untilCasting(Settle+1, 2)
	if p := s.nodes[2].core.Snapshot().Peers[0]; p.State != PeerLeft {
		t.Fatalf("node 2 sees node 1 as %v after %d cycles", p.State, n)
	}
}

var seedsFlag = flag.Int("seeds", 200, "number of seeds TestRandomSafety runs")

// TestRandomSafety drives random splits, crashes, restarts, storage
// failures and heuristics changes, and checks after every cycle that
// devices of two partitions never cast at once. A failure names its seed
// in the subtest; replay it with -run 'TestRandomSafety/seed=N$', or
// search further with -seeds=N.
func TestRandomSafety(t *testing.T) {
	seeds := *seedsFlag
	if testing.Short() {
		seeds = min(seeds, 20)
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			randomRun(t, seed)
		})
	}
}

func randomRun(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	n := 2 + r.IntN(4)
	s := newSim(t, n, Settle+r.IntN(8))
	s.min = r.IntN(2)
	if r.IntN(2) == 0 {
		s.order = rand.New(rand.NewPCG(seed, 2))
	}
	for _, nd := range s.nodes[1:] {
		s.start(nd.id)
		nd.core.SetScore(1, 1)
	}
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i + 1)
	}
	for range 300 {
		switch r.IntN(12) {
		case 0: // split in two
			p := slices.Clone(ids)
			r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
			k := 1 + r.IntN(n-1)
			a, b := slices.Clone(p[:k]), slices.Clone(p[k:])
			slices.Sort(a)
			slices.Sort(b)
			s.partition(a, b)
		case 1: // heal
			s.partition(slices.Clone(ids))
		case 2: // crash or restart
			nd := s.nodes[1+r.IntN(n)]
			if nd.running {
				nd.running = false
			} else {
				s.start(nd.id)
				nd.core.SetScore(1, 1)
			}
		case 3: // storage failure or repair
			nd := s.nodes[1+r.IntN(n)]
			nd.diskOK = !nd.diskOK
		case 4: // heuristics
			nd := s.nodes[1+r.IntN(n)]
			if nd.running {
				nd.core.SetScore(r.IntN(2), 1)
			}
		}
		s.checkSafety()
		s.run(1 + r.IntN(3))
	}
}
