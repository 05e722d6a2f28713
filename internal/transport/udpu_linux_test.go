//go:build linux

package transport

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corogo/corogo/totem"
)

var loopback3 = []netip.Addr{addr("127.0.0.1"), addr("127.0.0.2"), addr("127.0.0.3")}

// threeNodes starts udpu nodes 1..3 on 127.0.0.1..3, one port.
func threeNodes(t *testing.T, mutate func(*Config)) ([]*node, uint16) {
	t.Helper()
	port := freePort(t, false, loopback3...)
	ms := members(loopback3...)
	nodes := make([]*node, 3)
	for i, a := range loopback3 {
		cfg := udpuConfig(totem.NodeID(i+1), a, port, ms)
		if mutate != nil {
			mutate(&cfg)
		}
		nodes[i] = startNode(t, cfg)
	}
	return nodes, port
}

// §1.2, §1.3: a broadcast reaches every member, the sender included, from
// the send socket's ephemeral port; a token reaches only its target, from
// the token socket (source port = mcastport).
func TestUDPUBroadcastAndToken(t *testing.T) {
	nodes, port := threeNodes(t, nil)
	for i, n := range nodes {
		if got, want := n.tr.LocalAddr(), netip.AddrPortFrom(loopback3[i], port); got != want {
			t.Fatalf("LocalAddr = %v, want %v", got, want)
		}
	}

	mustSend(t, nodes[0].tr, bcast("mcast from 1"))
	for _, n := range nodes {
		got := n.expect([]byte("mcast from 1"))
		if got.from.Addr() != loopback3[0] || got.from.Port() == port {
			t.Errorf("broadcast came from %v, want 127.0.0.1 and an ephemeral port", got.from)
		}
	}

	mustSend(t, nodes[0].tr, token(2, "token 1→2"))
	got := nodes[1].expect([]byte("token 1→2"))
	if want := netip.AddrPortFrom(loopback3[0], port); got.from != want {
		t.Errorf("token came from %v, want %v", got.from, want)
	}

	// A batch: broadcasts and a token, in order.
	mustSend(t, nodes[2].tr, bcast("a"), bcast("b"), token(1, "tok"), bcast("c"))
	nodes[0].expect([]byte("a"))
	nodes[0].expect([]byte("b"))
	nodes[0].expect([]byte("tok"))
	nodes[0].expect([]byte("c"))
	for _, n := range nodes[1:] {
		n.expect([]byte("a"))
		n.expect([]byte("b"))
		n.expect([]byte("c"))
	}
	for _, n := range nodes {
		n.expectNone()
	}
	st := nodes[2].tr.Stats()
	if st.TxDatagrams != 3*3+1 || st.TxErrors != 0 {
		t.Errorf("node 3 stats %+v, want 10 datagrams sent, no errors", st)
	}
	if st := nodes[0].tr.Stats(); st.RxDatagrams != 1+4 {
		t.Errorf("node 1 stats %+v, want 5 datagrams received", st)
	}
}

// A Send larger than one sendmmsg (256 datagrams) is split, in order, and
// a Receive batch larger than one recvmmsg (1024) is capped.
func TestUDPULargeBatch(t *testing.T) {
	const frames = 200 // 600 datagrams
	nodes, _ := threeNodes(t, nil)
	var batch []totem.Frame
	for i := range frames {
		batch = append(batch, bcast(fmt.Sprintf("frame %03d", i)))
		if i == frames/2 {
			batch = append(batch, token(2, "token in the middle"))
		}
	}
	mustSend(t, nodes[0].tr, batch...)
	for i, n := range nodes {
		for j := range frames {
			n.expect([]byte(fmt.Sprintf("frame %03d", j)))
			if i == 1 && j == frames/2 {
				n.expect([]byte("token in the middle"))
			}
		}
	}
	if st := nodes[0].tr.Stats(); st.TxDatagrams != 3*frames+1 {
		t.Errorf("stats %+v", st)
	}

	port := freePort(t, false, loopback3[0])
	tr, err := New(udpuConfig(1, loopback3[0], port, members(loopback3[0])))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	big := make([]Datagram, 1500)
	var many []totem.Frame
	for range 1200 {
		many = append(many, bcast("x"))
	}
	mustSend(t, tr, many...)
	n, err := tr.Receive(big)
	if err != nil || n != maxReadBatch {
		t.Fatalf("Receive = %d, %v; want %d", n, err, maxReadBatch)
	}
	if n, err = tr.Receive(big); err != nil || n != 1200-maxReadBatch {
		t.Fatalf("second Receive = %d, %v; want %d", n, err, 1200-maxReadBatch)
	}
}

