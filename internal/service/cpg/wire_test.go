package cpg

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

// hexBytes decodes hex with spaces and newlines.
func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// name136 is a mar_cpg_name_t in hex.
func name136(name string) string {
	var b [NameSize]byte
	putName(b[:], []byte(name))
	return hex.EncodeToString(b[:])
}

// TestJoinListGolden: the JOINLIST item of sample frame 2035
// (corosync-wire.md §7.2): id 0x00020002, size 168, error 0, pid 0x4808,
// group "wbgrp".
func TestJoinListGolden(t *testing.T) {
	want := hexBytes(t, `
		02 00 02 00 00 00 00 00  a8 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
		08 48 00 00 00 00 00 00
		05 00 00 00 00 00 00 00  77 62 67 72 70`+strings.Repeat(" 00", 123))
	got, err := AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 0x4808, Group: []byte("wbgrp")}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("joinlist\n got %x\nwant %x", got, want)
	}
	m, err := DecodeJoinList(want, false)
	if err != nil || len(m.Entries) != 1 || m.Entries[0].PID != 0x4808 || string(m.Entries[0].Group) != "wbgrp" {
		t.Fatalf("decode: %+v %v", m, err)
	}
}

// TestProcJoinGolden: the PROCJOIN of sample frame 1799 (pid 0x4808,
// "wbgrp", reason JOIN) and the PROCLEAVE of frame 2222.
func TestProcJoinGolden(t *testing.T) {
	for _, tc := range []struct {
		m    ProcJoin
		want string
	}{
		{ProcJoin{Group: []byte("wbgrp"), PID: 0x4808, Reason: ReasonJoin},
			"0000020000000000 a800000000000000" + name136("wbgrp") + "0848000000000000 0100000000000000"},
		{ProcJoin{Leave: true, Group: []byte("wbgrp"), PID: 0x4808, Reason: ReasonLeave},
			"0100020000000000 a800000000000000" + name136("wbgrp") + "0848000000000000 0200000000000000"},
	} {
		want := hexBytes(t, tc.want)
		got, err := AppendProcJoin(nil, tc.m)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%+v\n got %x\nwant %x (%v)", tc.m, got, want, err)
		}
		m, err := DecodeProcJoin(want, false)
		if err != nil || m.Leave != tc.m.Leave || m.PID != tc.m.PID || m.Reason != tc.m.Reason || string(m.Group) != "wbgrp" {
			t.Fatalf("decode: %+v %v", m, err)
		}
	}
}

// TestLayouts checks the field offsets of MCAST, PARTIAL_MCAST and
// DOWNLIST against corosync-wire.md §5.5.
func TestLayouts(t *testing.T) {
	src := Source{NodeID: 3, Conn: 0x55bb340e1930}
	mc, _ := AppendMcast(nil, Mcast{Group: []byte("g"), PID: 0x3eac, Source: src, Data: []byte("hello")})
	want := "0300020000000000 bd00000000000000" + name136("g") +
		"0500000000000000 ac3e000000000000 0300000000000000 30190e34bb550000" + hex.EncodeToString([]byte("hello"))
	if got := hex.EncodeToString(mc); got != strings.ReplaceAll(want, " ", "") {
		t.Errorf("mcast\n got %s\nwant %s", got, want)
	}
	pm, _ := AppendPartialMcast(nil, PartialMcast{Group: []byte("g"), MsgLen: 3000, PID: 7, Type: PartialContinued, Source: src, Data: []byte("xy")})
	want = "0600020000000000 ca00000000000000" + name136("g") +
		"b80b000000000000 0200000000000000 0700000000000000 0200000000000000 0300000000000000 30190e34bb550000 7879"
	if got := hex.EncodeToString(pm); got != strings.ReplaceAll(want, " ", "") {
		t.Errorf("partial mcast\n got %s\nwant %s", got, want)
	}
	dl, _ := AppendDownList(nil, DownList{OldMembers: 3, Left: []uint32{2, 3}})
	want = "0500020000000000 2006000000000000 0300000000000000 0200000000000000 02000000 03000000" + strings.Repeat("00000000", 382)
	if got := hex.EncodeToString(dl); got != strings.ReplaceAll(want, " ", "") {
		t.Errorf("downlist\n got %s\nwant %s", got, want)
	}
}

