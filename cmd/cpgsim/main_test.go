package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/corogo/corogo/internal/sim"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/sim/cpgsim"
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

var summary = regexp.MustCompile(`\Acpgsim: seeds=(\d+) violations=(\d+) steps=10000 nodes=3 `)

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
	out, err := runCmd(t, "-nodes", "3", "-steps", "10000", "-seeds", "1-4", "-workers", "2", "-tolerate", "all", "-v")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := summary.FindStringSubmatch(lastLine(out))
	if m == nil || m[1] != "4" || m[2] != "0" || !strings.Contains(lastLine(out), "tolerate=0xf") {
		t.Fatalf("summary line %q", lastLine(out))
	}
	// Verbose lines come in seed order whatever the workers' timing.
	if i1, i4 := strings.Index(out, "seed=1 "), strings.Index(out, "seed=4 "); i1 < 0 || i4 < i1 {
		t.Errorf("per-seed lines missing or out of order:\n%s", out)
	}
}

func TestRunReportsViolations(t *testing.T) {
	out, err := runCmd(t, "-nodes", "3", "-steps", "10000", "-seeds", "1,2", "-faults", "duplicate-delivery", "-tolerate", "all", "-tail", "5")
	if !errors.Is(err, errViolations) {
		t.Fatalf("err %v\n%s", err, out)
	}
	m := summary.FindStringSubmatch(lastLine(out))
	if m == nil || m[1] != "2" || m[2] != "2" {
		t.Fatalf("summary line %q", lastLine(out))
	}
	if !strings.Contains(out, "seed=1 violation of cpg-integrity") || !strings.Contains(out, " events:\n") ||
		!strings.Contains(out, "failing seeds: 1,2") {
		t.Errorf("report:\n%s", out)
	}
}

func TestRunTraceReplays(t *testing.T) {
	args := []string{"-nodes", "3", "-steps", "10000", "-seed", "4", "-tolerate", "all", "-trace"}
	a, err := runCmd(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := runCmd(t, args...)
	strip := func(s string) string { return s[:strings.LastIndex(s, "elapsed=")] }
	if strip(a) != strip(b) {
		t.Error("two -trace runs of one seed differ")
	}
	for _, want := range []string{"confchg regular", "deliver cpg.mcast", " cpg     ", "sync complete", " confchg ", " deliver g "} {
		if !strings.Contains(a, want) {
			t.Errorf("trace has no %q", want)
		}
	}
	if strings.Count(a, "\n") < 10000 {
		t.Errorf("trace too thin: %d lines", strings.Count(a, "\n"))
	}
}

func TestRunBadUsage(t *testing.T) {
	for _, args := range [][]string{{"-seeds", "9-1"}, {"-faults", "bogus"}, {"-tolerate", "bogus"}, {"-steps", "100"},
		{"-groups", "9"}, {"extra"}} {
		if _, err := runCmd(t, args...); err == nil || errors.Is(err, errViolations) {
			t.Errorf("%q: err %v", args, err)
		}
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// TestCPGSweep is the CPG simulator sweep: seeds 1-100 (CPGSIM_SEEDS) of
// clusters of 3, 4 and 5 nodes (CPGSIM_NODES), 20000 steps each, with
// every fault kind. Every known finding is tolerated, so that the sweep
// looks past them: it fails on any other violation. It also fails on
// every finding that is not in CPGSIM_ALLOW, reporting the seeds that
// reproduce it and how to replay one. The default allows the two findings
// that are corosync's own CPG semantics (node-level-sender,
// views-span-configurations) and partial-across-views, whose remaining
// case (about 1 seed in 300: the first fragments of a PARTIAL_MCAST sent
// in a ring that did not include the receiving node, so it cannot
// reassemble the message the others deliver) is libcpg's behaviour too;
// it reports zombies, the engine bug this sweep found and that is fixed.
// CPGSIM_ALLOW=all accepts every known finding.
// -short skips the sweep.
func TestCPGSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("the CPG sweep is skipped with -short")
	}
	seeds := env("CPGSIM_SEEDS", "1-100")
	allow, err := cpgsim.ParseFindings(env("CPGSIM_ALLOW", "node-level-sender,views-span-configurations,partial-across-views"))
	if err != nil {
		t.Fatal(err)
	}
	type repro struct {
		nodes string
		seed  uint64
	}
	bugs := map[cpgsim.Finding][]repro{}
	runs := 0
	for _, nodes := range strings.Split(env("CPGSIM_NODES", "3,4,5"), ",") {
		cfg, err := parseFlags([]string{"-nodes", nodes, "-steps", "20000", "-seeds", seeds, "-tolerate", "all",
			"-workers", strconv.Itoa(runtime.GOMAXPROCS(0))}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[cpgsim.Finding]int{}
		violations := 0
		for r := range sweep(context.Background(), cfg, nil) {
			if r.Err != nil {
				t.Fatalf("seed %d: %v", r.Seed, r.Err)
			}
			runs++
			if r.Res.Violation != nil {
				violations++
				t.Errorf("nodes=%s: %s", nodes, r.Res.Report())
			}
			for _, f := range cpgsim.Findings() {
				if r.Res.Tolerated[f.Finding] == 0 {
					continue
				}
				seen[f.Finding]++
				if allow&f.Finding == 0 {
					bugs[f.Finding] = append(bugs[f.Finding], repro{nodes, r.Seed})
				}
			}
		}
		var parts []string
		for _, f := range cpgsim.Findings() {
			parts = append(parts, fmt.Sprintf("%s=%d", f.Name, seen[f.Finding]))
		}
		t.Logf("nodes=%s seeds=%s: %d violations; seeds showing each finding: %s", nodes, seeds, violations, strings.Join(parts, " "))
	}
	for _, f := range cpgsim.Findings() {
		list := bugs[f.Finding]
		if len(list) == 0 {
			continue
		}
		var ex []string
		for _, r := range list[:min(5, len(list))] {
			ex = append(ex, fmt.Sprintf("nodes=%s seed=%d", r.nodes, r.seed))
		}
		r := list[0]
		t.Errorf("engine finding %s (see internal/sim/cpgsim, Finding%s) in %d of %d runs, e.g. %s; replay with\n"+
			"\tgo run ./cmd/cpgsim -nodes %s -seed %d -tolerate %s -trace\n(CPGSIM_ALLOW=all lets it pass)",
			f.Name, findingIdent(f.Name), len(list), runs, strings.Join(ex, ", "), r.nodes, r.seed, cpgsim.AllFindings&^f.Finding)
	}
}

// findingIdent turns "partial-across-views" into "PartialAcrossViews".
func findingIdent(name string) string {
	var sb strings.Builder
	for _, w := range strings.Split(name, "-") {
		if w != "" {
			sb.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return sb.String()
}
