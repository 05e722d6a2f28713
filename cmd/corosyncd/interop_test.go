package main

// Interoperability test: a mixed Totem ring of two real corosync 3.1
// daemons (the Debian package) and one corosyncd, in network namespaces
// (internal/netns). It needs root, ip, nft and the corosync binary, and
// skips with the reason otherwise.
//
// All three hosts share one corosync.conf template (udpu, crypto none,
// default timers, nodes 1..3 at 10.213.k.1..3, no quorum section); the only
// per-host lines are logging.logfile and system.state_dir. Each daemon logs
// with debug on and hires timestamps to corosync.log in its host
// directory; the ring is observed there:
//
//	real corosync:  [TOTEM ] entering RECOVERY state.
//	                [TOTEM ] position [0] member 1:        (one per member)
//	                ...
//	                [TOTEM ] A new membership (1.d) was formed. Members joined: 3
//	corosyncd:      [TOTEM ] A new membership (1.d) was formed. Members joined: 1
//	                [TOTEM ] Members[3]: 1 2 3
//
// Our node runs corosync's service sync protocol, so the real nodes log
// "Completed service synchronization" for rings that contain it; the test
// checks that they do for the last ring each formed.
//
// COROGO_INTEROP_KEEP=DIR keeps the host directories (configs, logs, state)
// under DIR for inspection.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/netns"
)

const (
	// mxGoNode is the host (and nodeid) running corosyncd: higher than the
	// real nodes' ids, so that a real node is the representative.
	mxGoNode = 3
	// mxWait bounds every wait for a ring. With the default timers and 3
	// nodes, token is 3000 + 650 = 3650 ms and consensus 4380 ms, so a
	// crash is noticed after about 8 s.
	mxWait = 20 * time.Second
	mxPoll = 20 * time.Millisecond
	// mxHold is how long the formed mixed ring must stay unchanged: longer
	// than the token timeout (3650 ms).
	mxHold = 5 * time.Second
)

// mxRing is one membership a daemon logged.
type mxRing struct {
	id      string // rep.seq in hex, as logged
	seq     uint64
	members []int // sorted; from "position [i] member N:" (corosync) or "Members[N]:" (corosyncd)
	joined  []int
	left    []int
	at      time.Time // log timestamp of the membership line
	line    string
}

func (r mxRing) String() string {
	return fmt.Sprintf("%s %v (joined %v left %v)", r.id, r.members, r.joined, r.left)
}

var (
	mxReMembership = regexp.MustCompile(`A new membership \(([0-9a-f]+)\.([0-9a-f]+)\) was formed\. Members(?: joined:((?: \d+)+))?(?: left:((?: \d+)+))?\s*$`)
	mxRePosition   = regexp.MustCompile(`\[TOTEM \] position \[\d+\] member (\d+):`)
	mxReMembers    = regexp.MustCompile(`\[TOTEM \] Members\[\d+\]:((?: \d+)*)\s*$`)
	mxReRecovery   = regexp.MustCompile(`entering RECOVERY state`)
	// mxReTrouble: lines that must not appear while the ring is stable.
	mxReTrouble = regexp.MustCompile(`Token has not been received|A processor failed|token was lost|FAILED TO RECEIVE|Retransmit List|entering GATHER|[Pp]rocess pause|not scheduled|[Ii]nvalid|discarding|too short`)
	// mxReFailover: how a surviving node noticed a crash.
	mxReFailover = regexp.MustCompile(`Token has not been received|A processor failed|token was lost|Failed to receive the leave message|entering GATHER state from|consensus timeout expired|A new membership`)
	mxReSyncDone = regexp.MustCompile(`Completed service synchronization`)
	// mxReRelevant selects the log lines shown on failure.
	mxReRelevant = regexp.MustCompile(`starting up|exiting|shut down|entering|A new membership|Members\[|position \[|previous ringid|Sync members|[Ff]ailed|FAILED|processor|LEAVE|leave|[Cc]ommit token|rep\.|consensus|not been received|error|warning|Completed service`)
)

