package main

// TestNetnsMixedRingCPG: closed process groups across real corosync and
// corosyncd. The namespace cluster of interop_test.go (two real corosync
// 3.1 daemons on hosts 1 and 2, corosyncd on host 3) runs one CPG client
// per host: on the real nodes a small C client linked against Debian's
// libcpg (internal/interop/libcpg), on ours the Go client library (cpg).
// They join one group, see each other's joins and leaves, exchange
// messages that all three receive in one order, and see the same
// membership change when a node is killed. It needs root, ip, nft, the
// corosync binary and libcpg-dev, and skips with the reason otherwise.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corogo/corogo/cpg"
	"github.com/corogo/corogo/internal/interop/libcpg"
	"github.com/corogo/corogo/internal/netns"
)

const mcGroup = "mixgrp"

// mcMsg is a delivery as any client saw it.
type mcMsg struct {
	node, pid uint32
	data      string
}

// mcView is a group view: sorted "node:pid" strings.
func mcView(addrs []string) string { slices.Sort(addrs); return strings.Join(addrs, ",") }

func TestNetnsMixedRingCPG(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("skipping mixed-ring CPG test: %v", err)
	}
	cs, err := mxLookCorosync()
	if err != nil {
		t.Skipf("skipping mixed-ring CPG test: %v", err)
	}
	client, err := libcpg.Build(t.TempDir())
	if err != nil {
		t.Skipf("skipping mixed-ring CPG test: %v", err)
	}
	m := &mxCluster{t: t, corosync: cs, daemon: nsBuild(t)}
	opts := netns.Options{Hosts: 3}
	if keep := os.Getenv("COROGO_INTEROP_KEEP"); keep != "" {
		opts.Dir = filepath.Join(keep, fmt.Sprintf("mixedcpg-%d", time.Now().UnixNano()))
		t.Logf("keeping host directories in %s", opts.Dir)
	}
	m.c = netns.NewWith(t, opts)
	hosts := m.c.Hosts()
	for _, h := range hosts {
		conf := filepath.Join(h.Dir, "corosync.conf")
		logf := filepath.Join(h.Dir, "corosync.log")
		// token 1000, coefficient 0: a kill is noticed in about 2.2 s.
		if err := os.WriteFile(conf, []byte(testConf{cluster: "mixedcpg", token: 1000, coef: 0, logfile: logf, stateDir: h.State}.text(hosts)), 0o644); err != nil {
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
	all := []int{1, 2, 3}
	marks := m.marks()
	for _, i := range all {
		m.start(i)
	}
	m.waitRing("formation", marks, all, all)
	// Every host completes the service sync of the ring of three.
	waitSync := func(hosts []int) {
		t.Helper()
		deadline := time.Now().Add(mxWait)
		for {
			done := 0
			for _, i := range hosts {
				if ls := mxGrep(m.lines(i, marks[i]), mxReSyncDone); len(ls) > 0 {
					done++
				}
			}
			if done == len(hosts) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("service synchronization not completed on all of %v", hosts)
			}
			time.Sleep(mxPoll)
		}
	}
	waitSync(all)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Clients: libcpg on hosts 1 and 2, the Go library on host 3.
	real := map[int]*libcpg.Client{}
	for _, i := range []int{1, 2} {
		cmd := exec.Command("ip", "netns", "exec", m.c.Host(i).NS, client)
		c, err := libcpg.Start(ctx, cmd)
		if err != nil {
			t.Fatalf("libcpg client on host %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		real[i] = c
	}
	ours, err := cpg.Dial(ctx, cpg.WithSocket(filepath.Join(m.c.Host(3).Dir, "corosyncd.sock")))
	if err != nil {
		t.Fatalf("cpg client on host 3: %v", err)
	}
	defer ours.Close()
	if ours.LocalNodeID() != 3 {
		t.Fatalf("our client's node id %d, want 3", ours.LocalNodeID())
	}
	pid := map[int]uint32{1: real[1].Ready().PID, 2: real[2].Ready().PID, 3: uint32(os.Getpid())}

	// Our client's events, collected in order.
	var mu sync.Mutex
	var ourConf []*cpg.ConfChange
	var ourMsgs []mcMsg
	go func() {
		for ev := range ours.Events() {
			mu.Lock()
			switch e := ev.(type) {
			case *cpg.ConfChange:
				ourConf = append(ourConf, e)
			case *cpg.Message:
				ourMsgs = append(ourMsgs, mcMsg{e.NodeID, e.PID, string(e.Data)})
			}
			mu.Unlock()
		}
	}()
	ourWait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(mxWait)
		for {
			mu.Lock()
			done := ok()
			mu.Unlock()
			if done {
				return
			}
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				var cs []string
				for _, c := range ourConf {
					cs = append(cs, fmt.Sprintf("%+v", *c))
				}
				t.Fatalf("host 3 (cpg): %s: not seen; confchgs: %s", what, strings.Join(cs, "; "))
			}
			time.Sleep(mxPoll)
		}
	}
	ourView := func() string {
		if len(ourConf) == 0 {
			return ""
		}
		var v []string
		for _, a := range ourConf[len(ourConf)-1].Members {
			v = append(v, fmt.Sprintf("%d:%d", a.NodeID, a.PID))
		}
		return mcView(v)
	}
	realView := func(e libcpg.Event) string {
		var v []string
		for _, a := range e.Members {
			v = append(v, fmt.Sprintf("%d:%d", a.NodeID, a.PID))
		}
		return mcView(v)
	}
	view := func(ids ...int) string {
		var v []string
		for _, i := range ids {
			v = append(v, fmt.Sprintf("%d:%d", i, pid[i]))
		}
		return mcView(v)
	}

	// 1. Joins: every client ends with the view of all three.
	for _, i := range []int{1, 2} {
		if err := real[i].Join(ctx, mcGroup); err != nil {
			t.Fatalf("host %d join: %v", i, err)
		}
	}
	if err := ours.Join(ctx, mcGroup); err != nil {
		t.Fatalf("host 3 join: %v", err)
	}
	want := view(1, 2, 3)
	for _, i := range []int{1, 2} {
		if _, err := real[i].NextEvent(ctx, func(e libcpg.Event) bool { return e.Kind == libcpg.ConfChg && realView(e) == want }); err != nil {
			t.Fatalf("host %d (libcpg): view %s never seen: %v", i, want, err)
		}
	}
	ourWait("view "+want, func() bool { return ourView() == want })
	t.Logf("1. all three clients see group %s = {%s}", mcGroup, want)

	// 2. Messages from all three at once; every client delivers all of
	// them in one order.
	const per = 20
	var wg sync.WaitGroup
	for _, i := range []int{1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range per {
				if err := real[i].SendText(ctx, fmt.Sprintf("from-%d-%02d", i, k)); err != nil {
					t.Errorf("host %d send: %v", i, err)
					return
				}
			}
		}()
	}
	for k := range per {
		if err := ours.Mcast(ctx, mcGroup, cpg.Agreed, []byte(fmt.Sprintf("from-3-%02d", k))); err != nil {
			t.Fatalf("host 3 mcast: %v", err)
		}
	}
	// One large message from ours: fragmented by totem, reassembled by
	// the real nodes.
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	if err := ours.Mcast(ctx, mcGroup, cpg.Agreed, []byte(big)); err != nil {
		t.Fatalf("host 3 mcast 64 KiB: %v", err)
	}
	wg.Wait()
	total := 3*per + 1
	seqs := map[int][]mcMsg{}
	for _, i := range []int{1, 2} {
		for len(seqs[i]) < total {
			e, err := real[i].NextEvent(ctx, func(e libcpg.Event) bool { return e.Kind == libcpg.Deliver })
			if err != nil {
				t.Fatalf("host %d (libcpg): %d of %d messages: %v", i, len(seqs[i]), total, err)
			}
			seqs[i] = append(seqs[i], mcMsg{e.NodeID, e.PID, string(e.Payload)})
		}
	}
	ourWait(fmt.Sprintf("%d messages", total), func() bool { return len(ourMsgs) >= total })
	mu.Lock()
	seqs[3] = slices.Clone(ourMsgs[:total])
	mu.Unlock()
	for _, i := range []int{2, 3} {
		if !slices.Equal(seqs[i], seqs[1]) {
			for k := range seqs[1] {
				if k >= len(seqs[i]) || seqs[i][k] != seqs[1][k] {
					t.Fatalf("host %d delivered another order than host 1 from position %d", i, k)
				}
			}
		}
	}
	from := map[uint32]int{}
	for _, d := range seqs[1] {
		from[d.node]++
		if d.pid != pid[int(d.node)] {
			t.Errorf("message from node %d with pid %d, want %d", d.node, d.pid, pid[int(d.node)])
		}
	}
	if from[1] != per || from[2] != per || from[3] != per+1 {
		t.Errorf("messages per sender %v", from)
	}
	if seqs[1][len(seqs[1])-1].data != big && !slices.ContainsFunc(seqs[1], func(d mcMsg) bool { return d.data == big }) {
		t.Error("the 64 KiB message from corosyncd did not arrive intact at the real nodes")
	}
	t.Logf("2. %d messages (one of 64 KiB) delivered in the same order by libcpg on hosts 1, 2 and the Go client on host 3", total)

	// 3. Our client leaves and joins again: the real clients see LEAVE
	// then JOIN for (3, pid).
	if err := ours.Leave(ctx, mcGroup); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		e, err := real[i].NextEvent(ctx, func(e libcpg.Event) bool { return e.Kind == libcpg.ConfChg && len(e.Left) > 0 })
		if err != nil {
			t.Fatalf("host %d (libcpg): leave of host 3 not seen: %v", i, err)
		}
		if l := e.Left[0]; l.NodeID != 3 || l.PID != pid[3] || l.Reason != libcpg.ReasonLeave {
			t.Fatalf("host %d (libcpg): left %+v, want 3:%d reason LEAVE", i, l, pid[3])
		}
	}
	if err := ours.Join(ctx, mcGroup); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		e, err := real[i].NextEvent(ctx, func(e libcpg.Event) bool { return e.Kind == libcpg.ConfChg && len(e.Joined) > 0 })
		if err != nil {
			t.Fatalf("host %d (libcpg): join of host 3 not seen: %v", i, err)
		}
		if j := e.Joined[0]; j.NodeID != 3 || j.Reason != libcpg.ReasonJoin {
			t.Fatalf("host %d (libcpg): joined %+v, want 3 reason JOIN", i, j)
		}
	}
	// A real client leaves: ours sees it.
	mu.Lock()
	n0 := len(ourConf)
	mu.Unlock()
	if err := real[2].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	ourWait("host 2's leave", func() bool {
		for _, c := range ourConf[n0:] {
			for _, l := range c.Left {
				if l.NodeID == 2 && l.PID == pid[2] && l.Reason == cpg.ReasonLeave {
					return true
				}
			}
		}
		return false
	})
	// corosync 3.1 refuses a second join on a libcpg handle that left
	// (CS_ERR_EXIST): a new client process on host 2 joins instead.
	real[2].Close()
	{
		c, err := libcpg.Start(ctx, exec.Command("ip", "netns", "exec", m.c.Host(2).NS, client))
		if err != nil {
			t.Fatalf("second libcpg client on host 2: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		real[2] = c
		pid[2] = c.Ready().PID
	}
	want = view(1, 2, 3)
	if err := real[2].Join(ctx, mcGroup); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		if _, err := real[i].NextEvent(ctx, func(e libcpg.Event) bool { return e.Kind == libcpg.ConfChg && realView(e) == want }); err != nil {
			t.Fatalf("host %d (libcpg): view %s not restored: %v", i, want, err)
		}
	}
	ourWait("view "+want+" again", func() bool { return ourView() == want })
	t.Logf("3. leaves and joins seen across implementations (reasons LEAVE and JOIN)")

	// 4. kill -9 of host 2's corosync: the clients on hosts 1 and 3 both
	// see (2, pid) leave with reason NODEDOWN.
	mu.Lock()
	n0 = len(ourConf)
	mu.Unlock()
	if err := m.c.Kill(2); err != nil {
		t.Fatal(err)
	}
	e, err := real[1].NextEvent(ctx, func(e libcpg.Event) bool { return e.Kind == libcpg.ConfChg && len(e.Left) > 0 })
	if err != nil {
		t.Fatalf("host 1 (libcpg): node down not seen: %v", err)
	}
	if l := e.Left[0]; l.NodeID != 2 || l.PID != pid[2] || l.Reason != libcpg.ReasonNodeDown {
		t.Fatalf("host 1 (libcpg): left %+v, want 2:%d NODEDOWN", l, pid[2])
	}
	ourWait("node 2 down", func() bool {
		for _, c := range ourConf[n0:] {
			for _, l := range c.Left {
				if l.NodeID == 2 && l.PID == pid[2] && l.Reason == cpg.ReasonNodeDown {
					return true
				}
			}
		}
		return false
	})
	want = view(1, 3)
	if got := realView(e); got != want {
		t.Errorf("host 1 (libcpg): view after the kill %s, want %s", got, want)
	}
	mu.Lock()
	if got := ourView(); got != want {
		t.Errorf("host 3 (cpg): view after the kill %s, want %s", got, want)
	}
	mu.Unlock()
	t.Logf("4. kill -9 of host 2: both sides saw 2:%d leave with reason NODEDOWN; view {%s}", pid[2], want)
}
