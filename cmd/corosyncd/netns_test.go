package main

// Multi-host tests of the real corosyncd binary in network namespaces
// (internal/netns): ring formation, kill -9 failover, restart and rejoin,
// partition and heal, clean leave on SIGTERM, and SIGSTOP/SIGCONT. They need
// root, ip and nft, and skip with the reason otherwise.
//
// The ring is observed through each host's log (the daemon's stderr, which
// netns appends to Host.Log): with debug on, every new ring logs
//
//	... [TOTEM ] A new membership (R) was formed. Members joined: ... left: ...
//	... [TOTEM ] Members[N]: a b c
//
// and waitRing polls (bounded) until every listed host's latest ring is the
// same and has exactly the expected members.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/netns"
)

const (
	// Totem timers of the generated corosync.conf: token 300 ms with
	// token_coefficient 0, so consensus is corosync's 1.2 × token.
	nsToken     = 300 * time.Millisecond
	nsConsensus = 360 * time.Millisecond
	// nsWait bounds every wait for a ring.
	nsWait = 10 * time.Second
	// nsPoll is the log polling period.
	nsPoll = 10 * time.Millisecond
	// nsSettle is how long a ring must stay unchanged before a fault.
	nsSettle = 500 * time.Millisecond
)

// TestNetns builds corosyncd once and runs the cluster scenarios as
// parallel subtests, one namespace cluster each.
func TestNetns(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("skipping network namespace tests: %v", err)
	}
	bin := nsBuild(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"Form3", func(t *testing.T, bin string) { testNetnsForm(t, bin, 3) }},
		{"Form5", func(t *testing.T, bin string) { testNetnsForm(t, bin, 5) }},
		{"KillRestart", testNetnsKillRestart},
		{"Partition", testNetnsPartition},
		{"Terminate", testNetnsTerminate},
		{"StopCont", testNetnsStopCont},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, bin)
		})
	}
}

// nsBuild builds the daemon into the test's temporary directory, or
// skips the test if it cannot.
func nsBuild(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			t.Skipf("skipping: no go tool to build corosyncd (not in PATH, not %s)", goTool)
		}
	}
	out := filepath.Join(t.TempDir(), "corosyncd")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, "github.com/corogo/corogo/cmd/corosyncd")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot build corosyncd: %v\n%s", err, b)
	}
	t.Logf("built %s in %v", out, time.Since(start).Round(time.Millisecond))
	return out
}

// nsCluster is a netns cluster running one corosyncd per host.
type nsCluster struct {
	t    *testing.T
	c    *netns.Cluster
	bin  string
	n    int
	conf []string // conf[i-1]: host i's corosync.conf
}

// newNSCluster makes an n-host cluster and writes each host's
// corosync.conf (the same cluster settings; state_dir is the host's own).
func newNSCluster(t *testing.T, bin string, n int) *nsCluster {
	t.Helper()
	c := netns.New(t, n)
	k := &nsCluster{t: t, c: c, bin: bin, n: n}
	hosts := c.Hosts()
	for _, h := range hosts {
		p := filepath.Join(h.Dir, "corosync.conf")
		if err := os.WriteFile(p, []byte(testConf{cluster: "netnstest", token: 300, coef: 0, stateDir: h.State}.text(hosts)), 0o644); err != nil {
			t.Fatal(err)
		}
		k.conf = append(k.conf, p)
	}
	// Runs before netns closes the cluster (cleanups are LIFO); netns
	// then prints the tail of each log as well.
	t.Cleanup(func() {
		if t.Failed() {
			k.dump(nil)
		}
	})
	return k
}

func (k *nsCluster) start(i int) {
	k.t.Helper()
	_, err := k.c.Start(i, netns.Spec{
		Args: []string{k.bin, "-f", "-c", k.conf[i-1], "-n", strconv.Itoa(i)},
		// Never let a daemon talk to a service manager of the machine.
		Env: []string{"NOTIFY_SOCKET=", "COROSYNCD_SOCKET=" + k.c.Host(i).Dir + "/corosyncd.sock"},
	})
	if err != nil {
		k.t.Fatalf("start corosyncd on host %d: %v", i, err)
	}
}

// startAll starts every host and returns the time just before the first
// start.
func (k *nsCluster) startAll() time.Time {
	k.t.Helper()
	t0 := time.Now()
	for i := 1; i <= k.n; i++ {
		k.start(i)
	}
	return t0
}

// terminateAll stops every running daemon with SIGTERM and checks that
// each exits with status 0.
func (k *nsCluster) terminateAll() {
	k.t.Helper()
	for i := 1; i <= k.n; i++ {
		if !k.c.Running(i) {
			continue
		}
		k.terminate(i)
	}
}

