package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/netns"
)

// qdevices runs cmd/qdevice next to corosyncd on the hosts of a qCluster:
// one process per host, inside the host's network namespace (the ping
// model's checks go out from there), started and stopped by PID.
type qdevices struct {
	q    *qCluster
	bin  string
	cmds map[int]*exec.Cmd
	done map[int]chan struct{}
}

func newQdevices(q *qCluster) *qdevices {
	d := &qdevices{q: q, bin: buildTool(q.t, "github.com/corogo/corogo/cmd/qdevice"), cmds: map[int]*exec.Cmd{}, done: map[int]chan struct{}{}}
	q.t.Cleanup(func() {
		for i := range d.cmds {
			d.stop(i, syscall.SIGTERM)
		}
		if q.t.Failed() {
			for i := range q.c.Hosts() {
				if b, err := os.ReadFile(d.logPath(i + 1)); err == nil {
					q.t.Logf("--- qdevice log of host %d:\n%s", i+1, tail(string(b), 60))
				}
			}
		}
	})
	return d
}

func tail(s string, lines int) string {
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			n++
			if n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}

func (d *qdevices) logPath(i int) string { return filepath.Join(d.q.c.Host(i).Dir, "qdevice.log") }

func (d *qdevices) start(i int) {
	t := d.q.t
	t.Helper()
	h := d.q.c.Host(i)
	logf, err := os.OpenFile(d.logPath(i), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", h.NS, d.bin, "-f", "-d",
		"-c", d.q.conf[i-1], "-S", d.q.socket(i), "-p", filepath.Join(h.Dir, "qdevice-status.sock"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qdevice on host %d: %v", i, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	d.cmds[i], d.done[i] = cmd, done
}

// stop signals host i's qdevice (by PID) and waits for it.
func (d *qdevices) stop(i int, sig syscall.Signal) {
	cmd := d.cmds[i]
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-d.done[i]:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-d.done[i]
	}
	delete(d.cmds, i)
	delete(d.done, i)
}

// killNode kills host i's corosyncd and qdevice with SIGKILL: the node
// dies.
func (d *qdevices) killNode(i int) {
	d.q.t.Helper()
	d.stop(i, syscall.SIGKILL)
	if err := d.q.c.Kill(i); err != nil {
		d.q.t.Fatal(err)
	}
}

// newQClusterNodes is newQCluster with only the first nodes hosts in the
// nodelist (the others are, for instance, an upstream router).
func newQClusterNodes(t *testing.T, hosts, nodes int, quorum string) *qCluster {
	t.Helper()
	q := newQCluster(t, hosts, quorum)
	all := q.c.Hosts()
	for i, h := range all {
		tc := testConf{cluster: "quorumtest", token: 300, coef: 0, stateDir: h.State, votequorum: true, quorum: quorum}
		if err := os.WriteFile(q.conf[i], []byte(tc.text(all[:nodes])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return q
}

// TestNetnsQdisk: three corosyncd, each with a qdisk device on one shared
// file (2 votes: expected 5, quorum 3). In a 1|2 split the single node
// holding the qdisk master (the lowest live node id) keeps quorum with
// the device's votes and the two others lose it; when that node dies, the
// others take the master over after tko cycles and are quorate again.
func TestNetnsQdisk(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("skipping qdisk namespace test: %v", err)
	}
	disk := filepath.Join(t.TempDir(), "qdisk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	q := newQCluster(t, 3, fmt.Sprintf("\tdevice {\n\t\tmodel: qdisk\n\t\ttimeout: 2000\n\t\tsync_timeout: 4000\n"+
		"\t\tqdisk {\n\t\t\tpath: %s\n\t\t\tinterval: 200\n\t\t\ttko: 10\n\t\t}\n\t}\n", disk))
	d := newQdevices(q)
	all := []int{1, 2, 3}
	q.startAll()
	for _, i := range all {
		d.start(i)
	}
	q.waitState("formation with the device", all, "QQQ/5,5,5", 30*time.Second)
	in, err := q.info(1)
	if err != nil {
		t.Fatal(err)
	}
	if in.QdeviceName == "" || in.QdeviceVotes != 2 || in.ExpectedVotes != 5 || in.Quorum != 3 {
		t.Fatalf("device info %+v", in)
	}
	// quorumtool shows the device as corosync-quorumtool does: the
	// Qdevice flag, the A,V,NMW column and the device line (node 0, its
	// votes and its registered name, "Qdisk").
	tool := buildTool(t, "github.com/corogo/corogo/cmd/quorumtool")
	st := runQuorumtool(t, q.c, 1, []string{"COROSYNCD_SOCKET=" + q.socket(1)}, tool, "-s")
	t.Logf("quorumtool -s on host 1:\n%s", st.out)
	if st.code != 0 || st.fields["Flags"] != "Quorate Qdevice" || st.votes["0"] != "2" ||
		!strings.Contains(st.out, "A,V,NMW") || !strings.Contains(st.out, " Qdisk\n") {
		t.Errorf("quorumtool -s does not show the device as corosync's does: %s", st.summary())
	}

	// 1 | 2 3: node 1 holds the master; one node of three keeps quorum.
	if err := q.c.Partition([]int{1}, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	q.waitState("partition 1|2,3", all, "Q--/3,2,2", 30*time.Second)
	if err := q.c.HealAll(); err != nil {
		t.Fatal(err)
	}
	q.waitState("healed", all, "QQQ/5,5,5", 30*time.Second)

	// Node 1 dies: after tko cycles node 2 is the master.
	d.killNode(1)
	q.waitState("node 1 killed, master taken over", all, "xQQ/x,4,4", 30*time.Second)

	// Node 1 comes back.
	q.start(1)
	d.start(1)
	q.waitState("node 1 restarted", all, "QQQ/5,5,5", 30*time.Second)
}

// TestNetnsPingTieBreaker: two corosyncd with a ping device each (1 vote:
// expected 3, quorum 2) whose check is an ICMP echo to host 3, the
// "upstream" (not a cluster node). The node cut off from its upstream
// loses the tie; the other keeps quorum; a node alone with its upstream
// keeps quorum after the other dies.
func TestNetnsPingTieBreaker(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("skipping ping device namespace test: %v", err)
	}
	// Host 3's address: the cluster's hosts are .1, .2, .3 of one /24.
	q := newQClusterNodes(t, 3, 2, "")
	up := q.c.Host(3).Addr
	quorum := fmt.Sprintf("\tdevice {\n\t\tmodel: ping\n\t\tvotes: 1\n\t\ttimeout: 2000\n\t\tsync_timeout: 4000\n"+
		"\t\theuristics {\n\t\t\tmode: on\n\t\t\tinterval: 500\n\t\t\ttimeout: 400\n\t\t\tsync_timeout: 1000\n\t\t}\n"+
		"\t\tping {\n\t\t\thosts: %s\n\t\t}\n\t}\n", up)
	all := q.c.Hosts()
	for i, h := range all {
		tc := testConf{cluster: "quorumtest", token: 300, coef: 0, stateDir: h.State, votequorum: true, quorum: quorum}
		if err := os.WriteFile(q.conf[i], []byte(tc.text(all[:2])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := newQdevices(q)
	both := []int{1, 2}
	for _, i := range both {
		q.start(i)
		d.start(i)
	}
	q.waitState("formation with the device", both, "QQ/3,3", 30*time.Second)

	// Node 2 loses its upstream with the cluster link: node 1 wins.
	if err := q.c.Partition([]int{1, 3}, []int{2}); err != nil {
		t.Fatal(err)
	}
	q.waitState("partition 1,3|2", both, "Q-/2,1", 30*time.Second)
	if err := q.c.HealAll(); err != nil {
		t.Fatal(err)
	}
	q.waitState("healed", both, "QQ/3,3", 30*time.Second)

	// The other way round.
	if err := q.c.Partition([]int{1}, []int{2, 3}); err != nil {
		t.Fatal(err)
	}
	q.waitState("partition 1|2,3", both, "-Q/1,2", 30*time.Second)
	if err := q.c.HealAll(); err != nil {
		t.Fatal(err)
	}
	q.waitState("healed again", both, "QQ/3,3", 30*time.Second)

	// Node 1 dies; node 2 with its upstream keeps quorum.
	d.killNode(1)
	q.waitState("node 1 killed", both, "xQ/x,2", 30*time.Second)
}
