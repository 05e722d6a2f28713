package pg

import (
	"fmt"
	"testing"
)

var benchSizes = []int{64, 1 << 10, 64 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkPackerAddFlush: one Add and one Flush per op (a token visit
// with one queued message).
func BenchmarkPackerAddFlush(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			p := NewPacker(0)
			item := fill(size, 1)
			pkts := 0
			emit := func([]byte) { pkts++ }
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				p.Add(item, emit)
				p.Flush(emit)
			}
			b.ReportMetric(float64(pkts)/float64(b.N), "pkts/op")
		})
	}
}

// BenchmarkPackerAddGroups: the same through AddGroups, flushing every 16
// items so small items are packed.
func BenchmarkPackerAddGroups(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			p := NewPacker(0)
			payload := [][]byte{fill(size, 1)}
			groups := []string{GroupA}
			emit := func([]byte) {}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = p.AddGroups(groups, payload, emit)
				if i++; i%16 == 0 {
					p.Flush(emit)
				}
			}
		})
	}
}

// BenchmarkAssemblerDeliver delivers the packets of one item per op.
func BenchmarkAssemblerDeliver(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			pkts := pack(0, fill(size, 1))
			a := NewAssembler(0)
			n := 0
			deliver := func(item []byte) { n += len(item) }
			for _, pkt := range pkts { // warm-up: grow the reassembly buffer
				must(b, a.Deliver(3, pkt, false, deliver))
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, pkt := range pkts {
					if err := a.Deliver(3, pkt, false, deliver); err != nil {
						b.Fatal(err)
					}
				}
			}
			if n == 0 {
				b.Fatal("nothing delivered")
			}
		})
	}
}

func BenchmarkParseGroups(b *testing.B) {
	item := append([]byte(GroupHeaderSync), make([]byte, 32)...)
	b.ReportAllocs()
	for b.Loop() {
		g, _, err := ParseGroups(item, false)
		if err != nil || !g.Has(GroupSync) {
			b.Fatal("parse")
		}
	}
}