// A token addressed to this node itself goes through the token socket.
func TestUDPUSelfDelivery(t *testing.T) {
	port := freePort(t, false, loopback3[0])
	n := startNode(t, udpuConfig(1, loopback3[0], port, members(loopback3[0])))
	mustSend(t, n.tr, bcast("self"), token(1, "self token"))
	n.expect([]byte("self"))
	n.expect([]byte("self token"))
}

// The first datagram of shared/spec/corosync-udpu-sample.pcap (a
// MEMB_JOIN from node 1) passes byte for byte.
func TestUDPUCapturedJoinUnchanged(t *testing.T) {
	join := []byte{
		0x70, 0xc0, 0x03, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
		0x00,
	}
	if len(join) != 37 {
		t.Fatalf("join is %d bytes", len(join))
	}
	nodes, _ := threeNodes(t, nil)
	sent := bytes.Clone(join)
	if err := nodes[0].tr.Send([]totem.Frame{{To: totem.Broadcast, Data: sent}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.expect(join)
	}
	if !bytes.Equal(sent, join) {
		t.Error("Send modified the frame")
	}
}

// §1.4: with block_unlisted_ips a datagram from an address outside the
// nodelist is dropped and counted, whatever its port; without, it passes.
func TestUDPUBlockUnlisted(t *testing.T) {
	for _, block := range []bool{true, false} {
		t.Run(fmt.Sprintf("block=%v", block), func(t *testing.T) {
			nodes, port := threeNodes(t, func(c *Config) { c.BlockUnlisted = block })
			stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)})
			if err != nil {
				t.Fatal(err)
			}
			defer stranger.Close()
			// From a member's port number, to show the port is ignored.
			dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback3[0], port))
			if _, err := stranger.WriteToUDP([]byte("from 127.0.0.9"), dst); err != nil {
				t.Fatal(err)
			}
			mustSend(t, nodes[1].tr, token(1, "from member"))
			if !block {
				got := nodes[0].expect([]byte("from 127.0.0.9"))
				if got.from.Addr() != addr("127.0.0.9") {
					t.Errorf("from %v", got.from)
				}
			}
			nodes[0].expect([]byte("from member"))
			st := nodes[0].tr.Stats()
			want := uint64(0)
			if block {
				want = 1
			}
			if st.RxUnlisted != want {
				t.Errorf("RxUnlisted = %d, want %d", st.RxUnlisted, want)
			}
		})
	}
}

// A frame for a node id outside the table is skipped, counted and
// reported; the rest of the batch is sent.
func TestUDPUUnknownTarget(t *testing.T) {
	nodes, _ := threeNodes(t, nil)
	err := nodes[0].tr.Send([]totem.Frame{token(99, "lost"), bcast("after"), token(2, "tok")})
	if !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("Send error %v, want ErrUnknownNode", err)
	}
	for _, n := range nodes {
		n.expect([]byte("after"))
	}
	nodes[1].expect([]byte("tok"))
	if st := nodes[0].tr.Stats(); st.TxErrors != 1 || st.TxDatagrams != 4 {
		t.Errorf("stats %+v, want 1 error and 4 datagrams", st)
	}
}

// §1.4: a datagram larger than the receive buffer (MSG_TRUNC) is dropped
// and counted.
func TestUDPUTruncated(t *testing.T) {
	port := freePort(t, false, loopback3...)
	ms := members(loopback3...)
	cfg := udpuConfig(1, loopback3[0], port, ms)
	cfg.RecvBufferSize = 1024
	cfg.NetMTU = 1000
	n := startNode(t, cfg)
	peer := startNode(t, udpuConfig(2, loopback3[1], port, ms))
	mustSend(t, peer.tr, token(1, string(make([]byte, 1025))), token(1, string(make([]byte, 1024))), token(1, "small"))
	n.expect(make([]byte, 1024))
	n.expect([]byte("small"))
	if st := n.tr.Stats(); st.RxTruncated != 1 || st.RxDatagrams != 2 {
		t.Errorf("stats %+v, want 1 truncated, 2 received", st)
	}
}

