package totemtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/wire"
)

// recorder keeps every record as a trace line.
type recorder struct {
	tr    *Trace
	lines []string
	kinds []Kind
}

func newRecorder() *recorder {
	r := &recorder{tr: NewTrace(0)}
	r.tr.Receipts = true
	return r
}

func (r *recorder) Observe(rec *Record) {
	var e traceEntry
	r.tr.fill(&e, rec)
	r.lines = append(r.lines, r.tr.format(&e))
	r.kinds = append(r.kinds, rec.Kind)
}

func (r *recorder) count(k Kind) int {
	n := 0
	for _, x := range r.kinds {
		if x == k {
			n++
		}
	}
	return n
}

func soloCluster(t *testing.T, nodes int, link LinkParams) (*Cluster, *recorder) {
	t.Helper()
	rec := newRecorder()
	c, err := NewCluster(Options{Nodes: nodes, NewMachine: NewSolo, Rand: newRand(7), Link: link, Observers: []Observer{rec}})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestSimConfigValid(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 16, 64} {
		var ids []totem.NodeID
		for i := 1; i <= n; i++ {
			ids = append(ids, totem.NodeID(i))
		}
		cfg := SimConfig(1, ids)
		if err := cfg.Validate(); err != nil {
			t.Errorf("%d nodes: %v", n, err)
		}
	}
}

func TestClusterStartSendDeliver(t *testing.T) {
	c, rec := soloCluster(t, 3, LinkParams{})
	if err := c.StartAll(); err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		if err := c.Send(id, []byte(fmt.Sprintf("hello from %d", id)), totem.Agreed); err != nil {
			t.Fatal(err)
		}
	}
	c.Run(5)
	if got := rec.count(KindDeliver); got != 3 {
		t.Errorf("%d deliveries, want 3", got)
	}
	// Each MCAST goes to 3 nodes: 9 receptions.
	if got := rec.count(KindRecv); got != 9 {
		t.Errorf("%d receptions, want 9", got)
	}
	for _, id := range c.IDs() {
		if ps := c.Persisted(id); !ps.Valid || ps.RingSeq != 4 {
			t.Errorf("node %d persisted %+v", id, ps)
		}
	}
}

func TestClusterCrashRestartKeepsRingSeq(t *testing.T) {
	c, rec := soloCluster(t, 2, LinkParams{MinDelay: 5, MaxDelay: 5})
	c.StartAll()
	c.Send(1, []byte("x"), totem.Agreed)
	if err := c.Crash(1); err != nil {
		t.Fatal(err)
	}
	if c.Send(1, []byte("y"), totem.Agreed) == nil {
		t.Error("send on a crashed node succeeded")
	}
	c.Run(10)
	// The frame node 1 sent before crashing still reaches node 2; its own
	// copy is lost.
	if !slices.ContainsFunc(rec.lines, func(l string) bool { return strings.Contains(l, "n2.1   recv") && strings.Contains(l, "from 1") }) {
		t.Errorf("in-flight frame of the crashed node not received:\n%s", strings.Join(rec.lines, "\n"))
	}
	if rec.count(KindDrop) != 1 {
		t.Errorf("%d drops, want 1 (the crashed node's own copy)", rec.count(KindDrop))
	}
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	if c.Incarnation(1) != 2 {
		t.Errorf("incarnation %d", c.Incarnation(1))
	}
	st, _ := c.Status(1)
	if st.RingID.Seq != 8 || c.Persisted(1).RingSeq != 8 {
		t.Errorf("restarted ring %v persisted %+v, want seq 8", st.RingID, c.Persisted(1))
	}
	if err := c.Restart(2); err == nil {
		t.Error("restart of a running node accepted")
	}
}

func TestClusterPauseQueuesAndCatchesUp(t *testing.T) {
	rec := newRecorder()
	c, err := NewCluster(Options{Nodes: 2, NewMachine: NewSolo, PauseQueue: 2, Observers: []Observer{rec}})
	if err != nil {
		t.Fatal(err)
	}
	c.StartAll()
	c.Run(10)
	c.Pause(2)
	if c.Send(2, []byte("x"), totem.Agreed) == nil {
		t.Error("send on a paused node succeeded")
	}
	c.Run(250) // node 1 sends merge detects at 100 and 200: queued at node 2.
	for range 3 {
		c.Send(1, []byte("m"), totem.Agreed) // the third overflows node 2's queue
	}
	c.Run(2)
	if n := rec.count(KindDrop); n != 3 {
		t.Errorf("%d drops, want 3 (queue full)\n%s", n, strings.Join(rec.lines, "\n"))
	}
	before := rec.count(KindRecv)
	if err := c.Resume(2); err != nil {
		t.Fatal(err)
	}
	if got := rec.count(KindRecv) - before; got != 2 {
		t.Errorf("%d queued frames processed on resume, want 2", got)
	}
	// Node 2 caught up 252 ticks: its own timer fired twice during them.
	var resume string
	for _, l := range rec.lines {
		if strings.Contains(l, "resume") {
			resume = l
		}
	}
	if !strings.Contains(resume, "catch-up=252ms queued=2") {
		t.Errorf("resume line %q", resume)
	}
}

