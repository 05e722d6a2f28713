package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client/cfgclient"
	"github.com/corogo/corogo/internal/netns"
	"github.com/corogo/corogo/votequorum"
)

// qCluster is a netns cluster of corosyncd with votequorum; quorum holds
// the extra quorum lines of every host's corosync.conf.
type qCluster struct {
	*nsCluster
}

func newQCluster(t *testing.T, n int, quorum string) *qCluster {
	t.Helper()
	if err := netns.Available(); err != nil {
		t.Skipf("skipping quorum namespace test: %v", err)
	}
	bin := nsBuild(t)
	k := newNSCluster(t, bin, n)
	for i, h := range k.c.Hosts() {
		tc := testConf{cluster: "quorumtest", token: 300, coef: 0, stateDir: h.State, votequorum: true, quorum: quorum}
		if err := os.WriteFile(k.conf[i], []byte(tc.text(k.c.Hosts())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { k.terminateAll() })
	return &qCluster{k}
}

func (q *qCluster) socket(i int) string { return filepath.Join(q.c.Host(i).Dir, "corosyncd.sock") }

// info asks host i's daemon for its own votequorum information.
func (q *qCluster) info(i int) (votequorum.Info, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, q.socket(i))
	if err != nil {
		return votequorum.Info{}, err
	}
	defer c.Close()
	return c.GetInfo(ctx, 0)
}

// state is "Q" (quorate) or "-" per host, "x" for a host not running or
// not answering, and the total votes: "QQ-/2,2,1".
func (q *qCluster) state(hosts []int) string {
	var qs, tot []string
	for _, i := range hosts {
		if !q.c.Running(i) {
			qs, tot = append(qs, "x"), append(tot, "x")
			continue
		}
		in, err := q.info(i)
		switch {
		case err != nil:
			qs, tot = append(qs, "x"), append(tot, "x")
		case in.Flags&votequorum.Quorate != 0:
			qs, tot = append(qs, "Q"), append(tot, strconv.Itoa(int(in.TotalVotes)))
		default:
			qs, tot = append(qs, "-"), append(tot, strconv.Itoa(int(in.TotalVotes)))
		}
	}
	return strings.Join(qs, "") + "/" + strings.Join(tot, ",")
}

// waitState waits until state(hosts) is want, and fails the test with the
// last state seen otherwise.
func (q *qCluster) waitState(what string, hosts []int, want string, within time.Duration) {
	q.t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for {
		got = q.state(hosts)
		if got == want {
			q.t.Logf("%s: %s", what, got)
			return
		}
		if time.Now().After(deadline) {
			q.t.Fatalf("%s: quorum state %s, want %s (Q quorate, - not, x down; then total votes)", what, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNetnsTwoNode: two corosyncd with two_node (and the wait_for_all it
// implies). Both are quorate together; a kill or a partition leaves each
// side quorate (the fence race decides, as with corosync); a node that
// starts alone waits for all and is not quorate until it has seen the
// other; cancelling wait_for_all frees it.
func TestNetnsTwoNode(t *testing.T) {
	q := newQCluster(t, 2, "\ttwo_node: 1\n")
	both := []int{1, 2}
	q.startAll()
	q.waitState("formation", both, "QQ/2,2", 20*time.Second)
	in, err := q.info(1)
	if err != nil {
		t.Fatal(err)
	}
	if want := votequorum.TwoNode | votequorum.Quorate | votequorum.WaitForAll; in.Flags != want || in.Quorum != 1 || in.ExpectedVotes != 2 {
		t.Fatalf("two_node info %+v, want flags %v quorum 1 expected 2", in, want)
	}

	// A partition: both sides stay quorate (two_node's fence race).
	if err := q.c.Partition([]int{1}, []int{2}); err != nil {
		t.Fatal(err)
	}
	q.waitState("partition", both, "QQ/1,1", 20*time.Second)
	if err := q.c.HealAll(); err != nil {
		t.Fatal(err)
	}
	q.waitState("healed", both, "QQ/2,2", 20*time.Second)

	// kill -9 of node 2: node 1 stays quorate.
	if err := q.c.Kill(2); err != nil {
		t.Fatal(err)
	}
	q.waitState("node 2 killed", both, "Qx/1,x", 20*time.Second)

	// Node 2 restarts cut off from node 1: wait_for_all holds it.
	if err := q.c.Partition([]int{1}, []int{2}); err != nil {
		t.Fatal(err)
	}
	q.start(2)
	q.waitState("node 2 restarted alone", both, "Q-/1,1", 20*time.Second)
	time.Sleep(2 * time.Second)
	q.waitState("node 2 still waiting for all", both, "Q-/1,1", time.Second)
	if err := q.c.HealAll(); err != nil {
		t.Fatal(err)
	}
	q.waitState("healed after restart", both, "QQ/2,2", 20*time.Second)

	// Both restart, only node 1 comes up: it waits for all; cancel frees it.
	q.terminateAll()
	if err := q.c.Partition([]int{1}, []int{2}); err != nil {
		t.Fatal(err)
	}
	q.start(1)
	q.waitState("node 1 alone after a full restart", []int{1}, "-/1", 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, q.socket(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.CancelWaitForAll(ctx); err != nil {
		t.Fatal(err)
	}
	q.waitState("wait_for_all cancelled", []int{1}, "Q/1", 10*time.Second)
}

// TestNetnsMajorityPartitions: five corosyncd; under successive
// partitions the majority side is quorate and the minority is not, and
// every heal makes all five quorate again.
func TestNetnsMajorityPartitions(t *testing.T) {
	q := newQCluster(t, 5, "")
	all := []int{1, 2, 3, 4, 5}
	q.startAll()
	q.waitState("formation", all, "QQQQQ/5,5,5,5,5", 20*time.Second)
	for _, split := range [][2][]int{
		{{1, 2}, {3, 4, 5}},
		{{1, 2, 3}, {4, 5}},
		{{1}, {2, 3, 4, 5}},
	} {
		if err := q.c.Partition(split[0], split[1]); err != nil {
			t.Fatal(err)
		}
		var want []byte
		for _, i := range all {
			if slices.Contains(split[0], i) == (len(split[0]) > len(split[1])) {
				want = append(want, 'Q')
			} else {
				want = append(want, '-')
			}
		}
		tot := make([]string, 5)
		for _, i := range all {
			if slices.Contains(split[0], i) {
				tot[i-1] = strconv.Itoa(len(split[0]))
			} else {
				tot[i-1] = strconv.Itoa(len(split[1]))
			}
		}
		q.waitState(fmt.Sprintf("partition %v|%v", split[0], split[1]), all, string(want)+"/"+strings.Join(tot, ","), 20*time.Second)
		if err := q.c.HealAll(); err != nil {
			t.Fatal(err)
		}
		q.waitState("healed", all, "QQQQQ/5,5,5,5,5", 20*time.Second)
	}
}

// TestNetnsQuorumReload: quorum.expected_votes changed in every node's
// corosync.conf and applied with a reload (corosync-cfgtool -R) takes
// effect on every node: expected votes 5, quorum 3, so the loss of one
// node of three now costs quorum.
func TestNetnsQuorumReload(t *testing.T) {
	q := newQCluster(t, 3, "")
	all := []int{1, 2, 3}
	q.startAll()
	q.waitState("formation", all, "QQQ/3,3,3", 20*time.Second)
	for i, h := range q.c.Hosts() {
		tc := testConf{cluster: "quorumtest", token: 300, coef: 0, stateDir: h.State, votequorum: true, quorum: "\texpected_votes: 5\n"}
		if err := os.WriteFile(q.conf[i], []byte(tc.text(q.c.Hosts())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cfgclient.Dial(ctx, q.socket(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Reload(ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, i := range all {
		for {
			in, err := q.info(i)
			if err == nil && in.ExpectedVotes == 5 && in.Quorum == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("host %d after the reload: %+v %v; want expected votes 5, quorum 3", i, in, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	q.waitState("reloaded", all, "QQQ/3,3,3", 5*time.Second)
	if err := q.c.Kill(3); err != nil {
		t.Fatal(err)
	}
	q.waitState("node 3 killed", all, "--x/2,2,x", 20*time.Second)
}

// TestNetnsAllowDownscaleLeave: with allow_downscale a clean shutdown
// (SIGTERM) announces the leave (NODEINFO with LEAVING) before the node
// leaves the ring, so the others lower their expected votes to the nodes
// present; a kill -9 is a death and changes nothing. As in corosync 3.1
// (whose man page calls the option incomplete), the quorum itself stays
// at a majority of the expected votes barrier (4, so 3): the two left
// are not quorate.
func TestNetnsAllowDownscaleLeave(t *testing.T) {
	q := newQCluster(t, 4, "\tallow_downscale: 1\n")
	all := []int{1, 2, 3, 4}
	q.startAll()
	q.waitState("formation", all, "QQQQ/4,4,4,4", 20*time.Second)
	expected := func(i int) uint32 {
		in, err := q.info(i)
		if err != nil {
			t.Fatal(err)
		}
		return in.ExpectedVotes
	}
	// A death: expected votes stay 4.
	if err := q.c.Kill(4); err != nil {
		t.Fatal(err)
	}
	q.waitState("node 4 killed", all, "QQQx/3,3,3,x", 20*time.Second)
	if e := expected(1); e != 4 {
		t.Fatalf("expected votes %d after a death, want 4", e)
	}
	// A clean leave: expected votes follow the nodes present.
	q.terminate(3)
	q.waitState("node 3 left", all, "--xx/2,2,x,x", 20*time.Second)
	for deadline := time.Now().Add(10 * time.Second); expected(1) != 2 || expected(2) != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("expected votes %d, %d after a clean leave, want 2", expected(1), expected(2))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if in, err := q.info(1); err != nil || in.Quorum != 3 || in.Flags&votequorum.AllowDownscale == 0 {
		t.Fatalf("after the leave: %+v %v; want quorum 3 (the barrier's majority) and AllowDownscale", in, err)
	}
}