// reencode decodes a CPG exec message and encodes it again.
func reencode(msg []byte, swapped bool) ([]byte, error) {
	h, err := service.ParseHeader(msg, swapped)
	if err != nil {
		return nil, err
	}
	switch h.Fn {
	case FnProcJoin, FnProcLeave:
		m, err := DecodeProcJoin(msg, swapped)
		if err != nil {
			return nil, err
		}
		return AppendProcJoin(nil, m)
	case FnJoinList:
		m, err := DecodeJoinList(msg, swapped)
		if err != nil {
			return nil, err
		}
		return AppendJoinList(nil, m)
	case FnMcast:
		m, err := DecodeMcast(msg, swapped)
		if err != nil {
			return nil, err
		}
		return AppendMcast(nil, m)
	case FnDownList:
		m, err := DecodeDownList(msg, swapped)
		if err != nil {
			return nil, err
		}
		return AppendDownList(nil, m)
	case FnPartialMcast:
		m, err := DecodePartialMcast(msg, swapped)
		if err != nil {
			return nil, err
		}
		return AppendPartialMcast(nil, m)
	}
	return nil, errors.New("fn not handled")
}

// TestCaptureRoundTrip decodes every CPG message of the real corosync
// capture and encodes it again, byte for byte.
func TestCaptureRoundTrip(t *testing.T) {
	items := captureCPG(t)
	counts := map[uint16]int{}
	for _, it := range items {
		h, err := service.ParseHeader(it.msg, it.swapped)
		if err != nil {
			t.Fatalf("frame %d: %v", it.frame, err)
		}
		counts[h.Fn]++
		got, err := reencode(it.msg, it.swapped)
		if err != nil {
			t.Errorf("frame %d (node %d, fn %d, %d bytes): %v", it.frame, it.from, h.Fn, len(it.msg), err)
			continue
		}
		if !bytes.Equal(got, it.msg) {
			t.Errorf("frame %d (node %d, fn %d): re-encoded\n got %x\nwant %x", it.frame, it.from, h.Fn, got, it.msg)
		}
	}
	t.Logf("%d CPG messages: %v", len(items), counts)
	for _, fn := range []uint16{FnProcJoin, FnProcLeave, FnJoinList, FnMcast, FnDownList} {
		if counts[fn] == 0 {
			t.Errorf("no fn %d message in the capture", fn)
		}
	}
	// The 3022-byte message of scenario 1 (corosync-wire.md §7.1).
	if !slices.ContainsFunc(items, func(it capItem) bool { return len(it.msg) == McastHeaderSize+3022 }) {
		t.Error("the 3022-byte MCAST was not found")
	}
}

// TestCaptureReplay feeds the capture's CPG messages of scenario 3 to an
// engine playing node 3 with a client in "wbgrp" and checks what the
// client would see: the group of node 1's pid 0x4808.
func TestCaptureReplay(t *testing.T) {
	items := captureCPG(t)
	api := newFakeAPI(3)
	e := New(api, Options{})
	c := newConn(1, 100)
	e.Connect(c)
	e.Request(c, joinReq(1, "wbgrp", 0))
	if r := c.lastReply(t); r.status != service.OK {
		t.Fatal(r.status)
	}
	loop(t, api, e)
	n := 0
	for _, it := range items {
		if it.scenario != 3 {
			continue
		}
		h, _ := service.ParseHeader(it.msg, it.swapped)
		e.Exec(service.Exec{From: it.from, Fn: h.Fn, Data: it.msg, Swapped: it.swapped})
		n++
	}
	if e.Stats().Malformed != 0 {
		t.Fatalf("malformed: %+v", e.Stats())
	}
	got := describe(t, c.takeEvents())
	t.Logf("%d messages replayed:\n%s", n, strings.Join(got, "\n"))
	want := []string{
		"confchg wbgrp members[3/100] left[] joined[3/100:1]",
		"confchg wbgrp members[1/18440 3/100] left[] joined[1/18440:1]",
	}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("events\n got %q\nwant prefix %q", got, want)
	}
	if e.Stats().Delivered == 0 {
		t.Error("no message of node 1 delivered")
	}
}

