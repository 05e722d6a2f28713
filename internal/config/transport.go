package config

import (
	"fmt"
	"net/netip"

	"github.com/corogo/corogo/totem"
)

// Totem returns the protocol configuration for the local node: corosync's
// timers in milliseconds as configured, the nodelist's ids, and
// totem.DefaultConfig's values for what corosync.conf does not set (tick,
// message and queue sizes). Timers the file leaves out (token_retransmit,
// hold, consensus) stay zero so that totem derives them with corosync's
// formulas. The result passes totem.Config.Validate, except that when
// send_join is set the caller must provide Rand.
func (c *Config) Totem(localNodeID uint32) (totem.Config, error) {
	if _, ok := c.NodeByID(localNodeID); !ok {
		return totem.Config{}, fmt.Errorf("%w: totem config for node %d", ErrUnknownNode, localNodeID)
	}
	tc := c.totemConfig(localNodeID)
	check := tc
	if check.SendJoin > 0 {
		check.Rand = func(int) int { return 0 }
	}
	if err := check.Validate(); err != nil {
		return totem.Config{}, fmt.Errorf("config: totem config for node %d: %w", localNodeID, err)
	}
	return tc, nil
}

// EffectiveTimers returns the timers after corosync's formulas for this
// nodelist: the token scaled by token_coefficient, and token_retransmit,
// hold and consensus derived from it unless configured.
func (c *Config) EffectiveTimers() totem.Timers {
	tc := c.totemConfig(0)
	return tc.EffectiveTimers()
}

// Member is one node as the transport sees it.
type Member struct {
	NodeID uint32
	Addr   netip.Addr // resolved ring0_addr
	Name   string     // nodelist name, "" when unset
}

// TransportSpec describes the sockets and peers of the local node's link
// 0, for the runtime to open.
type TransportSpec struct {
	// Kind is TransportUDPU or TransportUDP.
	Kind string
	// LocalNodeID is this node's id.
	LocalNodeID uint32
	// Local is the address to bind the receiving socket to: the local
	// node's ring0_addr and the link's port (mcastport, default 5405).
	Local netip.AddrPort
	// SendPort is the source port of udp's sending socket (mcastport − 1);
	// 0 for udpu, which sends from ephemeral ports.
	SendPort uint16
	// Members is the nodelist in file order, this node included.
	Members []Member
	// Group is udp's destination for "multicasts": the multicast group
	// (mcastaddr, or derived from cluster_name) or 255.255.255.255 with
	// broadcast, and the port. Invalid for udpu.
	Group netip.AddrPort
	// Broadcast is true when Group is the broadcast address.
	Broadcast bool
	// TTL is the multicast TTL (udp).
	TTL uint8
	// BlockUnlistedIPs drops datagrams whose source is not a member.
	BlockUnlistedIPs bool
	// NetMTU is totem.netmtu.
	NetMTU int
}

// Transport returns the transport description for the local node.
func (c *Config) Transport(localNodeID uint32) (TransportSpec, error) {
	local, ok := c.NodeByID(localNodeID)
	if !ok {
		return TransportSpec{}, fmt.Errorf("%w: transport for node %d", ErrUnknownNode, localNodeID)
	}
	iface, _ := c.Interface(0)
	s := TransportSpec{
		Kind:             c.TotemSection.Transport,
		LocalNodeID:      localNodeID,
		Local:            netip.AddrPortFrom(local.Addr, iface.MCastPort),
		TTL:              iface.TTL,
		BlockUnlistedIPs: c.TotemSection.BlockUnlistedIPs,
		NetMTU:           int(c.TotemSection.NetMTU),
	}
	for _, n := range c.Nodes {
		s.Members = append(s.Members, Member{NodeID: n.ID, Addr: n.Addr, Name: n.Name})
	}
	if s.Kind != TransportUDP {
		return s, nil
	}
	s.SendPort = iface.MCastPort - 1
	switch {
	case iface.Broadcast:
		s.Broadcast = true
		s.Group = netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), iface.MCastPort)
	case iface.MCastAddr.IsValid():
		s.Group = netip.AddrPortFrom(iface.MCastAddr, iface.MCastPort)
	default:
		s.Group = netip.AddrPortFrom(MulticastGroup(c.TotemSection.ClusterName, 0, local.Addr.Is6()), iface.MCastPort)
	}
	return s, nil
}

// ClusterID is corosync's 16-bit hash of a cluster name: for each byte c,
// value = value×2 + c, keeping the low 16 bits. Bytes are signed, as
// corosync's char is on x86-64 (this matters only for non-ASCII names).
func ClusterID(name string) uint16 {
	var v uint16
	for i := 0; i < len(name); i++ {
		v = v<<1 + uint16(int8(name[i]))
	}
	return v
}

// MulticastGroup derives the udp multicast group from the cluster name as
// corosync does when totem.interface.mcastaddr is not set: id =
// ClusterID(name) + link (16-bit), then 239.192.<id>>8>.<id mod 255> for
// IPv4 (mod 255, not 256) or ff15::<id in hex> for IPv6.
func MulticastGroup(clusterName string, link uint8, ipv6 bool) netip.Addr {
	id := ClusterID(clusterName) + uint16(link)
	if ipv6 {
		var a [16]byte
		a[0], a[1] = 0xff, 0x15
		a[14], a[15] = byte(id>>8), byte(id)
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte{239, 192, byte(id >> 8), byte(id % 0xff)})
}
