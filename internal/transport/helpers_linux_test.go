//go:build linux

package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/corogo/corogo/totem"
)

// waitFor bounds every wait of the tests.
const waitFor = 5 * time.Second

// freePort returns a port that is free for UDP on every address, and (when
// below is set) also one below it: the udp transport binds Port−1 too.
func freePort(t testing.TB, below bool, addrs ...netip.Addr) uint16 {
	t.Helper()
	for range 50 {
		probe, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addrs[0], 0)))
		if err != nil {
			t.Fatalf("probe port: %v", err)
		}
		port := uint16(probe.LocalAddr().(*net.UDPAddr).Port)
		probe.Close()
		if port < 1024 || port == 65535 {
			continue
		}
		ok := true
		var held []*net.UDPConn
		for _, a := range addrs {
			ports := []uint16{port}
			if below {
				ports = append(ports, port-1)
			}
			for _, p := range ports {
				c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, p)))
				if err != nil {
					ok = false
					break
				}
				held = append(held, c)
			}
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port found")
	return 0
}

// members builds a nodelist: node i+1 at addrs[i].
func members(addrs ...netip.Addr) []Member {
	ms := make([]Member, len(addrs))
	for i, a := range addrs {
		ms[i] = Member{NodeID: totem.NodeID(i + 1), Addr: a}
	}
	return ms
}

func udpuConfig(id totem.NodeID, local netip.Addr, port uint16, ms []Member) Config {
	cfg := DefaultConfig(UDPU)
	cfg.LocalNodeID, cfg.Local, cfg.Port, cfg.Members = id, local, port, ms
	return cfg
}

// rx is a received datagram, copied out of the batch.
type rx struct {
	from netip.AddrPort
	data []byte
}

// node is a transport under test with a goroutine draining Receive into a
// channel.
type node struct {
	t    testing.TB
	tr   Transport
	rx   chan rx
	done chan error // Receive's final error
}

func startNode(t testing.TB, cfg Config) *node {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New(node %d at %v): %v", cfg.LocalNodeID, cfg.Local, err)
	}
	return runNode(t, tr)
}

func runNode(t testing.TB, tr Transport) *node {
	n := &node{t: t, tr: tr, rx: make(chan rx, 4096), done: make(chan error, 1)}
	go func() {
		batch := make([]Datagram, 16)
		for {
			k, err := tr.Receive(batch)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					n.done <- err
					return
				}
				t.Errorf("Receive: %v", err)
				n.done <- err
				return
			}
			for _, d := range batch[:k] {
				n.rx <- rx{from: d.From, data: bytes.Clone(d.Data)}
			}
		}
	}()
	t.Cleanup(func() {
		tr.Close()
		select {
		case <-n.done:
		case <-time.After(waitFor):
			t.Errorf("Receive did not return after Close")
		}
	})
	return n
}

// expect waits for the next datagram and checks its payload.
func (n *node) expect(want []byte) rx {
	n.t.Helper()
	select {
	case got := <-n.rx:
		if !bytes.Equal(got.data, want) {
			n.t.Fatalf("%v received %q from %v, want %q", n.tr.LocalAddr(), trim(got.data), got.from, trim(want))
		}
		return got
	case <-time.After(waitFor):
		n.t.Fatalf("%v: nothing received within %v, want %q", n.tr.LocalAddr(), waitFor, trim(want))
	}
	return rx{}
}

// expectNone checks that nothing is pending right now.
func (n *node) expectNone() {
	n.t.Helper()
	select {
	case got := <-n.rx:
		n.t.Fatalf("%v received unexpected %q from %v", n.tr.LocalAddr(), trim(got.data), got.from)
	default:
	}
}

func trim(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%s…(%d bytes)", b[:40], len(b))
	}
	return string(b)
}

func bcast(data string) totem.Frame { return totem.Frame{To: totem.Broadcast, Data: []byte(data)} }

func token(to totem.NodeID, data string) totem.Frame {
	return totem.Frame{To: to, Token: true, Data: []byte(data)}
}

func mustSend(t testing.TB, tr Transport, frames ...totem.Frame) {
	t.Helper()
	if err := tr.Send(frames); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
