package netns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a helper process: with NETNS_TEST_HELPER set
// it runs that helper instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("NETNS_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "udpecho":
		os.Exit(helperUDPEcho())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv("NETNS_TEST_HELPER"))
		os.Exit(2)
	}
}

// helperUDPEcho echoes UDP on NETNS_TEST_ADDR for at most 60 s, after
// printing the addresses it sees on its interfaces.
func helperUDPEcho() int {
	ifs, _ := net.InterfaceAddrs()
	fmt.Printf("helper: pid %d addrs %v\n", os.Getpid(), ifs)
	pc, err := net.ListenPacket("udp4", os.Getenv("NETNS_TEST_ADDR"))
	if err != nil {
		fmt.Println("helper:", err)
		return 1
	}
	fmt.Println("helper: listening on", pc.LocalAddr())
	_ = pc.SetDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			fmt.Println("helper:", err)
			return 0
		}
		_, _ = pc.WriteTo(buf[:n], from)
	}
}

func nsList(t *testing.T) []string {
	t.Helper()
	ip, err := lookTool("ip")
	if err != nil {
		t.Fatal(err)
	}
	names, err := listNamespaces(ip)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// probe returns how many of count echoes came back from to. It waits up
// to 2 s for them, but only 300 ms when none are expected.
func probe(t *testing.T, c *Cluster, from, to, count int, expect bool) int {
	t.Helper()
	wait := 300 * time.Millisecond
	if expect {
		wait = 2 * time.Second
	}
	got, err := c.Probe(from, to, count, wait)
	if err != nil {
		t.Fatalf("probe %d->%d: %v", from, to, err)
	}
	return got
}

// wantReach checks every ordered pair: reach(from, to) says whether from
// should reach to.
func wantReach(t *testing.T, c *Cluster, what string, reach func(from, to int) bool) {
	t.Helper()
	for from := 1; from <= c.N(); from++ {
		for to := 1; to <= c.N(); to++ {
			if from == to {
				continue
			}
			want := reach(from, to)
			got := probe(t, c, from, to, 3, want)
			if want && got != 3 || !want && got != 0 {
				t.Errorf("%s: %d->%d: %d of 3 echoes, want reachable=%v", what, from, to, got, want)
			}
		}
	}
}

func TestTopology(t *testing.T) {
	t.Parallel()
	c := New(t, 3)
	for i := 1; i <= 3; i++ {
		h := c.Host(i)
		if h.Index != i || !h.Prefix.Contains(h.Addr) || h.Addr.As4()[3] != byte(i) || !testNet.Contains(h.Addr) {
			t.Errorf("host %d: %+v", i, h)
		}
		out, err := c.Exec(i, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), h.Addr.String()+"/24") {
			t.Errorf("host %d eth0: %s", i, out)
		}
		out, err = c.Exec(i, "ip", "-o", "link", "show", "dev", "eth0")
		if err != nil || !strings.Contains(string(out), "mtu 1500") {
			t.Errorf("host %d eth0 mtu: %s %v", i, out, err)
		}
		out, err = c.Exec(i, "ip", "route", "show")
		if err != nil || strings.Contains(string(out), "default") {
			t.Errorf("host %d has a default route: %s %v", i, out, err)
		}
	}
	wantReach(t, c, "fresh", func(int, int) bool { return true })

	// ping too, when installed.
	if _, err := lookTool("ping"); err == nil {
		for i := 1; i <= 3; i++ {
			to := i%3 + 1
			if out, err := c.Exec(i, "ping", "-c1", "-W1", c.Host(to).Addr.String()); err != nil {
				t.Errorf("ping %d->%d: %v\n%s", i, to, err, out)
			}
		}
	} else {
		t.Log("ping not installed; UDP probes only")
	}

	// Isolation: neither the root namespace nor the switch namespace has
	// an address or a route in the cluster's subnet. Read-only checks:
	// nothing is ever sent from the root namespace.
	for _, args := range [][]string{{"-o", "-4", "addr", "show"}, {"-4", "route", "show", "table", "all"}} {
		out, err := runTool("", c.ipPath, args...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "10.213.") {
			t.Errorf("root namespace mentions 10.213.: ip %v:\n%s", args, out)
		}
		out, err = c.ipOut(c.SwitchNS(), args...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "10.213.") {
			t.Errorf("switch namespace has a cluster address: ip %v:\n%s", args, out)
		}
	}
}

