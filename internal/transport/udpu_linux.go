//go:build linux

package transport

import (
	"net"
	"net/netip"

	"github.com/corogo/corogo/totem"
)

// tokenPriority is the SO_PRIORITY corosync gives the token socket
// (TC_PRIO_INTERACTIVE).
const tokenPriority = 6

// udpuTransport is corosync's totemudpu: a token socket on Local:Port that
// receives everything and sends the unicast tokens, and a send socket on
// Local:0 for the fan-out copies.
type udpuTransport struct {
	base
	tok, snd   *sock
	tokW, sndW *writer
}

func newUDPU(cfg Config) (*udpuTransport, error) {
	t := &udpuTransport{}
	if err := t.init(cfg); err != nil {
		return nil, err
	}
	var err error
	t.tok, err = openUDP(netip.AddrPortFrom(cfg.Local, cfg.Port), t.scope, sockOpts{
		role: "token socket", priority: tokenPriority, bufSize: cfg.SocketBuffer, log: t.log,
	})
	if err != nil {
		return nil, err
	}
	t.snd, err = openUDP(netip.AddrPortFrom(cfg.Local, 0), t.scope, sockOpts{
		role: "send socket", bufSize: cfg.SocketBuffer, log: t.log,
	})
	if err != nil {
		t.tok.close()
		return nil, err
	}
	t.local = t.tok.addr
	t.tokW = newWriter(t.tok, &t.c)
	t.sndW = newWriter(t.snd, &t.c)
	var block func() filter
	if cfg.BlockUnlisted {
		block = t.filter
	}
	t.rd = newReader(&t.c, t.tok, nil, cfg.RecvBufferSize, block)
	rcv, snd := t.tok.buffers()
	t.log.Info("transport: udpu ready",
		"node", cfg.LocalNodeID, "token_socket", t.tok.addr, "send_socket", t.snd.addr,
		"members", len(cfg.Members), "block_unlisted_ips", cfg.BlockUnlisted,
		"so_rcvbuf", rcv, "so_sndbuf", snd)
	return t, nil
}

// Send implements Transport. A Broadcast frame becomes one datagram per
// member, this node included, sent from the send socket with one sendmmsg
// for the whole run of consecutive broadcasts; any other frame goes to its
// member from the token socket. Frame order is kept: a run is flushed
// before the other socket is used.
func (t *udpuTransport) Send(frames []totem.Frame) error {
	if t.closed.Load() {
		return net.ErrClosed
	}
	tbl := t.table.Load()
	var first error
	var cur *writer
	for i := range frames {
		f := &frames[i]
		if f.To == totem.Broadcast {
			if cur == t.tokW {
				t.tokW.flush()
			}
			cur = t.sndW
			for j := range tbl.addrs {
				if t.cfg.SkipSelf && tbl.members[j].NodeID == t.cfg.LocalNodeID {
					continue
				}
				t.sndW.add(&tbl.addrs[j], f.Data)
			}
			continue
		}
		dst, ok := tbl.lookup(f.To)
		if !ok {
			first = t.unknown(f.To, first)
			continue
		}
		if cur == t.sndW {
			t.sndW.flush()
		}
		cur = t.tokW
		t.tokW.add(dst, f.Data)
	}
	t.sndW.flush()
	t.tokW.flush()
	first = keepFirst(first, t.sndW.takeErr())
	first = keepFirst(first, t.tokW.takeErr())
	return first
}

// Close implements Transport.
func (t *udpuTransport) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return nil
	}
	return closeAll(t.tok, t.snd)
}
