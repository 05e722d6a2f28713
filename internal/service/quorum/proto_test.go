package quorum

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

func TestGoldenPayloads(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"quorate", AppendQuorate(nil, true), "01"},
		{"inquorate", AppendQuorate(nil, false), "00"},
		{"type", AppendType(nil, TypeVotequorum), "01000000"},
		{"trackstart", AppendTrackStart(nil, TrackCurrent|TrackChanges), "03000000"},
		{"view", AppendView(nil, View{Quorate: true, Ring: service.RingID{Rep: 1, Seq: 0x2c}, Members: []service.NodeID{1, 2}}),
			"01" + "01000000" + "2c00000000000000" + "02000000" + "01000000" + "02000000"},
		{"empty view", AppendView(nil, View{}), "00" + "000000000000000000000000" + "00000000"},
		{"nodelist", AppendNodeList(nil, NodeList{Ring: service.RingID{Rep: 2, Seq: 8}, Members: []service.NodeID{2, 3}, Joined: []service.NodeID{3}, Left: []service.NodeID{1}}),
			"02000000" + "0800000000000000" + "02000000" + "02000000" + "03000000" + "01000000" + "03000000" + "01000000" + "01000000"},
	} {
		if h := hex.EncodeToString(c.got); h != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, h, c.want)
		}
	}
}

func sameIDs(a, b []service.NodeID) bool { return slices.Equal(a, b) }

func TestRoundTrips(t *testing.T) {
	views := []View{
		{},
		{Quorate: true, Ring: service.RingID{Rep: 0xffffffff, Seq: 1<<64 - 1}, Members: []service.NodeID{1, 2, 0xffffffff}},
	}
	for _, v := range views {
		b := AppendView(nil, v)
		got, err := DecodeView(b)
		if err != nil || got.Quorate != v.Quorate || got.Ring != v.Ring || !sameIDs(got.Members, v.Members) {
			t.Errorf("view %+v: %+v %v", v, got, err)
		}
		// Longer payloads are accepted (fields appended by later versions).
		if _, err := DecodeView(append(b, 0xee)); err != nil {
			t.Errorf("view with a trailing byte: %v", err)
		}
		for i := range len(b) {
			if _, err := DecodeView(b[:i]); !errors.Is(err, ErrShort) {
				t.Errorf("view cut at %d: %v", i, err)
			}
		}
	}
	n := NodeList{Ring: service.RingID{Rep: 3, Seq: 9}, Members: []service.NodeID{1, 2, 3}, Joined: []service.NodeID{3}}
	b := AppendNodeList(nil, n)
	got, err := DecodeNodeList(b)
	if err != nil || got.Ring != n.Ring || !sameIDs(got.Members, n.Members) || !sameIDs(got.Joined, n.Joined) || len(got.Left) != 0 {
		t.Errorf("nodelist: %+v %v", got, err)
	}
	for i := range len(b) {
		if _, err := DecodeNodeList(b[:i]); !errors.Is(err, ErrShort) {
			t.Errorf("nodelist cut at %d: %v", i, err)
		}
	}
	for _, f := range []TrackFlags{0, TrackCurrent, TrackChanges, TrackChangesOnly, trackAll} {
		got, err := DecodeTrackStart(AppendTrackStart(nil, f))
		if err != nil || got != f {
			t.Errorf("flags %d: %d %v", f, got, err)
		}
	}
	if _, err := DecodeTrackStart(AppendTrackStart(nil, 16)); !errors.Is(err, ErrBadValue) {
		t.Errorf("unknown flag: %v", err)
	}
	if q, err := DecodeQuorate([]byte{1}); err != nil || !q {
		t.Errorf("quorate: %v %v", q, err)
	}
	if _, err := DecodeQuorate([]byte{2}); !errors.Is(err, ErrBadValue) {
		t.Errorf("quorate 2: %v", err)
	}
	if ty, err := DecodeType(AppendType(nil, TypeVotequorum)); err != nil || ty != TypeVotequorum {
		t.Errorf("type: %v %v", ty, err)
	}
}

func TestHugeCountRefused(t *testing.T) {
	// A count far beyond the payload must fail without allocating it.
	b := AppendView(nil, View{})
	b[13], b[14], b[15], b[16] = 0xff, 0xff, 0xff, 0xff
	if _, err := DecodeView(b); !errors.Is(err, ErrShort) {
		t.Fatalf("huge count: %v", err)
	}
}

func FuzzDecodeView(f *testing.F) {
	f.Add(AppendView(nil, View{Quorate: true, Members: []service.NodeID{1, 2}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeView(b)
		if err != nil {
			return
		}
		re := AppendView(nil, v)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("re-encoding %x differs from input %x", re, b)
		}
	})
}

func FuzzDecodeNodeList(f *testing.F) {
	f.Add(AppendNodeList(nil, NodeList{Members: []service.NodeID{1, 2}, Joined: []service.NodeID{2}, Left: []service.NodeID{3}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeNodeList(b)
		if err != nil {
			return
		}
		re := AppendNodeList(nil, n)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("re-encoding %x differs from input %x", re, b)
		}
	})
}

func FuzzDecodeSmall(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := DecodeQuorate(b); err == nil && AppendQuorate(nil, q)[0] != b[0] {
			t.Fatal("quorate round trip")
		}
		if ty, err := DecodeType(b); err == nil && !bytes.Equal(AppendType(nil, ty), b[:4]) {
			t.Fatal("type round trip")
		}
		if fl, err := DecodeTrackStart(b); err == nil && !bytes.Equal(AppendTrackStart(nil, fl), b[:4]) {
			t.Fatal("trackstart round trip")
		}
	})
}