func mxIDs(s string) []int {
	var out []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// mxParse returns the memberships logged in lines, in order. For real
// corosync the member list is the RECOVERY block's "position" lines; for
// corosyncd the "Members[N]:" line that follows the membership line.
func mxParse(lines []string) []mxRing {
	var out []mxRing
	var pos []int
	var pending *mxRing
	for _, l := range lines {
		if mxReRecovery.MatchString(l) {
			pos = nil
			continue
		}
		if m := mxRePosition.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			pos = append(pos, n)
			continue
		}
		if m := mxReMembership.FindStringSubmatch(l); m != nil {
			if pending != nil {
				out = append(out, *pending)
			}
			seq, _ := strconv.ParseUint(m[2], 16, 64)
			r := mxRing{id: m[1] + "." + m[2], seq: seq, joined: mxIDs(m[3]), left: mxIDs(m[4]), at: nsLogTime(l), line: l}
			if len(pos) > 0 {
				r.members = slices.Sorted(slices.Values(pos))
			}
			pos = nil
			pending = &r
			continue
		}
		if m := mxReMembers.FindStringSubmatch(l); m != nil && pending != nil {
			pending.members = mxIDs(m[1])
			out = append(out, *pending)
			pending = nil
		}
	}
	if pending != nil && pending.members != nil {
		out = append(out, *pending)
	}
	return out
}

// mxCluster is the 3-host cluster of the test.
type mxCluster struct {
	t        *testing.T
	c        *netns.Cluster
	corosync string // path of the real corosync
	daemon   string // path of the built corosyncd
	conf     []string
	logs     []string
	pids     []int // PIDs of real corosync processes started (for /dev/shm cleanup)
}

func (m *mxCluster) isGo(i int) bool { return i == mxGoNode }

func (m *mxCluster) name(i int) string {
	if m.isGo(i) {
		return fmt.Sprintf("host %d (corosyncd)", i)
	}
	return fmt.Sprintf("host %d (corosync)", i)
}

func (m *mxCluster) start(i int) {
	m.t.Helper()
	spec := netns.Spec{
		// Never talk to a service manager of the machine.
		Env: []string{"NOTIFY_SOCKET=", "COROSYNCD_SOCKET=" + m.c.Host(i).Dir + "/corosyncd.sock"},
	}
	if m.isGo(i) {
		spec.Args = []string{m.daemon, "-f", "-c", m.conf[i-1], "-n", strconv.Itoa(i)}
	} else {
		spec.Args = []string{m.corosync, "-f", "-c", m.conf[i-1]}
		spec.PrivateRun = true // corosync 3.1.7 hard-codes /var/run/corosync.pid
	}
	pid, err := m.c.Start(i, spec)
	if err != nil {
		m.t.Fatalf("start %s: %v", m.name(i), err)
	}
	if !m.isGo(i) {
		m.pids = append(m.pids, pid)
	}
}

// mark returns the current size of host i's log: lines after it belong to
// what follows.
func (m *mxCluster) mark(i int) int64 {
	fi, err := os.Stat(m.logs[i-1])
	if err != nil {
		return 0
	}
	return fi.Size()
}

