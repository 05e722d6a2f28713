package pg

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzStream splits fuzz data into (originator, packet) records:
// from u8, length u16 LE, then the packet bytes.
func fuzzStream(data []byte, fn func(from uint32, pkt []byte)) {
	for len(data) >= 3 {
		from := uint32(data[0] % 4)
		n := int(binary.LittleEndian.Uint16(data[1:]))
		data = data[3:]
		n = min(n, len(data))
		fn(from, data[:n])
		data = data[n:]
	}
}

func streamRecord(from byte, pkt []byte) []byte {
	return append(binary.LittleEndian.AppendUint16([]byte{from}, uint16(len(pkt))), pkt...)
}

// FuzzDeliver feeds arbitrary packet streams from several originators to an
// Assembler: it must never panic, deliver only non-empty items within
// maxItem, deliver nothing from a malformed packet, and decode every valid
// packet into items that re-encode to the same bytes.
func FuzzDeliver(f *testing.F) {
	var seed []byte
	for _, pkt := range pack(0, fill(30, 1), fill(3000, 2), fill(5, 3)) {
		seed = append(seed, streamRecord(1, pkt)...)
		seed = append(seed, streamRecord(2, pkt)...)
	}
	f.Add(seed, false)
	f.Add(streamRecord(1, mustPacket(f, 0, 0, []byte(GroupHeaderSync))), true)
	f.Add(streamRecord(3, []byte{0, 0, 0, 0, 7, 9, 0, 1, 0, 3, 1, 2, 3}), true)
	f.Fuzz(func(t *testing.T, data []byte, swapped bool) {
		const maxItem = 4096
		a := NewAssembler(maxItem)
		fuzzStream(data, func(from uint32, pkt []byte) {
			p, derr := DecodePacket(pkt, swapped)
			delivered := 0
			err := a.Deliver(from, pkt, swapped, func(item []byte) {
				delivered++
				if len(item) == 0 || len(item) > maxItem {
					t.Fatalf("delivered an item of %d bytes", len(item))
				}
			})
			if derr != nil {
				if delivered != 0 || ReasonOf(err) != ReasonOf(derr) || !ReasonOf(err).Malformed() {
					t.Fatalf("malformed packet (%v): delivered %d, error %v", derr, delivered, err)
				}
				return
			}
			if err != nil && ReasonOf(err).Malformed() {
				t.Fatalf("valid packet reported malformed: %v", err)
			}
			if !swapped {
				var items [][]byte
				for _, it := range p.Items() {
					items = append(items, it)
				}
				re, err := AppendPacket(nil, p.Header, items...)
				if err != nil || !bytes.Equal(re, pkt) {
					t.Fatalf("re-encoding differs: %v\n%x\n%x", err, re, pkt)
				}
			}
		})
	})
}

// FuzzParseGroups: ParseGroups never panics, splits the item exactly, and a
// little-endian header re-encodes to the same bytes.
func FuzzParseGroups(f *testing.F) {
	f.Add([]byte(GroupHeaderA+"payload"), false)
	f.Add([]byte(GroupHeaderSync), false)
	f.Add([]byte{0, 2, 0, 1, 0, 2, 'a', 'b', 'c'}, true)
	f.Add([]byte{0xff, 0xff, 1}, false)
	f.Fuzz(func(t *testing.T, item []byte, swapped bool) {
		g, payload, err := ParseGroups(item, swapped)
		if err != nil {
			if ReasonOf(err) != ReasonGroupHeader {
				t.Fatalf("reason %v", ReasonOf(err))
			}
			return
		}
		if g.Len()+len(payload) != len(item) || !bytes.Equal(g.Bytes(), item[:g.Len()]) {
			t.Fatal("split does not cover the item")
		}
		names := make([]string, g.Count())
		for i := range names {
			names[i] = string(g.Name(i))
			if !g.Has(names[i]) {
				t.Fatalf("Has(%q) false", names[i])
			}
		}
		if !swapped && len(names) <= MaxGroups {
			if re := AppendGroupHeader(nil, names...); !bytes.Equal(re, g.Bytes()) {
				t.Fatalf("re-encoding differs: %x vs %x", re, g.Bytes())
			}
		}
	})
}

// FuzzPackRoundTrip packs items cut from the fuzz data with a limit taken
// from it, and checks that reassembly gives them back.
func FuzzPackRoundTrip(f *testing.F) {
	f.Add(uint16(1410), []byte("a\x00bb\x00ccc"), uint8(3))
	f.Add(uint16(20), bytes.Repeat([]byte{1, 2, 3, 0}, 100), uint8(1))
	f.Fuzz(func(t *testing.T, limit uint16, data []byte, flushEvery uint8) {
		p := NewPacker(int(limit)%4000 + MinPacketLimit)
		var pkts [][]byte
		emit := func(pkt []byte) {
			if len(pkt) > p.Limit() {
				t.Fatalf("packet of %d bytes over limit %d", len(pkt), p.Limit())
			}
			pkts = append(pkts, append([]byte(nil), pkt...))
		}
		var items [][]byte
		for i, it := range bytes.Split(data, []byte{0}) {
			if len(it) == 0 {
				continue
			}
			// Repeat the item to reach multi-packet sizes cheaply.
			reps := 1 + int(it[0])%8*int(it[0])
			it = bytes.Repeat(it, min(reps, 200000/len(it)+1))
			items = append(items, it)
			p.AddVec([][]byte{it[:len(it)/3], it[len(it)/3:]}, emit)
			if flushEvery != 0 && i%int(flushEvery) == 0 {
				p.Flush(emit)
			}
		}
		p.Flush(emit)
		a := NewAssembler(0)
		var got [][]byte
		for _, pkt := range pkts {
			if err := a.Deliver(1, pkt, false, func(item []byte) {
				got = append(got, append([]byte(nil), item...))
			}); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(items) {
			t.Fatalf("%d items back, %d sent", len(got), len(items))
		}
		for i := range items {
			if !bytes.Equal(got[i], items[i]) {
				t.Fatalf("item %d differs", i)
			}
		}
	})
}