// swapExec byte-swaps a little-endian exec message's integer fields, as a
// big-endian corosync would have written it.
func swapExec(t testing.TB, msg []byte) []byte {
	t.Helper()
	b := slices.Clone(msg)
	sw := func(off int) {
		v := binary.LittleEndian.Uint32(b[off:])
		binary.BigEndian.PutUint32(b[off:], v)
	}
	h, err := service.ParseHeader(msg, false)
	if err != nil {
		t.Fatal(err)
	}
	sw(0)
	sw(8)
	switch h.Fn {
	case FnProcJoin, FnProcLeave:
		sw(16)
		sw(152)
		sw(160)
	case FnJoinList:
		sw(16)
		for off := JoinListHeaderSize; off < len(b); off += JoinListEntrySize {
			sw(off)
			sw(off + 8)
		}
	case FnMcast:
		sw(16)
		sw(152)
		sw(160)
		sw(168)
	case FnDownList:
		n := binary.LittleEndian.Uint32(b[24:])
		sw(16)
		sw(24)
		for i := range int(n) {
			sw(32 + 4*i)
		}
	case FnPartialMcast:
		for _, off := range []int{16, 152, 160, 168, 176, 184} {
			sw(off)
		}
	}
	return b
}

// TestSwapped decodes messages in the other byte order.
func TestSwapped(t *testing.T) {
	var msgs [][]byte
	add := func(b []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	add(AppendProcJoin(nil, ProcJoin{Group: []byte("grp"), PID: 0x01020304, Reason: ReasonJoin}))
	add(AppendProcJoin(nil, ProcJoin{Leave: true, Group: []byte("grp"), PID: 9, Reason: ReasonProcDown}))
	add(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 1, Group: []byte("a")}, {PID: 0x10000, Group: []byte("bb")}}}))
	add(AppendMcast(nil, Mcast{Group: []byte("grp"), PID: 77, Source: Source{NodeID: 5}, Data: []byte("payload")}))
	add(AppendDownList(nil, DownList{OldMembers: 4, Left: []uint32{2, 0x01000000}}))
	add(AppendPartialMcast(nil, PartialMcast{Group: []byte("grp"), MsgLen: 10, PID: 3, Type: PartialLast, Source: Source{NodeID: 6}, Data: []byte("abc")}))
	for _, m := range msgs {
		sw := swapExec(t, m)
		if bytes.Equal(sw, m) {
			t.Fatal("swap did nothing")
		}
		got, err := reencode(sw, true)
		if err != nil {
			t.Fatalf("%x: %v", sw, err)
		}
		if !bytes.Equal(got, m) {
			t.Errorf("swapped decode\n got %x\nwant %x", got, m)
		}
		if _, err := reencode(sw, false); err == nil {
			t.Errorf("swapped message accepted as little-endian: %x", sw[:16])
		}
	}
}

