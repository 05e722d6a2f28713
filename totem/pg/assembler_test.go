package pg

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// collector records delivered items (copied).
type collector struct{ items [][]byte }

func (c *collector) deliver(item []byte) { c.items = append(c.items, append([]byte(nil), item...)) }

func (c *collector) take() [][]byte {
	it := c.items
	c.items = nil
	return it
}

func equalItems(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("delivered %d items, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("item %d: %d bytes differ from the %d sent", i, len(got[i]), len(want[i]))
		}
	}
}

// pack runs items through a fresh Packer and flushes at the end.
func pack(limit int, items ...[]byte) [][]byte {
	p := NewPacker(limit)
	var s sink
	for _, it := range items {
		p.Add(it, s.emit)
	}
	p.Flush(s.emit)
	return s.take()
}

func within(sub, buf []byte) bool {
	if len(sub) == 0 || len(buf) == 0 {
		return false
	}
	s, b := uintptr(unsafe.Pointer(&sub[0])), uintptr(unsafe.Pointer(&buf[0]))
	return s >= b && s+uintptr(len(sub)) <= b+uintptr(len(buf))
}

func TestAssemblerPackedItemsAreSubslices(t *testing.T) {
	items := [][]byte{fill(10, 1), fill(300, 2), fill(40, 3)}
	pkts := pack(0, items...)
	if len(pkts) != 1 {
		t.Fatalf("%d packets", len(pkts))
	}
	a := NewAssembler(0)
	n := 0
	err := a.Deliver(1, pkts[0], false, func(item []byte) {
		if !bytes.Equal(item, items[n]) {
			t.Errorf("item %d differs", n)
		}
		if !within(item, pkts[0]) {
			t.Errorf("item %d was copied", n)
		}
		n++
	})
	if err != nil || n != 3 {
		t.Fatalf("Deliver: %v, %d items", err, n)
	}
}

func TestAssemblerFragments(t *testing.T) {
	for _, sizes := range [][]int{
		{1573},               // 2 pieces
		{3211},               // 3 pieces
		{10, 1573, 20, 3211}, // mixed with packed items
		{1400 * 300},         // counter wraps
		{DefaultMaxItem},     // largest item
	} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			var items [][]byte
			for i, n := range sizes {
				items = append(items, fill(n, byte(i)))
			}
			a := NewAssembler(0)
			var c collector
			for _, pkt := range pack(0, items...) {
				must(t, a.Deliver(7, pkt, false, c.deliver))
			}
			equalItems(t, c.take(), items)
			if a.Pending(7) != 0 {
				t.Fatalf("Pending = %d after the last item", a.Pending(7))
			}
		})
	}
}

func TestAssemblerSwapped(t *testing.T) {
	items := [][]byte{fill(5, 1), fill(2000, 2), fill(7, 3), fill(5000, 4)}
	a := NewAssembler(0)
	var c collector
	for _, pkt := range pack(0, items...) {
		must(t, a.Deliver(1, swapPacket(t, pkt), true, c.deliver))
	}
	equalItems(t, c.take(), items)
	// The same big-endian packets read as little-endian are rejected, not misread.
	bad := 0
	for _, pkt := range pack(0, items...) {
		if err := a.Deliver(2, swapPacket(t, pkt), false, c.deliver); err != nil {
			bad++
		}
	}
	if bad == 0 {
		t.Fatal("swapped packets decoded without the swapped flag")
	}
}