// terminate sends SIGTERM to host i's daemon and checks that it exits with
// status 0 within 3 s. If it hangs, SIGQUIT makes the Go runtime write every
// goroutine's stack to the host's log (printed on failure), then SIGKILL
// follows if needed.
func (k *nsCluster) terminate(i int) {
	k.t.Helper()
	start := time.Now()
	if err := k.c.Signal(i, syscall.SIGTERM); err != nil {
		k.t.Errorf("host %d: SIGTERM: %v", i, err)
		return
	}
	err := k.c.Wait(i, 3*time.Second)
	if err == nil {
		return
	}
	if !errors.Is(err, netns.ErrTimeout) {
		k.t.Errorf("host %d: corosyncd exited with %v after SIGTERM", i, err)
		return
	}
	_ = k.c.Signal(i, syscall.SIGQUIT)
	qerr := k.c.Wait(i, 3*time.Second)
	if errors.Is(qerr, netns.ErrTimeout) {
		_ = k.c.Kill(i)
	}
	k.t.Errorf("host %d: corosyncd still running %s after SIGTERM (then SIGQUIT: %v); its goroutines in corogo code:\n%s",
		i, nsMs(time.Since(start)), qerr, nsStacks(k.current(i)))
}

// nsStacks returns the goroutines of a Go traceback (SIGQUIT) in lines
// that run corogo code.
func nsStacks(lines []string) string {
	var out []string
	in := false
	var block []string
	flush := func() {
		if strings.Contains(strings.Join(block, "\n"), "corogo/") {
			out = append(out, block...)
			out = append(out, "")
		}
		block = nil
	}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "SIGQUIT"):
			in = true
		case !in:
		case strings.HasPrefix(l, "goroutine "):
			flush()
			block = []string{l}
		case block != nil && l != "":
			block = append(block, l)
		}
	}
	flush()
	return strings.Join(out, "\n")
}

func (k *nsCluster) all() []int {
	l := make([]int, k.n)
	for i := range l {
		l[i] = i + 1
	}
	return l
}

// runs returns host i's log split into runs (one per Start, at netns's
// "=== netns:" header), complete lines only.
func (k *nsCluster) runs(i int) [][]string {
	b, err := os.ReadFile(k.c.Host(i).Log)
	if err != nil {
		return nil
	}
	if j := bytes.LastIndexByte(b, '\n'); j >= 0 {
		b = b[:j+1]
	} else {
		b = nil
	}
	var runs [][]string
	var cur []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== netns:") {
			if cur != nil {
				runs = append(runs, cur)
			}
			cur = []string{}
		}
		if cur != nil {
			cur = append(cur, line)
		}
	}
	if cur != nil {
		runs = append(runs, cur)
	}
	return runs
}

// current returns the lines of host i's latest run.
func (k *nsCluster) current(i int) []string {
	r := k.runs(i)
	if len(r) == 0 {
		return nil
	}
	return r[len(r)-1]
}

// nsRing is one ring as a host logged it.
type nsRing struct {
	id      string // rep.seq, hex, as logged
	seq     uint64
	members []int
	at      time.Time // timestamp of the Members line; zero if unparsed
	line    string    // the "A new membership" line
}

var (
	nsReMembership = regexp.MustCompile(`A new membership \(([0-9a-f]+)\.([0-9a-f]+)\) was formed\. Members`)
	nsReMembers    = regexp.MustCompile(`\bMembers\[(\d+)\]:(.*)$`)
)

// rings parses the rings of a run, in log order.
func nsRings(lines []string) []nsRing {
	var out []nsRing
	var pending *nsRing
	for _, line := range lines {
		if m := nsReMembership.FindStringSubmatch(line); m != nil {
			seq, _ := strconv.ParseUint(m[2], 16, 64)
			pending = &nsRing{id: m[1] + "." + m[2], seq: seq, line: line}
			continue
		}
		if m := nsReMembers.FindStringSubmatch(line); m != nil && pending != nil {
			for _, f := range strings.Fields(m[2]) {
				id, err := strconv.Atoi(f)
				if err == nil {
					pending.members = append(pending.members, id)
				}
			}
			slices.Sort(pending.members)
			pending.at = nsLogTime(line)
			out = append(out, *pending)
			pending = nil
		}
	}
	return out
}

