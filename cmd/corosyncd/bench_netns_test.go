package main

// TestNetnsFailoverBenchmark measures ring formation, failover and rejoin
// times of corosyncd and of the real corosync 3.1 on the same namespace
// setup (internal/netns). It is a benchmark, not a regression test: it is
// skipped unless COROGO_BENCH=1, needs root, ip, nft and the corosync
// binary, and takes several minutes.
//
//	COROGO_BENCH=1 go test ./cmd/corosyncd/ -run TestNetnsFailoverBenchmark -v -count=1 -timeout 30m
//
// Environment:
//
//	COROGO_BENCH=1          run it
//	COROGO_BENCH_OUT=FILE   also write the result table (markdown) to FILE
//	COROGO_BENCH_REPS=R     repetitions per configuration (default 7)
//	COROGO_BENCH_RUN=RE     only configurations whose name matches RE
//	                        (names: corosyncd_N3_default, corosync_N16_token300, ...)
//	COROGO_BENCH_KEEP=DIR   keep the host directories (configs, logs) under DIR
//
// Every configuration (implementation × N × timers) gets a fresh cluster of
// N host namespaces; all hosts run the same implementation with the same
// corosync.conf: udpu, crypto none, no quorum section, logging to a file
// with hires timestamps and debug on, system.sched_rr: no (so that neither
// runs with real-time scheduling), and either corosync's default timers
// (token 3000, token_coefficient 650) or token 300 with token_coefficient
// 0. Both implementations are started the same way (netns.Spec.PrivateRun,
// which real corosync needs for its pid file; corosyncd does not care).
//
// One repetition:
//
//  1. formation: start all N daemons at once; the time from just before
//     the first start to the latest "A new membership" line, over all
//     hosts, of the ring of all N that every host ends with;
//  2. the ring must then stay unchanged for bnHold;
//  3. failover: kill -9 of one node (rotating over 2..N, never the lowest
//     id, as failover.sh of shared/bench/corosync does); the time from
//     just before the kill (the test's clock) to the latest "A new
//     membership" line, over the survivors, of their common ring of N-1
//     (the per-repetition log line also gives the first survivor's);
//  4. after bnPause (1 s, as failover.sh), rejoin: restart the killed node;
//     the time from just before its start to the latest "A new membership"
//     line, over all hosts, of the common ring of all N;
//  5. all daemons get SIGTERM at once; the /dev/shm files of the real
//     corosync processes are removed by PID.
//
// All processes share the machine's clock, so log timestamps (ms
// resolution, truncated) and the test's time.Now are comparable. Members
// are read as in interop_test.go (mxParse): real corosync's "position [i]
// member N:" lines of the RECOVERY block, corosyncd's "Members[N]:" line.

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// bnWait bounds every wait for a ring (defaults: failover takes ~8 s).
	bnWait = 30 * time.Second
	// bnPoll is the log polling period. The figures come from the log
	// timestamps, not from polling.
	bnPoll = 25 * time.Millisecond
	// bnHold is how long a formed ring must stay unchanged before a kill.
	bnHold = time.Second
	// bnPause is the pause between the failover ring and the restart.
	bnPause = time.Second
	// bnStopWait bounds the wait for a daemon to exit after SIGTERM.
	bnStopWait = 15 * time.Second
)

const (
	bnOurs   = "corosyncd"
	bnTheirs = "corosync"
)

// bnTimers is a totem timer setting; zero fields are corosync's defaults.
type bnTimers struct {
	name  string // short, for subtest names
	label string // for the table
	token int    // ms; 0: default (3000)
	coef  int    // ms; -1: default (650)
}

var (
	bnDefaultTimers = bnTimers{name: "default", label: "defaults (token 3000, coeff 650)", token: 0, coef: -1}
	bnFastTimers    = bnTimers{name: "token300", label: "token 300, coeff 0", token: 300, coef: 0}
)

// effective returns corosync's effective token timeout and consensus for n
// nodes: token + (n-2) × token_coefficient, consensus 1.2 × token.
func (tm bnTimers) effective(n int) (token, consensus time.Duration) {
	tok, coef := 3000, 650
	if tm.token > 0 {
		tok = tm.token
	}
	if tm.coef >= 0 {
		coef = tm.coef
	}
	ms := tok
	if n > 2 {
		ms += (n - 2) * coef
	}
	return time.Duration(ms) * time.Millisecond, time.Duration(ms) * 1200 * time.Microsecond
}

type bnConfig struct {
	impl   string
	n      int
	timers bnTimers
}

func (c bnConfig) name() string { return fmt.Sprintf("%s_N%d_%s", c.impl, c.n, c.timers.name) }