func TestCutHeal(t *testing.T) {
	t.Parallel()
	c := New(t, 3)
	for _, how := range []CutMethod{CutLink, CutNFT} {
		if err := c.Cut(2, how); err != nil {
			t.Fatal(err)
		}
		wantReach(t, c, "cut 2 "+how.String(), func(from, to int) bool { return from != 2 && to != 2 })
		if err := c.Heal(2); err != nil {
			t.Fatal(err)
		}
		wantReach(t, c, "healed 2 "+how.String(), func(int, int) bool { return true })
	}
	// Heal of a host that was never cut is harmless.
	if err := c.Heal(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Cut(1, CutMethod(7)); !errors.Is(err, ErrBadHost) {
		t.Errorf("bad method: %v", err)
	}
	if err := c.Cut(4, CutLink); !errors.Is(err, ErrBadHost) {
		t.Errorf("bad host: %v", err)
	}
}

func TestPartition(t *testing.T) {
	t.Parallel()
	c := New(t, 4)
	// 4 is named in no group: it joins... its own extra group.
	if err := c.Partition([]int{1, 2}, []int{3}); err != nil {
		t.Fatal(err)
	}
	side := func(i int) int { return map[int]int{1: 1, 2: 1, 3: 2, 4: 3}[i] }
	wantReach(t, c, "partition 1,2|3|4", func(from, to int) bool { return side(from) == side(to) })
	if rules, err := c.Rules(1); err != nil || !strings.Contains(rules, tablePart) {
		t.Errorf("rules of host 1: %v\n%s", err, rules)
	}
	// A cut on top of a partition, then HealAll clears both.
	if err := c.Cut(1, CutNFT); err != nil {
		t.Fatal(err)
	}
	if got := probe(t, c, 1, 2, 3, false); got != 0 {
		t.Errorf("cut 1 inside partition: %d echoes", got)
	}
	if err := c.HealAll(); err != nil {
		t.Fatal(err)
	}
	wantReach(t, c, "heal all", func(int, int) bool { return true })
	if err := c.Partition([]int{1}, []int{1, 2}); !errors.Is(err, ErrBadHost) {
		t.Errorf("host in two groups: %v", err)
	}
	if err := c.Partition([]int{5}); !errors.Is(err, ErrBadHost) {
		t.Errorf("bad host: %v", err)
	}
}

// TestLoss sends 200 datagrams one way from host 1 to host 2, which drops
// 50% of what arrives: the count received is binomial(200, 0.5), mean 100,
// standard deviation about 7; the bounds are more than 5 deviations away.
func TestLoss(t *testing.T) {
	t.Parallel()
	c := New(t, 2)
	const sent = 200
	oneWay := func() int {
		rx, err := c.ListenPacket(2, "udp4", netip.AddrPortFrom(c.Host(2).Addr, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		defer rx.Close()
		tx, err := c.ListenPacket(1, "udp4", netip.AddrPortFrom(c.Host(1).Addr, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		done := make(chan int)
		go func() {
			seen := map[uint32]bool{}
			buf := make([]byte, 64)
			_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
			for len(seen) < sent {
				n, _, err := rx.ReadFrom(buf)
				if err != nil {
					break
				}
				if n == 4 {
					seen[binary.BigEndian.Uint32(buf)] = true
				}
				// Once sending is over, stop soon after the last arrival.
				_ = rx.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			}
			done <- len(seen)
		}()
		msg := make([]byte, 4)
		for s := range sent {
			binary.BigEndian.PutUint32(msg, uint32(s))
			if _, err := tx.WriteTo(msg, rx.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if s%20 == 19 {
				time.Sleep(time.Millisecond)
			}
		}
		return <-done
	}
	if got := oneWay(); got != sent {
		t.Fatalf("no loss: %d of %d arrived", got, sent)
	}
	if err := c.Loss(2, 50); err != nil {
		t.Fatal(err)
	}
	got := oneWay()
	t.Logf("50%% loss: %d of %d arrived", got, sent)
	if got < 60 || got > 140 {
		t.Errorf("50%% loss: %d of %d arrived, want about half", got, sent)
	}
	// Round trip through the echo: the request is dropped at 2 half of the
	// time, the echo leaves 2 unharmed.
	rt := probe(t, c, 1, 2, sent, false)
	t.Logf("50%% loss, round trip: %d of %d", rt, sent)
	if rt < 60 || rt > 140 {
		t.Errorf("50%% loss round trip: %d of %d", rt, sent)
	}
	if err := c.LossInOut(2, 100, 0); err != nil {
		t.Fatal(err)
	}
	if got := probe(t, c, 1, 2, 5, false); got != 0 {
		t.Errorf("100%% loss: %d echoes", got)
	}
	if err := c.NoLoss(2); err != nil {
		t.Fatal(err)
	}
	if got := oneWay(); got != sent {
		t.Errorf("after NoLoss: %d of %d arrived", got, sent)
	}
	if err := c.Loss(2, 101); !errors.Is(err, ErrBadHost) {
		t.Errorf("101%%: %v", err)
	}
}

// procStates returns the state letters of every thread of pid ("" if it
// is gone).
func procStates(pid int) string {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var states []byte
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue
		}
		if k := bytes.LastIndexByte(b, ')'); k >= 0 && k+2 < len(b) {
			states = append(states, b[k+2])
		}
	}
	return string(states)
}

// waitState waits until every thread of pid is in one of the states want.
func waitState(t *testing.T, pid int, want string) {
	t.Helper()
	all := func(states string) bool {
		for _, s := range []byte(states) {
			if strings.IndexByte(want, s) < 0 {
				return false
			}
		}
		return states != ""
	}
	for range 200 {
		if all(procStates(pid)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("pid %d: thread states %q, want all in %q", pid, procStates(pid), want)
}

func TestProcesses(t *testing.T) {
	t.Parallel()
	c := New(t, 2)
	pid, err := c.Start(1, Spec{Args: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Running(1) || c.PID(1) != pid {
		t.Fatalf("running %v pid %d want %d", c.Running(1), c.PID(1), pid)
	}
	// The process lives in host 1's network namespace.
	self, _ := os.Readlink("/proc/self/ns/net")
	theirs, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	want, _ := os.Stat(nsPath(c.Host(1).NS))
	if st, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/ns/net"); err != nil || !os.SameFile(st, want) || theirs == self {
		t.Errorf("pid %d netns %s, test %s: not host 1's (%v)", pid, theirs, self, err)
	}
	if _, err := c.Start(1, Spec{Args: []string{"sleep", "1"}}); !errors.Is(err, ErrRunning) {
		t.Errorf("second start: %v", err)
	}
	if err := c.Stop(1); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, "T")
	if err := c.Cont(1); err != nil {
		t.Fatal(err)
	}
	waitState(t, pid, "SR")
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if c.Running(1) {
		t.Error("running after Kill")
	}
	if err := c.Kill(1); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Kill: %v", err)
	}
	if err := c.Stop(1); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Stop after Kill: %v", err)
	}

	// Restart; Terminate a stopped process: SIGTERM plus SIGCONT.
	if _, err := c.Start(1, Spec{Args: []string{"sleep", "60"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Terminate(1, 5*time.Second); err == nil || errors.Is(err, ErrTimeout) {
		t.Errorf("terminate: %v, want signal: terminated", err)
	}
	// A program that ignores SIGTERM is killed after the timeout.
	if _, err := c.Start(1, Spec{Args: []string{"sh", "-c", "trap '' TERM; echo is-$((1+1)); exec sleep 60"}}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, c.Host(1).Log, "is-2") // not in the header line
	if err := c.Terminate(1, 200*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Errorf("terminate of a program ignoring SIGTERM: %v", err)
	}
	// Exit status and Wait.
	if _, err := c.Start(1, Spec{Args: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(1, 5*time.Second); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("wait: %v", err)
	}
	log, _ := os.ReadFile(c.Host(1).Log)
	for _, w := range []string{"out\n", "err\n", "=== netns:"} {
		if !bytes.Contains(log, []byte(w)) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}

	// The test binary as a UDP echo server on host 2, reached from host 1.
	addr := netip.AddrPortFrom(c.Host(2).Addr, 7777)
	if _, err := c.Start(2, Spec{
		Args: []string{os.Args[0]},
		Env:  []string{"NETNS_TEST_HELPER=udpecho", "NETNS_TEST_ADDR=" + addr.String()},
	}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, c.Host(2).Log, "helper: listening")
	pc, err := c.ListenPacket(1, "udp4", netip.AddrPortFrom(c.Host(1).Addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	echoOnce := func() error {
		if _, err := pc.WriteTo([]byte("hello"), net.UDPAddrFromAddrPort(addr)); err != nil {
			return err
		}
		_ = pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 16)
		n, _, err := pc.ReadFrom(buf)
		if err == nil && string(buf[:n]) != "hello" {
			err = fmt.Errorf("echo %q", buf[:n])
		}
		return err
	}
	if err := echoOnce(); err != nil {
		t.Errorf("echo from helper: %v", err)
	}
	if err := c.Stop(2); err != nil {
		t.Fatal(err)
	}
	waitState(t, c.PID(2), "T") // SIGSTOP takes a moment to stop every thread
	if err := echoOnce(); err == nil {
		t.Error("a stopped helper echoed")
	}
	if err := c.Cont(2); err != nil {
		t.Fatal(err)
	}
	// The datagram sent while stopped is echoed now; drain it.
	for range 3 {
		if err := echoOnce(); err == nil {
			break
		}
	}
	if log, _ := os.ReadFile(c.Host(2).Log); !bytes.Contains(log, []byte(c.Host(2).Addr.String())) {
		t.Errorf("helper does not see its address:\n%s", log)
	}
	// Left running on purpose: Close (at cleanup) kills it.
}

func waitLog(t *testing.T, path, want string) {
	t.Helper()
	for range 500 {
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(want)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s: no %q after 5 s:\n%s", path, want, b)
}

func TestPrivateRun(t *testing.T) {
	t.Parallel()
	c := New(t, 1)
	h := c.Host(1)
	marker := fmt.Sprintf("netns-test-%d.pid", os.Getpid())
	if _, err := os.Stat(filepath.Join("/run", marker)); err == nil {
		t.Fatalf("/run/%s exists before the test", marker)
	}
	if _, err := c.Start(1, Spec{
		Args:       []string{"sh", "-c", "echo $$ > /var/run/" + marker + " && echo ifs: $(ls /sys/class/net)"},
		PrivateRun: true,
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(1, 5*time.Second); err != nil {
		b, _ := os.ReadFile(h.Log)
		t.Fatalf("wait: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(h.RunDir, marker)); err != nil {
		t.Errorf("marker not in the host's run dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/run", marker)); err == nil {
		os.Remove(filepath.Join("/run", marker))
		t.Errorf("marker written to the real /run")
	}
	log, _ := os.ReadFile(h.Log)
	if !bytes.Contains(log, []byte("\nifs: eth0 lo\n")) {
		t.Errorf("private /sys does not show eth0:\n%s", log)
	}
}

// TestClose checks that Close removes every namespace, kills what runs in
// them, is idempotent, and that the cluster refuses work afterwards.
func TestClose(t *testing.T) {
	t.Parallel()
	if err := Available(); err != nil {
		t.Skipf("skipping network namespace test: %v", err)
	}
	var logBuf bytes.Buffer
	c, err := Create(Options{Hosts: 2, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pid, err := c.Start(1, Spec{Args: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	// A process started behind the cluster's back (by Exec's sh, which
	// returns at once): Close must find it by namespace and kill it.
	if _, err := c.Exec(2, "sh", "-c", "sleep 60 >/dev/null 2>&1 </dev/null &"); err != nil {
		t.Fatal(err)
	}
	names := []string{c.SwitchNS(), c.Host(1).NS, c.Host(2).NS}
	dir := c.Dir()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	left := map[string]bool{}
	for _, n := range nsList(t) {
		left[n] = true
	}
	for _, n := range names {
		if left[n] {
			t.Errorf("namespace %s left after Close", n)
		}
	}
	if !strings.Contains(logBuf.String(), "killing leftover process") {
		t.Errorf("Close did not kill the process left in host 2:\n%s", logBuf.String())
	}
	if pidAlive(pid) && !zombie(pid) {
		t.Errorf("pid %d alive after Close", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("own dir %s left: %v", dir, err)
	}
	if _, err := c.Start(1, Spec{Args: []string{"true"}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	if _, err := c.Exec(1, "true"); !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after Close: %v", err)
	}
}

// TestStale fakes the namespace of a crashed run (a PID above pid_max, so
// surely dead) and checks that CleanupStale deletes it and nothing else.
func TestStale(t *testing.T) {
	t.Parallel()
	if err := Available(); err != nil {
		t.Skipf("skipping network namespace test: %v", err)
	}
	b, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	ip, _ := lookTool("ip")
	dead := fmt.Sprintf("%s%d-1h1", nsPrefix, pidMax+1)
	other := fmt.Sprintf("netns-test-other-%d", os.Getpid()) // not ours: must stay
	for _, n := range []string{dead, other} {
		if _, err := runTool("", ip, "netns", "add", n); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, n := range []string{dead, other} {
			if _, err := os.Stat(nsPath(n)); err == nil {
				_, _ = runTool("", ip, "netns", "del", n)
			}
		}
	})
	removed, err := CleanupStale(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first Create of a parallel test may have removed it already.
	t.Logf("CleanupStale removed %v", removed)
	left := strings.Join(nsList(t), " ")
	if strings.Contains(left, dead) || !strings.Contains(left, other) {
		t.Errorf("namespaces after cleanup: %s", left)
	}
	if err := deleteNamespaces(ip, []string{other}, nil); err == nil {
		t.Error("deleteNamespaces accepted a foreign name")
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	if err := Available(); err != nil {
		t.Skipf("skipping network namespace test: %v", err)
	}
	for _, o := range []Options{
		{Hosts: 0},
		{Hosts: MaxHosts + 1},
		{Hosts: 2, Subnet: netip.MustParsePrefix("192.168.1.0/24")},
		{Hosts: 2, Subnet: netip.MustParsePrefix("10.213.0.0/16")},
		{Hosts: 2, MTU: 10},
	} {
		if c, err := Create(o); err == nil {
			c.Close()
			t.Errorf("Create(%+v) succeeded", o)
		}
	}
	c := NewWith(t, Options{Hosts: 2, Subnet: netip.MustParsePrefix("10.213.77.0/24")})
	if got := c.Host(2).Addr.String(); got != "10.213.77.2" {
		t.Errorf("host 2 addr %s", got)
	}
	if got := probe(t, c, 1, 2, 3, true); got != 3 {
		t.Errorf("probe: %d of 3", got)
	}
	for _, a := range []string{"localhost:1", "example.com:80"} {
		if _, err := c.Dial(1, "udp", a); !errors.Is(err, ErrBadHost) {
			t.Errorf("Dial %s: %v, want ErrBadHost", a, err)
		}
	}
	// TCP over the bridge, and an abstract unix socket, which exists only
	// in its own network namespace.
	l, err := c.Listen(2, "tcp", netip.AddrPortFrom(c.Host(2).Addr, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if conn, err := l.Accept(); err == nil {
			_, _ = conn.Write([]byte("hi"))
			conn.Close()
		}
	}()
	conn, err := c.Dial(1, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	conn.Close()
	if string(b) != "hi" {
		t.Errorf("tcp read %q", b)
	}
	abstract := fmt.Sprintf("@netns-test-%d", os.Getpid())
	ul, err := c.Listen(1, "unix", abstract)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	if conn, err := c.Dial(1, "unix", abstract); err != nil {
		t.Errorf("dial abstract socket in its namespace: %v", err)
	} else {
		conn.Close()
	}
	if conn, err := c.Dial(2, "unix", abstract); err == nil {
		conn.Close()
		t.Errorf("abstract socket of host 1 reached from host 2")
	}
}

// TestNoRoot covers what needs no namespace: names, address checks, nft
// scripts.
func TestNoRoot(t *testing.T) {
	for name, ours := range map[string]bool{
		"cg123-4sw": true, "cg123-4h12": true, "cg123-4h": false, "cgtr123-4": false,
		"cb1": false, "cg123-4sw2": false, "xcg123-4sw": false,
	} {
		if nsNameRE.MatchString(name) != ours {
			t.Errorf("%q: ours=%v", name, !ours)
		}
	}
	for addr, ok := range map[string]bool{
		":0": true, "10.213.1.2:5405": true, "[::1]:1": true,
		"localhost:1": false, "example.com:80": false, "10.213.1.2": false,
	} {
		if err := literalAddr("udp", addr); (err == nil) != ok {
			t.Errorf("literalAddr(%q): %v", addr, err)
		}
	}
	if err := literalAddr("unix", "@abstract"); err != nil {
		t.Errorf("unix: %v", err)
	}
	if got, want := replaceTable("t", ""), "table inet t\ndelete table inet t\n"; got != want {
		t.Errorf("remove script %q", got)
	}
	if got := replaceTable("t", "\tchain c {}\n"); !strings.HasSuffix(got, "table inet t {\n\tchain c {}\n}\n") {
		t.Errorf("replace script %q", got)
	}
	if got := hostAddr(netip.MustParsePrefix("10.213.5.0/24"), 7); got.String() != "10.213.5.7" {
		t.Errorf("hostAddr %v", got)
	}
}