func TestAssemblerThrowAway(t *testing.T) {
	big := fill(3000, 9) // 3 pieces: (1,0) (2,1) (0,2)
	x, y := fill(20, 1), fill(30, 2)

	t.Run("missed first fragment", func(t *testing.T) {
		pkts := pack(0, big)
		a := NewAssembler(0)
		var c collector
		err := a.Deliver(3, pkts[1], false, c.deliver) // (2,1) without (1,0)
		if ReasonOf(err) != ReasonContinuation {
			t.Fatalf("continuation without a fragment: %v", err)
		}
		if err := a.Deliver(3, pkts[2], false, c.deliver); err != nil { // (0,2): rest of the thrown-away item
			t.Fatalf("rest of a thrown-away item: %v", err)
		}
		if len(c.take()) != 0 {
			t.Fatal("delivered part of a thrown-away item")
		}
		must(t, a.Deliver(3, mustPacket(t, 0, 0, x, y), false, c.deliver))
		equalItems(t, c.take(), [][]byte{x, y})
		if a.Drops(ReasonContinuation) != 1 {
			t.Fatalf("Drops = %d, want 1", a.Drops(ReasonContinuation))
		}
	})

	t.Run("fresh items after an unmatched piece are delivered", func(t *testing.T) {
		a := NewAssembler(0)
		var c collector
		err := a.Deliver(3, mustPacket(t, 0, 5, fill(9, 0), x, y), false, c.deliver)
		if ReasonOf(err) != ReasonContinuation {
			t.Fatalf("got %v", err)
		}
		equalItems(t, c.take(), [][]byte{x, y})
	})

	t.Run("wrong fragment number", func(t *testing.T) {
		a := NewAssembler(0)
		var c collector
		must(t, a.Deliver(3, mustPacket(t, 4, 0, x, fill(100, 0)), false, c.deliver))
		if a.Pending(3) != 100 {
			t.Fatalf("Pending = %d, want 100", a.Pending(3))
		}
		// Continues fragment 5, not 4; and is itself continued as 6.
		err := a.Deliver(3, mustPacket(t, 6, 5, fill(50, 0)), false, c.deliver)
		if ReasonOf(err) != ReasonContinuation {
			t.Fatalf("got %v", err)
		}
		must(t, a.Deliver(3, mustPacket(t, 0, 6, fill(50, 0), y), false, c.deliver))
		equalItems(t, c.take(), [][]byte{x, y})
	})

	t.Run("fragment not continued", func(t *testing.T) {
		a := NewAssembler(0)
		var c collector
		must(t, a.Deliver(3, mustPacket(t, 1, 0, x, fill(100, 0)), false, c.deliver))
		err := a.Deliver(3, mustPacket(t, 0, 0, y), false, c.deliver)
		if ReasonOf(err) != ReasonContinuation {
			t.Fatalf("got %v", err)
		}
		equalItems(t, c.take(), [][]byte{x, y})
	})
}

func TestAssemblerForgetAndReset(t *testing.T) {
	pkts := pack(0, fill(3000, 1))
	for _, drop := range []string{"forget", "reset"} {
		t.Run(drop, func(t *testing.T) {
			a := NewAssembler(0)
			var c collector
			must(t, a.Deliver(4, pkts[0], false, c.deliver))
			must(t, a.Deliver(5, pkts[0], false, c.deliver))
			if a.Pending(4) != 1400 {
				t.Fatalf("Pending = %d", a.Pending(4))
			}
			if drop == "forget" {
				a.Forget(4)
				a.Forget(99) // unknown: no-op
			} else {
				a.Reset()
			}
			if a.Pending(4) != 0 {
				t.Fatal("partial data survived")
			}
			if err := a.Deliver(4, pkts[1], false, c.deliver); ReasonOf(err) != ReasonContinuation {
				t.Fatalf("continuation after %s: %v", drop, err)
			}
			// Node 5 is unaffected by Forget(4).
			if drop == "forget" {
				must(t, a.Deliver(5, pkts[1], false, c.deliver))
				must(t, a.Deliver(5, pkts[2], false, c.deliver))
				equalItems(t, c.take(), [][]byte{fill(3000, 1)})
			}
			// The freed state is reused for a new originator.
			for _, pkt := range pkts {
				must(t, a.Deliver(6, pkt, false, c.deliver))
			}
			equalItems(t, c.take(), [][]byte{fill(3000, 1)})
		})
	}
}