// §1.3: a configuration reload adds and removes members: the fan-out, the
// token targets and the receive filter follow.
func TestUDPUSetMembers(t *testing.T) {
	port := freePort(t, false, loopback3...)
	all := members(loopback3...)
	n1 := startNode(t, udpuConfig(1, loopback3[0], port, all[:2]))
	n2 := startNode(t, udpuConfig(2, loopback3[1], port, all))
	n3 := startNode(t, udpuConfig(3, loopback3[2], port, all))

	mustSend(t, n1.tr, bcast("before"))
	n1.expect([]byte("before"))
	n2.expect([]byte("before"))
	if err := n1.tr.Send([]totem.Frame{token(3, "x")}); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("token to 3 before the reload: %v", err)
	}
	mustSend(t, n3.tr, bcast("3 unlisted"))
	n3.expect([]byte("3 unlisted"))
	n2.expect([]byte("3 unlisted"))

	if err := n1.tr.SetMembers(all); err != nil {
		t.Fatal(err)
	}
	mustSend(t, n1.tr, bcast("after add"))
	n3.expect([]byte("after add")) // its first: "before" never went to it
	n1.expect([]byte("after add"))
	n2.expect([]byte("after add"))
	mustSend(t, n3.tr, bcast("3 listed"))
	n1.expect([]byte("3 listed"))
	n2.expect([]byte("3 listed"))
	n3.expect([]byte("3 listed"))
	if st := n1.tr.Stats(); st.RxUnlisted != 1 {
		t.Errorf("node 1 RxUnlisted = %d, want 1", st.RxUnlisted)
	}

	// Remove node 2.
	if err := n1.tr.SetMembers([]Member{all[0], all[2]}); err != nil {
		t.Fatal(err)
	}
	mustSend(t, n1.tr, bcast("after remove"))
	n1.expect([]byte("after remove"))
	n3.expect([]byte("after remove"))
	if err := n1.tr.Send([]totem.Frame{token(2, "x")}); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("token to removed node 2: %v", err)
	}
	mustSend(t, n2.tr, token(1, "2 unlisted"), bcast("2 unlisted"))
	n2.expect([]byte("2 unlisted"))
	n3.expect([]byte("2 unlisted"))
	mustSend(t, n3.tr, token(1, "sync"))
	n1.expect([]byte("sync"))
	n2.expectNone()
	if st := n1.tr.Stats(); st.RxUnlisted != 3 {
		t.Errorf("node 1 RxUnlisted = %d, want 3", st.RxUnlisted)
	}

	// Invalid tables are refused and leave the old one.
	for _, bad := range [][]Member{
		{all[1], all[2]}, // without the local node
		{all[0], {NodeID: 2, Addr: addr("127.0.0.1")}},         // duplicate address
		{all[0], all[1], {NodeID: 2, Addr: addr("127.0.0.3")}}, // duplicate id
		{all[0], {NodeID: 5, Addr: addr("::1")}},               // wrong family
	} {
		if err := n1.tr.SetMembers(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("SetMembers(%v) = %v, want ErrInvalidConfig", bad, err)
		}
	}
	mustSend(t, n1.tr, token(3, "still"))
	n3.expect([]byte("still"))
}

// Close wakes a blocked Receive, which returns net.ErrClosed, and does
// not spin while blocked.
func TestUDPUCloseUnblocksReceive(t *testing.T) {
	port := freePort(t, false, loopback3[0])
	tr, err := New(udpuConfig(1, loopback3[0], port, members(loopback3[0])))
	if err != nil {
		t.Fatal(err)
	}
	checkCloseUnblocks(t, tr)
	// The port is free again.
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback3[0], port)))
	if err != nil {
		t.Fatalf("port still bound after Close: %v", err)
	}
	c.Close()
}

