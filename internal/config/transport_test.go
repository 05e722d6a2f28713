package config

import (
	"errors"
	"net/netip"
	"testing"
)

// TestMulticastGroup checks the derivation against vectors computed by
// hand from corosync's formula (value = value×2 + c over the name's bytes,
// as a C int; & 0xFFFF; + link; 239.192.<id>>8>.<id % 255>; ff15::<hex>).
func TestMulticastGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		link   uint8
		id     uint16
		v4, v6 string
	}{
		// 7054 = 0x1b8e: 7054 % 255 = 169, where % 256 would give 142.
		{"wbtest", 0, 7054, "239.192.27.169", "ff15::1b8e"},
		{"wbtest", 1, 7055, "239.192.27.170", "ff15::1b8f"},
		{"debian", 0, 6324, "239.192.24.204", "ff15::18b4"},
		{"mycluster", 0, 56756, "239.192.221.146", "ff15::ddb4"},
		// Longer than 16 characters: the hash overflows 16 bits.
		{"a-cluster-name-that-is-longer-than-sixteen-chars", 0, 42219, "239.192.164.144", "ff15::a4eb"},
		{"x", 0, 120, "239.192.0.120", "ff15::78"},
		{"", 0, 0, "239.192.0.0", "ff15::"},
		// Non-ASCII bytes count as signed chars (x86-64).
		{"été", 0, 64119, "239.192.250.114", "ff15::fa77"},
	} {
		if got := ClusterID(tc.name); got+uint16(tc.link) != tc.id {
			t.Errorf("ClusterID(%q) + %d = %d, want %d", tc.name, tc.link, got+uint16(tc.link), tc.id)
		}
		if got := MulticastGroup(tc.name, tc.link, false); got != netip.MustParseAddr(tc.v4) {
			t.Errorf("MulticastGroup(%q, %d, v4) = %v, want %s", tc.name, tc.link, got, tc.v4)
		}
		if got := MulticastGroup(tc.name, tc.link, true); got != netip.MustParseAddr(tc.v6) {
			t.Errorf("MulticastGroup(%q, %d, v6) = %v, want %s", tc.name, tc.link, got, tc.v6)
		}
	}
}

// TestMulticastGroupWrap: the id is 16 bits, so adding the link number
// wraps; 0xffff % 255 = 0.
func TestMulticastGroupWrap(t *testing.T) {
	const name = "nzigpoqpctem" // ClusterID 0xffff, found by search
	if id := ClusterID(name); id != 0xffff {
		t.Fatalf("ClusterID(%q) = %#x", name, id)
	}
	if got := MulticastGroup(name, 0, false); got != netip.MustParseAddr("239.192.255.0") {
		t.Errorf("link 0: %v", got)
	}
	if got := MulticastGroup(name, 1, false); got != netip.MustParseAddr("239.192.0.0") {
		t.Errorf("link 1: %v", got)
	}
	if got := MulticastGroup(name, 1, true); got != netip.MustParseAddr("ff15::") {
		t.Errorf("link 1 IPv6: %v", got)
	}
	// "c9" hashes to 255: % 255 gives 0 where % 256 would give 255.
	if got := MulticastGroup("c9", 0, false); got != netip.MustParseAddr("239.192.0.0") {
		t.Errorf("c9: %v", got)
	}
}

func TestTransportUDP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		totem     string
		nodes     string
		group     string
		sendPort  uint16
		broadcast bool
		ttl       uint8
	}{
		{"derived from cluster_name", "\ttransport: udp\n", twoNodes, "239.192.6.148:5405", 5404, false, 1},
		{"explicit", "\ttransport: udp\n\tinterface {\n\t\tmcastaddr: 239.255.1.1\n\t\tmcastport: 6000\n\t\tttl: 3\n\t}\n", twoNodes, "239.255.1.1:6000", 5999, false, 3},
		{"broadcast", "\ttransport: udp\n\tinterface {\n\t\tbroadcast: yes\n\t}\n", twoNodes, "255.255.255.255:5405", 5404, true, 1},
		{"IPv6 derived", "\ttransport: udp\n\tip_version: ipv6\n", node("ring0_addr: 2001:db8::1", "nodeid: 1") + node("ring0_addr: 2001:db8::2", "nodeid: 2"), "[ff15::68e]:5405", 5404, false, 1},
		{"totem.mcastport", "\ttransport: udp\n\tmcastport: 7000\n", twoNodes, "239.192.6.148:7000", 6999, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustRead(t, config(tc.totem, tc.nodes, ""))
			s, err := c.Transport(2)
			if err != nil {
				t.Fatal(err)
			}
			if s.Kind != TransportUDP || s.Group != netip.MustParseAddrPort(tc.group) || s.SendPort != tc.sendPort ||
				s.Broadcast != tc.broadcast || s.TTL != tc.ttl || s.Local.Addr() != c.Nodes[1].Addr || s.Local.Port() != s.Group.Port() {
				t.Errorf("transport = %+v, want group %s send port %d broadcast %v ttl %d", s, tc.group, tc.sendPort, tc.broadcast, tc.ttl)
			}
		})
	}
	// "test" = ((116×2 + 101)×2 + 115)×2 + 116 = 1678 = 0x68e; 1678 % 255 = 148.
	if ClusterID("test") != 1678 {
		t.Fatalf("ClusterID(test) = %d", ClusterID("test"))
	}
}

func TestTransportUDPU(t *testing.T) {
	c := mustRead(t, config("\ttransport: udpu\n\tblock_unlisted_ips: no\n\tnetmtu: 1400\n\tinterface {\n\t\tmcastport: 5500\n\t}\n", twoNodes, ""))
	s, err := c.Transport(1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Local != netip.MustParseAddrPort("10.0.0.1:5500") || s.Group.IsValid() || s.SendPort != 0 || s.BlockUnlistedIPs || s.NetMTU != 1400 || len(s.Members) != 2 {
		t.Errorf("transport = %+v", s)
	}
	if _, err := c.Transport(3); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Transport(3): %v", err)
	}
}
