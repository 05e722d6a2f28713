package pg

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"testing"
	"testing/quick"
)

var seedFlag = flag.Uint64("pg.seed", 0, "replay TestPackAssembleRandom with this seed only")

// TestPackAssembleRandom packs random item sequences, with random part
// splits, limits and flush points, and checks that reassembly gives the same
// items back and that every packet respects the packing rules.
func TestPackAssembleRandom(t *testing.T) {
	seeds := []uint64{*seedFlag}
	if *seedFlag == 0 {
		seeds = seeds[:0]
		n := 300
		if testing.Short() {
			n = 30
		}
		for s := range n {
			seeds = append(seeds, uint64(s+1))
		}
	}
	for _, seed := range seeds {
		if !packAssemble(t, seed) {
			t.Fatalf("failed: replay with go test ./totem/pg -run TestPackAssembleRandom -pg.seed=%d", seed)
		}
	}
}

func packAssemble(t *testing.T, seed uint64) bool {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	limit := DefaultPacketLimit
	switch rng.IntN(4) {
	case 0:
		limit = MinPacketLimit + rng.IntN(200)
	case 1:
		limit = MinPacketLimit + rng.IntN(3000)
	}
	p := NewPacker(limit)
	var pkts [][]byte
	singlePart := true
	emit := func(pkt []byte) {
		pkts = append(pkts, append([]byte(nil), pkt...))
	}
	var items [][]byte
	for range 1 + rng.IntN(60) {
		var size int
		switch r := rng.IntN(20); {
		case r < 12:
			size = 1 + rng.IntN(200)
		case r < 18:
			size = 1 + rng.IntN(3*limit)
		case r < 19:
			size = limit - 14 + rng.IntN(8) // around the buffering threshold
		default:
			size = 1 + rng.IntN(70000)
		}
		size = max(size, 1)
		item := make([]byte, size)
		for i := range item {
			item[i] = byte(rng.Uint32())
		}
		switch rng.IntN(3) {
		case 0:
			p.Add(item, emit)
		case 1: // random part boundaries, with empty parts
			var parts [][]byte
			rest := item
			for len(rest) > 0 {
				n := min(len(rest), rng.IntN(limit+limit/2))
				parts = append(parts, rest[:n])
				rest = rest[n:]
			}
			p.AddVec(parts, emit)
			singlePart = false
		case 2: // through a group header
			g := []string{GroupA, GroupSync, "grp"}[rng.IntN(3)]
			hdr := AppendGroupHeader(nil, g)
			must(t, p.AddGroups([]string{g}, [][]byte{item}, emit))
			item = append(hdr, item...)
			singlePart = false
		}
		items = append(items, item)
		if rng.IntN(4) == 0 {
			p.Flush(emit)
		}
	}
	p.Flush(emit)
	if p.Pending() != 0 {
		t.Errorf("seed %d: %d bytes pending after Flush", seed, p.Pending())
		return false
	}

	a := NewAssembler(0)
	var got [][]byte
	for i, pkt := range pkts {
		h, err := DecodePacket(pkt, false)
		if err != nil {
			t.Errorf("seed %d: packet %d: %v", seed, i, err)
			return false
		}
		if len(pkt) > limit {
			t.Errorf("seed %d: packet %d: %d bytes > limit %d", seed, i, len(pkt), limit)
			return false
		}
		// A fragmented packet is full when every item is one part. (With parts,
		// a part boundary can leave it up to 2 bytes short, and the tail of a
		// large part followed by more parts goes out at once as a short one.)
		if h.Fragmented != 0 && singlePart && len(pkt) != limit {
			t.Errorf("seed %d: fragmented packet %d has %d bytes, limit %d", seed, i, len(pkt), limit)
			return false
		}
		if i > 0 && h.Continuation != pkts[i-1][4] {
			t.Errorf("seed %d: packet %d continuation %d after fragmented %d", seed, i, h.Continuation, pkts[i-1][4])
			return false
		}
		swapped := rng.IntN(2) == 0
		if swapped {
			pkt = swapPacket(t, pkt)
		}
		if err := a.Deliver(1, pkt, swapped, func(item []byte) {
			got = append(got, append([]byte(nil), item...))
		}); err != nil {
			t.Errorf("seed %d: packet %d: %v", seed, i, err)
			return false
		}
	}
	if len(got) != len(items) {
		t.Errorf("seed %d (limit %d): %d items back, %d sent", seed, limit, len(got), len(items))
		return false
	}
	for i := range items {
		if !bytes.Equal(got[i], items[i]) {
			t.Errorf("seed %d (limit %d): item %d differs", seed, limit, i)
			return false
		}
	}
	return true
}

// TestGroupHeaderQuick: ParseGroups inverts AppendGroupHeader for any names.
func TestGroupHeaderQuick(t *testing.T) {
	f := func(names []string, payload []byte) bool {
		if len(names) > MaxGroups {
			names = names[:MaxGroups]
		}
		item := append(AppendGroupHeader(nil, names...), payload...)
		g, p, err := ParseGroups(item, false)
		if err != nil || g.Count() != len(names) || !bytes.Equal(p, payload) {
			return false
		}
		for i, n := range names {
			if string(g.Name(i)) != n || !g.Has(n) {
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, nil); err != nil {
		t.Fatal(err)
	}
}
