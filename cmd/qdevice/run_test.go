package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/internal/qdevice/qdisk"
	"github.com/corogo/corogo/votequorum"
	"github.com/corogo/corogo/votequorum/votequorumtest"
)

// threeNodes is a nodelist of three nodes on loopback.
const threeNodes = `totem {
	version: 2
	cluster_name: test
	transport: udpu
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
	}
	node {
		ring0_addr: 127.0.0.2
		nodeid: 2
	}
	node {
		ring0_addr: 127.0.0.3
		nodeid: 3
	}
}
quorum {
	provider: corosync_votequorum
	device {
%s
	}
}
`

// syncBuffer is a goroutine-safe writer for the daemon's log.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon runs qdevice in the foreground against srv; the returned
// function stops it and returns its exit status.
func daemon(t *testing.T, srv *votequorumtest.Server, device string) (statusPath string, log *syncBuffer, stop func() int) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, threeNodes, device), 0o644); err != nil {
		t.Fatal(err)
	}
	statusPath = filepath.Join(dir, "qdevice.sock")
	log = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-f", "-d", "-c", conf, "-S", srv.Path(), "-p", statusPath}, log, log)
	}()
	var once sync.Once
	code := 0
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("daemon did not stop; log:\n%s", log)
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return statusPath, log, stop
}

// waitFor polls cond every 20 ms for up to 15 s.
func waitFor(t *testing.T, what string, log *syncBuffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func flags(srv *votequorumtest.Server) votequorum.InfoFlags {
	in, _ := srv.Info(0)
	return in.Flags
}

func status(t *testing.T, path string) string {
	t.Helper()
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"-s", "-p", path}, &out, &errb); code != 0 {
		t.Fatalf("qdevice -s: exit %d: %s", code, errb.String())
	}
	return out.String()
}

func TestDaemonPing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	srv := votequorumtest.Start(t, votequorumtest.Options{
		NodeID: 1,
		Nodes:  []votequorumtest.Node{{ID: 1}, {ID: 2}, {ID: 3}},
	})
	statusPath, log, stop := daemon(t, srv, fmt.Sprintf(`
		model: ping
		timeout: 1000
		heuristics {
			mode: on
			interval: 500
		}
		ping {
			hosts: %s
		}`, ln.Addr()))

	want := votequorum.QdeviceRegistered | votequorum.QdeviceAlive | votequorum.QdeviceCastVote
	waitFor(t, "the vote", log, func() bool { return flags(srv)&want == want })
	st := status(t, statusPath)
	for _, s := range []string{"Qdevice information", "Model:", "Ping", "Ring ID:", "Membership node list:", " 1 2 3\n", "Heuristics result:", "pass 1/1", "cast vote Yes"} {
		if !strings.Contains(st, s) {
			t.Errorf("status lacks %q:\n%s", s, st)
		}
	}

	// Alone out of three: a minority never gets the vote.
	srv.SetMembership(votequorum.RingID{NodeID: 1, Seq: 8}, []uint32{1})
	waitFor(t, "the vote withdrawn", log, func() bool { return flags(srv)&votequorum.QdeviceCastVote == 0 })
	if !strings.Contains(status(t, statusPath), "minority") {
		t.Errorf("status does not explain the decision:\n%s", status(t, statusPath))
	}
	srv.SetMembership(votequorum.RingID{NodeID: 1, Seq: 12}, []uint32{1, 3})
	waitFor(t, "the vote back", log, func() bool { return flags(srv)&votequorum.QdeviceCastVote != 0 })

	if code := stop(); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, log)
	}
	calls := strings.Join(srv.Calls(), "\n")
	if !strings.Contains(calls, "qdevice register Ping") || !strings.HasSuffix(calls, "qdevice unregister Ping") {
		t.Fatalf("calls:\n%s", calls)
	}
	if _, err := os.Stat(statusPath); !os.IsNotExist(err) {
		t.Errorf("status socket left behind: %v", err)
	}
}

func TestDaemonQdisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qdisk")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A block node 2 wrote in an earlier run: it shows the storage is
	// shared; node 2 itself is down.
	d, err := qdisk.OpenDisk(path, "test", 3)
	if err != nil {
		t.Fatal(err)
	}
	old := qdisk.Block{NodeID: 2, Incarnation: 1, Seq: 77, State: qdisk.StateRunning, Eligible: true,
		Ring: qdevice.RingID{NodeID: 1, Seq: 4}, Members: []uint32{1, 2}}
	enc, _ := old.AppendTo(nil)
	if _, werr, rerr := d.Cycle(2, enc); werr != nil || rerr != nil {
		t.Fatal(werr, rerr)
	}
	d.Close()

	srv := votequorumtest.Start(t, votequorumtest.Options{
		NodeID:  1,
		Nodes:   []votequorumtest.Node{{ID: 1}, {ID: 2}, {ID: 3}},
		Members: []uint32{1, 3},
	})
	statusPath, log, stop := daemon(t, srv, fmt.Sprintf(`
		model: qdisk
		timeout: 1000
		qdisk {
			path: %s
			interval: 100
		}`, path))
	want := votequorum.QdeviceRegistered | votequorum.QdeviceAlive | votequorum.QdeviceCastVote
	waitFor(t, "the vote", log, func() bool { return flags(srv)&want == want })
	st := status(t, statusPath)
	for _, s := range []string{"Qdisk", "Master:", "Node 1:", "this node, running, eligible", "Node 2:", "dead, running, eligible, score 0/0, seq 77"} {
		if !strings.Contains(st, s) {
			t.Errorf("status lacks %q:\n%s", s, st)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, log)
	}
	// The leaving block is on the storage.
	d, err = qdisk.OpenDisk(path, "test", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	slots, _, rerr := d.Cycle(3, nil)
	if rerr != nil {
		t.Fatal(rerr)
	}
	b, err := qdisk.DecodeBlock(slots[1])
	if err != nil || b.State != qdisk.StateLeaving || b.Eligible || b.Cast {
		t.Fatalf("node 1's last block %+v, %v", b, err)
	}
}

func TestStatusNotRunning(t *testing.T) {
	var out, errb strings.Builder
	code := run(context.Background(), []string{"-s", "-p", filepath.Join(t.TempDir(), "none.sock")}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "not running") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

func TestStatusSocketInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := listenStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := listenStatus(path); err == nil || !strings.Contains(err.Error(), "another qdevice daemon") {
		t.Fatalf("second listener: %v", err)
	}
	// A stale socket file (no listener) is replaced.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := listenStatus(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln2.Close()
}

func TestUsage(t *testing.T) {
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "usage: qdevice") {
		t.Fatalf("exit %d: %q", code, out.String())
	}
	if code := run(context.Background(), []string{"-x"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "invalid option -- 'x'") {
		t.Fatalf("exit %d: %q", code, errb.String())
	}
}

func TestFormatStatus(t *testing.T) {
	got := formatStatus([]qdevice.Field{{Name: "Model", Value: "Qdisk"}, {Name: "Node ID", Value: "1"}})
	want := "Qdevice information\n-------------------\nModel:   Qdisk\nNode ID: 1\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