// logTime parses the hires timestamp ("Jan 02 15:04:05.000") that starts a
// daemon log line; the zero time if there is none.
func nsLogTime(line string) time.Time {
	const layout = "Jan 02 15:04:05.000"
	if len(line) < len(layout) {
		return time.Time{}
	}
	ts, err := time.ParseInLocation(layout, line[:len(layout)], time.Local)
	if err != nil {
		return time.Time{}
	}
	now := time.Now()
	ts = ts.AddDate(now.Year(), 0, 0)
	if ts.After(now.Add(time.Hour)) { // logged last year, read in January
		ts = ts.AddDate(-1, 0, 0)
	}
	return ts
}

// latest returns host i's latest ring of its current run.
func (k *nsCluster) latest(i int) (nsRing, bool) {
	r := nsRings(k.current(i))
	if len(r) == 0 {
		return nsRing{}, false
	}
	return r[len(r)-1], true
}

// common reports whether every host of hosts has the same latest ring with
// exactly the members want; the ring's at is the latest of the hosts'.
func (k *nsCluster) common(hosts, want []int) (nsRing, bool, string) {
	var first nsRing
	var at time.Time
	var state []string
	ok := true
	for n, i := range hosts {
		r, has := k.latest(i)
		if !has {
			state = append(state, fmt.Sprintf("host %d: no ring yet", i))
			ok = false
			continue
		}
		state = append(state, fmt.Sprintf("host %d: ring %s members %v", i, r.id, r.members))
		if !slices.Equal(r.members, want) {
			ok = false
		}
		if n == 0 {
			first = r
		} else if r.id != first.id {
			ok = false
		}
		if r.at.After(at) {
			at = r.at
		}
	}
	first.at = at
	return first, ok, strings.Join(state, "; ")
}

// waitRing waits (at most nsWait) until every host of hosts has the same
// latest ring with exactly the members want, and returns it with the time
// it took since since: from the log timestamps of the Members lines (ms
// resolution) when they parse, else as observed by polling.
func (k *nsCluster) waitRing(what string, since time.Time, hosts, want []int) (nsRing, time.Duration) {
	k.t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(nsWait)
	for n := 0; ; n++ {
		r, ok, state := k.common(hosts, want)
		if ok {
			observed := time.Since(since)
			took := observed
			if !r.at.IsZero() && !r.at.Before(since.Truncate(time.Millisecond)) && r.at.Sub(since) <= observed {
				took = max(r.at.Sub(since), 0)
			}
			return r, took
		}
		for _, i := range hosts {
			if !k.c.Running(i) {
				k.t.Fatalf("%s: corosyncd of host %d is not running (%v); %s", what, i, k.c.Wait(i, 0), state)
			}
		}
		if time.Now().After(deadline) || n > int(nsWait/nsPoll)+100 {
			k.t.Fatalf("%s: hosts %v have no common ring with members %v after %v: %s", what, hosts, want, nsWait, state)
		}
		time.Sleep(nsPoll)
	}
}

// settle waits (at most nsWait) until hosts have kept the same common ring
// with members want for nsSettle, so that a fault is injected into a
// stable ring rather than into the tail of a merge.
func (k *nsCluster) settle(what string, hosts, want []int) nsRing {
	k.t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(nsWait)
	var cur nsRing
	var since time.Time
	for n := 0; ; n++ {
		r, ok, state := k.common(hosts, want)
		switch {
		case !ok:
			since = time.Time{}
		case since.IsZero() || r.id != cur.id:
			cur, since = r, time.Now()
		case time.Since(since) >= nsSettle:
			return cur
		}
		if time.Now().After(deadline) || n > int(nsWait/nsPoll)+100 {
			k.t.Fatalf("%s: the ring of hosts %v did not stay %v for %v: %s", what, hosts, want, nsSettle, state)
		}
		time.Sleep(nsPoll)
	}
}

// nsReRelevant selects the log lines worth printing on failure.
var nsReRelevant = regexp.MustCompile(`=== netns|membership|Members|[Ff]ailed|FAILED|processor|entering|leave|corosyncd|warning|error|exiting|starting up|scheduled`)

// dump prints the relevant lines of the logs of hosts (nil: all).
func (k *nsCluster) dump(hosts []int) {
	if hosts == nil {
		hosts = k.all()
	}
	for _, i := range hosts {
		var sel []string
		for _, run := range k.runs(i) {
			for _, l := range run {
				if nsReRelevant.MatchString(l) {
					sel = append(sel, l)
				}
			}
		}
		if len(sel) > 80 {
			sel = append([]string{"..."}, sel[len(sel)-80:]...)
		}
		k.t.Logf("--- relevant log lines of host %d (%s):\n%s", i, k.c.Host(i).Log, strings.Join(sel, "\n"))
	}
}