func TestClusterLeave(t *testing.T) {
	c, rec := soloCluster(t, 3, LinkParams{})
	c.StartAll()
	if err := c.Leave(3); err != nil {
		t.Fatal(err)
	}
	if c.State(3) != NodeLeft {
		t.Errorf("state %v", c.State(3))
	}
	c.Run(3)
	leaves := 0
	for _, l := range rec.lines {
		if strings.Contains(l, "recv") && strings.Contains(l, "leave") {
			leaves++
		}
	}
	if leaves != 2 {
		t.Errorf("leave received by %d nodes, want 2", leaves)
	}
	if err := c.Restart(3); err != nil {
		t.Fatal(err)
	}
}

// TestClusterRunSkipsIdleTimeExactly checks that Run, which skips idle
// stretches using NextTimer, produces the same history as stepping tick by
// tick.
func TestClusterRunSkipsIdleTimeExactly(t *testing.T) {
	history := func(run func(c *Cluster, ticks int64)) []string {
		c, rec := soloCluster(t, 4, LinkParams{Loss: 0.2, Dup: 0.1, MinDelay: 1, MaxDelay: 9})
		c.StartAll()
		for i := range 40 {
			run(c, int64(i*7%23))
			c.Send(totem.NodeID(i%4+1), []byte{byte(i)}, totem.Guarantee(i%2))
			if i == 20 {
				c.Partition([][]totem.NodeID{{1, 2}, {3, 4}})
			}
		}
		run(c, 500)
		return rec.lines
	}
	stepped := history(func(c *Cluster, k int64) {
		for range k {
			c.Step()
		}
	})
	skipped := history(func(c *Cluster, k int64) { c.Run(k) })
	if !slices.Equal(stepped, skipped) {
		t.Fatalf("Run and Step histories differ:\n%s\n---\n%s", strings.Join(stepped, "\n"), strings.Join(skipped, "\n"))
	}
}

func TestClusterConverged(t *testing.T) {
	c, _ := soloCluster(t, 1, LinkParams{})
	c.StartAll()
	if !c.Converged() {
		t.Error("a lone solo node is not converged")
	}
	c2, _ := soloCluster(t, 2, LinkParams{})
	c2.StartAll()
	if c2.Converged() {
		t.Error("two solo rings reported converged")
	}
	c2.Partition([][]totem.NodeID{{1}, {2}})
	if !c2.Converged() {
		t.Error("two partitioned solo nodes are not converged")
	}
}

func TestPeekFrame(t *testing.T) {
	m, _ := NewSolo(SimConfig(3, []totem.NodeID{1, 2, 3}), totem.PersistentState{RingSeq: 8, Valid: true})
	m.Start()
	m.Advance()
	m.Send([]byte("abc"), totem.Safe)
	f := PeekFrame(m.Ready().Frames[0].Data)
	want := FrameInfo{Valid: true, Type: wire.TypeMcast, Origin: 3, Ring: totem.RingID{Rep: 3, Seq: 12}, Seq: 1}
	if f != want {
		t.Errorf("got %+v want %+v", f, want)
	}
	if s := f.String(); s != "mcast 3.c#1 from 3" {
		t.Errorf("String() = %q", s)
	}
	if PeekFrame([]byte{1, 2, 3}).Valid {
		t.Error("short datagram valid")
	}
	m.Leave()
	if f := PeekFrame(m.Ready().Frames[1].Data); f.Type != wire.TypeMembJoin || !f.Leave {
		t.Errorf("leave: %+v", f)
	}
	for ty := wire.TypeOrfToken; ty <= wire.TypeTokenHoldCancel; ty++ {
		if got, err := ParseType(TypeName(ty)); err != nil || got != ty {
			t.Errorf("ParseType(TypeName(%d)) = %v, %v", ty, got, err)
		}
	}
}

func TestTraceTail(t *testing.T) {
	tr := NewTrace(3)
	for i := range 5 {
		tr.Observe(&Record{Time: int64(i), Kind: KindNote, Text: fmt.Sprint("note ", i)})
	}
	got := tr.Tail()
	if len(got) != 3 || !strings.HasSuffix(got[0], "note 2") || !strings.HasSuffix(got[2], "note 4") {
		t.Errorf("tail %q", got)
	}
}

// storm is a Solo that answers every datagram with two broadcasts: a
// message storm.
type storm struct{ *Solo }

func (s storm) Step(data []byte) error {
	s.rd.Frames = append(s.rd.Frames, totem.Frame{To: totem.Broadcast, Data: data}, totem.Frame{To: totem.Broadcast, Data: data})
	return nil
}

func TestClusterFloodPanics(t *testing.T) {
	newStorm := func(cfg totem.Config, ps totem.PersistentState) (Machine, error) {
		m, err := NewSolo(cfg, ps)
		return storm{m.(*Solo)}, err
	}
	c, err := NewCluster(Options{Nodes: 3, NewMachine: newStorm, MaxInFlight: 5000})
	if err != nil {
		t.Fatal(err)
	}
	c.StartAll()
	c.Send(1, []byte("x"), totem.Agreed)
	defer func() {
		f, ok := recover().(*FloodError)
		if !ok || f.InFlight <= 5000 {
			t.Fatalf("recovered %v, want a *FloodError", f)
		}
	}()
	c.Run(100)
	t.Fatal("no flood detected")
}