// lines returns the complete lines of host i's log from offset off.
func (m *mxCluster) lines(i int, off int64) []string {
	b, err := os.ReadFile(m.logs[i-1])
	if err != nil || int64(len(b)) < off {
		return nil
	}
	b = b[off:]
	if j := bytes.LastIndexByte(b, '\n'); j >= 0 {
		b = b[:j+1]
	} else {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// waitRing waits until every host of hosts has logged, after its mark, a
// membership whose members are want, all with the same ring id, and
// returns each host's first such ring. A host must reach it as its latest
// ring.
func (m *mxCluster) waitRing(what string, marks map[int]int64, hosts, want []int) map[int]mxRing {
	m.t.Helper()
	deadline := time.Now().Add(mxWait)
	for n := 0; ; n++ {
		got := map[int]mxRing{}
		var state []string
		ok := true
		for _, i := range hosts {
			rs := mxParse(m.lines(i, marks[i]))
			if len(rs) == 0 {
				state = append(state, fmt.Sprintf("%s: no new ring", m.name(i)))
				ok = false
				continue
			}
			last := rs[len(rs)-1]
			state = append(state, fmt.Sprintf("%s: latest ring %v", m.name(i), last))
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
			return got
		}
		for _, i := range hosts {
			if !m.c.Running(i) {
				m.dump()
				m.t.Fatalf("%s: %s is not running (%v); %s", what, m.name(i), m.c.Wait(i, 0), strings.Join(state, "; "))
			}
		}
		if time.Now().After(deadline) || n > int(mxWait/mxPoll)+100 {
			m.dump()
			m.t.Fatalf("%s: no common ring with members %v after %v: %s", what, want, mxWait, strings.Join(state, "; "))
		}
		time.Sleep(mxPoll)
	}
}

// marks returns the current marks of all hosts.
func (m *mxCluster) marks() map[int]int64 {
	return map[int]int64{1: m.mark(1), 2: m.mark(2), 3: m.mark(3)}
}

// since returns how long after t0 the ring was logged (the latest of the
// hosts' timestamps), or the polling time if timestamps do not parse.
func mxSince(t0 time.Time, rs map[int]mxRing) time.Duration {
	var at time.Time
	for _, r := range rs {
		if r.at.IsZero() {
			return time.Since(t0)
		}
		if r.at.After(at) {
			at = r.at
		}
	}
	return max(at.Sub(t0), 0).Round(time.Millisecond)
}

// dump logs the relevant lines of every host's log and its process output.
func (m *mxCluster) dump() {
	for i := 1; i <= 3; i++ {
		var sel []string
		for _, l := range m.lines(i, 0) {
			if mxReRelevant.MatchString(l) {
				sel = append(sel, l)
			}
		}
		if len(sel) > 150 {
			sel = append([]string{"..."}, sel[len(sel)-150:]...)
		}
		m.t.Logf("--- relevant lines of %s log %s:\n%s", m.name(i), m.logs[i-1], strings.Join(sel, "\n"))
	}
}

// shmClean removes the libqb blackbox files a real corosync leaves in
// /dev/shm when it is killed, for the PIDs this test started, once they
// have exited.
func (m *mxCluster) shmClean() {
	for _, pid := range m.pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // still running (or the PID was reused): leave it
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
}

func mxLookCorosync() (string, error) {
	if p, err := exec.LookPath("corosync"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/corosync", "/sbin/corosync"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("corosync not found in PATH or /usr/sbin (apt-get install corosync)")
}

// TestNetnsMixedRingWithCorosync: hosts 1 and 2 run the real corosync 3.1,
// host 3 runs corosyncd; they form one Totem ring, and re-form it after
// kill -9 and restart of either kind of node.
func TestNetnsMixedRingWithCorosync(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("skipping mixed-ring test: %v", err)
	}
	cs, err := mxLookCorosync()
	if err != nil {
		t.Skipf("skipping mixed-ring test: %v", err)
	}
	if out, err := exec.Command(cs, "-v").CombinedOutput(); err == nil {
		t.Logf("real node: %s", strings.SplitN(string(out), "\n", 2)[0])
	}
	m := &mxCluster{t: t, corosync: cs, daemon: nsBuild(t)}
	opts := netns.Options{Hosts: 3}
	if keep := os.Getenv("COROGO_INTEROP_KEEP"); keep != "" {
		// Keep the host directories (configs, logs, state) for inspection.
		opts.Dir = filepath.Join(keep, fmt.Sprintf("mixed-%d", time.Now().UnixNano()))
		t.Logf("keeping host directories in %s", opts.Dir)
	}
	m.c = netns.NewWith(t, opts)
	hosts := m.c.Hosts()
	for _, h := range hosts {
		conf := filepath.Join(h.Dir, "corosync.conf")
		logf := filepath.Join(h.Dir, "corosync.log")
		if err := os.WriteFile(conf, []byte(testConf{cluster: "mixedring", coef: -1, logfile: logf, stateDir: h.State}.text(hosts)), 0o644); err != nil {
			t.Fatal(err)
		}
		m.conf = append(m.conf, conf)
		m.logs = append(m.logs, logf)
	}
	// LIFO: runs before netns closes the cluster. Stop the daemons
	// gracefully (netns would SIGKILL them), then clean /dev/shm.
	t.Cleanup(func() {
		if t.Failed() {
			m.dump()
		}
		for i := 1; i <= 3; i++ {
			if m.c.Running(i) {
				if err := m.c.Terminate(i, 10*time.Second); err != nil {
					t.Errorf("%s: did not exit cleanly on SIGTERM: %v", m.name(i), err)
				}
			}
		}
		m.shmClean()
	})
	all := []int{1, 2, 3}

	// (a) Formation: the real nodes' ring contains 3, ours contains 1 and 2.
	marks := m.marks()
	t0 := time.Now()
	for _, i := range all {
		m.start(i)
	}
	ra := m.waitRing("formation", marks, all, all)
	t.Logf("(a) formed ring %s in %s after the first start", ra[1].id, mxSince(t0, ra))
	for _, i := range all {
		t.Logf("    %s: %s", m.name(i), ra[i].line)
	}
	for _, i := range all {
		m.logFirst(i, marks[i])
	}
	for _, i := range []int{1, 2} {
		if !mxJoinedSome(m, i, marks[i], mxGoNode) {
			t.Errorf("(a) %s never logged 'Members joined: ... %d ...'", m.name(i), mxGoNode)
		}
	}

	// The mixed ring stays up: for longer than the token timeout, no host
	// logs a new membership, a token loss or a retransmission problem.
	marks = m.marks()
	time.Sleep(mxHold)
	for _, i := range all {
		if rs := mxParse(m.lines(i, marks[i])); len(rs) > 0 {
			t.Errorf("(a) %s: ring not stable, new membership %v within %s", m.name(i), rs[0], mxHold)
		}
		if l := mxGrep(m.lines(i, marks[i]), mxReTrouble); len(l) > 0 {
			t.Errorf("(a) %s: within %s of formation:\n%s", m.name(i), mxHold, strings.Join(l, "\n"))
		}
	}
	t.Logf("(a) ring %s stable for %s (no new membership, no token loss)", ra[1].id, mxHold)

	// (b) kill -9 of the Go node; the real nodes log "Members left: 3".
	marks = m.marks()
	tKill := time.Now()
	if err := m.c.Kill(mxGoNode); err != nil {
		t.Fatal(err)
	}
	rb := m.waitRing("after kill -9 of corosyncd", marks, []int{1, 2}, []int{1, 2})
	t.Logf("(b) kill -9 corosyncd: hosts 1 2 formed ring %s in %s", rb[1].id, mxSince(tKill, rb))
	for _, i := range []int{1, 2} {
		m.logFailover(i, marks[i])
		if !slices.Equal(rb[i].left, []int{mxGoNode}) {
			t.Errorf("(b) %s: want 'Members left: %d', got %q", m.name(i), mxGoNode, rb[i].line)
		}
	}
	if rb[1].seq <= ra[1].seq {
		t.Errorf("(b) ring seq did not grow: %s after %s", rb[1].id, ra[1].id)
	}
	idFile := filepath.Join(hosts[mxGoNode-1].State, fmt.Sprintf("ringid_%d", mxGoNode))
	stored := uint64(0)
	if b, err := os.ReadFile(idFile); err != nil || len(b) != 8 {
		t.Errorf("(b) ring id file %s: %v (%d bytes), want 8 bytes", idFile, err, len(b))
	} else {
		stored = binary.NativeEndian.Uint64(b)
		t.Logf("    corosyncd's ring id file holds seq %#x", stored)
	}

	// ... restarted with the same state dir, it joins again.
	marks = m.marks()
	tStart := time.Now()
	m.start(mxGoNode)
	rb2 := m.waitRing("after restart of corosyncd", marks, all, all)
	t.Logf("(b) restarted corosyncd joined: ring %s in %s after its start", rb2[1].id, mxSince(tStart, rb2))
	for _, i := range all {
		t.Logf("    %s: %s", m.name(i), rb2[i].line)
	}
	m.logFirst(mxGoNode, marks[mxGoNode])
	for _, i := range []int{1, 2} {
		if !mxJoinedSome(m, i, marks[i], mxGoNode) {
			t.Errorf("(b) %s: no 'Members joined: %d' after the restart", m.name(i), mxGoNode)
		}
	}
	if rb2[1].seq <= rb[1].seq {
		t.Errorf("(b) ring seq did not grow: %s after %s", rb2[1].id, rb[1].id)
	}
	if first := mxParse(m.lines(mxGoNode, marks[mxGoNode])); len(first) > 0 && stored != 0 && first[0].seq <= stored {
		t.Errorf("(b) restarted corosyncd's first ring %s does not follow its stored seq %#x", first[0].id, stored)
	}

	// (c) kill -9 of real node 2; our node logs "Members left: 2".
	marks = m.marks()
	tKill = time.Now()
	if err := m.c.Kill(2); err != nil {
		t.Fatal(err)
	}
	m.shmClean()
	rc := m.waitRing("after kill -9 of corosync on host 2", marks, []int{1, mxGoNode}, []int{1, mxGoNode})
	t.Logf("(c) kill -9 corosync on host 2: hosts 1 3 formed ring %s in %s", rc[1].id, mxSince(tKill, rc))
	for _, i := range []int{1, mxGoNode} {
		m.logFailover(i, marks[i])
		if !slices.Equal(rc[i].left, []int{2}) {
			t.Errorf("(c) %s: want 'Members left: 2', got %q", m.name(i), rc[i].line)
		}
	}

	// ... restarted, it joins again.
	marks = m.marks()
	tStart = time.Now()
	m.start(2)
	rc2 := m.waitRing("after restart of corosync on host 2", marks, all, all)
	t.Logf("(c) restarted corosync on host 2 joined: ring %s in %s after its start", rc2[1].id, mxSince(tStart, rc2))
	for _, i := range all {
		t.Logf("    %s: %s", m.name(i), rc2[i].line)
	}
	m.logFirst(2, marks[2])
	for _, i := range []int{1, mxGoNode} {
		if !mxJoinedSome(m, i, marks[i], 2) {
			t.Errorf("(c) %s: no 'Members joined: 2' after the restart", m.name(i))
		}
	}
	if rc2[1].seq <= rc[1].seq {
		t.Errorf("(c) ring seq did not grow: %s after %s", rc2[1].id, rc[1].id)
	}

	// The real nodes complete service synchronization with corosyncd in
	// the ring: it sends its SERVICE_BUILD and one barrier per service of
	// the union list. Every ring that was not superseded by another one
	// (the last one each real node formed) must have completed.
	for _, i := range []int{1, 2} {
		var done, mixedDone, mixedNot []string
		// The sync of the last ring takes a few ms after its membership
		// line: wait for it.
		rings := mxSyncDone(m.lines(i, 0))
		for deadline := time.Now().Add(mxWait); ; time.Sleep(mxPoll) {
			if n := len(rings); n > 0 && rings[n-1].done || time.Now().After(deadline) {
				break
			}
			rings = mxSyncDone(m.lines(i, 0))
		}
		if n := len(rings); n == 0 || !rings[n-1].done {
			t.Errorf("%s did not complete service synchronization for its last ring: %+v", m.name(i), rings)
		}
		for _, r := range rings {
			s := r.id + fmt.Sprint(r.members)
			switch {
			case slices.Contains(r.members, mxGoNode) && r.done:
				mixedDone = append(mixedDone, s)
			case slices.Contains(r.members, mxGoNode):
				mixedNot = append(mixedNot, s)
			case r.done:
				done = append(done, s)
			}
		}
		t.Logf("note: %s completed service synchronization for rings %v; rings with corosyncd: completed %v, not completed %v",
			m.name(i), done, mixedDone, mixedNot)
	}
}

// mxJoinedSome reports whether host i logged, after off, a membership with
// id among its joined members.
func mxJoinedSome(m *mxCluster, i int, off int64, id int) bool {
	for _, r := range mxParse(m.lines(i, off)) {
		if slices.Contains(r.joined, id) {
			return true
		}
	}
	return false
}

func mxGrep(lines []string, re *regexp.Regexp) []string {
	var out []string
	for _, l := range lines {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// logFailover logs how host i noticed a crash and re-formed the ring: its
// failure-detection and membership lines after off, in log order.
func (m *mxCluster) logFailover(i int, off int64) {
	for _, l := range mxGrep(m.lines(i, off), mxReFailover) {
		m.t.Logf("    %s: %s", m.name(i), l)
	}
}

type mxSync struct {
	mxRing
	done bool
}

// mxSyncDone tells for each ring of a real node's log whether the node
// logged "Completed service synchronization" before the next ring.
func mxSyncDone(lines []string) []mxSync {
	var out []mxSync
	var cur []string
	flush := func() {
		if rs := mxParse(cur); len(rs) > 0 {
			out = append(out, mxSync{mxRing: rs[len(rs)-1], done: len(mxGrep(cur, mxReSyncDone)) > 0})
		}
	}
	for _, l := range lines {
		if mxReRecovery.MatchString(l) {
			flush()
			cur = nil
		}
		cur = append(cur, l)
	}
	flush()
	return out
}

// logFirst logs the first membership host i logged after off (after a
// start: the first ring of that run).
func (m *mxCluster) logFirst(i int, off int64) {
	if rs := mxParse(m.lines(i, off)); len(rs) > 0 {
		m.t.Logf("    first ring of %s after its start: %s", m.name(i), rs[0].line)
	}
}