func TestAssemblerInterleaved(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const nodes = 4
	want := make([][][]byte, nodes)
	queues := make([][][]byte, nodes)
	for n := range nodes {
		p := NewPacker(0)
		var s sink
		for i := range 40 {
			size := 1 + rng.IntN(4000)
			it := fill(size, byte(n*50+i))
			want[n] = append(want[n], it)
			p.Add(it, s.emit)
			if rng.IntN(3) == 0 {
				p.Flush(s.emit)
			}
		}
		p.Flush(s.emit)
		queues[n] = s.take()
	}
	a := NewAssembler(0)
	got := make([][][]byte, nodes)
	for {
		var live []int
		for n := range nodes {
			if len(queues[n]) > 0 {
				live = append(live, n)
			}
		}
		if len(live) == 0 {
			break
		}
		n := live[rng.IntN(len(live))]
		pkt := queues[n][0]
		queues[n] = queues[n][1:]
		must(t, a.Deliver(uint32(n+1), pkt, false, func(item []byte) {
			got[n] = append(got[n], append([]byte(nil), item...))
		}))
	}
	for n := range nodes {
		equalItems(t, got[n], want[n])
	}
}

func TestAssemblerMaxItem(t *testing.T) {
	a := NewAssembler(2000)
	var c collector
	small, big, whole := fill(100, 1), fill(3000, 2), fill(1500, 3)
	for _, pkt := range pack(0, small, big, small) {
		_ = a.Deliver(1, pkt, false, c.deliver)
	}
	equalItems(t, c.take(), [][]byte{small, small})
	if a.Drops(ReasonTooBig) != 1 {
		t.Fatalf("TooBig drops = %d, want 1", a.Drops(ReasonTooBig))
	}

	a = NewAssembler(1000) // an item whole in its packet, above the limit
	err := a.Deliver(1, mustPacket(t, 0, 0, small, whole, small), false, c.deliver)
	if ReasonOf(err) != ReasonTooBig {
		t.Fatalf("got %v", err)
	}
	equalItems(t, c.take(), [][]byte{small, small})
	if NewAssembler(0).MaxItem() != DefaultMaxItem {
		t.Fatal("default MaxItem")
	}
}

// TestAssemblerMalformed checks that malformed packets are rejected with
// their reason and change no state, for the sender or anyone else.
func TestAssemblerMalformed(t *testing.T) {
	good := mustPacket(t, 0, 1, fill(10, 0), fill(20, 0))
	tests := []struct {
		name string
		pkt  []byte
		want Reason
	}{
		{"empty", nil, ReasonShort},
		{"7 bytes", good[:7], ReasonShort},
		{"zero count", []byte{0, 0, 0, 0, 0, 0, 0, 0}, ReasonNoItems},
		{"length words cut", good[:9], ReasonShort},
		{"items cut", good[:len(good)-1], ReasonTruncated},
		{"trailing byte", append(append([]byte(nil), good...), 0), ReasonTrailing},
		{"empty item", []byte{0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 9}, ReasonEmptyItem},
		{"huge count", []byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 0}, ReasonShort},
		{"huge length", []byte{0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 1}, ReasonTruncated},
	}
	pkts := pack(0, fill(3000, 5))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAssembler(0)
			var c collector
			must(t, a.Deliver(1, pkts[0], false, c.deliver))
			must(t, a.Deliver(2, pkts[0], false, c.deliver))
			for _, from := range []uint32{1, 3} {
				err := a.Deliver(from, tc.pkt, false, c.deliver)
				if ReasonOf(err) != tc.want || !tc.want.Malformed() {
					t.Fatalf("from %d: got %v, want %v", from, err, tc.want)
				}
			}
			if len(c.take()) != 0 || a.Drops(tc.want) != 2 {
				t.Fatalf("delivered data or miscounted (%d)", a.Drops(tc.want))
			}
			for _, from := range []uint32{1, 2} {
				for _, pkt := range pkts[1:] {
					must(t, a.Deliver(from, pkt, false, c.deliver))
				}
			}
			equalItems(t, c.take(), [][]byte{fill(3000, 5), fill(3000, 5)})
		})
	}
}

func TestAssemblerNoAllocs(t *testing.T) {
	pkts := pack(0, fill(64, 0), fill(1024, 1), fill(64<<10, 2), fill(10, 3))
	a := NewAssembler(0)
	n := 0
	deliver := func(item []byte) { n += len(item) }
	round := func() {
		for _, pkt := range pkts {
			if err := a.Deliver(9, pkt, false, deliver); err != nil {
				t.Fatal(err)
			}
		}
	}
	round() // warm-up grows the reassembly buffer
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Fatalf("%.1f allocs per round, want 0", allocs)
	}
}
