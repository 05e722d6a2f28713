//go:build linux

package transport

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Network namespaces for the tests that need real links (MTU, IP
// fragmentation, multicast) or extra addresses. Every namespace is created
// by the test that uses it and deleted when it ends; nothing is routed from
// the root namespace, so no datagram can leave the machine.

// nsPrefix starts our namespace names: cgtr<pid>-<seq>.
const nsPrefix = "cgtr"

var (
	nsSeq        atomic.Int64
	nsStaleOnce  sync.Once
	nsStaleRegex = regexp.MustCompile(`^` + nsPrefix + `([0-9]+)-`)
)

type testNS struct {
	t    testing.TB
	name string
}

// requireNetns skips the test unless it can create network namespaces.
func requireNetns(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: creating network namespaces needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: the ip command (iproute2) is not installed")
	}
	if _, err := os.Stat("/proc/thread-self/ns/net"); err != nil {
		t.Skipf("skipped: no network namespace support: %v", err)
	}
	nsStaleOnce.Do(func() { removeStaleNamespaces(t) })
}

// removeStaleNamespaces deletes namespaces left by earlier test processes
// of this package that died before their cleanup ran.
func removeStaleNamespaces(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		m := nsStaleRegex.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		if err := exec.Command("ip", "netns", "del", name).Run(); err == nil {
			t.Logf("removed stale namespace %s", name)
		}
	}
}

// newNS creates an empty namespace with lo up, deleted at the test's end.
func newNS(t testing.TB) *testNS {
	t.Helper()
	n := &testNS{t: t, name: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsSeq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Skipf("skipped: ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", n.name, err, out)
		}
	})
	n.ip("link set lo up")
	return n
}

// ip runs "ip -n <ns> args".
func (n *testNS) ip(args string) {
	n.t.Helper()
	cmd := exec.Command("ip", append([]string{"-n", n.name}, strings.Fields(args)...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("ip -n %s %s: %v: %s", n.name, args, err, out)
	}
}

// do runs fn on an OS thread inside the namespace. Sockets fn creates stay
// in it for good.
func (n *testNS) do(fn func()) {
	n.t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + n.name)
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		defer func() {
			// Back to the original namespace; if that fails the thread
			// stays locked and dies with this goroutine.
			if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
			done <- nil
		}()
		fn()
	}()
	if err := <-done; err != nil {
		n.t.Fatal(err)
	}
}

// start creates the transport inside the namespace.
func (n *testNS) start(cfg Config) *node {
	n.t.Helper()
	var tr Transport
	var err error
	n.do(func() { tr, err = New(cfg) })
	if err != nil {
		n.t.Fatalf("New in %s: %v", n.name, err)
	}
	return runNode(n.t, tr)
}

// snmp reads a counter of /proc/net/snmp (for example "Ip", "ReasmOKs")
// inside the namespace.
func (n *testNS) snmp(section, field string) int64 {
	n.t.Helper()
	var val int64 = -1
	var err error
	n.do(func() {
		var f *os.File
		f, err = os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		var names []string
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != section+":" {
				continue
			}
			if names == nil {
				names = fields[1:]
				continue
			}
			for i, name := range names {
				if name == field && i+1 < len(fields) {
					val, err = strconv.ParseInt(fields[i+1], 10, 64)
				}
			}
			return
		}
	})
	if err != nil || val < 0 {
		n.t.Fatalf("snmp %s %s in %s: %v", section, field, n.name, err)
	}
	return val
}

// lan is hosts on one Ethernet segment: a bridge in a namespace of its
// own, and per host a namespace with eth0 (a veth to the bridge) holding
// 10.231.0.<i>/24 and fd00:231::<i>/64.
type lan struct {
	sw    *testNS
	hosts []*testNS
	v4    []netip.Addr
	v6    []netip.Addr
}

func newLAN(t testing.TB, hosts, mtu int) *lan {
	t.Helper()
	requireNetns(t)
	l := &lan{sw: newNS(t)}
	l.sw.ip("link add br0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0")
	l.sw.ip("link set br0 up")
	for i := 1; i <= hosts; i++ {
		h := newNS(t)
		h.ip(fmt.Sprintf("link add eth0 mtu %d type veth peer name p%d mtu %d netns %s", mtu, i, mtu, l.sw.name))
		l.sw.ip(fmt.Sprintf("link set p%d master br0", i))
		l.sw.ip(fmt.Sprintf("link set p%d up", i))
		v4 := netip.AddrFrom4([4]byte{10, 231, 0, byte(i)})
		v6 := netip.MustParseAddr(fmt.Sprintf("fd00:231::%d", i))
		h.ip(fmt.Sprintf("addr add %s/24 dev eth0", v4))
		h.ip(fmt.Sprintf("addr add %s/64 dev eth0 nodad", v6))
		h.ip("link set eth0 up")
		l.hosts = append(l.hosts, h)
		l.v4 = append(l.v4, v4)
		l.v6 = append(l.v6, v6)
	}
	return l
}
