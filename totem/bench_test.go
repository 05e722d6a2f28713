package totem

import (
	"fmt"
	"testing"
	"time"
)

// benchNet is an allocation-free lossless network for benchmarks: packet
// buffers are recycled.
type benchNet struct {
	nodes []*Node
	queue []benchPkt
	head  int
	free  [][]byte
	deliv []int
	bytes []int
}

type benchPkt struct {
	to   int
	data []byte
}

func newBenchNet(b testing.TB, n int) *benchNet {
	bn := &benchNet{deliv: make([]int, n+1), bytes: make([]int, n+1)}
	ids := make([]NodeID, n)
	for i := range ids {
		ids[i] = NodeID(i + 1)
	}
	bn.nodes = make([]*Node, n+1)
	for _, id := range ids {
		cfg := DefaultConfig(id, ids)
		nd, err := NewNode(cfg, PersistentState{})
		if err != nil {
			b.Fatal(err)
		}
		bn.nodes[id] = nd
	}
	for _, id := range ids {
		bn.nodes[id].Start()
		bn.collect(int(id))
	}
	for i := 0; i < 5000; i++ {
		bn.pump()
		for _, id := range ids {
			bn.nodes[id].Tick()
			bn.collect(int(id))
		}
		if bn.formed() {
			return bn
		}
	}
	b.Fatal("ring did not form")
	return nil
}

func (bn *benchNet) formed() bool {
	for _, nd := range bn.nodes[1:] {
		st := nd.state
		if st != StateOperational || len(nd.membList) != len(bn.nodes)-1 {
			return false
		}
	}
	return true
}

func (bn *benchNet) buf(d []byte) []byte {
	var b []byte
	if n := len(bn.free); n > 0 {
		b = bn.free[n-1][:0]
		bn.free = bn.free[:n-1]
	}
	return append(b, d...)
}

func (bn *benchNet) collect(id int) {
	nd := bn.nodes[id]
	rd := nd.Ready()
	for _, f := range rd.Frames {
		if f.To == Broadcast {
			for to := 1; to < len(bn.nodes); to++ {
				bn.queue = append(bn.queue, benchPkt{to, bn.buf(f.Data)})
			}
		} else {
			bn.queue = append(bn.queue, benchPkt{int(f.To), bn.buf(f.Data)})
		}
	}
	for _, e := range rd.Events {
		if e.Type == EventDeliver {
			bn.deliv[id]++
			bn.bytes[id] += len(e.Data)
		}
	}
	nd.Advance()
}

// pump delivers every queued packet, and those they cause.
func (bn *benchNet) pump() { bn.pumpN(-1) }

// pumpN delivers at most max packets (all when max < 0).
func (bn *benchNet) pumpN(max int) {
	for ; bn.head < len(bn.queue) && max != 0; max-- {
		p := bn.queue[bn.head]
		bn.queue[bn.head] = benchPkt{}
		bn.head++
		_ = bn.nodes[p.to].Step(p.data)
		bn.free = append(bn.free, p.data)
		bn.collect(p.to)
		if bn.head > 4096 && bn.head*2 > len(bn.queue) {
			k := copy(bn.queue, bn.queue[bn.head:])
			bn.queue = bn.queue[:k]
			bn.head = 0
		}
	}
	if bn.head == len(bn.queue) {
		bn.queue = bn.queue[:0]
		bn.head = 0
	}
}

// run has node 1 send count messages and runs the ring until node 3 has
// delivered them all.
func (bn *benchNet) run(msg []byte, count int) {
	sender := bn.nodes[1]
	target := bn.deliv[3] + count
	sent := 0
	for bn.deliv[3] < target {
		for sent < count && sender.newMsgs.len() < 2*sender.cfg.WindowSize {
			if sender.Send(msg, Agreed) != nil {
				break
			}
			bn.collect(1)
			sent++
		}
		if bn.head == len(bn.queue) {
			for i := 1; i < len(bn.nodes); i++ {
				bn.nodes[i].Tick()
				bn.collect(i)
			}
		}
		bn.pumpN(8)
	}
}

// The hot path (token handling, sending, delivery) allocates nothing per
// message once warmed up, for messages that fit in one frame.
func TestHotPathDoesNotAllocate(t *testing.T) {
	for _, size := range []int{64, 1024} {
		bn := newBenchNet(t, 3)
		msg := make([]byte, size)
		bn.run(msg, 5000)
		allocs := testing.AllocsPerRun(20, func() { bn.run(msg, 200) })
		if perMsg := allocs / 200; perMsg > 0.01 {
			t.Errorf("size %d: %.3f allocations per delivered message (%.0f per 200)", size, perMsg, allocs)
		}
	}
}

// BenchmarkOrdering measures messages ordered and delivered per second in a
// simulated 3-node ring (one sender, every node delivering), and the
// allocations per delivered message.
func BenchmarkOrdering(b *testing.B) {
	for _, size := range []int{64, 1024, 64 * 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			bn := newBenchNet(b, 3)
			msg := make([]byte, size)
			run := func(count int) { bn.run(msg, count) }
			run(2000) // warm up buffers and queues
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			run(b.N)
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
		})
	}
}
