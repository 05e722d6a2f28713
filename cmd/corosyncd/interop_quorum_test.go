package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/netns"
)

// qtStatus is what corosync-quorumtool -s prints, parsed: the labelled
// fields, the membership table (node id → votes) and the exit code.
type qtStatus struct {
	fields map[string]string
	votes  map[string]string
	code   int
	out    string
}

var qtField = regexp.MustCompile(`^([A-Z][A-Za-z ]+):\s+(.*?)\s*$`)

func parseQuorumtool(out string, code int) qtStatus {
	s := qtStatus{fields: map[string]string{}, votes: map[string]string{}, code: code, out: out}
	inTable := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Nodeid") {
			inTable = true
			continue
		}
		if inTable {
			f := strings.Fields(l)
			if len(f) >= 2 {
				s.votes[f[0]] = f[1]
			}
			continue
		}
		if m := qtField.FindStringSubmatch(l); m != nil {
			s.fields[m[1]] = m[2]
		}
	}
	return s
}

// qtCompared are the fields that must agree on every node of one ring.
var qtCompared = []string{"Quorum provider", "Nodes", "Ring ID", "Quorate", "Expected votes", "Highest expected", "Total votes", "Quorum", "Flags"}

// normalized is the whole output less what differs by node and time: the
// Date and Node ID lines and the "(local)" marker.
func (s qtStatus) normalized() string {
	var out []string
	for _, l := range strings.Split(s.out, "\n") {
		if strings.HasPrefix(l, "Date:") || strings.HasPrefix(l, "Node ID:") {
			continue
		}
		out = append(out, strings.Replace(l, " (local)", "", 1))
	}
	return strings.Join(out, "\n")
}

func (s qtStatus) summary() string {
	var b strings.Builder
	for _, k := range qtCompared {
		fmt.Fprintf(&b, "%s=%q ", k, s.fields[k])
	}
	var ids []string
	for id := range s.votes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "node%s:%s ", id, s.votes[id])
	}
	fmt.Fprintf(&b, "exit=%d", s.code)
	return b.String()
}

// runQuorumtool runs a quorum tool in host i's namespace and parses it.
func runQuorumtool(t *testing.T, c *netns.Cluster, i int, env []string, args ...string) qtStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", c.Host(i).NS}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("host %d: %v: %v", i, args, err)
	}
	return parseQuorumtool(string(out), code)
}

