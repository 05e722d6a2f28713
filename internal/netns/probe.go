package netns

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// MaxProbe bounds the datagrams of one Probe.
const MaxProbe = 10000

var probeMagic = []byte("cgprobe1")

// Probe measures reachability from host from to host to over UDP: it opens
// an echo socket in to's namespace and a client socket in from's, sends
// count datagrams (1..MaxProbe, paced by 1 ms every 20), and returns how
// many distinct echoes came back before all did or wait passed after the
// last send. Nothing runs outside the two namespaces.
func (c *Cluster) Probe(from, to, count int, wait time.Duration) (int, error) {
	if count < 1 || count > MaxProbe {
		return 0, fmt.Errorf("%w: probe count %d not in 1..%d", ErrBadHost, count, MaxProbe)
	}
	if from < 1 || from > len(c.hosts) || to < 1 || to > len(c.hosts) {
		return 0, fmt.Errorf("%w: probe %d -> %d of %d hosts", ErrBadHost, from, to, len(c.hosts))
	}
	srv, err := c.ListenPacket(to, "udp4", netip.AddrPortFrom(c.hosts[to-1].Addr, 0).String())
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	cli, err := c.ListenPacket(from, "udp4", netip.AddrPortFrom(c.hosts[from-1].Addr, 0).String())
	if err != nil {
		return 0, err
	}
	defer cli.Close()

	go echo(srv)
	seen := make([]bool, count)
	got := 0
	all := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 64)
		for {
			n, _, err := cli.ReadFrom(buf)
			if err != nil {
				return
			}
			if n != 16 || !bytes.Equal(buf[:8], probeMagic) {
				continue
			}
			s := binary.BigEndian.Uint64(buf[8:16])
			if s < uint64(count) && !seen[s] {
				seen[s] = true
				got++
				if got == count {
					close(all)
				}
			}
		}
	}()

	dst := srv.LocalAddr()
	msg := make([]byte, 16)
	copy(msg, probeMagic)
	for s := 0; s < count; s++ {
		binary.BigEndian.PutUint64(msg[8:], uint64(s))
		// Errors count as losses: an nftables drop in OUTPUT fails the
		// send with EPERM, a link without carrier may fail it too.
		_, _ = cli.WriteTo(msg, dst)
		if s%20 == 19 {
			time.Sleep(time.Millisecond)
		}
	}
	t := time.NewTimer(wait)
	select {
	case <-all:
	case <-t.C:
	}
	t.Stop()
	_ = cli.Close()
	<-readerDone
	return got, nil
}

// echo sends every datagram back to its sender until pc is closed.
func echo(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return // closed by Probe
		}
		_, _ = pc.WriteTo(buf[:n], from)
	}
}