func checkCloseUnblocks(t *testing.T, tr Transport) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := tr.Receive(make([]Datagram, 4))
		done <- err
	}()
	before := cpuTime(t)
	time.Sleep(200 * time.Millisecond)
	if used := cpuTime(t) - before; used > 100*time.Millisecond {
		t.Errorf("blocked Receive used %v of CPU in 200ms", used)
	}
	select {
	case err := <-done:
		t.Fatalf("Receive returned before Close: %v", err)
	default:
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Receive after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Receive still blocked after Close")
	}
	if _, err := tr.Receive(make([]Datagram, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Receive on closed: %v", err)
	}
	if err := tr.Send([]totem.Frame{bcast("x")}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send on closed: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Send, Receive, Stats and SetMembers run concurrently (go test -race).
// Every node broadcasts a bounded number of numbered frames in batches;
// every node must receive all of them, each sender's in order.
func TestUDPUConcurrent(t *testing.T) {
	const perNode, batch = 300, 10
	port := freePort(t, false, loopback3...)
	ms := members(loopback3...)
	trs := make([]Transport, 3)
	for i, a := range loopback3 {
		tr, err := New(udpuConfig(totem.NodeID(i+1), a, port, ms))
		if err != nil {
			t.Fatal(err)
		}
		trs[i] = tr
		defer tr.Close()
	}
	var wg sync.WaitGroup
	type result struct {
		node int
		err  error
	}
	results := make(chan result, 3)
	for i, tr := range trs {
		wg.Add(1)
		go func() { // receiver
			defer wg.Done()
			next := map[byte]int{} // per sender
			total := 0
			b := make([]Datagram, 8)
			for total < 3*perNode {
				n, err := tr.Receive(b)
				if err != nil {
					results <- result{i, err}
					return
				}
				for _, d := range b[:n] {
					var from byte
					var seq int
					if _, err := fmt.Sscanf(string(d.Data), "%c-%d", &from, &seq); err != nil {
						results <- result{i, fmt.Errorf("bad datagram %q", d.Data)}
						return
					}
					if seq != next[from] {
						results <- result{i, fmt.Errorf("from %c got %d, want %d", from, seq, next[from])}
						return
					}
					next[from]++
					total++
				}
			}
			results <- result{i, nil}
		}()
	}
	for i, tr := range trs {
		wg.Add(1)
		go func() { // sender
			defer wg.Done()
			frames := make([]totem.Frame, 0, batch)
			for seq := 0; seq < perNode; {
				frames = frames[:0]
				for range batch {
					frames = append(frames, bcast(fmt.Sprintf("%c-%d", 'a'+i, seq)))
					seq++
				}
				if err := tr.Send(frames); err != nil {
					t.Errorf("node %d Send: %v", i+1, err)
					return
				}
				_ = tr.Stats()
			}
		}()
	}
	wg.Add(1)
	go func() { // reloader
		defer wg.Done()
		for range 50 {
			if err := trs[0].SetMembers(ms); err != nil {
				t.Errorf("SetMembers: %v", err)
				return
			}
		}
	}()
	timeout := time.After(4 * waitFor)
	for range 3 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Errorf("node %d: %v", r.node+1, r.err)
			}
		case <-timeout:
			t.Fatal("receivers did not finish")
		}
	}
	for _, tr := range trs {
		tr.Close()
	}
	wg.Wait()
	for i, tr := range trs {
		st := tr.Stats()
		if st.TxDatagrams != 3*perNode || st.RxDatagrams != 3*perNode || st.TxErrors != 0 {
			t.Errorf("node %d stats %+v", i+1, st)
		}
	}
}

// IPv6 on ::1: one node, broadcasts and a token to itself.
func TestUDPUIPv6Loopback(t *testing.T) {
	lo6 := addr("::1")
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	port := freePort(t, false, lo6)
	n := startNode(t, udpuConfig(1, lo6, port, []Member{{NodeID: 1, Addr: lo6}}))
	if got := n.tr.LocalAddr(); got != netip.AddrPortFrom(lo6, port) {
		t.Fatalf("LocalAddr %v", got)
	}
	mustSend(t, n.tr, bcast("v6 mcast"), token(1, "v6 token"))
	if got := n.expect([]byte("v6 mcast")); got.from.Addr() != lo6 {
		t.Errorf("from %v", got.from)
	}
	if got := n.expect([]byte("v6 token")); got.from != netip.AddrPortFrom(lo6, port) {
		t.Errorf("token from %v", got.from)
	}
}

