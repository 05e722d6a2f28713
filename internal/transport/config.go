package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/corogo/corogo/totem"
)

// Corosync 3.1's numbers (shared/spec/corosync-wire.md §1).
const (
	// DefaultPort is totem.interface.mcastport.
	DefaultPort = 5405
	// DefaultTTL is the multicast TTL (hop limit) of the udp transport.
	DefaultTTL = 1
	// DefaultNetMTU is totem.netmtu for udp and udpu.
	DefaultNetMTU = 1500
	// ReceiveFrameSizeMax is corosync's UDP_RECEIVE_FRAME_SIZE_MAX,
	// 384 × (8 × 2 × 22) + 1024: the receive buffer of one datagram. It is
	// larger than any UDP payload (65,507 bytes over IPv4, 65,527 over
	// IPv6), so with it no datagram is ever truncated.
	ReceiveFrameSizeMax = 384*(8*2*22) + 1024
	// DefaultSocketBuffer is the SO_RCVBUF and SO_SNDBUF corosync requests:
	// TRANSMITS_ALLOWED (16) × ReceiveFrameSizeMax = 2,179,072 bytes.
	DefaultSocketBuffer = 16 * ReceiveFrameSizeMax
)

// Limits of ours.
const (
	// MinNetMTU is the smallest NetMTU accepted: the datagram size every
	// IPv4 host must be able to reassemble.
	MinNetMTU = 576
	// MinRecvBufferSize is the smallest RecvBufferSize accepted.
	MinRecvBufferSize = 512
	// maxUDPPayload4 and maxUDPPayload6 are the largest UDP payloads.
	maxUDPPayload4 = 65535 - 20 - 8
	maxUDPPayload6 = 65535 - 8
)

// Errors. Match them with errors.Is; the returned errors wrap them with the
// operation and the address concerned.
var (
	// ErrInvalidConfig: Config.Validate failed.
	ErrInvalidConfig = errors.New("transport: invalid config")
	// ErrUnknownNode: a frame was addressed to a node id that is not in the
	// member table. The frame is skipped and counted in Stats.TxErrors.
	ErrUnknownNode = errors.New("transport: unknown node")
	// ErrUnsupported: the transport needs Linux.
	ErrUnsupported = errors.New("transport: unsupported on this platform")
)

// Config describes one transport instance. Start from DefaultConfig: a zero
// numeric field means that field's default, but the zero BlockUnlisted is
// false, not corosync's yes.
type Config struct {
	// Kind is UDPU or UDP.
	Kind Kind
	// LocalNodeID is this node's id (nonzero). It must be in Members, with
	// Addr equal to Local.
	LocalNodeID totem.NodeID
	// Local is this node's ring0_addr: the address every socket binds to
	// and every datagram leaves from. IPv4 or IPv6 (udpu and udp); an IPv6
	// link-local address needs its zone ("fe80::1%eth0"). The interface
	// holding it must be up when New is called.
	Local netip.Addr
	// Port is totem.interface.mcastport (default 5405). The token socket
	// binds to Local:Port; udp also binds its send socket to Local:Port−1,
	// so Port must be at least 2 there.
	Port uint16
	// Members is the nodelist: every configured node, this one included.
	// Node ids and addresses are unique and nonzero; every address is of
	// Local's family. SetMembers replaces it at run time.
	Members []Member
	// Group is the multicast group of the udp transport (ignored by udpu),
	// of Local's family. The config package derives it from cluster_name
	// as corosync does (239.192.x.y, or ff15::x for IPv6).
	Group netip.Addr
	// TTL is the multicast TTL / hop limit of the udp transport (1..255,
	// default 1; ignored by udpu).
	TTL int
	// BlockUnlisted is totem.block_unlisted_ips (corosync default yes): the
	// udpu transport drops, and counts in Stats.RxUnlisted, every datagram
	// whose source IP is not a member's address (the port is ignored).
	// Corosync's udp transport has no such filter, and neither has ours.
	BlockUnlisted bool
	// NetMTU is totem.netmtu (default 1500). It is only validated here:
	// the largest datagram Totem sends is NetMTU bytes (a recovery MCAST),
	// so NetMTU must fit in RecvBufferSize and in a UDP datagram. Larger
	// datagrams than the link MTU are IP-fragmented by the kernel.
	NetMTU int
	// SkipSelf leaves this node out of a Broadcast frame's destinations:
	// the caller hands the node its own broadcasts directly (the runner
	// does), which saves a third of the datagrams of a 3-node ring. The
	// other nodes see the same traffic either way. Default false: the
	// node's own copy goes through the kernel, as corosync's does.
	SkipSelf bool
	// RecvBufferSize is the receive buffer of one datagram (default
	// ReceiveFrameSizeMax, which can hold any UDP datagram). A datagram
	// larger than it is dropped and counted in Stats.RxTruncated. Receive
	// allocates one such buffer per batch entry, once.
	RecvBufferSize int
	// SocketBuffer is the SO_RCVBUF and SO_SNDBUF requested for every
	// socket (default DefaultSocketBuffer). When the kernel grants less
	// (net.core.rmem_max / wmem_max), SO_RCVBUFFORCE / SO_SNDBUFFORCE are
	// tried, which need CAP_NET_ADMIN; failing that the smaller size is
	// kept and a warning is logged.
	SocketBuffer int
	// Logger receives setup and reload messages (nil: discard). Nothing is
	// logged per datagram.
	Logger *slog.Logger
}

