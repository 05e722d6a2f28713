package wire_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/corogo/corogo/totem/wire"
)

// maxSeedsPerType keeps the seed corpus small: the sample has 1,401 tokens.
const maxSeedsPerType = 40

// addSeeds adds sample datagrams of the given types (all types when none),
// their byte-swapped forms, and a few hand-made edge cases.
func addSeeds(f *testing.F, types ...wire.MessageType) {
	want := func(t wire.MessageType) bool {
		if len(types) == 0 {
			return true
		}
		for _, x := range types {
			if x == t {
				return true
			}
		}
		return false
	}
	n := make(map[wire.MessageType]int)
	seen := make(map[string]bool)
	for _, d := range sample(f) {
		b := d.Payload
		if len(b) < 4 {
			continue
		}
		t := wire.MessageType(b[3])
		if !want(t) || n[t] >= maxSeedsPerType || seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		n[t]++
		f.Add(bytes.Clone(b))
		if be := swapDatagram(b); be != nil && n[t] <= 4 {
			f.Add(be)
		}
	}
	for _, ty := range allTypes {
		if want(ty) {
			b := good(ty)
			f.Add(b)
			f.Add(b[:len(b)-1])
			f.Add(append(b, 0xee))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x70, 0xc0, 3})
}

// checkDecoded asserts the round-trip property for a message m decoded from
// b: it re-encodes to exactly b's prefix (little-endian input) and decodes
// to the same struct; the byte-swapped datagram decodes the same; decoding
// into a struct already holding other data gives the same result.
func checkDecoded(t *testing.T, m wire.Message, b []byte) {
	t.Helper()
	h := header(m)
	enc := m.AppendTo(nil)
	if len(enc) != m.Size() || len(enc) > len(b) {
		t.Fatalf("encoded %d bytes, Size %d, input %d", len(enc), m.Size(), len(b))
	}
	if !h.Swapped && !bytes.Equal(enc, b[:len(enc)]) {
		t.Fatalf("re-encoding differs:\n got % x\nwant % x", enc, b[:len(enc)])
	}
	again := newMessage(m.MessageType())
	if err := again.Unmarshal(enc); err != nil {
		t.Fatalf("re-encoded message does not decode: %v", err)
	}
	header(again).Swapped = h.Swapped
	if !reflect.DeepEqual(again, m) {
		t.Fatalf("round trip changed the message:\n got %+v\nwant %+v", again, m)
	}
	// Appending to a non-empty buffer keeps its prefix.
	pre := []byte("prefix")
	if out := m.AppendTo(pre); !bytes.Equal(out[:len(pre)], pre) || !bytes.Equal(out[len(pre):], enc) {
		t.Fatalf("AppendTo with a prefix differs")
	}
	// The other byte order decodes to the same message.
	if !h.Swapped {
		full := enc
		if m.MessageType() == wire.TypeMcast {
			full = append(full, wire.McastPayload(b)...)
		}
		if be := swapDatagram(full); be != nil {
			other := newMessage(m.MessageType())
			if err := other.Unmarshal(be); err != nil {
				t.Fatalf("byte-swapped message does not decode: %v", err)
			}
			if !header(other).Swapped {
				t.Fatalf("byte-swapped message not marked Swapped")
			}
			header(other).Swapped = false
			if !reflect.DeepEqual(other, m) {
				t.Fatalf("byte-swapped decode differs:\n got %+v\nwant %+v", other, m)
			}
		}
	}
	// Reuse: decode into a struct whose lists hold stale entries.
	dirty := newMessage(m.MessageType())
	if err := dirty.Unmarshal(good(m.MessageType())); err != nil {
		t.Fatal(err)
	}
	if err := dirty.Unmarshal(b); err != nil {
		t.Fatalf("decoding into a used struct failed: %v", err)
	}
	if !bytes.Equal(dirty.AppendTo(nil), enc) || header(dirty).Swapped != h.Swapped {
		t.Fatalf("decoding into a used struct differs")
	}
}

