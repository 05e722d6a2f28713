package wire_test

import (
	"bytes"
	"testing"

	"github.com/corogo/corogo/totem/wire"
)

// TestGoldenSample decodes every Totem datagram of the sample capture into a
// reused struct per type, re-encodes it and requires the original bytes
// (corosync-wire.md §7). target_nodeid is kept as received, so the exact
// bytes must come back; the test then also encodes with target_nodeid 0, as
// we send, and compares against a copy with bytes 9..12 zeroed.
func TestGoldenSample(t *testing.T) {
	ds := sample(t)
	msgs := make(map[wire.MessageType]wire.Message)
	for _, ty := range allTypes {
		msgs[ty] = newMessage(ty)
	}
	counts := make(map[wire.MessageType]int)
	var trailing, swapped, garbageTarget, encapsulated int
	buf := make([]byte, 0, 2048)
	for _, d := range ds {
		b := d.Payload
		h, err := wire.PeekHeader(b)
		if err != nil {
			t.Errorf("frame %d: %v", d.Frame, err)
			continue
		}
		m := msgs[h.Type]
		if err := m.Unmarshal(b); err != nil {
			t.Errorf("frame %d: %v", d.Frame, err)
			continue
		}
		counts[h.Type]++
		hdr := header(m)
		if hdr.Swapped {
			swapped++
		}
		if hdr.TargetNodeID != 0 {
			garbageTarget++
		}
		if *hdr != h {
			t.Errorf("frame %d: PeekHeader %+v, Unmarshal header %+v", d.Frame, h, *hdr)
		}
		out := m.AppendTo(buf[:0])
		if len(out) != m.Size() {
			t.Errorf("frame %d: AppendTo wrote %d bytes, Size says %d", d.Frame, len(out), m.Size())
		}
		if h.Type == wire.TypeMcast {
			out = append(out, wire.McastPayload(b)...)
		}
		if len(out) > len(b) {
			t.Errorf("frame %d: re-encoded %d bytes from a %d-byte datagram", d.Frame, len(out), len(b))
			continue
		}
		if len(out) < len(b) {
			trailing++
		}
		if !bytes.Equal(out, b[:len(out)]) {
			t.Errorf("frame %d %v: re-encoding differs\n got % x\nwant % x", d.Frame, h.Type, out, b[:len(out)])
			continue
		}
		// As we would send it: target_nodeid 0.
		want := append([]byte(nil), b[:len(out)]...)
		clear(want[9:13])
		target := hdr.TargetNodeID
		hdr.TargetNodeID = 0
		out = m.AppendTo(buf[:0])
		hdr.TargetNodeID = target
		if h.Type == wire.TypeMcast {
			out = append(out, wire.McastPayload(b)...)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("frame %d: re-encoding with target 0 differs", d.Frame)
		}
		if mc, ok := m.(*wire.McastHeader); ok && mc.Encapsulated == wire.Encapsulated {
			encapsulated++
			checkEncapsulated(t, d.Frame, mc, b)
		}
	}
	total := 0
	for _, ty := range allTypes {
		t.Logf("%-18v %5d datagrams round-tripped", ty, counts[ty])
		total += counts[ty]
		if counts[ty] == 0 {
			t.Errorf("no %v in the sample", ty)
		}
	}
	t.Logf("total %d of %d datagrams; %d with trailing bytes, %d big-endian, %d with non-zero target_nodeid, %d recovery-encapsulated MCASTs",
		total, len(ds), trailing, swapped, garbageTarget, encapsulated)
	// The sample's census, as corosync-udpu-decode.py counts it.
	want := map[wire.MessageType]int{
		wire.TypeOrfToken: 1401, wire.TypeMcast: 400, wire.TypeMergeDetect: 174,
		wire.TypeMembJoin: 262, wire.TypeCommitToken: 28, wire.TypeTokenHoldCancel: 18,
	}
	for ty, n := range want {
		if counts[ty] != n {
			t.Errorf("%v: %d datagrams, want %d", ty, counts[ty], n)
		}
	}
	if trailing != 0 {
		t.Errorf("%d datagrams carry bytes beyond their message; the sample has none", trailing)
	}
	if swapped != 0 {
		t.Errorf("%d big-endian datagrams; the sample was captured on x86-64", swapped)
	}
	if encapsulated == 0 {
		t.Errorf("no recovery-encapsulated MCAST found")
	}
}

// checkEncapsulated decodes and round-trips the old-ring MCAST inside a
// recovery wrapper and checks that it belongs to another ring.
func checkEncapsulated(t *testing.T, fr int, outer *wire.McastHeader, b []byte) {
	t.Helper()
	inner := wire.McastPayload(b)
	var in wire.McastHeader
	if err := in.Unmarshal(inner); err != nil {
		t.Errorf("frame %d: inner MCAST: %v", fr, err)
		return
	}
	if in.Encapsulated != wire.NotEncapsulated {
		t.Errorf("frame %d: inner encapsulated = %d, want %d", fr, in.Encapsulated, wire.NotEncapsulated)
	}
	if in.RingID == outer.RingID {
		t.Errorf("frame %d: inner ring %v equals the outer ring", fr, in.RingID)
	}
	out := append(in.AppendTo(nil), wire.McastPayload(inner)...)
	if !bytes.Equal(out, inner) {
		t.Errorf("frame %d: inner MCAST re-encoding differs", fr)
	}
}

// TestEncapsulatedFrame1518 checks the IP-fragmented recovery wrapper of
// frames 1517+1518 (corosync-wire.md §7.2) field by field.
func TestEncapsulatedFrame1518(t *testing.T) {
	b := frame(t, 1518)
	if len(b) != 1500 {
		t.Fatalf("reassembled datagram is %d bytes, want 1500", len(b))
	}
	var outer, inner wire.McastHeader
	if err := outer.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	wantOuter := wire.McastHeader{
		Header:     wire.Header{Type: wire.TypeMcast, Encapsulated: wire.Encapsulated, NodeID: 3},
		SystemFrom: 3, Seq: 1, ThisSeqno: 0x10, RingID: wire.RingID{Rep: 1, Seq: 0x26},
	}
	if outer != wantOuter {
		t.Errorf("outer\n got %+v\nwant %+v", outer, wantOuter)
	}
	if err := inner.Unmarshal(wire.McastPayload(b)); err != nil {
		t.Fatal(err)
	}
	wantInner := wire.McastHeader{
		Header:     wire.Header{Type: wire.TypeMcast, Encapsulated: wire.NotEncapsulated, NodeID: 1},
		SystemFrom: 1, Seq: 0x3e, ThisSeqno: 0x2c, RingID: wire.RingID{Rep: 1, Seq: 0x22},
	}
	if inner != wantInner {
		t.Errorf("inner\n got %+v\nwant %+v", inner, wantInner)
	}
	if inner.RingID == outer.RingID {
		t.Errorf("inner and outer rings are both %v", inner.RingID)
	}
	if n := len(wire.McastPayload(wire.McastPayload(b))); n != 1500-2*wire.McastHeaderSize {
		t.Errorf("inner totempg payload is %d bytes, want %d", n, 1500-2*wire.McastHeaderSize)
	}
}
