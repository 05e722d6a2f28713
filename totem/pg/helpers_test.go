package pg

import (
	"fmt"
	"strings"
	"testing"
)

// sink collects copies of emitted packets.
type sink struct{ pkts [][]byte }

func (s *sink) emit(pkt []byte) { s.pkts = append(s.pkts, append([]byte(nil), pkt...)) }

// take returns the collected packets and forgets them.
func (s *sink) take() [][]byte {
	p := s.pkts
	s.pkts = nil
	return p
}

// desc summarises a packet as "f<fragmented> c<continuation> [len ...]".
func desc(t testing.TB, pkt []byte) string {
	t.Helper()
	p, err := DecodePacket(pkt, false)
	if err != nil {
		t.Fatalf("emitted packet does not decode: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "f%d c%d [", p.Fragmented, p.Continuation)
	for i := range int(p.Count) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, p.ItemLen(i))
	}
	b.WriteByte(']')
	return b.String()
}

func descAll(t testing.TB, pkts [][]byte) []string {
	t.Helper()
	out := make([]string, len(pkts))
	for i, p := range pkts {
		out[i] = desc(t, p)
	}
	return out
}

// fill returns n bytes with a recognisable pattern starting at seed.
func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// mustPacket builds a packet with AppendPacket or fails the test.
func mustPacket(t testing.TB, frag, cont uint8, items ...[]byte) []byte {
	t.Helper()
	p, err := AppendPacket(nil, Header{Fragmented: frag, Continuation: cont}, items...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// swapPacket converts a little-endian packet to the big-endian form a
// big-endian sender would produce (msg_count and length words swapped).
func swapPacket(t testing.TB, pkt []byte) []byte {
	t.Helper()
	p, err := DecodePacket(pkt, false)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), pkt...)
	for i := 6; i < HeaderSize+2*int(p.Count); i += 2 {
		out[i], out[i+1] = out[i+1], out[i]
	}
	return out
}
