package cpgsim

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// shortRun is a short run of a small cluster with a useful fault phase.
var shortRun = Options{Nodes: 3, Steps: 10000}

func TestPlan(t *testing.T) {
	quiet, liveBy, workEnd, err := Options{}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if quiet != 10000 || liveBy <= quiet || workEnd <= liveBy || workEnd >= 20000 {
		t.Errorf("plan quiet=%d liveBy=%d workEnd=%d", quiet, liveBy, workEnd)
	}
	for _, o := range []Options{{Steps: 3000}, {Nodes: 65}, {Groups: MaxGroups + 1}, {Clients: -1}, {MaxItem: 100}} {
		if _, _, _, err := o.Plan(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestParseFaultsAndFindings(t *testing.T) {
	f, err := ParseFaults("misdeliver,duplicate-delivery")
	if err != nil || f != FaultMisdeliver|FaultDuplicateDelivery {
		t.Errorf("got %v, %v", f, err)
	}
	if _, err := ParseFaults("nope"); err == nil {
		t.Error("unknown fault accepted")
	}
	g, err := ParseFindings("zombies, node-level-sender")
	if err != nil || g != FindingZombies|FindingNodeLevelSender {
		t.Errorf("got %v, %v", g, err)
	}
	if g, err := ParseFindings("all"); err != nil || g != AllFindings {
		t.Errorf("all: %v, %v", g, err)
	}
	if _, err := ParseFindings("nope"); err == nil {
		t.Error("unknown finding accepted")
	}
}

func TestPayloadCodec(t *testing.T) {
	c := newCodec(1<<12, 7)
	id := MsgID{Node: 3, PID: 3004, Counter: 17}
	for _, size := range []int{1, HeaderSize - 1, HeaderSize, 300, 1 << 12} {
		msg := make([]byte, size)
		c.encode(msg, id, 2, 1)
		h, tiny, err := c.decode(msg, id.PID, 1)
		if err != nil || tiny != (size < HeaderSize) || !tiny && (h.id != id || h.inc != 2 || h.group != 1) {
			t.Fatalf("%dB: %+v %v %v", size, h, tiny, err)
		}
		msg[size-1] ^= 1
		if _, _, err := c.decode(msg, id.PID, 1); err == nil {
			t.Errorf("%dB: a flipped bit went unnoticed", size)
		}
	}
	msg := make([]byte, 5)
	c.encode(msg, id, 2, 1)
	if _, _, err := c.decode(msg, id.PID, 0); err == nil {
		t.Error("a tiny message of another group passed")
	}
}

// traceHash runs a seed with a full trace and returns the trace's hash.
func traceHash(t *testing.T, seed uint64, o Options) ([32]byte, Result, string) {
	t.Helper()
	var buf bytes.Buffer
	o.Trace = &buf
	res, err := Run(seed, o)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(buf.Bytes()), res, buf.String()
}

func TestRunReplaysExactly(t *testing.T) {
	o := shortRun
	o.Tolerate = AllFindings
	for _, seed := range []uint64{1, 2} {
		h1, r1, trace := traceHash(t, seed, o)
		h2, r2, _ := traceHash(t, seed, o)
		if h1 != h2 || r1.Summary() != r2.Summary() {
			t.Errorf("seed %d does not replay:\n%s\n%s", seed, r1.Summary(), r2.Summary())
		}
		for _, want := range []string{" cpg     ", "confchg regular", "deliver cpg.mcast", "sync complete", " join ", " confchg ", " deliver "} {
			if !strings.Contains(trace, want) {
				t.Errorf("seed %d: the trace has no %q", seed, want)
			}
		}
		// A run without a trace takes the same course.
		r3, _ := Run(seed, o)
		if r3.Summary() != r1.Summary() {
			t.Errorf("seed %d differs without a trace:\n%s\n%s", seed, r1.Summary(), r3.Summary())
		}
		// And so does a strict one, up to its first violation.
		strict := o
		strict.Tolerate = 0
		r4, _ := Run(seed, strict)
		if r4.Violation == nil && r4.Summary() != r1.Summary() {
			t.Errorf("seed %d differs when strict:\n%s\n%s", seed, r1.Summary(), r4.Summary())
		}
	}
	h1, _, _ := traceHash(t, 1, o)
	h2, _, _ := traceHash(t, 2, o)
	if h1 == h2 {
		t.Error("seeds 1 and 2 ran the same")
	}
}

// TestSeedsPass runs a few seeds with the known findings tolerated: no
// other invariant may break, the cluster must go live, and the workload
// must have exercised every path.
func TestSeedsPass(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	var tot Result
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		o := shortRun
		o.Nodes = 3 + int(seed%3)
		o.Tolerate = AllFindings
		res, err := Run(seed, o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Violation != nil {
			t.Errorf("%s", res.Report())
			continue
		}
		if res.LiveAt < 0 || res.Delivered < 1000 {
			t.Errorf("seed %d: too little happened: %s", seed, res.Summary())
		}
		tot.Syncs += res.Syncs
		tot.Joins += res.Joins
		tot.Leaves += res.Leaves
		tot.Disconnects += res.Disconnects
		tot.Partials += res.Partials
		tot.Refused += res.Refused
		tot.TooBig += res.TooBig
		tot.FlowHolds += res.FlowHolds
		tot.Faults.Crashes += res.Faults.Crashes
		tot.Faults.Partitions += res.Faults.Partitions
		tot.Faults.Pauses += res.Faults.Pauses
	}
	if !testing.Short() && slices.Contains([]int{tot.Syncs, tot.Joins, tot.Leaves, tot.Disconnects, tot.Partials, tot.Refused,
		tot.TooBig, tot.FlowHolds, tot.Faults.Crashes, tot.Faults.Partitions, tot.Faults.Pauses}, 0) {
		t.Errorf("some paths were never taken: %s", tot.Summary())
	}
}

// TestDeliberateFaultsCaught breaks node 1's engine on purpose with each
// Fault and requires a modest seed sweep, with every known finding
// tolerated, to report a violation of an invariant the bug breaks.
func TestDeliberateFaultsCaught(t *testing.T) {
	cases := []struct {
		fault Fault
		want  []Invariant
	}{
		{FaultDropConfChg, []Invariant{ViewConsistency, SenderMembership}},
		{FaultMisdeliver, []Invariant{SenderMembership}},
		{FaultDropProcLeave, []Invariant{ViewConsistency, Liveness}},
		{FaultDuplicateDelivery, []Invariant{Integrity}},
		{FaultReorderDelivery, []Invariant{AgreedOrder}},
	}
	const maxSeeds = 15
	for _, tc := range cases {
		name := ""
		for _, f := range FaultNames() {
			if f.Fault == tc.fault {
				name = f.Name
			}
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := shortRun
			o.Faults, o.Tolerate = tc.fault, AllFindings
			var seen []string
			for seed := uint64(1); seed <= maxSeeds; seed++ {
				res, err := Run(seed, o)
				if err != nil {
					t.Fatal(err)
				}
				if v := res.Violation; v != nil {
					if slices.Contains(tc.want, v.Invariant) && len(res.Trace) > 0 {
						t.Logf("seed %d: %v", seed, v)
						return
					}
					seen = append(seen, fmt.Sprintf("seed %d: %v", seed, v))
				}
			}
			t.Errorf("no violation of %v in %d seeds; other violations: %q", tc.want, maxSeeds, seen)
		})
	}
}

// TestFindingsReproduce checks that each known finding of corosync's own
// CPG semantics shows up in a modest sweep, and that a strict run reports
// it: they are real behaviour of the engine, not an artefact of the
// tolerance rules. The engine bugs the simulator found are fixed: zombies
// must not show up any more, and partial-across-views is left with a
// rare case (about 1 seed in 300, see FindingPartialAcrossViews) that
// this sweep is too small to need.
func TestFindingsReproduce(t *testing.T) {
	if testing.Short() {
		t.Skip("the findings sweep is skipped with -short")
	}
	for _, f := range Findings() {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			switch f.Finding {
			case FindingZombies:
				for seed := uint64(1); seed <= 40; seed++ {
					res, err := Run(seed, Options{Nodes: 5, Steps: 20000, Tolerate: AllFindings})
					if err != nil {
						t.Fatal(err)
					}
					if n := res.Tolerated[f.Finding]; n > 0 {
						t.Fatalf("seed %d: %d zombie processes: the fixed engine bug is back", seed, n)
					}
				}
				return
			case FindingPartialAcrossViews:
				t.Skip("rare since the fix (about 1 seed in 300); cmd/cpgsim's sweep counts it")
			}
			for seed := uint64(1); seed <= 40; seed++ {
				o := Options{Nodes: 5, Steps: 20000, Tolerate: AllFindings}
				res, err := Run(seed, o)
				if err != nil {
					t.Fatal(err)
				}
				if res.Tolerated[f.Finding] == 0 {
					continue
				}
				// Strict about this finding only: the run stops at it.
				o.Tolerate = AllFindings &^ f.Finding
				strict, _ := Run(seed, o)
				if strict.Violation == nil {
					t.Fatalf("seed %d: %d occurrences tolerated, but the strict run passed", seed, res.Tolerated[f.Finding])
				}
				t.Logf("seed %d (%d occurrences): %v", seed, res.Tolerated[f.Finding], strict.Violation)
				return
			}
			t.Errorf("not seen in 40 seeds: has the engine changed?")
		})
	}
}

func BenchmarkRun(b *testing.B) {
	for i := range b.N {
		if _, err := Run(uint64(i+1), Options{Tolerate: AllFindings}); err != nil {
			b.Fatal(err)
		}
	}
}
