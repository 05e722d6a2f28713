package wire_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/corogo/corogo/totem/wire"
)

// Valid little-endian encodings to mutate.
var (
	ring1   = wire.RingID{Rep: 1, Seq: 0x22}
	goodOrf = (&wire.OrfToken{
		Header: wire.Header{NodeID: 2}, Seq: 10, Aru: 8, RingID: ring1,
		RtrList: []wire.RtrItem{{ring1, 9}, {ring1, 10}},
	}).AppendTo(nil)
	goodMcast = append((&wire.McastHeader{
		Header: wire.Header{Encapsulated: wire.NotEncapsulated, NodeID: 1}, SystemFrom: 1, Seq: 3, RingID: ring1,
	}).AppendTo(nil), "payload"...)
	goodJoin = (&wire.MembJoin{
		Header: wire.Header{NodeID: 1}, SystemFrom: 1, RingSeq: 0x22,
		ProcList: []uint32{1, 2, 3}, FailedList: []uint32{4},
	}).AppendTo(nil)
	goodCommit = (&wire.CommitToken{
		Header: wire.Header{NodeID: 1}, TokenSeq: 1, RingID: wire.RingID{Rep: 1, Seq: 0x26}, MembIndex: 1,
		Addr:     []uint32{1, 3},
		MembList: []wire.CommitMemb{{RingID: ring1, Aru: 5, HighDelivered: 5, ReceivedFlg: 1}, {}},
	}).AppendTo(nil)
	goodMerge = (&wire.MergeDetect{Header: wire.Header{NodeID: 1}, SystemFrom: 1, RingID: ring1}).AppendTo(nil)
	goodHold  = (&wire.TokenHoldCancel{Header: wire.Header{NodeID: 2}, RingID: ring1}).AppendTo(nil)
)

// good returns a fresh valid encoding of type t.
func good(t wire.MessageType) []byte {
	var b []byte
	switch t {
	case wire.TypeOrfToken:
		b = goodOrf
	case wire.TypeMcast:
		b = goodMcast
	case wire.TypeMergeDetect:
		b = goodMerge
	case wire.TypeMembJoin:
		b = goodJoin
	case wire.TypeCommitToken:
		b = goodCommit
	case wire.TypeTokenHoldCancel:
		b = goodHold
	}
	return append([]byte(nil), b...)
}

// with returns a copy of b with the bytes at off replaced.
func with(b []byte, off int, v ...byte) []byte {
	b = append([]byte(nil), b...)
	copy(b[off:], v)
	return b
}

// withU32 returns a copy of b with a little-endian u32 at off.
func withU32(b []byte, off int, v uint32) []byte {
	return with(b, off, binary.LittleEndian.AppendUint32(nil, v)...)
}

