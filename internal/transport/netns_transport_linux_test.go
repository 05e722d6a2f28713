//go:build linux

package transport

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corogo/corogo/totem"
)

// §1.5: a 1500-byte datagram (corosync's largest, a recovery MCAST at
// netmtu 1500) crosses a 1500-MTU link as two IP fragments, which the
// receiving kernel reassembles; so does a 64 KiB one.
func TestUDPUFragmentedOverLAN(t *testing.T) {
	l := newLAN(t, 2, 1500)
	ms := members(l.v4...)
	n1 := l.hosts[0].start(udpuConfig(1, l.v4[0], DefaultPort, ms))
	n2 := l.hosts[1].start(udpuConfig(2, l.v4[1], DefaultPort, ms))

	fragsBefore := l.hosts[0].snmp("Ip", "FragCreates")
	reasmBefore := l.hosts[1].snmp("Ip", "ReasmOKs")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1500/16+1)[:1500]
	mustSend(t, n1.tr, totem.Frame{To: totem.Broadcast, Data: big})
	n1.expect(big) // over lo, unfragmented
	n2.expect(big)
	if got := l.hosts[0].snmp("Ip", "FragCreates") - fragsBefore; got != 2 {
		t.Errorf("sender created %d fragments, want 2", got)
	}
	if got := l.hosts[1].snmp("Ip", "ReasmOKs") - reasmBefore; got != 1 {
		t.Errorf("receiver reassembled %d datagrams, want 1", got)
	}

	huge := bytes.Repeat([]byte{0xa5}, maxUDPPayload4)
	mustSend(t, n1.tr, totem.Frame{To: 2, Token: true, Data: huge})
	n2.expect(huge)
}

// IPv6 udpu with three nodes, on lo inside a namespace that has
// fd00::1..3.
func TestUDPUIPv6ThreeNodes(t *testing.T) {
	requireNetns(t)
	ns := newNS(t)
	var addrs []netip.Addr
	for i := 1; i <= 3; i++ {
		a := netip.MustParseAddr(fmt.Sprintf("fd00::%d", i))
		ns.ip(fmt.Sprintf("addr add %s/128 dev lo nodad", a))
		addrs = append(addrs, a)
	}
	ms := members(addrs...)
	var nodes []*node
	for i, a := range addrs {
		nodes = append(nodes, ns.start(udpuConfig(totem.NodeID(i+1), a, DefaultPort, ms)))
	}
	mustSend(t, nodes[1].tr, bcast("v6 from 2"), token(3, "v6 token"))
	for _, n := range nodes {
		if got := n.expect([]byte("v6 from 2")); got.from.Addr() != addrs[1] {
			t.Errorf("from %v", got.from)
		}
	}
	if got := nodes[2].expect([]byte("v6 token")); got.from != netip.AddrPortFrom(addrs[1], DefaultPort) {
		t.Errorf("token from %v", got.from)
	}
	// Unlisted IPv6 source.
	ns.ip("addr add fd00::9/128 dev lo nodad")
	var stranger Transport
	ns.do(func() {
		var err error
		stranger, err = New(udpuConfig(9, addr("fd00::9"), DefaultPort,
			append(members(addrs...), Member{NodeID: 9, Addr: addr("fd00::9")})))
		if err != nil {
			t.Error(err)
		}
	})
	if stranger == nil {
		t.FailNow()
	}
	defer stranger.Close()
	mustSend(t, stranger, token(1, "stranger"))
	mustSend(t, nodes[1].tr, token(1, "member"))
	nodes[0].expect([]byte("member"))
	if st := nodes[0].tr.Stats(); st.RxUnlisted != 1 {
		t.Errorf("RxUnlisted %d, want 1", st.RxUnlisted)
	}
}

// udpLAN starts udp nodes 1..n, one per host of a LAN.
func udpLAN(t *testing.T, l *lan, v6 bool) ([]*node, []netip.Addr, netip.Addr) {
	addrs, group := l.v4, addr("239.192.231.1")
	if v6 {
		addrs, group = l.v6, addr("ff15::e7")
	}
	ms := members(addrs...)
	var nodes []*node
	for i, h := range l.hosts {
		cfg := DefaultConfig(UDP)
		cfg.LocalNodeID, cfg.Local, cfg.Members, cfg.Group = totem.NodeID(i+1), addrs[i], ms, group
		nodes = append(nodes, h.start(cfg))
	}
	return nodes, addrs, group
}