// TestDecodeRejects: malformed messages are refused, never panic.
func TestDecodeRejects(t *testing.T) {
	pj, _ := AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 1, Reason: ReasonJoin})
	jl, _ := AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 1, Group: []byte("g")}}})
	mc, _ := AppendMcast(nil, Mcast{Group: []byte("g"), Data: []byte("data")})
	dl, _ := AppendDownList(nil, DownList{Left: []uint32{1}})
	pm, _ := AppendPartialMcast(nil, PartialMcast{Group: []byte("g"), MsgLen: 10, Type: PartialFirst, Data: []byte("data")})
	set32 := func(b []byte, off int, v uint32) []byte {
		b = slices.Clone(b)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	resize := func(b []byte, n int) []byte {
		out := make([]byte, n)
		copy(out, b)
		binary.LittleEndian.PutUint32(out[8:], uint32(n))
		return out
	}
	for name, tc := range map[string]struct {
		msg []byte
		dec func([]byte, bool) error
	}{
		"procjoin short":          {pj[:100], decProcJoin},
		"procjoin header only":    {resize(pj, 16), decProcJoin},
		"procjoin size field":     {set32(pj, 8, 167), decProcJoin},
		"procjoin long":           {resize(pj, 176), decProcJoin},
		"procjoin name 129":       {set32(pj, 16, 129), decProcJoin},
		"procjoin wrong fn":       {set32(pj, 0, 2<<16|3), decProcJoin},
		"procjoin wrong service":  {set32(pj, 0, 1<<16|0), decProcJoin},
		"joinlist partial entry":  {resize(jl, 100), decJoinList},
		"joinlist size field":     {set32(jl, 8, 24), decJoinList},
		"joinlist name 200":       {set32(jl, 32, 200), decJoinList},
		"joinlist short":          {jl[:20], decJoinList},
		"mcast msglen":            {set32(mc, 152, 5), decMcast},
		"mcast msglen huge":       {set32(mc, 152, 0xffffffff), decMcast},
		"mcast size field":        {set32(mc, 8, 100), decMcast},
		"mcast negative size":     {set32(mc, 8, 0x80000000), decMcast},
		"mcast short":             {mc[:183], decMcast},
		"mcast name":              {set32(mc, 16, 0xffffffff), decMcast},
		"downlist count":          {set32(dl, 24, 385), decDownList},
		"downlist short":          {resize(dl, 1560), decDownList},
		"partial fraglen":         {set32(pm, 160, 3), decPartial},
		"partial type 0":          {set32(pm, 176, 0), decPartial},
		"partial type 4":          {set32(pm, 176, 4), decPartial},
		"partial frag > msglen":   {set32(pm, 152, 3), decPartial},
		"partial short":           {pm[:199], decPartial},
		"partial name":            {set32(pm, 16, 129), decPartial},
		"partial size disagrees":  {set32(pm, 8, 300), decPartial},
		"partial wrong fn":        {set32(pm, 0, 2<<16|3), decPartial},
		"empty":                   {nil, decMcast},
		"joinlist wrong fn":       {set32(jl, 0, 2<<16|0), decJoinList},
		"downlist wrong fn":       {set32(dl, 0, 2<<16|4), decDownList},
		"procjoin header garbage": {bytes.Repeat([]byte{0xff}, ProcJoinSize), decProcJoin},
	} {
		if err := tc.dec(tc.msg, false); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	if _, err := AppendProcJoin(nil, ProcJoin{Group: make([]byte, 129)}); !errors.Is(err, ErrNameTooLong) {
		t.Errorf("encode long name: %v", err)
	}
	if _, err := AppendDownList(nil, DownList{Left: make([]uint32, 385)}); !errors.Is(err, ErrTooLong) {
		t.Errorf("encode long downlist: %v", err)
	}
}

func decProcJoin(b []byte, s bool) error { _, err := DecodeProcJoin(b, s); return err }
func decJoinList(b []byte, s bool) error { _, err := DecodeJoinList(b, s); return err }
func decMcast(b []byte, s bool) error    { _, err := DecodeMcast(b, s); return err }
func decDownList(b []byte, s bool) error { _, err := DecodeDownList(b, s); return err }
func decPartial(b []byte, s bool) error  { _, err := DecodePartialMcast(b, s); return err }

// TestNameBytesAfterLength: corosync copies the whole 128-byte value, so
// bytes after the length may be anything; they are ignored.
func TestNameBytesAfterLength(t *testing.T) {
	pj, _ := AppendProcJoin(nil, ProcJoin{Group: []byte("ab"), PID: 1})
	pj[24+5] = 'x'
	m, err := DecodeProcJoin(pj, false)
	if err != nil || string(m.Group) != "ab" {
		t.Fatalf("%q %v", m.Group, err)
	}
}
