package qdisk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/corogo/corogo/internal/qdevice"
)

// The golden bytes were computed independently (a Python script with a
// bitwise CRC32C), from the layouts documented on Block and Header.
const (
	goldenBlock  = "43475144020001004e0002030200000008070605040302012a000000000000007b68e5cf8b010000010000002c000000000000000100020001000000030001000000020000000300000064a3aa7f"
	goldenHeader = "43475144010001001e00000000100000ff000000040070726f64d50b65bd"
)

func goldenBlockValue() Block {
	return Block{
		NodeID: 2, Incarnation: 0x0102030405060708, Seq: 42, Timestamp: 1700000000123,
		State: StateRunning, Eligible: true, Cast: true, Score: 1, Total: 2, Master: 1,
		Ring: qdevice.RingID{NodeID: 1, Seq: 0x2c}, Members: []uint32{1, 2, 3},
	}
}

func TestBlockGolden(t *testing.T) {
	b := goldenBlockValue()
	got, err := b.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != goldenBlock {
		t.Fatalf("encoded\n%x\nwant\n%s", got, goldenBlock)
	}
	if len(got) != b.Len() {
		t.Fatalf("Len %d, encoded %d", b.Len(), len(got))
	}
	// Decoding works from a whole slot (trailing zeros).
	slot := make([]byte, SlotSize)
	copy(slot, got)
	dec, err := DecodeBlock(slot)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dec, b) {
		t.Fatalf("decoded %+v\nwant %+v", dec, b)
	}
}

func TestHeaderGolden(t *testing.T) {
	h := NewHeader("prod")
	got, err := h.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != goldenHeader {
		t.Fatalf("encoded\n%x\nwant\n%s", got, goldenHeader)
	}
	dec, err := DecodeHeader(got)
	if err != nil || dec != h {
		t.Fatalf("decoded %+v, %v", dec, err)
	}
	if _, err := DecodeBlock(got); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a header decoded as a block: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := hex.DecodeString(goldenBlock)
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	for name, slot := range map[string][]byte{
		"bad magic":   mutate(func(b []byte) { b[0] = 'X' }),
		"bad version": mutate(func(b []byte) { b[6] = 2 }),
		"bad length":  mutate(func(b []byte) { b[8] = 200 }),
		"short":       good[:len(good)-1],
		"bit flip":    mutate(func(b []byte) { b[30] ^= 1 }),
		"bad crc":     mutate(func(b []byte) { b[len(b)-1] ^= 0xff }),
		"tiny":        {1, 2, 3},
	} {
		if _, err := DecodeBlock(slot); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := DecodeBlock(make([]byte, SlotSize)); !errors.Is(err, ErrEmpty) {
		t.Errorf("zeros: err %v, want ErrEmpty", err)
	}
	b := Block{Members: make([]uint32, MaxMembers+1)}
	if _, err := b.AppendTo(nil); err == nil {
		t.Error("encoded too many members")
	}
	b.Members = make([]uint32, MaxMembers)
	enc, err := b.AppendTo(nil)
	if err != nil || len(enc) != MaxBlockLen {
		t.Errorf("largest block: %d bytes, %v; want MaxBlockLen %d", len(enc), err, MaxBlockLen)
	}
}

// FuzzDecodeBlock checks that the decoder never panics and that whatever
// it accepts encodes back to the same bytes.
func FuzzDecodeBlock(f *testing.F) {
	good, _ := hex.DecodeString(goldenBlock)
	f.Add(good)
	f.Add(make([]byte, 64))
	f.Add([]byte("CGQD"))
	empty := Block{State: StateInit}
	e, _ := empty.AppendTo(nil)
	f.Add(e)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBlock(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("error %v matches neither ErrCorrupt nor ErrEmpty", err)
			}
			return
		}
		enc, err := b.AppendTo(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(enc, data[:len(enc)]) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", enc, data)
		}
	})
}

// FuzzDecodeHeader checks the header decoder the same way.
func FuzzDecodeHeader(f *testing.F) {
	good, _ := hex.DecodeString(goldenHeader)
	f.Add(good)
	f.Add(make([]byte, 30))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHeader(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("error %v matches neither ErrCorrupt nor ErrEmpty", err)
			}
			return
		}
		enc, err := h.AppendTo(nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(enc, data[:len(enc)]) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", enc, data)
		}
	})
}
