package heuristics

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ICMP message types.
const (
	icmpv4EchoRequest = 8
	icmpv4EchoReply   = 0
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// ping sends ICMP echo requests to addr with sequence number seq, one
// every interval, until a reply arrives or ctx ends.
func ping(ctx context.Context, addr netip.Addr, every time.Duration, seq uint16) error {
	conn, raw, err := openICMP(addr.Is6())
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	var dst net.Addr = &net.UDPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	if raw {
		dst = &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	}
	// With a datagram socket the kernel sets the identifier and matches
	// replies to the socket; with a raw socket we see every ICMP packet
	// and match on identifier, sequence and payload.
	id := uint16(os.Getpid())
	payload := []byte("corogo-qdevice\x00\x00")
	binary.BigEndian.PutUint16(payload[len(payload)-2:], seq)
	req := echoRequest(addr.Is6(), id, seq, payload)
	buf := make([]byte, 1500)
	for {
		if _, err := conn.WriteTo(req, dst); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("send echo: %w", err)
		}
		next := time.Now().Add(every)
		if err := conn.SetReadDeadline(next); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // send again
				}
				return fmt.Errorf("receive: %w", err)
			}
			if isReply(buf[:n], from, addr, raw, id, seq, payload) {
				return nil
			}
		}
	}
}

// openICMP opens an unprivileged ICMP datagram socket, else a raw socket.
// raw reports which.
func openICMP(v6 bool) (conn net.PacketConn, raw bool, err error) {
	family, proto, network := unix.AF_INET, unix.IPPROTO_ICMP, "ip4:icmp"
	var bindAddr unix.Sockaddr = &unix.SockaddrInet4{}
	if v6 {
		family, proto, network = unix.AF_INET6, unix.IPPROTO_ICMPV6, "ip6:ipv6-icmp"
		bindAddr = &unix.SockaddrInet6{}
	}
	dgramErr := func() error {
		fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, bindAddr); err != nil {
			unix.Close(fd)
			return err
		}
		f := os.NewFile(uintptr(fd), "icmp")
		c, err := net.FilePacketConn(f)
		f.Close()
		if err != nil {
			return err
		}
		conn = c
		return nil
	}()
	if dgramErr == nil {
		return conn, false, nil
	}
	c, rawErr := net.ListenPacket(network, "")
	if rawErr == nil {
		return c, true, nil
	}
	return nil, false, fmt.Errorf("%w (datagram socket: %v; raw socket: %v)", ErrICMPNotPermitted, dgramErr, rawErr)
}

// echoRequest builds an echo request. The IPv4 checksum is computed here;
// the kernel computes ICMPv6's.
func echoRequest(v6 bool, id, seq uint16, payload []byte) []byte {
	typ := byte(icmpv4EchoRequest)
	if v6 {
		typ = icmpv6EchoRequest
	}
	b := make([]byte, 8+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], payload)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
	return b
}

// isReply reports whether msg (an ICMP message without IP header) answers
// our request.
func isReply(msg []byte, from net.Addr, want netip.Addr, raw bool, id, seq uint16, payload []byte) bool {
	if len(msg) < 8 {
		return false
	}
	typ := byte(icmpv4EchoReply)
	if want.Is6() {
		typ = icmpv6EchoReply
	}
	if msg[0] != typ || binary.BigEndian.Uint16(msg[6:]) != seq || !bytes.Equal(msg[8:], payload) {
		return false
	}
	if raw && binary.BigEndian.Uint16(msg[4:]) != id {
		return false
	}
	var src net.IP
	switch a := from.(type) {
	case *net.UDPAddr:
		src = a.IP
	case *net.IPAddr:
		src = a.IP
	}
	got, ok := netip.AddrFromSlice(src)
	return ok && got.Unmap() == want.WithZone("")
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = (sum >> 16) + (sum & 0xffff)
	}
	return ^uint16(sum)
}