func TestRejections(t *testing.T) {
	type tc struct {
		name   string
		ty     wire.MessageType
		b      []byte
		reason wire.Reason
		sent   error
	}
	cases := []tc{
		{"empty", wire.TypeMembJoin, nil, wire.ReasonShort, wire.ErrShort},
		{"12 bytes", wire.TypeMembJoin, good(wire.TypeMembJoin)[:12], wire.ReasonShort, wire.ErrShort},
		{"magic ffff (corosync 2.2)", wire.TypeMembJoin, with(goodJoin, 0, 0xff, 0xff), wire.ReasonBadMagic, wire.ErrBadMagic},
		{"magic fefe (corosync 2.3+)", wire.TypeMembJoin, with(goodJoin, 0, 0xfe, 0xfe), wire.ReasonBadMagic, wire.ErrBadMagic},
		{"knet first byte 01", wire.TypeMembJoin, with(goodJoin, 0, 0x01, 0x02), wire.ReasonBadMagic, wire.ErrBadMagic},
		{"corosync 1.x first byte 03", wire.TypeMembJoin, with(goodJoin, 0, 0x03, 0x00), wire.ReasonBadMagic, wire.ErrBadMagic},
		{"magic 70 70", wire.TypeMembJoin, with(goodJoin, 0, 0x70, 0x70), wire.ReasonBadMagic, wire.ErrBadMagic},
		{"magic c0 c0", wire.TypeMembJoin, with(goodJoin, 0, 0xc0, 0xc0), wire.ReasonBadMagic, wire.ErrBadMagic},
		{"version 2", wire.TypeMembJoin, with(goodJoin, 2, 2), wire.ReasonBadVersion, wire.ErrBadVersion},
		{"version 4", wire.TypeMembJoin, with(goodJoin, 2, 4), wire.ReasonBadVersion, wire.ErrBadVersion},
		{"version 255 big-endian", wire.TypeMembJoin, with(goodJoin, 0, 0xc0, 0x70, 0xff), wire.ReasonBadVersion, wire.ErrBadVersion},
		{"type 6", wire.TypeMembJoin, with(goodJoin, 3, 6), wire.ReasonBadType, wire.ErrBadType},
		{"type 255", wire.TypeMembJoin, with(goodJoin, 3, 255), wire.ReasonBadType, wire.ErrBadType},
		{"join to orf decoder", wire.TypeOrfToken, good(wire.TypeMembJoin), wire.ReasonWrongType, wire.ErrWrongType},
		{"orf to mcast decoder", wire.TypeMcast, good(wire.TypeOrfToken), wire.ReasonWrongType, wire.ErrWrongType},

		// Fixed parts (§2.10): one byte short of each minimum.
		{"orf 56 bytes", wire.TypeOrfToken, good(wire.TypeOrfToken)[:56], wire.ReasonShort, wire.ErrShort},
		{"mcast 44 bytes", wire.TypeMcast, good(wire.TypeMcast)[:44], wire.ReasonShort, wire.ErrShort},
		{"merge 28 bytes", wire.TypeMergeDetect, good(wire.TypeMergeDetect)[:28], wire.ReasonShort, wire.ErrShort},
		{"join 32 bytes", wire.TypeMembJoin, good(wire.TypeMembJoin)[:32], wire.ReasonShort, wire.ErrShort},
		{"commit 40 bytes", wire.TypeCommitToken, good(wire.TypeCommitToken)[:40], wire.ReasonShort, wire.ErrShort},
		{"hold cancel 24 bytes", wire.TypeTokenHoldCancel, good(wire.TypeTokenHoldCancel)[:24], wire.ReasonShort, wire.ErrShort},

		// Declared lists that do not fit.
		{"orf rtr 2 entries, 1 present", wire.TypeOrfToken, goodOrf[:len(goodOrf)-16], wire.ReasonTruncated, wire.ErrTruncated},
		{"orf rtr 2 entries, 1 byte missing", wire.TypeOrfToken, goodOrf[:len(goodOrf)-1], wire.ReasonTruncated, wire.ErrTruncated},
		{"orf rtr 30 entries, none present", wire.TypeOrfToken, withU32(goodOrf, 53, 30), wire.ReasonTruncated, wire.ErrTruncated},
		{"join failed entry missing", wire.TypeMembJoin, goodJoin[:len(goodJoin)-4], wire.ReasonTruncated, wire.ErrTruncated},
		{"join proc 384", wire.TypeMembJoin, withU32(goodJoin, 17, 384), wire.ReasonTruncated, wire.ErrTruncated},
		{"commit memb entry cut", wire.TypeCommitToken, goodCommit[:len(goodCommit)-1], wire.ReasonTruncated, wire.ErrTruncated},
		{"commit addr only", wire.TypeCommitToken, goodCommit[:wire.CommitTokenSize+8], wire.ReasonTruncated, wire.ErrTruncated},
		{"commit 384 members", wire.TypeCommitToken, withU32(goodCommit, 37, 384), wire.ReasonTruncated, wire.ErrTruncated},

		// Counts out of range.
		{"orf rtr 31", wire.TypeOrfToken, withU32(goodOrf, 53, 31), wire.ReasonBadCount, wire.ErrBadCount},
		{"orf rtr -1", wire.TypeOrfToken, withU32(goodOrf, 53, 0xffffffff), wire.ReasonBadCount, wire.ErrBadCount},
		{"orf rtr min int32", wire.TypeOrfToken, withU32(goodOrf, 53, 0x80000000), wire.ReasonBadCount, wire.ErrBadCount},
		{"join proc 385", wire.TypeMembJoin, withU32(goodJoin, 17, 385), wire.ReasonBadCount, wire.ErrBadCount},
		{"join failed 385", wire.TypeMembJoin, withU32(goodJoin, 21, 385), wire.ReasonBadCount, wire.ErrBadCount},
		{"join proc 2^32-1", wire.TypeMembJoin, withU32(goodJoin, 17, 0xffffffff), wire.ReasonBadCount, wire.ErrBadCount},
		{"commit addr 385", wire.TypeCommitToken, withU32(goodCommit, 37, 385), wire.ReasonBadCount, wire.ErrBadCount},
		{"commit addr -1", wire.TypeCommitToken, withU32(goodCommit, 37, 0xffffffff), wire.ReasonBadCount, wire.ErrBadCount},
		{"commit memb_index 3 > 2", wire.TypeCommitToken, withU32(goodCommit, 33, 3), wire.ReasonBadCount, wire.ErrBadCount},
		{"commit memb_index -1", wire.TypeCommitToken, withU32(goodCommit, 33, 0xffffffff), wire.ReasonBadCount, wire.ErrBadCount},
	}
	// The same count and truncation checks apply to big-endian senders.
	for _, c := range cases {
		if c.reason != wire.ReasonTruncated && c.reason != wire.ReasonBadCount {
			continue
		}
		full := good(c.ty)
		be := swapDatagram(full)
		// Re-apply the mutation in the other byte order: patch the swapped
		// full message with the mutated count, then cut to the same length.
		for i := 13; i+4 <= len(full) && i+4 <= len(c.b); i += 4 {
			if binary.LittleEndian.Uint32(c.b[i:]) != binary.LittleEndian.Uint32(full[i:]) {
				binary.BigEndian.PutUint32(be[i:], binary.LittleEndian.Uint32(c.b[i:]))
			}
		}
		cases = append(cases, tc{c.name + " (BE)", c.ty, be[:min(len(c.b), len(be))], c.reason, c.sent})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMessage(c.ty)
			// A struct already holding data must be left unchanged.
			if err := m.Unmarshal(good(c.ty)); err != nil {
				t.Fatal(err)
			}
			before := fmt.Sprintf("%+v", m)
			err := m.Unmarshal(c.b)
			if err == nil {
				t.Fatalf("accepted % x", c.b)
			}
			if after := fmt.Sprintf("%+v", m); after != before {
				t.Errorf("failed Unmarshal changed the struct:\n%s\n%s", before, after)
			}
			if !errors.Is(err, c.sent) {
				t.Errorf("error %v is not %v", err, c.sent)
			}
			if r := wire.ReasonOf(err); r != c.reason {
				t.Errorf("ReasonOf = %v, want %v (%v)", r, c.reason, err)
			}
			var de *wire.DecodeError
			if !errors.As(err, &de) || de.Len != len(c.b) || !de.TypeKnown {
				t.Errorf("not a complete *DecodeError: %#v", err)
			}
			if !strings.Contains(err.Error(), c.reason.String()) {
				t.Errorf("message %q does not name the reason", err)
			}
			// Decode agrees, except that it picks the decoder by type byte.
			if _, derr := wire.Decode(c.b); c.reason != wire.ReasonWrongType && wire.ReasonOf(derr) != c.reason {
				t.Errorf("Decode: %v", derr)
			}
			// PeekHeader fails exactly on the header-level reasons.
			headerLevel := c.reason == wire.ReasonBadMagic || c.reason == wire.ReasonBadVersion ||
				c.reason == wire.ReasonBadType || (c.reason == wire.ReasonShort && len(c.b) < wire.HeaderSize)
			wantPeek := wire.ReasonNone
			if headerLevel {
				wantPeek = c.reason
			}
			if _, perr := wire.PeekHeader(c.b); wire.ReasonOf(perr) != wantPeek {
				t.Errorf("PeekHeader: %v, want reason %v", perr, wantPeek)
			}
		})
	}
}

func TestPeekHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		b         []byte
		reason    wire.Reason
		typeKnown bool
		detail    string
	}{
		{make([]byte, 12), wire.ReasonShort, false, "13-byte"},
		{with(goodJoin, 0, 0xff, 0xff), wire.ReasonBadMagic, false, "corosync 2.2"},
		{with(goodJoin, 0, 0xfe, 0xfe), wire.ReasonBadMagic, false, "corosync 2.3+"},
		{with(goodJoin, 0, 0x01), wire.ReasonBadMagic, false, "knet"},
		{with(goodJoin, 0, 0x00), wire.ReasonBadMagic, false, "corosync 1.x"},
		{with(goodJoin, 0, 0x12, 0x34), wire.ReasonBadMagic, false, "12 34"},
		{with(goodJoin, 2, 9), wire.ReasonBadVersion, false, "version 9"},
		{with(goodJoin, 3, 6), wire.ReasonBadType, true, ""},
	} {
		_, err := wire.PeekHeader(tc.b)
		var de *wire.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("% x: %v", tc.b, err)
		}
		if de.Reason != tc.reason || de.TypeKnown != tc.typeKnown || !strings.Contains(de.Detail, tc.detail) {
			t.Errorf("% x: %+v", tc.b[:4], de)
		}
		if tc.reason == wire.ReasonBadType && (de.Type != 6 || !strings.Contains(err.Error(), "type(6)")) {
			t.Errorf("bad type error %q", err)
		}
	}
}