// §1.2 (totemudp): multicasts go to the group from Port−1 and reach every
// other host once; the sender gets its own copy internally (multicast
// loop is off); tokens go from Port−1 to the target's Port.
func TestUDPMulticastLAN(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "ipv4", true: "ipv6"}[v6], func(t *testing.T) {
			l := newLAN(t, 3, 1500)
			nodes, addrs, _ := udpLAN(t, l, v6)
			for i, n := range nodes {
				if got, want := n.tr.LocalAddr(), netip.AddrPortFrom(addrs[i], DefaultPort); got != want {
					t.Fatalf("LocalAddr %v, want %v", got, want)
				}
				tr := n.tr.(*udpTransport)
				lvl, ttlOpt, loopOpt := unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, unix.IP_MULTICAST_LOOP
				if v6 {
					lvl, ttlOpt, loopOpt = unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, unix.IPV6_MULTICAST_LOOP
				}
				ttl, _ := unix.GetsockoptInt(tr.snd.fd, lvl, ttlOpt)
				loop, _ := unix.GetsockoptInt(tr.snd.fd, lvl, loopOpt)
				if ttl != 1 || loop != 0 {
					t.Errorf("send socket ttl %d loop %d, want 1 and 0", ttl, loop)
				}
			}
			for i, sender := range nodes {
				msg := fmt.Sprintf("multicast from %d", i+1)
				mustSend(t, sender.tr, bcast(msg))
				for _, n := range nodes {
					got := n.expect([]byte(msg))
					if want := netip.AddrPortFrom(addrs[i], DefaultPort-1); got.from != want {
						t.Errorf("multicast from %v, want %v", got.from, want)
					}
				}
			}
			mustSend(t, nodes[0].tr, token(2, "token 1→2"), bcast("after token"))
			if got := nodes[1].expect([]byte("token 1→2")); got.from != netip.AddrPortFrom(addrs[0], DefaultPort-1) {
				t.Errorf("token from %v", got.from)
			}
			for _, n := range nodes {
				n.expect([]byte("after token"))
			}
			// The captured join, unchanged, once per node.
			join := []byte{0x70, 0xc0, 0x03, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}
			mustSend(t, nodes[2].tr, totem.Frame{To: totem.Broadcast, Data: join})
			for _, n := range nodes {
				n.expect(join)
			}
			// A 1500-byte multicast is fragmented and reassembled too.
			big := bytes.Repeat([]byte{0x5a}, 1500)
			mustSend(t, nodes[0].tr, totem.Frame{To: totem.Broadcast, Data: big})
			for _, n := range nodes {
				n.expect(big)
			}
			// No duplicates anywhere: a last token round settles it.
			mustSend(t, nodes[0].tr, token(1, "end"))
			nodes[0].expect([]byte("end"))
			for _, n := range nodes {
				n.expectNone()
			}
			if err := nodes[0].tr.Send([]totem.Frame{token(7, "x")}); err == nil {
				t.Error("token to unknown node: no error")
			}
			if st := nodes[0].tr.Stats(); st.TxErrors != 1 {
				t.Errorf("stats %+v, want 1 tx error", st)
			}
		})
	}
}

// udp on the loopback interface, inside a namespace (so that no multicast
// can reach a real network), the three nodes sharing lo. Multicast works
// there, but a datagram sent on lo comes back in through lo's receive path
// whatever IP_MULTICAST_LOOP says: every node gets it, and the sender gets
// it twice (that copy and its internal one), as corosync's totemudp would.
// Totem ignores the duplicate. See doc.go.
func TestUDPMulticastLoopback(t *testing.T) {
	requireNetns(t)
	ns := newNS(t)
	ms := members(loopback3...)
	var nodes []*node
	for i, a := range loopback3 {
		cfg := DefaultConfig(UDP)
		cfg.LocalNodeID, cfg.Local, cfg.Members, cfg.Group = totem.NodeID(i+1), a, ms, addr("239.192.231.2")
		nodes = append(nodes, ns.start(cfg))
	}
	mustSend(t, nodes[1].tr, bcast("on lo"))
	nodes[1].expect([]byte("on lo"))
	nodes[1].expect([]byte("on lo"))
	nodes[0].expect([]byte("on lo"))
	nodes[2].expect([]byte("on lo"))
	time.Sleep(100 * time.Millisecond)
	for _, n := range nodes {
		n.expectNone()
	}
}

// udp: Close wakes a Receive parked on the epoll instance, which does not
// spin while parked.
func TestUDPCloseUnblocksReceive(t *testing.T) {
	requireNetns(t)
	ns := newNS(t)
	cfg := DefaultConfig(UDP)
	cfg.LocalNodeID, cfg.Local, cfg.Members, cfg.Group = 1, loopback3[0], members(loopback3[0]), addr("239.192.231.3")
	var tr Transport
	var err error
	ns.do(func() { tr, err = New(cfg) })
	if err != nil {
		t.Fatal(err)
	}
	checkCloseUnblocks(t, tr)
}