// checkRejected asserts that a decode error is well formed.
func checkRejected(t *testing.T, err error) {
	t.Helper()
	var de *wire.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	if r := wire.ReasonOf(err); r == wire.ReasonNone || r == wire.ReasonOther || !errors.Is(err, errorFor(r)) {
		t.Fatalf("error %v has reason %v", err, r)
	}
	_ = err.Error()
}

// errorFor maps a reason to its sentinel.
func errorFor(r wire.Reason) error {
	switch r {
	case wire.ReasonShort:
		return wire.ErrShort
	case wire.ReasonBadMagic:
		return wire.ErrBadMagic
	case wire.ReasonBadVersion:
		return wire.ErrBadVersion
	case wire.ReasonBadType:
		return wire.ErrBadType
	case wire.ReasonWrongType:
		return wire.ErrWrongType
	case wire.ReasonTruncated:
		return wire.ErrTruncated
	case wire.ReasonBadCount:
		return wire.ErrBadCount
	}
	return nil
}

// fuzzType is the body of the per-type fuzz targets.
func fuzzType(t *testing.T, ty wire.MessageType, b []byte) {
	m := newMessage(ty)
	if err := m.Unmarshal(b); err != nil {
		checkRejected(t, err)
		return
	}
	if header(m).Type != ty {
		t.Fatalf("decoded type %v, want %v", header(m).Type, ty)
	}
	checkDecoded(t, m, b)
}

func FuzzPeekHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := wire.PeekHeader(b)
		if err != nil {
			checkRejected(t, err)
			return
		}
		if len(b) < wire.HeaderSize || h.Type > wire.TypeTokenHoldCancel || b[2] != wire.Version {
			t.Fatalf("accepted a bad header % x", b)
		}
		if h.Swapped != (b[0] == 0xc0) {
			t.Fatalf("Swapped %v for magic % x", h.Swapped, b[:2])
		}
	})
}

func FuzzOrfToken(f *testing.F) {
	addSeeds(f, wire.TypeOrfToken)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzType(t, wire.TypeOrfToken, b) })
}

func FuzzMcast(f *testing.F) {
	addSeeds(f, wire.TypeMcast)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzType(t, wire.TypeMcast, b)
		var m wire.McastHeader
		if m.Unmarshal(b) == nil {
			if p := wire.McastPayload(b); len(p) != len(b)-wire.McastHeaderSize {
				t.Fatalf("payload %d bytes of %d", len(p), len(b))
			}
		}
	})
}

func FuzzMembJoin(f *testing.F) {
	addSeeds(f, wire.TypeMembJoin)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzType(t, wire.TypeMembJoin, b) })
}

func FuzzCommitToken(f *testing.F) {
	addSeeds(f, wire.TypeCommitToken)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzType(t, wire.TypeCommitToken, b) })
}

func FuzzMergeDetect(f *testing.F) {
	addSeeds(f, wire.TypeMergeDetect)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzType(t, wire.TypeMergeDetect, b) })
}

func FuzzTokenHoldCancel(f *testing.F) {
	addSeeds(f, wire.TypeTokenHoldCancel)
	f.Fuzz(func(t *testing.T, b []byte) { fuzzType(t, wire.TypeTokenHoldCancel, b) })
}

// FuzzDecode feeds any datagram to Decode and Describe, as a receive path
// and a trace would.
func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if wire.Describe(b) == "" {
			t.Fatal("empty description")
		}
		m, err := wire.Decode(b)
		if err != nil {
			checkRejected(t, err)
			r := wire.ReasonOf(err)
			headerLevel := r == wire.ReasonBadMagic || r == wire.ReasonBadVersion || r == wire.ReasonBadType ||
				(r == wire.ReasonShort && len(b) < wire.HeaderSize)
			if _, perr := wire.PeekHeader(b); (perr == nil) == headerLevel {
				t.Fatalf("Decode: %v; PeekHeader: %v", err, perr)
			}
			return
		}
		checkDecoded(t, m, b)
		if mc, ok := m.(*wire.McastHeader); ok && mc.Encapsulated == wire.Encapsulated {
			if inner, err := wire.Decode(wire.McastPayload(b)); err == nil {
				checkDecoded(t, inner, wire.McastPayload(b))
			}
		}
	})
}