// Metrics, in table order.
const (
	bnFormation = "formation"
	bnFailover  = "failover"
	bnRejoin    = "rejoin"
)

var bnMetrics = []string{bnFormation, bnFailover, bnRejoin}

// bnResults collects the measured durations per configuration and metric.
type bnResults struct {
	configs []bnConfig
	vals    map[string]map[string][]time.Duration // config name -> metric -> values
	notes   []string
}

func (r *bnResults) add(c bnConfig, metric string, d time.Duration) {
	if r.vals == nil {
		r.vals = map[string]map[string][]time.Duration{}
	}
	m := r.vals[c.name()]
	if m == nil {
		m = map[string][]time.Duration{}
		r.vals[c.name()] = m
	}
	m[metric] = append(m[metric], d)
}

func (r *bnResults) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// bnMedian returns the median (mean of the middle two for an even count),
// the minimum and the maximum of ds, which must not be empty.
func bnMedian(ds []time.Duration) (med, lo, hi time.Duration) {
	s := slices.Sorted(slices.Values(ds))
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func bnSec(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// table renders the results as markdown: one row per (N, timers, metric,
// implementation), so that the two implementations are adjacent.
func (r *bnResults) table() string {
	var b strings.Builder
	b.WriteString("| N | timers | metric | implementation | median (s) | min (s) | max (s) | runs | expected failover (token + consensus) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	type group struct {
		n      int
		timers bnTimers
	}
	var groups []group
	for _, c := range r.configs {
		g := group{c.n, c.timers}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		tok, cons := g.timers.effective(g.n)
		for _, metric := range bnMetrics {
			for _, impl := range []string{bnOurs, bnTheirs} {
				c := bnConfig{impl: impl, n: g.n, timers: g.timers}
				ds := r.vals[c.name()][metric]
				name := impl
				if impl == bnTheirs {
					name = "corosync 3.1.7"
				}
				exp := ""
				if metric == bnFailover {
					exp = fmt.Sprintf("%s + %s = %s", bnSec(tok), bnSec(cons), bnSec(tok+cons))
				}
				if len(ds) == 0 {
					fmt.Fprintf(&b, "| %d | %s | %s | %s | – | – | – | 0 | %s |\n", g.n, g.timers.label, metric, name, exp)
					continue
				}
				med, lo, hi := bnMedian(ds)
				fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %d | %s |\n",
					g.n, g.timers.label, metric, name, bnSec(med), bnSec(lo), bnSec(hi), len(ds), exp)
			}
		}
	}
	return b.String()
}

// bnCluster is one configuration's cluster.
type bnCluster struct {
	t        *testing.T
	c        *netns.Cluster
	cfg      bnConfig
	daemon   string // corosyncd
	corosync string // real corosync
	conf     []string
	logs     []string
	pids     []int // PIDs of real corosync processes started
	res      *bnResults
}

func (b *bnCluster) all() []int {
	l := make([]int, b.cfg.n)
	for i := range l {
		l[i] = i + 1
	}
	return l
}

func (b *bnCluster) start(i int) {
	b.t.Helper()
	spec := netns.Spec{
		Env: []string{"NOTIFY_SOCKET="}, // never talk to a service manager
		// Both the same way: real corosync needs a private /run for its
		// hard-coded pid file.
		PrivateRun: true,
	}
	if b.cfg.impl == bnOurs {
		spec.Args = []string{b.daemon, "-f", "-c", b.conf[i-1], "-n", strconv.Itoa(i)}
		// Clients started with ip netns exec do not see the private /run.
		spec.Env = append(spec.Env, "COROSYNCD_SOCKET="+bnSocket(b.c.Host(i)))
	} else {
		spec.Args = []string{b.corosync, "-f", "-c", b.conf[i-1]}
	}
	pid, err := b.c.Start(i, spec)
	if err != nil {
		b.t.Fatalf("start %s on host %d: %v", b.cfg.impl, i, err)
	}
	if b.cfg.impl == bnTheirs {
		b.pids = append(b.pids, pid)
	}
}

// bnSocket is where corosyncd on host h listens for clients.
func bnSocket(h netns.Host) string { return filepath.Join(h.Dir, "corosyncd.sock") }

func (b *bnCluster) mark(i int) int64 {
	fi, err := os.Stat(b.logs[i-1])
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (b *bnCluster) marks() map[int]int64 {
	m := map[int]int64{}
	for _, i := range b.all() {
		m[i] = b.mark(i)
	}
	return m
}

// lines returns the complete lines of host i's log from offset off.
func (b *bnCluster) lines(i int, off int64) []string {
	f, err := os.Open(b.logs[i-1])
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() <= off {
		return nil
	}
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	buf = buf[:n]
	j := strings.LastIndexByte(string(buf), '\n')
	if j < 0 {
		return nil
	}
	return strings.Split(string(buf[:j]), "\n")
}

// waitRing waits (at most bnWait) until every host of hosts has logged,
// after its mark, a ring whose members are want as its latest ring, all
// with the same ring id; it returns each host's latest ring and the number
// of rings each logged after its mark.
func (b *bnCluster) waitRing(what string, marks map[int]int64, hosts, want []int) (map[int]mxRing, map[int]int) {
	b.t.Helper()
	deadline := time.Now().Add(bnWait)
	for n := 0; ; n++ {
		got := map[int]mxRing{}
		count := map[int]int{}
		var state []string
		ok := true
		for _, i := range hosts {
			rs := mxParse(b.lines(i, marks[i]))
			count[i] = len(rs)
			if len(rs) == 0 {
				state = append(state, fmt.Sprintf("host %d: no new ring", i))
				ok = false
				continue
			}
			last := rs[len(rs)-1]
			state = append(state, fmt.Sprintf("host %d: %v", i, last))
			if !slices.Equal(last.members, want) {
				ok = false
				continue
			}
			got[i] = last
		}
		if ok {
			id := got[hosts[0]].id
			for _, i := range hosts {
				if got[i].id != id {
					ok = false
				}
			}
		}
		if ok {
			return got, count
		}
		for _, i := range hosts {
			if !b.c.Running(i) {
				b.dump(marks)
				b.t.Fatalf("%s: %s of host %d is not running (%v); %s", what, b.cfg.impl, i, b.c.Wait(i, 0), strings.Join(state, "; "))
			}
		}
		if time.Now().After(deadline) || n > int(bnWait/bnPoll)+100 {
			b.dump(marks)
			b.t.Fatalf("%s: no common ring with members %v after %v: %s", what, want, bnWait, strings.Join(state, "; "))
		}
		time.Sleep(bnPoll)
	}
}

// bnSince returns the latest and the earliest log timestamp of rs minus
// t0. Unparsed timestamps, or timestamps before t0, fail the test: the
// measurement would be wrong.
func (b *bnCluster) since(what string, t0 time.Time, rs map[int]mxRing) (latest, earliest time.Duration) {
	b.t.Helper()
	first := true
	for i, r := range rs {
		if r.at.IsZero() {
			b.t.Fatalf("%s: host %d: no timestamp in %q", what, i, r.line)
		}
		d := r.at.Sub(t0.Truncate(time.Millisecond))
		if d < 0 {
			b.t.Fatalf("%s: host %d logged the ring at %s, before the start of the measurement %s: %q",
				what, i, r.at.Format("15:04:05.000"), t0.Format("15:04:05.000000"), r.line)
		}
		// t0 has ns resolution, the log ms (truncated): measure from the
		// ms of t0, so that the error is at most 1 ms either way.
		if first || d > latest {
			latest = d
		}
		if first || d < earliest {
			earliest = d
		}
		first = false
	}
	return latest, earliest
}

// settle waits until no host of hosts logs a new ring for bnHold; each new
// ring seen is noted. The hosts must end with a common ring of want.
func (b *bnCluster) settle(what string, hosts, want []int) int {
	b.t.Helper()
	extra := 0
	for try := 0; try < 10; try++ {
		marks := b.marks()
		time.Sleep(bnHold)
		var changed []string
		for _, i := range hosts {
			if rs := mxParse(b.lines(i, marks[i])); len(rs) > 0 {
				changed = append(changed, fmt.Sprintf("host %d: %v", i, rs[len(rs)-1]))
			}
		}
		if len(changed) == 0 {
			return extra
		}
		extra++
		b.res.note("%s %s: ring changed within %s: %s", b.cfg.name(), what, bnHold, strings.Join(changed, "; "))
		b.waitRing(what+" (ring changed)", marks, hosts, want)
	}
	b.t.Fatalf("%s: ring did not stay unchanged for %s in 10 tries", what, bnHold)
	return extra
}

// stopAll sends SIGTERM to every running daemon at once, then waits for
// each; one that does not exit within bnStopWait is killed (and noted).
func (b *bnCluster) stopAll() {
	b.t.Helper()
	var sent []int
	for _, i := range b.all() {
		if !b.c.Running(i) {
			continue
		}
		if err := b.c.Signal(i, syscall.SIGTERM); err != nil {
			b.t.Errorf("host %d: SIGTERM: %v", i, err)
			continue
		}
		sent = append(sent, i)
	}
	for _, i := range sent {
		err := b.c.Wait(i, bnStopWait)
		switch {
		case errors.Is(err, netns.ErrTimeout):
			b.res.note("%s: host %d did not exit within %s of SIGTERM; killed", b.cfg.name(), i, bnStopWait)
			_ = b.c.Kill(i)
		case err != nil:
			b.res.note("%s: host %d exited with %v after SIGTERM", b.cfg.name(), i, err)
		}
	}
	b.shmClean()
}

// shmClean removes, for the real corosync PIDs this configuration started
// that have exited, the libqb files they may leave in /dev/shm (as
// interop_test.go does).
func (b *bnCluster) shmClean() {
	var keep []int
	for _, pid := range b.pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			keep = append(keep, pid) // still running (or the PID was reused)
			continue
		}
		for _, suffix := range []string{"blackbox-data", "blackbox-header"} {
			_ = os.Remove(fmt.Sprintf("/dev/shm/qb-corosync-%d-%s", pid, suffix))
		}
		if l, _ := filepath.Glob(fmt.Sprintf("/dev/shm/qb-%d-*-*", pid)); l != nil {
			for _, p := range l {
				_ = os.RemoveAll(p)
			}
		}
	}
	b.pids = keep
}

