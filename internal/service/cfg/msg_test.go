package cfg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

func zeros(n int) string { return strings.Repeat("00", n) }

// TestKillNodeGolden builds the 288-byte KILLNODE from the layout of
// corosync's req_exec_cfg_killnode (msg.go): header, nodeid @16, reason
// length @24 (strlen + 1, as libcfg sets it), reason bytes @32.
func TestKillNodeGolden(t *testing.T) {
	reason := "Killed by corosync-cfgtool"
	want := "01000100" + zeros(4) + "20010000" + zeros(4) + // id 1<<16|1, size 288
		"03000000" + zeros(4) + // nodeid 3 @16
		"1b00" + zeros(6) + // reason length 27 @24
		hex.EncodeToString([]byte(reason)) + zeros(256-len(reason)) // @32..287
	got, err := AppendKillNode(nil, KillNode{NodeID: 3, Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	if h := hex.EncodeToString(got); h != want {
		t.Fatalf("killnode\n got %s\nwant %s", h, want)
	}
	k, err := DecodeKillNode(got, false)
	if err != nil || k.NodeID != 3 || k.Reason != reason {
		t.Fatalf("decode: %+v %v", k, err)
	}
	// The longest reason fits with its NUL; one more byte does not.
	long := strings.Repeat("r", MaxReasonLen)
	b, err := AppendKillNode(nil, KillNode{NodeID: 1, Reason: long})
	if err != nil || len(b) != KillNodeSize || b[KillNodeSize-1] != 0 {
		t.Fatalf("longest reason: %v", err)
	}
	if k, _ := DecodeKillNode(b, false); k.Reason != long {
		t.Fatal("longest reason round trip")
	}
	if _, err := AppendKillNode(nil, KillNode{Reason: long + "r"}); !errors.Is(err, ErrReasonTooLong) {
		t.Fatalf("too long: %v", err)
	}
}

func TestKillNodeReasonForms(t *testing.T) {
	b, _ := AppendKillNode(nil, KillNode{NodeID: 2, Reason: "abc"})
	// A length without the NUL (another writer) and a length of 256 with
	// no NUL at all both decode.
	b[24] = 3
	if k, err := DecodeKillNode(b, false); err != nil || k.Reason != "abc" {
		t.Errorf("length 3: %q %v", k.Reason, err)
	}
	full := slices.Clone(b)
	for i := 32; i < 288; i++ {
		full[i] = 'x'
	}
	full[24], full[25] = 0, 1
	if k, err := DecodeKillNode(full, false); err != nil || len(k.Reason) != 256 {
		t.Errorf("length 256: %d %v", len(k.Reason), err)
	}
	full[24] = 1
	if _, err := DecodeKillNode(full, false); !errors.Is(err, ErrMalformed) {
		t.Errorf("length 257: %v", err)
	}
	// Garbage after the NUL (libcfg does not clear its buffer) is ignored.
	b[24] = 4
	b[40] = 'z'
	if k, _ := DecodeKillNode(b, false); k.Reason != "abc" {
		t.Errorf("garbage after NUL: %q", k.Reason)
	}
}

func TestShutdownGolden(t *testing.T) {
	want := "02000100" + zeros(4) + "10000000" + zeros(4)
	got := AppendShutdown(nil)
	if h := hex.EncodeToString(got); h != want {
		t.Fatalf("shutdown\n got %s\nwant %s", h, want)
	}
	if err := DecodeShutdown(got, false); err != nil {
		t.Fatal(err)
	}
}

func TestReloadConfigGolden(t *testing.T) {
	want := "03000100" + zeros(4) + "20000000" + zeros(4) + // id 1<<16|3, size 32
		"02000000" + zeros(4) + // source.nodeid 2 @16
		"efcdab8967452301" // source.conn @24
	src := Source{NodeID: 2, Conn: 0x0123456789abcdef}
	got := AppendReloadConfig(nil, src)
	if h := hex.EncodeToString(got); h != want {
		t.Fatalf("reload\n got %s\nwant %s", h, want)
	}
	if s, err := DecodeReloadConfig(got, false); err != nil || s != src {
		t.Fatalf("decode: %+v %v", s, err)
	}
	rr := AppendRingReenable(nil, src)
	if rr[0] != 0 || !bytes.Equal(rr[4:], got[4:]) {
		t.Fatalf("ringreenable %x", rr)
	}
	cr := AppendCryptoReconfig(nil, 1)
	if h := hex.EncodeToString(cr); h != "04000100"+zeros(4)+"18000000"+zeros(4)+"01000000"+zeros(4) {
		t.Fatalf("crypto reconfig %s", h)
	}
}

// swap returns msg in the other byte order, converting the u32 at each
// offset in u32s, the u16s and u64s likewise, and the header.
func swap(msg []byte, u16s, u32s, u64s []int) []byte {
	b := slices.Clone(msg)
	rev := func(p []byte) {
		for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
			p[i], p[j] = p[j], p[i]
		}
	}
	rev(b[0:4])
	rev(b[8:12])
	for _, o := range u16s {
		rev(b[o : o+2])
	}
	for _, o := range u32s {
		rev(b[o : o+4])
	}
	for _, o := range u64s {
		rev(b[o : o+8])
	}
	return b
}

func TestSwapped(t *testing.T) {
	k, _ := AppendKillNode(nil, KillNode{NodeID: 0x01020304, Reason: "x"})
	if got, err := DecodeKillNode(swap(k, []int{24}, []int{16}, nil), true); err != nil || got.NodeID != 0x01020304 || got.Reason != "x" {
		t.Errorf("killnode: %+v %v", got, err)
	}
	if err := DecodeShutdown(swap(AppendShutdown(nil), nil, nil, nil), true); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	src := Source{NodeID: 7, Conn: 9}
	if got, err := DecodeReloadConfig(swap(AppendReloadConfig(nil, src), nil, []int{16}, []int{24}), true); err != nil || got != src {
		t.Errorf("reload: %+v %v", got, err)
	}
	if p, err := DecodeCryptoReconfig(swap(AppendCryptoReconfig(nil, 1), nil, []int{16}, nil), true); err != nil || p != 1 {
		t.Errorf("crypto: %d %v", p, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	k, _ := AppendKillNode(nil, KillNode{NodeID: 1, Reason: "r"})
	for name, err := range map[string]error{
		"short killnode":   func() error { _, err := DecodeKillNode(k[:287], false); return err }(),
		"no header":        DecodeShutdown(nil, false),
		"wrong fn":         DecodeShutdown(k, false),
		"wrong service":    DecodeShutdown(append([]byte{2, 0, 2, 0}, AppendShutdown(nil)[4:]...), false),
		"short reload":     func() error { _, err := DecodeReloadConfig(AppendReloadConfig(nil, Source{})[:31], false); return err }(),
		"short crypto":     func() error { _, err := DecodeCryptoReconfig(AppendCryptoReconfig(nil, 0)[:20], false); return err }(),
		"reload as reenab": func() error { _, err := DecodeRingReenable(AppendReloadConfig(nil, Source{}), false); return err }(),
	} {
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeExec(f *testing.F) {
	k, _ := AppendKillNode(nil, KillNode{NodeID: 1, Reason: "why"})
	f.Add(k, false)
	f.Add(AppendShutdown(nil), true)
	f.Add(AppendReloadConfig(nil, Source{NodeID: 1, Conn: 2}), false)
	f.Add(AppendCryptoReconfig(nil, 1), false)
	f.Fuzz(func(t *testing.T, b []byte, swapped bool) {
		if k, err := DecodeKillNode(b, swapped); err == nil && len(k.Reason) <= MaxReasonLen {
			re, err := AppendKillNode(nil, k)
			if err != nil {
				t.Fatalf("decoded reason of %d bytes does not encode: %v", len(k.Reason), err)
			}
			if k2, err := DecodeKillNode(re, false); err != nil || k2 != k {
				t.Fatalf("killnode round trip %+v %+v %v", k, k2, err)
			}
		}
		_ = DecodeShutdown(b, swapped)
		if s, err := DecodeReloadConfig(b, swapped); err == nil {
			if s2, err := DecodeReloadConfig(AppendReloadConfig(nil, s), false); err != nil || s2 != s {
				t.Fatal("reload round trip")
			}
		}
		if s, err := DecodeRingReenable(b, swapped); err == nil {
			if s2, err := DecodeRingReenable(AppendRingReenable(nil, s), false); err != nil || s2 != s {
				t.Fatal("ringreenable round trip")
			}
		}
		if p, err := DecodeCryptoReconfig(b, swapped); err == nil {
			if p2, err := DecodeCryptoReconfig(AppendCryptoReconfig(nil, p), false); err != nil || p2 != p {
				t.Fatal("crypto round trip")
			}
		}
	})
}