// Receive and Send allocate nothing once the batch buffers exist.
func TestUDPUNoAllocs(t *testing.T) {
	port := freePort(t, false, loopback3[0])
	tr, err := New(udpuConfig(1, loopback3[0], port, members(loopback3[0])))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	frames := []totem.Frame{bcast("mcast"), token(1, "token")}
	batch := make([]Datagram, 4)
	step := func() {
		if err := tr.Send(frames); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < 2; {
			n, err := tr.Receive(batch)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	step() // allocates the batch buffers
	if allocs := testing.AllocsPerRun(200, step); allocs != 0 {
		t.Errorf("Send+Receive allocate %v times per run, want 0", allocs)
	}
}

// Bind failures name the socket and address.
func TestNewBindErrors(t *testing.T) {
	port := freePort(t, false, loopback3[0])
	first := startNode(t, udpuConfig(1, loopback3[0], port, members(loopback3[0])))
	_ = first
	_, err := New(udpuConfig(1, loopback3[0], port, members(loopback3[0])))
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second bind: %v, want EADDRINUSE", err)
	}
	t.Log(err)
	// 192.0.2.1 (TEST-NET-1) is on no interface: bind fails, nothing is sent.
	_, err = New(udpuConfig(1, addr("192.0.2.1"), port, members(addr("192.0.2.1"))))
	if err == nil || !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("bind to a foreign address: %v, want EADDRNOTAVAIL", err)
	}
	t.Log(err)
}

// A socket buffer above net.core.rmem_max is forced (as root) or capped
// with a warning, never an error.
func TestSocketBufferFallback(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skipf("no rmem_max: %v", err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t, false, loopback3[0])
	var logs bytes.Buffer
	cfg := udpuConfig(1, loopback3[0], port, members(loopback3[0]))
	cfg.SocketBuffer = rmemMax + 1<<20
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n := startNode(t, cfg)
	rcv, _ := n.tr.(*udpuTransport).tok.buffers()
	switch {
	case rcv/2 >= cfg.SocketBuffer:
		t.Logf("SO_RCVBUFFORCE granted %d bytes", rcv/2)
	case !strings.Contains(logs.String(), "socket buffer smaller than requested"):
		t.Errorf("got %d bytes of %d and no warning; log:\n%s", rcv/2, cfg.SocketBuffer, logs.String())
	}
	if !strings.Contains(logs.String(), "udpu ready") {
		t.Errorf("no ready message; log:\n%s", logs.String())
	}
	mustSend(t, n.tr, bcast("works"))
	n.expect([]byte("works"))
}

func TestConfigValidate(t *testing.T) {
	ok := udpuConfig(1, addr("127.0.0.1"), 5405, members(loopback3...))
	okUDP := ok
	okUDP.Kind, okUDP.Group = UDP, addr("239.192.1.1")
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := okUDP.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"kind":            func(c *Config) { c.Kind = "knet" },
		"node id 0":       func(c *Config) { c.LocalNodeID = 0 },
		"no local":        func(c *Config) { c.Local = netip.Addr{} },
		"any local":       func(c *Config) { c.Local = addr("0.0.0.0") },
		"local not in":    func(c *Config) { c.LocalNodeID = 7 },
		"local mismatch":  func(c *Config) { c.Local = addr("127.0.0.2") },
		"member id 0":     func(c *Config) { c.Members = append(members(loopback3...), Member{Addr: addr("127.0.0.4")}) },
		"netmtu small":    func(c *Config) { c.NetMTU = 100 },
		"netmtu > buffer": func(c *Config) { c.RecvBufferSize = 1024 },
		"netmtu > udp":    func(c *Config) { c.NetMTU, c.RecvBufferSize = 70000, 70000 },
		"udp no group":    func(c *Config) { c.Kind = UDP },
		"udp unicast grp": func(c *Config) { c.Kind, c.Group = UDP, addr("10.0.0.1") },
		"udp v6 group":    func(c *Config) { c.Kind, c.Group = UDP, addr("ff15::1") },
		"udp ttl":         func(c *Config) { c.Kind, c.Group, c.TTL = UDP, addr("239.192.1.1"), 256 },
		"udp port 1":      func(c *Config) { c.Kind, c.Group, c.Port = UDP, addr("239.192.1.1"), 1 },
	} {
		c := ok
		c.Members = members(loopback3...)
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New() = %v, want ErrInvalidConfig", name, err)
		}
	}
	// Zero numeric fields take the defaults.
	c := Config{Kind: UDPU, LocalNodeID: 1, Local: addr("127.0.0.1"), Members: members(loopback3...)}
	if err := c.Validate(); err != nil {
		t.Errorf("zero-valued defaults: %v", err)
	}
	if d := c.withDefaults(); d.Port != 5405 || d.NetMTU != 1500 || d.RecvBufferSize != 136192 || d.SocketBuffer != 2179072 || d.TTL != 1 {
		t.Errorf("defaults %+v", d)
	}
}
