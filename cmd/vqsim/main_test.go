package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/sim/vqsim"
)

func writeConf(t *testing.T, quorum string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(p, vqsim.Conf([]uint32{1, 2, 3}, nil, quorum), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestInteractive(t *testing.T) {
	conf := writeConf(t, "")
	out, errOut, err := runCmd(t, "show\ndown 3\nbogus\nsplit 1:2\nup 4\nexit\nshow\n", "-c", conf)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"node 1 part=0 ring=1.9 members=1,2,3 quorate=1 votes=1 expected=3 highest=3 total=3 quorum=2 flags=Quorate",
		"#vqsim> down 3",
		"node 2 part=0 ring=1.d members=1,2 quorate=1 votes=1 expected=3 highest=3 total=2 quorum=2 flags=Quorate",
		"#vqsim> split 1:2",
		"node 2 part=1 ring=2.11 members=2 quorate=0 votes=1 expected=3 highest=3 total=1 quorum=2 flags=-",
		"#vqsim> exit",
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "#vqsim> show\n#vqsim> show") || strings.Count(out, "#vqsim> show") != 1 {
		t.Errorf("the commands after exit ran:\n%s", out)
	}
	for _, w := range []string{`ERR: unknown command "bogus"`, "ERR: node 4: vqsim: no such node in the nodelist"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestOutputFileNoSyncEmpty(t *testing.T) {
	conf := writeConf(t, "wait_for_all: 1")
	outFile := filepath.Join(t.TempDir(), "out")
	stdout, errOut, err := runCmd(t, "up 1,2\nshow\nwait 1000\nshow\n", "-c", conf, "-o", outFile, "-n", "-z", "-s", "7")
	if err != nil || errOut != "" {
		t.Fatalf("%v %s", err, errOut)
	}
	if !strings.Contains(stdout, "#vqsim> up 1,2\n") || strings.Contains(stdout, "node 1") {
		t.Errorf("stdout should hold only the prompts:\n%s", stdout)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// With sync off, nothing ran before the first show: no node is up yet
	// in the simulated sense (started, no ring); after a second both wait
	// for all.
	if lines[0] != "node 1 part=0 ring=0.0 members=- quorate=0 votes=1 expected=3 highest=3 total=1 quorum=2 flags=WaitForAll" ||
		len(lines) != 4 || !strings.HasPrefix(lines[2], "node 1 part=0 ring=1.") || !strings.Contains(lines[3], "members=1,2 quorate=0") {
		t.Errorf("output:\n%s", b)
	}
}

func TestBadUsage(t *testing.T) {
	if _, _, err := runCmd(t, "", "-c", filepath.Join(t.TempDir(), "none.conf")); err == nil {
		t.Error("a missing configuration was accepted")
	}
	conf := writeConf(t, "last_man_standing: 1\nauto_tie_breaker: 1")
	if _, _, err := runCmd(t, "", "-c", conf); err == nil || !strings.Contains(err.Error(), "odd-sized") {
		t.Errorf("a fatal configuration error was accepted: %v", err)
	}
	if _, _, err := runCmd(t, "", "-x"); err == nil {
		t.Error("an unknown flag was accepted")
	}
	if _, _, err := runCmd(t, "", "-sweep", "-tolerate", "nope"); err == nil {
		t.Error("an unknown finding was accepted")
	}
	if _, _, err := runCmd(t, "", "-h"); err != nil {
		t.Errorf("-h: %v", err)
	}
}

func TestSweep(t *testing.T) {
	out, _, err := runCmd(t, "", "-sweep", "-seeds", "1-3", "-tolerate", "all", "-v")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "vqsim: seeds=3 violations=0 ") || strings.Count(out, " ok profile[") != 3 {
		t.Errorf("output:\n%s", out)
	}
	// Seed 4 shows the ghost voters finding when it is not tolerated (as
	// long as the engine behaves as corosync does); the report names the
	// replay command.
	out, _, err = runCmd(t, "", "-sweep", "-seed", "4")
	switch {
	case errors.Is(err, errViolations):
		if !strings.Contains(out, "replay: go run ./cmd/vqsim -sweep -seed 4 -trace") {
			t.Errorf("no replay command:\n%s", out)
		}
	case err != nil || !strings.Contains(out, "vqsim: seeds=1 violations=0 "):
		t.Errorf("%v\n%s", err, out)
	}
	out, _, err = runCmd(t, "", "-sweep", "-seed", "2", "-trace")
	if err != nil || !strings.Contains(out, "node 1 starts (incarnation 1)") {
		t.Errorf("%v\n%s", err, out)
	}
}