func buildTool(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Skipf("skipping: cannot build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// mxVQ is a mixed ring with votequorum: hosts 1 and 2 run the real
// corosync, host 3 corosyncd, all with the same quorum section.
type mxVQ struct {
	*mxCluster
	realTool, ourTool string
}

func newMixedVQ(t *testing.T, cluster, quorum string) *mxVQ {
	return newMixedVQNodes(t, cluster, quorum, nil)
}

// newMixedVQNodes is newMixedVQ with only the given hosts in the
// nodelist (nil: all three).
func newMixedVQNodes(t *testing.T, cluster, quorum string, nodes []int) *mxVQ {
	t.Helper()
	if err := netns.Available(); err != nil {
		t.Skipf("skipping mixed-ring votequorum test: %v", err)
	}
	cs, err := mxLookCorosync()
	if err != nil {
		t.Skipf("skipping mixed-ring votequorum test: %v", err)
	}
	realTool, err := exec.LookPath("corosync-quorumtool")
	if err != nil {
		t.Skipf("skipping mixed-ring votequorum test: corosync-quorumtool not found: %v", err)
	}
	ourTool := buildTool(t, "github.com/corogo/corogo/cmd/quorumtool")
	m := &mxCluster{t: t, corosync: cs, daemon: nsBuild(t)}
	m.c = netns.NewWith(t, netns.Options{Hosts: 3})
	hosts := m.c.Hosts()
	listed := hosts
	if nodes != nil {
		listed = nil
		for _, i := range nodes {
			listed = append(listed, hosts[i-1])
		}
	}
	for _, h := range hosts {
		conf := filepath.Join(h.Dir, "corosync.conf")
		logf := filepath.Join(h.Dir, "corosync.log")
		tc := testConf{cluster: cluster, token: 1000, coef: 0, logfile: logf, stateDir: h.State, votequorum: true, quorum: quorum}
		if err := os.WriteFile(conf, []byte(tc.text(listed)), 0o644); err != nil {
			t.Fatal(err)
		}
		m.conf = append(m.conf, conf)
		m.logs = append(m.logs, logf)
	}
	t.Cleanup(func() {
		if t.Failed() {
			m.dump()
		}
		for i := 1; i <= 3; i++ {
			if m.c.Running(i) {
				_ = m.c.Terminate(i, 10*time.Second)
			}
		}
		m.shmClean()
	})
	return &mxVQ{mxCluster: m, realTool: realTool, ourTool: ourTool}
}

func (m *mxVQ) status(i int) qtStatus {
	if m.isGo(i) {
		return runQuorumtool(m.t, m.c, i, []string{"COROSYNCD_SOCKET=" + filepath.Join(m.c.Host(i).Dir, "corosyncd.sock")}, m.ourTool, "-s")
	}
	return runQuorumtool(m.t, m.c, i, nil, m.realTool, "-s")
}

// agree waits until every host of hosts prints the same status, with the
// given total votes, expected votes ("" for any) and exit code, and
// returns it.
func (m *mxVQ) agree(what string, hosts []int, total, expected string, code int) qtStatus {
	t := m.t
	t.Helper()
	deadline := time.Now().Add(mxWait)
	for {
		var sts []qtStatus
		ok := true
		for _, i := range hosts {
			s := m.status(i)
			sts = append(sts, s)
			if s.fields["Total votes"] != total || s.code != code || (expected != "" && s.fields["Expected votes"] != expected) {
				ok = false
			}
		}
		if ok {
			for _, s := range sts[1:] {
				// Byte for byte, apart from the date, the node id and the
				// (local) marker.
				if s.summary() != sts[0].summary() || s.normalized() != sts[0].normalized() {
					ok = false
				}
			}
		}
		if ok {
			t.Logf("%s: hosts %v agree: %s", what, hosts, sts[0].summary())
			return sts[0]
		}
		if time.Now().After(deadline) {
			for k, s := range sts {
				t.Logf("%s: %s -s:\n%s", what, m.name(hosts[k]), s.out)
			}
			t.Fatalf("%s: quorum tools of hosts %v do not agree on total votes %s, expected %q, exit %d", what, hosts, total, expected, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startAgree starts the hosts of start, waits until the hosts of ring
// form one ring of exactly them, and until their quorum tools agree
// (agree's arguments).
func (m *mxVQ) startAgree(what string, start, ring []int, total, expected string, code int) qtStatus {
	m.t.Helper()
	marks := m.marks()
	for _, i := range start {
		m.start(i)
	}
	m.waitRing(what, marks, ring, ring)
	return m.agree(what, ring, total, expected, code)
}

// killAgree kills host i with SIGKILL, waits until the hosts of rest form
// one ring of exactly them, and until their quorum tools agree.
func (m *mxVQ) killAgree(what string, i int, rest []int, total, expected string, code int) qtStatus {
	m.t.Helper()
	marks := m.marks()
	if err := m.c.Kill(i); err != nil {
		m.t.Fatal(err)
	}
	m.waitRing(what, marks, rest, rest)
	return m.agree(what, rest, total, expected, code)
}

// TestNetnsMixedRingVotequorum: hosts 1 and 2 run the real corosync 3.1
// with votequorum, host 3 runs corosyncd; they count each other's votes.
// The real corosync-quorumtool -s on hosts 1 and 2 and our quorumtool -s
// on host 3 print the same quorum provider, node count, ring id, quorate
// state, expected votes, highest expected, total votes, quorum, flags and
// per-node votes (in fact the whole output, less the date, the node id and
// the "(local)" marker), through formation, the kill of a real node, the
// kill of the other (our node alone: not quorate, exit 2) and the
// restarts.
func TestNetnsMixedRingVotequorum(t *testing.T) {
	m := newMixedVQ(t, "mixedvq", "")
	all := []int{1, 2, 3}
	s := m.startAgree("formation", all, all, "3", "3", 0)
	if s.fields["Quorum"] != "2" || s.fields["Flags"] != "Quorate" || len(s.votes) != 3 {
		t.Errorf("formation: %s", s.summary())
	}
	// A real node dies: 2 of 3 stay quorate.
	s = m.killAgree("host 2 killed", 2, []int{1, 3}, "2", "3", 0)
	if s.fields["Quorum"] != "2" {
		t.Errorf("host 2 killed: %s", s.summary())
	}
	// The other real node dies: our node alone is not quorate (exit 2).
	s = m.killAgree("hosts 1 and 2 killed", 1, []int{3}, "1", "3", 2)
	if s.fields["Quorate"] != "No" || !strings.Contains(s.out, "Activity blocked") {
		t.Errorf("alone: %s\n%s", s.summary(), s.out)
	}
	// Both come back: all quorate again, every tool agrees.
	m.startAgree("restarted", []int{1, 2}, all, "3", "3", 0)
}

// TestNetnsMixedRingLastManStanding: the same mixed ring with
// wait_for_all, last_man_standing (window 2 s) and auto_tie_breaker
// (highest). Real corosync and ours agree on the flags, on expected votes
// shrinking from 3 to 2 once the window has passed after a real node's
// death, and our node, the highest id, then survives alone through the
// tie breaker (quorate, exit 0), as corosync's last man standing with
// auto_tie_breaker does.
func TestNetnsMixedRingLastManStanding(t *testing.T) {
	m := newMixedVQ(t, "mixedlms", "\twait_for_all: 1\n\tlast_man_standing: 1\n\tlast_man_standing_window: 2000\n\tauto_tie_breaker: 1\n\tauto_tie_breaker_node: highest\n")
	all := []int{1, 2, 3}
	s := m.startAgree("formation", all, all, "3", "3", 0)
	if want := "Quorate WaitForAll LastManStanding AutoTieBreaker"; s.fields["Flags"] != want {
		t.Errorf("flags %q, want %q", s.fields["Flags"], want)
	}
	// After the window, expected votes follow the nodes present.
	s = m.killAgree("host 2 killed, window passed", 2, []int{1, 3}, "2", "2", 0)
	if s.fields["Quorum"] != "2" {
		t.Errorf("after the window: %s", s.summary())
	}
	s = m.killAgree("host 3 alone", 1, []int{3}, "1", "", 0)
	if s.fields["Quorate"] != "Yes" {
		t.Errorf("the highest node alone is not quorate: %s\n%s", s.summary(), s.out)
	}
	m.startAgree("restarted", []int{1, 2}, all, "3", "3", 0)
}

// TestNetnsMixedRingTwoNode: a two-node cluster with two_node, host 1
// running the real corosync and host 3 corosyncd. Together both tools
// print "2Node Quorate WaitForAll" with quorum 1; after the real node's
// death ours stays quorate alone; a node restarted alone (cut off from
// the other) waits for all, and the real node and ours, each in that
// situation, print the same status (not quorate, exit 2); healed, they
// agree again.
func TestNetnsMixedRingTwoNode(t *testing.T) {
	m := newMixedVQNodes(t, "mixed2n", "\ttwo_node: 1\n", []int{1, 3})
	both := []int{1, 3}
	s := m.startAgree("formation", both, both, "2", "2", 0)
	if s.fields["Flags"] != "2Node Quorate WaitForAll" || s.fields["Quorum"] != "1" {
		t.Errorf("formation: %s", s.summary())
	}

	// The real node dies: ours stays quorate alone.
	s = m.killAgree("host 1 killed", 1, []int{3}, "1", "2", 0)
	if s.fields["Flags"] != "2Node Quorate WaitForAll" {
		t.Errorf("alone after the kill: %s", s.summary())
	}

	// The real node restarts cut off from ours: it waits for all.
	if err := m.c.Partition([]int{1}, []int{3}); err != nil {
		t.Fatal(err)
	}
	realAlone := m.startAgree("host 1 restarted alone", []int{1}, []int{1}, "1", "2", 2)
	m.agree("host 3 meanwhile", []int{3}, "1", "2", 0)

	// Heal: one ring, both quorate.
	marks := m.marks()
	if err := m.c.Partition(); err != nil {
		t.Fatal(err)
	}
	m.waitRing("healed", marks, both, both)
	m.agree("healed", both, "2", "2", 0)

	// Now ours restarts cut off from the real node: the same status as
	// the real node printed in that situation.
	if err := m.c.Kill(3); err != nil {
		t.Fatal(err)
	}
	if err := m.c.Partition([]int{1}, []int{3}); err != nil {
		t.Fatal(err)
	}
	oursAlone := m.startAgree("host 3 restarted alone", []int{3}, []int{3}, "1", "2", 2)
	for _, k := range []string{"Quorum provider", "Nodes", "Quorate", "Expected votes", "Highest expected", "Total votes", "Quorum", "Flags"} {
		if realAlone.fields[k] != oursAlone.fields[k] {
			t.Errorf("restarted alone, %s: real corosync %q, ours %q", k, realAlone.fields[k], oursAlone.fields[k])
		}
	}
	if oursAlone.fields["Flags"] != "2Node WaitForAll" {
		t.Errorf("restarted alone: %s", oursAlone.summary())
	}
	marks = m.marks()
	if err := m.c.Partition(); err != nil {
		t.Fatal(err)
	}
	m.waitRing("healed again", marks, both, both)
	m.agree("healed again", both, "2", "2", 0)
}

// TestNetnsMixedRingQdevice: the mixed ring with a quorum device
// configured everywhere (model ping, votes 2 by default, expected votes
// 5) but running only beside our node. Real corosync reads our node's
// device flags from its NODEINFO: its corosync-quorumtool -s -p shows our
// node's device alive and voting (A,V,NMW) and its own as not registered
// (NR); our quorumtool shows the same column, and each side counts the
// device's votes only where its own device casts them (ours: 5 of 5, the
// real nodes: 3 of 5), as corosync does; the real tool names the device
// ("Ping (votes 2)") from our QDEVICE_REG and node-0 NODEINFO.
func TestNetnsMixedRingQdevice(t *testing.T) {
	m := newMixedVQ(t, "mixedqd", "")
	up := m.c.Host(1).Addr
	quorum := fmt.Sprintf("\tdevice {\n\t\tmodel: ping\n\t\ttimeout: 2000\n\t\tsync_timeout: 4000\n"+
		"\t\theuristics {\n\t\t\tmode: on\n\t\t\tinterval: 500\n\t\t\ttimeout: 400\n\t\t\tsync_timeout: 1000\n\t\t}\n"+
		"\t\tping {\n\t\t\thosts: %s\n\t\t}\n\t}\n", up)
	hosts := m.c.Hosts()
	for i, h := range hosts {
		tc := testConf{cluster: "mixedqd", token: 1000, coef: 0, logfile: m.logs[i], stateDir: h.State, votequorum: true, quorum: quorum}
		if err := os.WriteFile(m.conf[i], []byte(tc.text(hosts)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	all := []int{1, 2, 3}
	marks := m.marks()
	for _, i := range all {
		m.start(i)
	}
	m.waitRing("formation", marks, all, all)
	m.agree("formation, no device yet", all, "3", "5", 0)

	qdev := buildTool(t, "github.com/corogo/corogo/cmd/qdevice")
	h := m.c.Host(3)
	logf, err := os.Create(filepath.Join(h.Dir, "qdevice.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("ip", "netns", "exec", h.NS, qdev, "-f", "-d", "-c", m.conf[2],
		"-S", filepath.Join(h.Dir, "corosyncd.sock"), "-p", filepath.Join(h.Dir, "qdevice-status.sock"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()

	deadline := time.Now().Add(mxWait)
	for {
		ours := m.status(3)
		real := runQuorumtool(t, m.c, 1, nil, m.realTool, "-s", "-p")
		ok := ours.fields["Total votes"] == "5" && real.fields["Total votes"] == "3"
		for _, s := range []qtStatus{ours, real} {
			ok = ok && s.fields["Expected votes"] == "5" && s.fields["Quorum"] == "3" && s.code == 0 &&
				qdevCol(s.out, "1") == "NR" && qdevCol(s.out, "2") == "NR" && qdevCol(s.out, "3") == "A,V,NMW"
		}
		if ok {
			t.Logf("ours -s:\n%s", ours.out)
			t.Logf("real corosync-quorumtool -s -p on host 1:\n%s", real.out)
			if ours.fields["Flags"] != "Quorate Qdevice" || real.fields["Flags"] != "Quorate" {
				t.Errorf("flags: ours %q, real %q", ours.fields["Flags"], real.fields["Flags"])
			}
			// Real corosync learnt the device's name from our QDEVICE_REG
			// and its votes from our NODEINFO for node 0.
			if !strings.Contains(real.out, " Ping (votes 2)\n") || !strings.Contains(ours.out, "          2            Ping\n") {
				t.Errorf("device lines differ from corosync's rules")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("device not seen alike:\nours:\n%s\nreal:\n%s", ours.out, real.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// qdevCol returns the Qdevice column of node id's line in a quorumtool
// membership table ("" when there is none).
func qdevCol(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == id && (f[2] == "NR" || strings.Contains(f[2], ",")) {
			return f[2]
		}
	}
	return ""
}

// TestNetnsMixedRingAllowDownscale: allow_downscale in the mixed ring.
// A real node's clean shutdown (corosync's LEAVING NODEINFO) lowers
// expected votes on the real node left and on ours alike (both print the
// same status), and our node's clean shutdown (SIGTERM: our LEAVING
// NODEINFO) lowers them on the real node.
func TestNetnsMixedRingAllowDownscale(t *testing.T) {
	m := newMixedVQ(t, "mixedads", "\tallow_downscale: 1\n")
	all := []int{1, 2, 3}
	s := m.startAgree("formation", all, all, "3", "3", 0)
	if s.fields["Flags"] != "Quorate AllowDownscale" {
		t.Errorf("formation: %s", s.summary())
	}
	marks := m.marks()
	if err := m.c.Terminate(2, 10*time.Second); err != nil {
		t.Fatalf("SIGTERM of host 2: %v", err)
	}
	m.waitRing("host 2 left", marks, []int{1, 3}, []int{1, 3})
	m.agree("host 2 left cleanly", []int{1, 3}, "2", "2", 0)

	marks = m.marks()
	if err := m.c.Terminate(3, 10*time.Second); err != nil {
		t.Fatalf("SIGTERM of host 3 (ours): %v", err)
	}
	m.waitRing("host 3 left", marks, []int{1}, []int{1})
	s = m.agree("host 3 (ours) left cleanly", []int{1}, "1", "1", 2)
	t.Logf("real corosync-quorumtool -s on host 1 after our clean leave:\n%s", s.out)
}