func TestTrailingBytesTolerated(t *testing.T) {
	for _, ty := range allTypes {
		b := append(good(ty), 1, 2, 3, 4, 5)
		m := newMessage(ty)
		if err := m.Unmarshal(b); err != nil {
			t.Errorf("%v with trailing bytes: %v", ty, err)
			continue
		}
		if out := m.AppendTo(nil); ty != wire.TypeMcast && string(out) != string(b[:len(b)-5]) {
			t.Errorf("%v: trailing bytes leaked into the message", ty)
		}
	}
}

func TestReasonOf(t *testing.T) {
	if r := wire.ReasonOf(nil); r != wire.ReasonNone {
		t.Errorf("nil: %v", r)
	}
	if r := wire.ReasonOf(errors.New("x")); r != wire.ReasonOther {
		t.Errorf("foreign: %v", r)
	}
	if r := wire.ReasonOf(fmt.Errorf("ctx: %w", wire.ErrTruncated)); r != wire.ReasonTruncated {
		t.Errorf("wrapped sentinel: %v", r)
	}
	var m wire.OrfToken
	err := fmt.Errorf("receive: %w", m.Unmarshal(nil))
	if r := wire.ReasonOf(err); r != wire.ReasonShort {
		t.Errorf("wrapped DecodeError: %v", r)
	}
	names := map[string]bool{}
	for r := wire.ReasonNone; r <= wire.ReasonOther; r++ {
		names[r.String()] = true
	}
	for _, n := range []string{"none", "short", "bad-magic", "bad-version", "bad-type", "wrong-type", "truncated", "bad-count", "other"} {
		if !names[n] {
			t.Errorf("no reason named %q", n)
		}
	}
	if s := wire.Reason(200).String(); s != "reason(200)" {
		t.Errorf("unknown reason prints %q", s)
	}
}

func TestMessageTypeString(t *testing.T) {
	want := []string{"ORF_TOKEN", "MCAST", "MEMB_MERGE_DETECT", "MEMB_JOIN", "MEMB_COMMIT_TOKEN", "TOKEN_HOLD_CANCEL"}
	for i, ty := range allTypes {
		if ty.String() != want[i] || newMessage(ty).MessageType() != ty {
			t.Errorf("type %d: %q", ty, ty)
		}
	}
	if !reflect.DeepEqual(wire.MessageType(9).String(), "type(9)") {
		t.Errorf("type 9 prints %q", wire.MessageType(9))
	}
}