// dump logs the relevant lines each host logged after its mark.
func (b *bnCluster) dump(marks map[int]int64) {
	for _, i := range b.all() {
		sel := mxGrep(b.lines(i, marks[i]), mxReRelevant)
		if len(sel) > 60 {
			sel = append([]string{"..."}, sel[len(sel)-60:]...)
		}
		b.t.Logf("--- relevant lines of host %d (%s):\n%s", i, b.logs[i-1], strings.Join(sel, "\n"))
	}
}

func (b *bnCluster) others(victim int) []int {
	var l []int
	for _, i := range b.all() {
		if i != victim {
			l = append(l, i)
		}
	}
	return l
}

// bnRun runs reps repetitions of one configuration.
func bnRun(t *testing.T, cfg bnConfig, reps int, daemon, corosync string, res *bnResults) {
	opts := netns.Options{
		Hosts:  cfg.n,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if keep := os.Getenv("COROGO_BENCH_KEEP"); keep != "" {
		opts.Dir = filepath.Join(keep, fmt.Sprintf("%s-%d", cfg.name(), time.Now().UnixNano()))
		t.Logf("keeping host directories in %s", opts.Dir)
	}
	c := netns.NewWith(t, opts)
	b := &bnCluster{t: t, c: c, cfg: cfg, daemon: daemon, corosync: corosync, res: res}
	hosts := c.Hosts()
	for _, h := range hosts {
		conf := filepath.Join(h.Dir, "corosync.conf")
		logf := filepath.Join(h.Dir, "corosync.log")
		if err := os.WriteFile(conf, []byte(testConf{cluster: "bench", token: cfg.timers.token, coef: cfg.timers.coef, logfile: logf, stateDir: h.State, noSchedRR: true}.text(hosts)), 0o644); err != nil {
			t.Fatal(err)
		}
		b.conf = append(b.conf, conf)
		b.logs = append(b.logs, logf)
	}
	// LIFO: runs before netns closes the cluster (which would SIGKILL).
	t.Cleanup(b.stopAll)
	all := b.all()
	tok, cons := cfg.timers.effective(cfg.n)
	t.Logf("%s: %d hosts, effective token %s, consensus %s", cfg.name(), cfg.n, nsMs(tok), nsMs(cons))

	for rep := 1; rep <= reps; rep++ {
		// Formation.
		marks := b.marks()
		t0 := time.Now()
		for _, i := range all {
			b.start(i)
		}
		started := time.Since(t0)
		rf, nf := b.waitRing(fmt.Sprintf("rep %d formation", rep), marks, all, all)
		formation, formFirst := b.since("formation", t0, rf)
		b.settle(fmt.Sprintf("rep %d after formation", rep), all, all)

		// Failover: kill -9 of a node other than the lowest id.
		victim := 2 + (rep-1)%(cfg.n-1)
		surv := b.others(victim)
		marks = b.marks()
		tKill := time.Now()
		if err := c.Kill(victim); err != nil {
			t.Fatalf("rep %d: kill host %d: %v", rep, victim, err)
		}
		rk, nk := b.waitRing(fmt.Sprintf("rep %d after kill -9 of host %d", rep, victim), marks, surv, surv)
		failover, failFirst := b.since("failover", tKill, rk)
		for _, i := range surv {
			if !slices.Equal(rk[i].left, []int{victim}) {
				res.note("%s rep %d: host %d: failover ring without 'Members left: %d': %q", cfg.name(), rep, i, victim, rk[i].line)
				break
			}
		}
		b.shmClean()
		time.Sleep(bnPause)

		// Rejoin.
		marks = b.marks()
		tStart := time.Now()
		b.start(victim)
		rr, nr := b.waitRing(fmt.Sprintf("rep %d after restart of host %d", rep, victim), marks, all, all)
		rejoin, rejoinFirst := b.since("rejoin", tStart, rr)
		b.settle(fmt.Sprintf("rep %d after rejoin", rep), all, all)

		res.add(cfg, bnFormation, formation)
		res.add(cfg, bnFailover, failover)
		res.add(cfg, bnRejoin, rejoin)
		t.Logf("rep %d: formation %s (first host %s, starts took %s, rings on host 1: %d) ring %s; "+
			"kill -9 host %d at %s: failover %s (first survivor %s, rings on host 1: %d) ring %s; "+
			"rejoin %s (first host %s, rings on host 1: %d, on host %d: %d) ring %s",
			rep, nsMs(formation), nsMs(formFirst), nsMs(started), nf[1], rf[1].id,
			victim, tKill.Format("15:04:05.000"), nsMs(failover), nsMs(failFirst), nk[1], rk[1].id,
			nsMs(rejoin), nsMs(rejoinFirst), nr[1], victim, nr[victim], rr[1].id)
		b.stopAll()
	}
}

func TestNetnsFailoverBenchmark(t *testing.T) {
	if os.Getenv("COROGO_BENCH") != "1" {
		t.Skip("benchmark: set COROGO_BENCH=1 to run it")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping benchmark: %v", err)
	}
	cs, err := mxLookCorosync()
	if err != nil {
		t.Skipf("skipping benchmark: %v", err)
	}
	reps := 7
	if s := os.Getenv("COROGO_BENCH_REPS"); s != "" {
		if reps, err = strconv.Atoi(s); err != nil || reps < 1 || reps > 100 {
			t.Fatalf("COROGO_BENCH_REPS=%q: want 1..100", s)
		}
	}
	var filter *regexp.Regexp
	if s := os.Getenv("COROGO_BENCH_RUN"); s != "" {
		if filter, err = regexp.Compile(s); err != nil {
			t.Fatalf("COROGO_BENCH_RUN: %v", err)
		}
	}
	daemon := nsBuild(t)

	var configs []bnConfig
	for _, g := range []struct {
		n      int
		timers bnTimers
	}{
		{3, bnDefaultTimers},
		{3, bnFastTimers},
		{5, bnFastTimers},
		{16, bnFastTimers},
	} {
		for _, impl := range []string{bnOurs, bnTheirs} {
			c := bnConfig{impl: impl, n: g.n, timers: g.timers}
			if filter == nil || filter.MatchString(c.name()) {
				configs = append(configs, c)
			}
		}
	}
	res := &bnResults{configs: configs}
	begin := time.Now()
	for _, c := range configs {
		start := time.Now()
		t.Run(c.name(), func(t *testing.T) { bnRun(t, c, reps, daemon, cs, res) })
		t.Logf("%s took %s", c.name(), time.Since(start).Round(time.Second))
	}

	var hdr strings.Builder
	fmt.Fprintf(&hdr, "Failover benchmark, %s, %d repetitions per configuration, total %s.\n\n",
		time.Now().Format("2006-01-02"), reps, time.Since(begin).Round(time.Second))
	if out, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		fmt.Fprintf(&hdr, "Machine: %d CPUs (runtime.NumCPU), kernel %s. ", runtime.NumCPU(), strings.TrimSpace(string(out)))
	}
	hdr.WriteString("udpu, crypto none, debug logging to a file, hires timestamps, sched_rr: no, network namespaces on one bridge. " +
		"formation: first start → the last host's membership line of the ring of all N; " +
		"failover: kill -9 (node 2..N in turn) → the last survivor's membership line of the ring of N-1; " +
		"rejoin: restart of the killed node → the last host's membership line of the ring of all N. " +
		"Times from log timestamps (ms).\n\n")
	table := hdr.String() + res.table()
	if len(res.notes) > 0 {
		table += "\nNotes:\n"
		for _, n := range res.notes {
			table += "- " + n + "\n"
		}
	}
	t.Logf("\n%s", table)
	if out := os.Getenv("COROGO_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Errorf("COROGO_BENCH_OUT: %v", err)
		}
	}
}
