package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client/cfgclient"
	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service/cmap"
)

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m)) }

type result struct {
	code           int
	stdout, stderr string
}

// cfgtool runs the tool against s with args.
func cfgtool(t *testing.T, s *clienttest.Server, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	tl := &tool{stdout: &out, stderr: &errb, sleep: func(context.Context, time.Duration) error { return nil }}
	if s != nil {
		args = append([]string{"--socket", s.Path()}, args...)
	}
	code := tl.run(ctx, args)
	return result{code, out.String(), errb.String()}
}

func (r result) check(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Errorf("got exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s",
			r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

func start(t *testing.T) *clienttest.Server {
	return clienttest.Start(t, clienttest.Options{NodeID: 1, Links: udpuLinks("udpu")})
}

func TestStatus(t *testing.T) {
	s := start(t)
	cfgtool(t, s, "-s").check(t, 0, `Local node ID 1, transport udpu
LINK ID 0 
	addr	= 10.77.0.1
	status:
		nodeid:          1:	localhost
		nodeid:          2:	connected
		nodeid:          3:	disconnected
`, "")
	cfgtool(t, s, "-sb").check(t, 0, "Local node ID 1, transport udpu\nLINK ID 0 \n\taddr\t= 10.77.0.1\n\tstatus\t= n31\n", "")
	cfgtool(t, s, "-n").check(t, 0, `Local node ID 1, transport udpu
nodeid: 2 reachable
   LINK: 0  (10.77.0.2) enabled connected mtu: 1472

`, "")
}

func TestStatusFromEnvironment(t *testing.T) {
	s := start(t)
	t.Setenv(ipc.EnvSocket, s.Path())
	r := cfgtool(t, nil, "--status")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Local node ID 1, transport udpu\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestNoNodes(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 1})
	cfgtool(t, s, "-s").check(t, 1, "", "No nodes found in nodelist\n")
}

func TestNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	r := cfgtool(t, nil, "--socket", sock, "-s")
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "Could not initialize corosync configuration API error: cfg: corosyncd is not running") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestReload(t *testing.T) {
	s := start(t)
	cfgtool(t, s, "-R").check(t, 0, "Reloading corosync.conf...\nDone\n", "")
	if n := s.Reloads(); n != 1 {
		t.Errorf("%d reloads, want 1", n)
	}

	s.SetReload(func() error { return errors.New("bad token") })
	cfgtool(t, s, "--reload").check(t, 1, "Reloading corosync.conf...\n", "Could not reload configuration. Error CS_ERR_LIBRARY\n")

	// Accepted, but the daemon says it could not apply everything.
	s.SetReload(nil)
	s.SetKeys([]cmap.KV{{Key: reloadErrorKey, Type: cmap.TypeString, Value: "totem.ip_version cannot be changed"}})
	cfgtool(t, s, "-R").check(t, 1,
		"Reloading corosync.conf...\nDone\nERROR from reload: totem.ip_version cannot be changed - see syslog for more information\n",
		"Errors in applying config, corosync.conf might not match the running system\n")
}

func TestKillNode(t *testing.T) {
	s := start(t)
	cfgtool(t, s, "-k", "2").check(t, 0, "Killing node 2\n", "")
	if k := s.Kills(); len(k) != 1 || k[0].NodeID != 2 || k[0].Reason != killReason {
		t.Errorf("kills %+v", k)
	}
	cfgtool(t, s, "-k", "0").check(t, 1, "", "The nodeid was not valid, try a positive number\n")
	cfgtool(t, s, "--kill=x").check(t, 1, "", "The nodeid was not valid, try a positive number\n")
	if k := s.Kills(); len(k) != 1 {
		t.Errorf("invalid node ids sent kills: %+v", k)
	}
}

func TestShutdown(t *testing.T) {
	s := start(t)
	cfgtool(t, s, "-H", "--force").check(t, 0, "Shutting down corosync\n", "")
	for deadline := time.Now().Add(2 * time.Second); len(s.Shutdowns()) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if sd := s.Shutdowns(); len(sd) != 1 {
		t.Errorf("shutdowns %v, want one", sd)
	}
}

func TestShutdownRetries(t *testing.T) {
	s := start(t)
	var slept int
	run := func(args ...string) result {
		var out, errb bytes.Buffer
		tl := &tool{stdout: &out, stderr: &errb, socket: s.Path(),
			sleep: func(context.Context, time.Duration) error { slept++; return nil }}
		code := tl.run(context.Background(), args)
		return result{code, out.String(), errb.String()}
	}

	// Busy twice, then accepted.
	s.RefuseSends(2)
	run("-H").check(t, 0, "Shutting down corosync\n", "")
	// The shutdown is recorded when the engine's message comes back from
	// the fake ring, which may be just after the reply.
	for deadline := time.Now().Add(2 * time.Second); len(s.Shutdowns()) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if slept != 2 || len(s.Shutdowns()) != 1 {
		t.Errorf("slept %d times, %d shutdowns; want 2 and 1", slept, len(s.Shutdowns()))
	}

	// Busy for good: corosync-cfgtool gives up after 30 tries.
	slept = 0
	s.RefuseSends(1000)
	run("-H").check(t, 1, "Shutting down corosync\n", "Could not shutdown (error = CS_ERR_TRY_AGAIN)\n")
	if slept != shutdownTries-1 {
		t.Errorf("slept %d times, want %d", slept, shutdownTries-1)
	}

	// -k does not retry.
	run("-k", "3").check(t, 1, "Killing node 3\n", "Could not kill node (error = CS_ERR_TRY_AGAIN)\n")
}

func TestShowAddrs(t *testing.T) {
	s := start(t)
	cfgtool(t, s, "-a", "2").check(t, 0, "10.77.0.2\n", "")
	cfgtool(t, s, "-a", "9").check(t, 1, "", "Could not get node address for nodeid 9\n")
}

func TestReopenLogs(t *testing.T) {
	s := start(t)
	cfgtool(t, s, "-L").check(t, 1, "", "Could not reopen corosync logging files. Error CS_ERR_NOT_SUPPORTED\n")
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-h"}, {"-b"}, {"-r"}} {
		r := cfgtool(t, nil, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "cfgtool [[-i IP|LINK] [-b] -s]") || r.stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	cfgtool(t, nil, "-x").check(t, 1, "", "cfgtool: invalid option -- 'x'\n")
}

func TestLastActionWins(t *testing.T) {
	s := start(t)
	r := cfgtool(t, s, "-s", "-a", "1")
	r.check(t, 0, "10.77.0.1\n", "")
}

func TestNodeAddrs(t *testing.T) {
	s := cfgclient.NodeStatus{NodeID: 2, Links: []cfgclient.LinkStatus{
		{LinkNo: 2, RemoteAddr: "10.0.0.2"},
		{LinkNo: 0, RemoteAddr: "10.0.0.2:5405"},
		{LinkNo: 1, RemoteAddr: "fe80::2"},
		{LinkNo: 3},
	}}
	if got := strings.Join(nodeAddrs(s), " "); got != "10.0.0.2 fe80::2" {
		t.Errorf("nodeAddrs = %q", got)
	}
}
