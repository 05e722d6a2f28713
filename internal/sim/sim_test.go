package sim

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// shortRun is the shortest run with a useful fault phase: 10 s, faults
// during the first 3 s.
var shortRun = Options{Steps: 10000}

func TestPlan(t *testing.T) {
	quiet, liveBy, workEnd, err := Options{}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if quiet != 10000 || liveBy <= quiet || workEnd != 20000-1300 {
		t.Errorf("plan quiet=%d liveBy=%d workEnd=%d", quiet, liveBy, workEnd)
	}
	if _, _, _, err := (Options{Steps: 3000}).Plan(); err == nil {
		t.Error("3000 steps accepted")
	}
	if _, _, _, err := (Options{Nodes: 65}).Plan(); err == nil {
		t.Error("65 nodes accepted")
	}
}

func TestLivenessBound(t *testing.T) {
	ids := []totem.NodeID{1, 2, 3, 4, 5}
	got := LivenessBound(totemtest.SimConfig(1, ids), 5)
	// (50+38+15 + 4×(260+312+60+26×15)) × 1.1
	if want := int64((50 + 38 + 15 + 4*(260+312+60+26*15)) * 11 / 10); got != want {
		t.Errorf("bound %d, want %d", got, want)
	}
}

// traceHash runs a seed with a full trace and returns the trace's hash.
func traceHash(t *testing.T, seed uint64, o Options) ([32]byte, Result) {
	t.Helper()
	var buf bytes.Buffer
	o.Trace = &buf
	res, err := Run(seed, o)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(buf.Bytes()), res
}

func TestRunReplaysExactly(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		h1, r1 := traceHash(t, seed, shortRun)
		h2, r2 := traceHash(t, seed, shortRun)
		if h1 != h2 || r1.Summary() != r2.Summary() {
			t.Errorf("seed %d does not replay:\n%s\n%s", seed, r1.Summary(), r2.Summary())
		}
		// A run without a trace takes the same course.
		r3, _ := Run(seed, shortRun)
		if r3.Summary() != r1.Summary() {
			t.Errorf("seed %d differs without a trace:\n%s\n%s", seed, r1.Summary(), r3.Summary())
		}
	}
	h1, _ := traceHash(t, 1, shortRun)
	h2, _ := traceHash(t, 2, shortRun)
	if h1 == h2 {
		t.Error("seeds 1 and 2 ran the same")
	}
}

// TestSoloHarness runs the simulator over totemtest.Solo, a correct
// single-member stand-in for the core, with every fault: no invariant may
// break, and the pipeline must have carried real traffic.
func TestSoloHarness(t *testing.T) {
	o := Options{Steps: 10000, Nodes: 4, NewMachine: totemtest.NewSolo, NoLiveness: true}
	var total FaultCounts
	for seed := uint64(1); seed <= 10; seed++ {
		res, err := Run(seed, o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Violation != nil {
			t.Fatalf("%s", res.Report())
		}
		if res.Delivered < 1000 {
			t.Errorf("seed %d: too little happened: %s", seed, res.Summary())
		}
		f := res.Faults
		total.Crashes += f.Crashes
		total.Pauses += f.Pauses
		total.Leaves += f.Leaves
		total.Restarts += f.Restarts
		total.Partitions += f.Partitions
		total.Weather += f.Weather
		total.LossyLinks += f.LossyLinks
	}
	if total.Crashes == 0 || total.Pauses == 0 || total.Leaves == 0 || total.Restarts == 0 || total.Partitions == 0 ||
		total.Weather == 0 || total.LossyLinks == 0 {
		t.Errorf("some fault kinds never happened: %+v", total)
	}
}

// TestSoloBugCaught: a Solo that delivers every 50th message twice is caught.
func TestSoloBugCaught(t *testing.T) {
	buggy := func(cfg totem.Config, ps totem.PersistentState) (totemtest.Machine, error) {
		m, err := totemtest.NewSolo(cfg, ps)
		if err == nil {
			m.(*totemtest.Solo).DuplicateEvery = 50
		}
		return m, err
	}
	res, err := Run(1, Options{Steps: 10000, Nodes: 3, NewMachine: buggy, NoLiveness: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || res.Violation.Invariant != Integrity || len(res.Trace) == 0 {
		t.Fatalf("want an integrity violation with a trace, got %s", res.Report())
	}
}

// TestSeedsPass is the regression sweep: a few seeds of the real core must
// break no invariant. (cmd/totemsim sweeps many more.)
func TestSeedsPass(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		res, err := Run(seed, shortRun)
		if err != nil {
			t.Fatal(err)
		}
		if res.Violation != nil {
			t.Errorf("%s", res.Report())
		}
		if res.LiveAt < 0 || res.Delivered == 0 {
			t.Errorf("seed %d: %s", seed, res.Summary())
		}
	}
}

// TestDeliberateFaultsCaught breaks the core on purpose with each
// totem.Fault and requires a modest seed sweep to report a violation of an
// invariant the bug breaks.
func TestDeliberateFaultsCaught(t *testing.T) {
	all := []Invariant{AgreedOrder, Integrity, SelfDelivery, VirtualSynchrony, ConfChanges, SafeDelivery, Liveness}
	cases := []struct {
		name  string
		fault totem.Fault
		want  []Invariant
	}{
		{"SkipRetransmit", totem.FaultSkipRetransmit, all},
		{"SkipRecoveryResend", totem.FaultSkipRecoveryResend, all},
		{"DeliverOverGaps", totem.FaultDeliverOverGaps, all},
		{"IgnoreSafe", totem.FaultIgnoreSafe, []Invariant{SafeDelivery}},
		{"DuplicateDelivery", totem.FaultDuplicateDelivery, []Invariant{Integrity}},
	}
	const maxSeeds = 25
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := shortRun
			o.Faults = tc.fault
			var seen []string
			for seed := uint64(1); seed <= maxSeeds; seed++ {
				res, err := Run(seed, o)
				if err != nil {
					t.Fatal(err)
				}
				if v := res.Violation; v != nil {
					if slices.Contains(tc.want, v.Invariant) {
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

func BenchmarkRun(b *testing.B) {
	for i := range b.N {
		if _, err := Run(uint64(i+1), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
