package main

import (
	"bytes"
	"context"
	"errors"
	"github.com/corogo/corogo/internal/sim"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/corogo/corogo/totem"
)

func TestParseSeeds(t *testing.T) {
	cases := []struct {
		in   string
		want []uint64
		bad  bool
	}{
		{in: "1-3,17", want: []uint64{1, 2, 3, 17}},
		{in: "5", want: []uint64{5}},
		{in: " 9 , 2-2 ", want: []uint64{9, 2}},
		{in: "3-1", bad: true},
		{in: "x", bad: true},
		{in: "", bad: true},
		{in: "1-100000000", bad: true},
	}
	for _, c := range cases {
		got, err := sim.ParseSeeds(c.in)
		if (err != nil) != c.bad || !c.bad && !slices.Equal(got, c.want) {
			t.Errorf("ParseSeeds(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestParseFaults(t *testing.T) {
	f, err := parseFaults("ignore-safe,duplicate-delivery")
	if err != nil || f != totem.FaultIgnoreSafe|totem.FaultDuplicateDelivery {
		t.Errorf("got %v, %v", f, err)
	}
	if f, err := parseFaults("0x3"); err != nil || f != 3 {
		t.Errorf("got %v, %v", f, err)
	}
	if _, err := parseFaults("nope"); err == nil {
		t.Error("unknown fault accepted")
	}
}

var sweepSummary = regexp.MustCompile(`\Atotemsim: seeds=(\d+) violations=(\d+) steps=20000 nodes=5 `)

var summary = regexp.MustCompile(`(?m)\Atotemsim: seeds=(\d+) violations=(\d+) steps=8000 nodes=3 `)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out)
	return out.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestRunSweep(t *testing.T) {
	out, err := runCmd(t, "-nodes", "3", "-steps", "8000", "-seeds", "1-3", "-workers", "2", "-v")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := summary.FindStringSubmatch(lastLine(out))
	if m == nil || m[1] != "3" || m[2] != "0" {
		t.Fatalf("summary line %q", lastLine(out))
	}
	// Verbose lines come in seed order whatever the workers' timing.
	if i1, i3 := strings.Index(out, "seed=1 "), strings.Index(out, "seed=3 "); i1 < 0 || i3 < i1 {
		t.Errorf("per-seed lines missing or out of order:\n%s", out)
	}
}

func TestRunReportsViolations(t *testing.T) {
	out, err := runCmd(t, "-nodes", "3", "-steps", "8000", "-seeds", "1,2", "-faults", "duplicate-delivery", "-tail", "5")
	if !errors.Is(err, errViolations) {
		t.Fatalf("err %v\n%s", err, out)
	}
	m := summary.FindStringSubmatch(lastLine(out))
	if m == nil || m[1] != "2" || m[2] != "2" {
		t.Fatalf("summary line %q", lastLine(out))
	}
	if !strings.Contains(out, "seed=1 violation of integrity") || !strings.Contains(out, "last 5 events:") ||
		!strings.Contains(out, "failing seeds: 1,2") {
		t.Errorf("report:\n%s", out)
	}
}

func TestRunTraceReplays(t *testing.T) {
	a, err := runCmd(t, "-nodes", "3", "-steps", "8000", "-seed", "4", "-trace")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := runCmd(t, "-nodes", "3", "-steps", "8000", "-seed", "4", "-trace")
	strip := func(s string) string { return s[:strings.LastIndex(s, "elapsed=")] }
	if strip(a) != strip(b) {
		t.Error("two -trace runs of one seed differ")
	}
	if !strings.Contains(a, "confchg regular") || !strings.Contains(a, "deliver ") || strings.Count(a, "\n") < 1000 {
		t.Errorf("trace too thin: %d lines", strings.Count(a, "\n"))
	}
}

func TestRunBadUsage(t *testing.T) {
	for _, args := range [][]string{{"-seeds", "9-1"}, {"-faults", "bogus"}, {"-steps", "100"}, {"extra"}} {
		if _, err := runCmd(t, args...); err == nil || errors.Is(err, errViolations) {
			t.Errorf("%q: err %v", args, err)
		}
	}
}

// TestSweep is the simulator sweep CI runs: 500 seeds of a five-node
// cluster, 20000 steps each, with every fault kind, and no violation.
// TOTEMSIM_SEEDS widens or narrows it (for example 1-5000); -short skips it.
func TestSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("the 500-seed sweep is skipped with -short")
	}
	seeds := os.Getenv("TOTEMSIM_SEEDS")
	if seeds == "" {
		seeds = "1-500"
	}
	out, err := runCmd(t, "-nodes", "5", "-steps", "20000", "-seeds", seeds,
		"-workers", strconv.Itoa(runtime.GOMAXPROCS(0)))
	t.Log(lastLine(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m := sweepSummary.FindStringSubmatch(lastLine(out)); m == nil || m[2] != "0" {
		t.Fatalf("summary line %q", lastLine(out))
	}
}
