//go:build linux

package transport

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/corogo/corogo/totem"
)

// udpTransport is corosync's totemudp: multicast is received on
// Group:Port, tokens on Local:Port, and both are sent from Local:Port−1.
type udpTransport struct {
	base
	tok, mc, snd *sock
	ep           *sock // epoll instance holding tok and mc
	w            *writer
	group        rawAddr
	self         rawAddr // tok's address: this node's copy of its multicasts
}

func newUDP(cfg Config) (t *udpTransport, err error) {
	t = &udpTransport{}
	if err := t.init(cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeAll(t.ep, t.tok, t.mc, t.snd)
		}
	}()
	ifindex := 0
	if cfg.Local.Is6() {
		if ifindex, err = ifaceOf(cfg.Local); err != nil {
			return nil, fmt.Errorf("transport: multicast interface of %v: %w", cfg.Local, err)
		}
	}
	local := netip.AddrPortFrom(cfg.Local, cfg.Port)
	t.tok, err = openUDP(local, t.scope, sockOpts{
		role: "token socket", priority: tokenPriority, bufSize: cfg.SocketBuffer, log: t.log,
	})
	if err != nil {
		return nil, err
	}
	groupAP := netip.AddrPortFrom(cfg.Group, cfg.Port)
	t.mc, err = openUDP(groupAP, uint32(ifindex), sockOpts{
		role: "multicast receive socket", reuseAddr: true, bufSize: cfg.SocketBuffer, log: t.log,
	})
	if err != nil {
		return nil, err
	}
	if err = joinGroup(t.mc.fd, cfg.Group, cfg.Local, ifindex); err != nil {
		return nil, fmt.Errorf("transport: join %v on the interface of %v: %w", cfg.Group, cfg.Local, err)
	}
	t.snd, err = openUDP(netip.AddrPortFrom(cfg.Local, cfg.Port-1), t.scope, sockOpts{
		role: "multicast send socket", bufSize: cfg.SocketBuffer, log: t.log,
	})
	if err != nil {
		return nil, err
	}
	if err = setMulticastSend(t.snd.fd, cfg.Local, ifindex, cfg.TTL); err != nil {
		return nil, fmt.Errorf("transport: multicast send socket %v: %w", t.snd.addr, err)
	}
	if t.group, err = makeRawAddr(groupAP, uint32(ifindex)); err != nil {
		return nil, fmt.Errorf("transport: group %v: %w", groupAP, err)
	}
	if t.self, err = makeRawAddr(t.tok.addr, t.scope); err != nil {
		return nil, fmt.Errorf("transport: token socket %v: %w", t.tok.addr, err)
	}
	if t.ep, err = newEpoll(t.tok.fd, t.mc.fd); err != nil {
		return nil, err
	}
	t.local = t.tok.addr
	t.w = newWriter(t.snd, &t.c)
	// Tokens first: they are the ring's heartbeat.
	t.rd = newReader(&t.c, t.ep, []int{t.tok.fd, t.mc.fd}, cfg.RecvBufferSize, nil)
	rcv, snd := t.mc.buffers()
	t.log.Info("transport: udp ready",
		"node", cfg.LocalNodeID, "group", groupAP, "token_socket", t.tok.addr,
		"send_socket", t.snd.addr, "ttl", cfg.TTL, "members", len(cfg.Members),
		"so_rcvbuf", rcv, "so_sndbuf", snd)
	return t, nil
}

// joinGroup joins group on the interface holding local.
func joinGroup(fd int, group, local netip.Addr, ifindex int) error {
	if group.Is4() {
		mreq := &unix.IPMreq{Multiaddr: group.As4(), Interface: local.As4()}
		return unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq)
	}
	mreq := &unix.IPv6Mreq{Multiaddr: group.As16(), Interface: uint32(ifindex)}
	return unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)
}

// setMulticastSend sets the outgoing interface, the TTL and multicast loop
// off, as corosync does.
func setMulticastSend(fd int, local netip.Addr, ifindex, ttl int) error {
	if local.Is4() {
		if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, local.As4()); err != nil {
			return fmt.Errorf("IP_MULTICAST_IF: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
			return fmt.Errorf("IP_MULTICAST_TTL: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
			return fmt.Errorf("IP_MULTICAST_LOOP: %w", err)
		}
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex); err != nil {
		return fmt.Errorf("IPV6_MULTICAST_IF: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl); err != nil {
		return fmt.Errorf("IPV6_MULTICAST_HOPS: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0); err != nil {
		return fmt.Errorf("IPV6_MULTICAST_LOOP: %w", err)
	}
	return nil
}

// newEpoll returns an epoll instance watching fds for input (level
// triggered), registered with the netpoller so that a goroutine can wait
// on all of them at once.
func newEpoll(fds ...int) (*sock, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("transport: epoll_create1: %w", err)
	}
	for _, fd := range fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(epfd)
			return nil, fmt.Errorf("transport: epoll_ctl: %w", err)
		}
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("transport: epoll set non-blocking: %w", err)
	}
	s, err := newSock(epfd, "epoll")
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("transport: epoll: %w", err)
	}
	return s, nil
}

// Send implements Transport. A Broadcast frame is one datagram to the
// group and one to this node's own token socket (corosync's loopback copy,
// since multicast loop is off); any other frame goes to its member. All
// leave from the send socket on Port−1, in order, in one sendmmsg per 256
// datagrams.
func (t *udpTransport) Send(frames []totem.Frame) error {
	if t.closed.Load() {
		return net.ErrClosed
	}
	tbl := t.table.Load()
	var first error
	for i := range frames {
		f := &frames[i]
		if f.To == totem.Broadcast {
			t.w.add(&t.group, f.Data)
			if !t.cfg.SkipSelf {
				t.w.add(&t.self, f.Data)
			}
			continue
		}
		dst, ok := tbl.lookup(f.To)
		if !ok {
			first = t.unknown(f.To, first)
			continue
		}
		t.w.add(dst, f.Data)
	}
	t.w.flush()
	return keepFirst(first, t.w.takeErr())
}

// Close implements Transport. The epoll instance goes first, which wakes a
// blocked Receive; the sockets it reads are closed only once it has left.
func (t *udpTransport) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := t.ep.close()
	t.recvMu.Lock()
	//lint:ignore SA2001 the empty critical section waits for Receive to leave
	t.recvMu.Unlock()
	return keepFirst(err, closeAll(t.tok, t.mc, t.snd))
}
