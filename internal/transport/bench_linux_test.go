//go:build linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corogo/corogo/totem"
)

// frameSize is corosync's largest normal MCAST datagram at netmtu 1500.
const frameSize = 1455

// BenchmarkFanout measures the udpu fan-out on loopback: node 1 broadcasts
// 1455-byte frames to 3 members (itself included) while all three drain
// their token sockets. One op is one frame, i.e. 3 datagrams. perSend is
// the number of frames per Send call (one sendmmsg per call).
//
// Sub-benchmarks "writeto-*" are baselines without this package: one
// WriteToUDPAddrPort system call per datagram, from one shared socket or
// from one socket per member (corosync's layout).
func BenchmarkFanout(b *testing.B) {
	for _, perSend := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("sendmmsg/frames-per-send=%d", perSend), func(b *testing.B) {
			benchFanout(b, perSend, nil)
		})
	}
	for _, perMember := range []bool{false, true} {
		name := map[bool]string{false: "writeto-shared-socket", true: "writeto-socket-per-member"}[perMember]
		b.Run(name, func(b *testing.B) {
			benchFanout(b, 1, &perMember)
		})
	}
}

func benchFanout(b *testing.B, perSend int, writeTo *bool) {
	port := freePort(b, false, loopback3...)
	ms := members(loopback3...)
	trs := make([]Transport, 3)
	for i, a := range loopback3 {
		tr, err := New(udpuConfig(totem.NodeID(i+1), a, port, ms))
		if err != nil {
			b.Fatal(err)
		}
		trs[i] = tr
	}
	var received atomic.Uint64
	var wg sync.WaitGroup
	for _, tr := range trs {
		// Buffers allocated here, before the timer starts, so that the
		// allocation figures show the steady state.
		batch := make([]Datagram, 64)
		for i := range batch {
			batch[i].Data = make([]byte, ReceiveFrameSizeMax)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n, err := tr.Receive(batch)
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						b.Error(err)
					}
					return
				}
				received.Add(uint64(n))
			}
		}()
	}
	payload := make([]byte, frameSize)
	frames := make([]totem.Frame, perSend)
	for i := range frames {
		frames[i] = totem.Frame{To: totem.Broadcast, Data: payload}
	}
	var send func(frames []totem.Frame) error
	if writeTo == nil {
		send = trs[0].Send
	} else {
		var conns []*net.UDPConn
		for range ms {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback3[0], 0)))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			conns = append(conns, c)
			if !*writeTo {
				break
			}
		}
		dsts := make([]netip.AddrPort, len(ms))
		for i, m := range ms {
			dsts[i] = netip.AddrPortFrom(m.Addr, port)
		}
		send = func(frames []totem.Frame) error {
			for _, f := range frames {
				for i, d := range dsts {
					if _, err := conns[i%len(conns)].WriteToUDPAddrPort(f.Data, d); err != nil {
						return err
					}
				}
			}
			return nil
		}
	}

	b.SetBytes(int64(frameSize * len(ms)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	rxStart := received.Load()
	sent := 0
	for sent < b.N {
		k := min(perSend, b.N-sent)
		if err := send(frames[:k]); err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	elapsed := time.Since(start)
	b.StopTimer()
	// Let the receivers drain what is queued (bounded).
	want := uint64(sent * len(ms))
	for deadline := time.Now().Add(time.Second); received.Load()-rxStart < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	got := received.Load() - rxStart
	for _, tr := range trs {
		tr.Close()
	}
	wg.Wait()
	b.ReportMetric(float64(want)/elapsed.Seconds(), "tx-dgrams/s")
	b.ReportMetric(float64(got)/elapsed.Seconds(), "rx-dgrams/s")
	b.ReportMetric(100*float64(want-got)/float64(want), "loss-%")
}
