//go:build linux

package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// rawAddr is a socket address in kernel layout (sockaddr_in or
// sockaddr_in6), ready to be pointed at by a msghdr.
type rawAddr struct {
	b [unix.SizeofSockaddrInet6]byte
	n uint32 // length of the used prefix of b
}

// makeRawAddr encodes ap. An IPv6 address with a zone gets the zone's
// interface index as scope id; scope is used when the address has none but
// needs one (link-local).
func makeRawAddr(ap netip.AddrPort, scope uint32) (rawAddr, error) {
	var r rawAddr
	a := ap.Addr().Unmap()
	if a.Is4() {
		binary.NativeEndian.PutUint16(r.b[0:2], unix.AF_INET)
		binary.BigEndian.PutUint16(r.b[2:4], ap.Port())
		a4 := a.As4()
		copy(r.b[4:8], a4[:])
		r.n = unix.SizeofSockaddrInet4
		return r, nil
	}
	binary.NativeEndian.PutUint16(r.b[0:2], unix.AF_INET6)
	binary.BigEndian.PutUint16(r.b[2:4], ap.Port())
	a16 := a.As16()
	copy(r.b[8:24], a16[:])
	if z := a.Zone(); z != "" {
		idx, err := zoneIndex(z)
		if err != nil {
			return r, err
		}
		scope = idx
	}
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		binary.NativeEndian.PutUint32(r.b[24:28], scope)
	}
	r.n = unix.SizeofSockaddrInet6
	return r, nil
}

// zoneIndex resolves an IPv6 zone (an interface name or number) to an
// interface index.
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil
}

// addrPort decodes a kernel socket address of length n. Zones are cached in
// *zone (an index and its string) so that link-local sources do not
// allocate per datagram.
func (r *rawAddr) addrPort(n uint32, zone *zoneCache) netip.AddrPort {
	fam := binary.NativeEndian.Uint16(r.b[0:2])
	port := binary.BigEndian.Uint16(r.b[2:4])
	switch {
	case fam == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(r.b[4:8])), port)
	case fam == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		a := netip.AddrFrom16([16]byte(r.b[8:24]))
		if scope := binary.NativeEndian.Uint32(r.b[24:28]); scope != 0 && zone != nil {
			a = a.WithZone(zone.name(scope))
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

// zoneCache remembers the zone string of the last scope id seen.
type zoneCache struct {
	idx uint32
	s   string
}

func (z *zoneCache) name(idx uint32) string {
	if z.s == "" || z.idx != idx {
		z.idx, z.s = idx, strconv.FormatUint(uint64(idx), 10)
	}
	return z.s
}

// sock is one non-blocking socket registered with Go's netpoller.
type sock struct {
	f    *os.File
	rc   syscall.RawConn
	fd   int            // valid while f is open
	addr netip.AddrPort // bound address
}

// sockOpts are the options applied to a new UDP socket before bind.
type sockOpts struct {
	role      string // for messages: "token socket", ...
	reuseAddr bool
	priority  int // SO_PRIORITY, 0: leave
	bufSize   int // SO_RCVBUF and SO_SNDBUF, 0: leave
	log       *slog.Logger
}

// openUDP creates a UDP socket of bind's family, applies o, binds it to
// bind and registers it with the netpoller. The error names the role and
// the address.
func openUDP(bind netip.AddrPort, scope uint32, o sockOpts) (*sock, error) {
	family := unix.AF_INET6
	if bind.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("transport: %s %v: socket: %w", o.role, bind, err)
	}
	fail := func(op string, err error) (*sock, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("transport: %s %v: %s: %w", o.role, bind, op, err)
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
	}
	if o.reuseAddr {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("SO_REUSEADDR", err)
		}
	}
	if o.priority != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PRIORITY, o.priority); err != nil {
			o.log.Warn("transport: could not set socket priority", "socket", o.role, "priority", o.priority, "err", err)
		}
	}
	if o.bufSize > 0 {
		setBuffer(fd, o, "SO_RCVBUF", unix.SO_RCVBUF, unix.SO_RCVBUFFORCE)
		setBuffer(fd, o, "SO_SNDBUF", unix.SO_SNDBUF, unix.SO_SNDBUFFORCE)
	}
	ra, err := makeRawAddr(bind, scope)
	if err != nil {
		return fail("address", err)
	}
	if err := bindRaw(fd, &ra); err != nil {
		return fail("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	s, err := newSock(fd, o.role+" "+bind.String())
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("transport: %s %v: %w", o.role, bind, err)
	}
	s.addr = sockaddrToAddrPort(sa, bind.Addr().Zone())
	return s, nil
}

// bindRaw binds fd to the kernel-layout address ra.
func bindRaw(fd int, ra *rawAddr) error {
	var sa unix.Sockaddr
	fam := binary.NativeEndian.Uint16(ra.b[0:2])
	port := int(binary.BigEndian.Uint16(ra.b[2:4]))
	if fam == unix.AF_INET {
		s := &unix.SockaddrInet4{Port: port}
		copy(s.Addr[:], ra.b[4:8])
		sa = s
	} else {
		s := &unix.SockaddrInet6{Port: port, ZoneId: binary.NativeEndian.Uint32(ra.b[24:28])}
		copy(s.Addr[:], ra.b[8:24])
		sa = s
	}
	return unix.Bind(fd, sa)
}

func sockaddrToAddrPort(sa unix.Sockaddr, zone string) netip.AddrPort {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(s.Addr), uint16(s.Port))
	case *unix.SockaddrInet6:
		a := netip.AddrFrom16(s.Addr)
		if zone != "" {
			a = a.WithZone(zone)
		}
		return netip.AddrPortFrom(a, uint16(s.Port))
	}
	return netip.AddrPort{}
}

// newSock wraps a non-blocking fd in an *os.File, which registers it with
// the netpoller, and takes its RawConn.
func newSock(fd int, name string) (*sock, error) {
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		return nil, errors.New("os.NewFile failed")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("syscall conn: %w", err)
	}
	return &sock{f: f, rc: rc, fd: fd}, nil
}

// setBuffer requests o.bufSize for a socket buffer, falls back to the FORCE
// option (CAP_NET_ADMIN) when the kernel's maximum cut it, and logs what it
// got. Linux reports twice the requested size (the bookkeeping overhead).
func setBuffer(fd int, o sockOpts, name string, opt, force int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, o.bufSize)
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
	if err == nil && got/2 >= o.bufSize {
		return
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, o.bufSize); err == nil {
		got, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		if err == nil && got/2 >= o.bufSize {
			return
		}
	}
	o.log.Warn("transport: socket buffer smaller than requested",
		"socket", o.role, "option", name, "requested", o.bufSize, "granted", got/2)
}

// sockBuffers returns the kernel's SO_RCVBUF and SO_SNDBUF of s.
func (s *sock) buffers() (rcv, snd int) {
	_ = s.rc.Control(func(fd uintptr) {
		rcv, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		snd, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	return rcv, snd
}

func (s *sock) close() error {
	if s == nil || s.f == nil {
		return nil
	}
	return s.f.Close()
}

// ifaceOf returns the index of the interface holding a (the current
// network namespace's interfaces).
func ifaceOf(a netip.Addr) (int, error) {
	if z := a.Zone(); z != "" {
		idx, err := zoneIndex(z)
		return int(idx), err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return 0, fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == a.Unmap() {
					return ifi.Index, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no interface holds %v", a)
}