// DefaultConfig returns corosync 3.1's defaults for kind: port 5405, TTL 1,
// block_unlisted_ips yes, netmtu 1500, the 136,192-byte frame buffer and
// 16 frames of socket buffer. The caller fills in the node, addresses,
// members and (udp) group.
func DefaultConfig(kind Kind) Config {
	return Config{
		Kind:           kind,
		Port:           DefaultPort,
		TTL:            DefaultTTL,
		BlockUnlisted:  true,
		NetMTU:         DefaultNetMTU,
		RecvBufferSize: ReceiveFrameSizeMax,
		SocketBuffer:   DefaultSocketBuffer,
	}
}

// withDefaults fills the zero numeric fields with their defaults.
func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.NetMTU == 0 {
		c.NetMTU = DefaultNetMTU
	}
	if c.RecvBufferSize == 0 {
		c.RecvBufferSize = ReceiveFrameSizeMax
	}
	if c.SocketBuffer == 0 {
		c.SocketBuffer = DefaultSocketBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Local = c.Local.Unmap()
	c.Group = c.Group.Unmap()
	return c
}

// Validate checks the configuration (after filling in defaults) and never
// panics. Errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch c.Kind {
	case UDPU, UDP:
	default:
		return bad("unknown kind %q (want %q or %q)", c.Kind, UDPU, UDP)
	}
	if c.LocalNodeID == totem.Broadcast {
		return bad("local node id is 0")
	}
	if !c.Local.IsValid() || c.Local.IsUnspecified() || c.Local.IsMulticast() {
		return bad("local address %v is not a unicast address", c.Local)
	}
	if c.Kind == UDP {
		if c.Port < 2 {
			return bad("udp needs port ≥ 2 (it binds port−1), got %d", c.Port)
		}
		if !c.Group.IsValid() || !c.Group.IsMulticast() {
			return bad("udp multicast group %v is not a multicast address", c.Group)
		}
		if c.Group.Is4() != c.Local.Is4() {
			return bad("multicast group %v and local address %v are of different families", c.Group, c.Local)
		}
		if c.TTL < 1 || c.TTL > 255 {
			return bad("ttl %d outside 1..255", c.TTL)
		}
	}
	if c.RecvBufferSize < MinRecvBufferSize {
		return bad("receive buffer %d bytes < %d", c.RecvBufferSize, MinRecvBufferSize)
	}
	maxPayload := maxUDPPayload6
	if c.Local.Is4() {
		maxPayload = maxUDPPayload4
	}
	if c.NetMTU < MinNetMTU || c.NetMTU > maxPayload {
		return bad("netmtu %d outside %d..%d", c.NetMTU, MinNetMTU, maxPayload)
	}
	if c.NetMTU > c.RecvBufferSize {
		return bad("netmtu %d exceeds the receive buffer (%d bytes)", c.NetMTU, c.RecvBufferSize)
	}
	if c.SocketBuffer < 0 {
		return bad("socket buffer %d < 0", c.SocketBuffer)
	}
	return validateMembers(c.LocalNodeID, c.Local, c.Members)
}

// validateMembers checks a member table against the local node.
func validateMembers(local totem.NodeID, localAddr netip.Addr, members []Member) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	ids := make(map[totem.NodeID]struct{}, len(members))
	addrs := make(map[netip.Addr]totem.NodeID, len(members))
	foundLocal := false
	for _, m := range members {
		a := m.Addr.Unmap()
		if m.NodeID == totem.Broadcast {
			return bad("member with node id 0 (address %v)", m.Addr)
		}
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
			return bad("member %d: address %v is not a unicast address", m.NodeID, m.Addr)
		}
		if a.Is4() != localAddr.Is4() {
			return bad("member %d: address %v is not of the local address's family (%v)", m.NodeID, m.Addr, localAddr)
		}
		if _, dup := ids[m.NodeID]; dup {
			return bad("node id %d listed twice", m.NodeID)
		}
		ids[m.NodeID] = struct{}{}
		key := a.WithZone("")
		if other, dup := addrs[key]; dup {
			return bad("address %v listed for nodes %d and %d", m.Addr, other, m.NodeID)
		}
		addrs[key] = m.NodeID
		if m.NodeID == local {
			if key != localAddr.WithZone("") {
				return bad("local node %d is listed with address %v, but the local address is %v", local, m.Addr, localAddr)
			}
			foundLocal = true
		}
	}
	if !foundLocal {
		return bad("local node %d is not in the member list", local)
	}
	return nil
}