// grep returns the lines of lines matching re.
func nsGrep(lines []string, re *regexp.Regexp) []string {
	var out []string
	for _, l := range lines {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func nsMs(d time.Duration) string { return d.Round(time.Millisecond).String() }

// testNetnsForm: n nodes form one ring.
func testNetnsForm(t *testing.T, bin string, n int) {
	k := newNSCluster(t, bin, n)
	t0 := k.startAll()
	r, took := k.waitRing(fmt.Sprintf("%d nodes", n), t0, k.all(), k.all())
	t.Logf("%d nodes formed ring %s %v in %s after the first start", n, r.id, r.members, nsMs(took))
	k.terminateAll()
}

// testNetnsKillRestart: kill -9 one node of 3, the survivors re-form within
// token + consensus + 1 s; the node restarted with its state dir rejoins.
func testNetnsKillRestart(t *testing.T, bin string) {
	k := newNSCluster(t, bin, 3)
	t0 := k.startAll()
	r3, took := k.waitRing("3 nodes", t0, k.all(), k.all())
	t.Logf("3 nodes formed ring %s in %s", r3.id, nsMs(took))
	r3 = k.settle("before the fault", k.all(), k.all())

	before, _ := k.latest(3)
	tKill := time.Now()
	if err := k.c.Kill(3); err != nil {
		t.Fatal(err)
	}
	r2, failover := k.waitRing("after kill -9 of host 3", tKill, []int{1, 2}, []int{1, 2})
	limit := nsToken + nsConsensus + time.Second
	t.Logf("failover: hosts 1 2 formed ring %s %v in %s after kill -9 of host 3 (limit %s)", r2.id, r2.members, nsMs(failover), nsMs(limit))
	if failover > limit {
		t.Errorf("failover took %s, want at most token + consensus + 1 s = %s", nsMs(failover), nsMs(limit))
	}
	if !regexp.MustCompile(`left: 3$`).MatchString(r2.line) {
		t.Errorf("new ring after kill: want Members left: 3, got %q", r2.line)
	}
	if f := nsGrep(k.current(1), regexp.MustCompile(`Failed to receive the leave message\. failed: 3`)); len(f) == 0 {
		t.Logf("note: host 1 did not log 'Failed to receive the leave message. failed: 3' (corosync 3.1 does)")
	}
	if r2.seq <= r3.seq {
		t.Errorf("ring seq did not grow: %s after %s", r2.id, r3.id)
	}

	// The ring id file of host 3 is kept for the restart.
	idFile := filepath.Join(k.c.Host(3).State, "ringid_3")
	b, err := os.ReadFile(idFile)
	if err != nil || len(b) != 8 {
		t.Fatalf("ring id file of host 3: %v (%d bytes), want 8 bytes", err, len(b))
	}
	stored := binary.NativeEndian.Uint64(b)
	if stored < before.seq {
		t.Errorf("ring id file of host 3 holds seq %#x, below its last logged ring %s", stored, before.id)
	}

	tStart := time.Now()
	k.start(3)
	rr, rejoin := k.waitRing("after restart of host 3", tStart, k.all(), k.all())
	t.Logf("rejoin: restarted host 3 joined, ring %s %v in %s after its start", rr.id, rr.members, nsMs(rejoin))
	if rr.seq <= r2.seq {
		t.Errorf("ring seq did not grow: %s after %s", rr.id, r2.id)
	}
	if first := nsRings(k.current(3)); len(first) > 0 && first[0].seq <= stored {
		t.Errorf("restarted host 3's first ring %s does not follow its stored seq %#x", first[0].id, stored)
	}
	k.terminateAll()
}

// testNetnsPartition: {1,2}|{3,4,5} gives two rings; HealAll one of 5.
func testNetnsPartition(t *testing.T, bin string) {
	k := newNSCluster(t, bin, 5)
	t0 := k.startAll()
	r5, took := k.waitRing("5 nodes", t0, k.all(), k.all())
	t.Logf("5 nodes formed ring %s in %s", r5.id, nsMs(took))
	r5 = k.settle("before the fault", k.all(), k.all())

	tPart := time.Now()
	if err := k.c.Partition([]int{1, 2}, []int{3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	ra, da := k.waitRing("partition side {1,2}", tPart, []int{1, 2}, []int{1, 2})
	rb, db := k.waitRing("partition side {3,4,5}", tPart, []int{3, 4, 5}, []int{3, 4, 5})
	t.Logf("partition: rings %s %v in %s and %s %v in %s", ra.id, ra.members, nsMs(da), rb.id, rb.members, nsMs(db))
	if ra.id == rb.id {
		t.Errorf("both sides report ring %s", ra.id)
	}
	if ra.seq <= r5.seq || rb.seq <= r5.seq {
		t.Errorf("partition rings %s and %s do not follow %s", ra.id, rb.id, r5.id)
	}

	tHeal := time.Now()
	if err := k.c.HealAll(); err != nil {
		t.Fatal(err)
	}
	rh, dh := k.waitRing("after HealAll", tHeal, k.all(), k.all())
	t.Logf("heal: one ring %s %v in %s after HealAll", rh.id, rh.members, nsMs(dh))
	if rh.seq <= ra.seq || rh.seq <= rb.seq {
		t.Errorf("merged ring %s does not follow %s and %s", rh.id, ra.id, rb.id)
	}
	k.terminateAll()
}

// testNetnsTerminate: on SIGTERM a node sends the leave message and the
// others re-form without a token timeout.
func testNetnsTerminate(t *testing.T, bin string) {
	k := newNSCluster(t, bin, 3)
	t0 := k.startAll()
	r3, took := k.waitRing("3 nodes", t0, k.all(), k.all())
	t.Logf("3 nodes formed ring %s in %s", r3.id, nsMs(took))
	r3 = k.settle("before the fault", k.all(), k.all())

	mark := map[int]int{1: len(k.current(1)), 2: len(k.current(2))}
	tTerm := time.Now()
	k.terminate(3) // checks the exit status
	r2, reform := k.waitRing("after SIGTERM of host 3", tTerm, []int{1, 2}, []int{1, 2})
	t.Logf("leave: hosts 1 2 formed ring %s %v in %s after SIGTERM of host 3 (token timeout %s)", r2.id, r2.members, nsMs(reform), nsMs(nsToken))
	if reform >= nsToken {
		t.Errorf("re-form after SIGTERM took %s, want well under the token timeout %s (leave message)", nsMs(reform), nsMs(nsToken))
	}
	if r2.seq <= r3.seq {
		t.Errorf("ring seq did not grow: %s after %s", r2.id, r3.id)
	}
	for _, i := range []int{1, 2} {
		after := k.current(i)[mark[i]:]
		if l := nsGrep(after, regexp.MustCompile(`was formed\. Members left: 3$`)); len(l) == 0 {
			t.Errorf("host %d: no 'Members left: 3' after SIGTERM of host 3", i)
		}
		if l := nsGrep(after, regexp.MustCompile(`Failed to receive the leave message`)); len(l) > 0 {
			t.Errorf("host %d: logged %q after a clean leave", i, l[0])
		}
		if l := nsGrep(after, regexp.MustCompile(`A processor failed|token timed out`)); len(l) > 0 {
			t.Errorf("host %d: token timeout after a clean leave: %q", i, l[0])
		}
	}
	if l := nsGrep(k.current(3), regexp.MustCompile(`exiting normally`)); len(l) == 0 {
		t.Errorf("host 3: no 'exiting normally' in its log")
	}
	k.terminateAll()
}

// testNetnsStopCont: a node frozen longer than token + consensus is
// dropped from the ring, and re-included once it runs again.
func testNetnsStopCont(t *testing.T, bin string) {
	k := newNSCluster(t, bin, 3)
	t0 := k.startAll()
	r3, took := k.waitRing("3 nodes", t0, k.all(), k.all())
	t.Logf("3 nodes formed ring %s in %s", r3.id, nsMs(took))
	r3 = k.settle("before the fault", k.all(), k.all())

	tStop := time.Now()
	if err := k.c.Stop(3); err != nil {
		t.Fatal(err)
	}
	r2, dropped := k.waitRing("host 3 stopped", tStop, []int{1, 2}, []int{1, 2})
	t.Logf("stop: hosts 1 2 formed ring %s %v in %s after SIGSTOP of host 3", r2.id, r2.members, nsMs(dropped))
	if r2.seq <= r3.seq {
		t.Errorf("ring seq did not grow: %s after %s", r2.id, r3.id)
	}
	// Keep host 3 frozen well past token + consensus.
	if d := nsToken + nsConsensus + 500*time.Millisecond - time.Since(tStop); d > 0 {
		time.Sleep(d)
	}
	frozen := time.Since(tStop)

	tCont := time.Now()
	if err := k.c.Cont(3); err != nil {
		t.Fatal(err)
	}
	rr, back := k.waitRing("host 3 continued", tCont, k.all(), k.all())
	t.Logf("cont: host 3 (frozen %s) re-included, ring %s %v in %s after SIGCONT", nsMs(frozen), rr.id, rr.members, nsMs(back))
	if rr.seq <= r2.seq {
		t.Errorf("ring seq did not grow: %s after %s", rr.id, r2.id)
	}
	k.terminateAll()
}
