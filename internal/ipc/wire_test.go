package ipc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeaderGolden(t *testing.T) {
	h := Header{Length: 0x1c, Kind: KindReply, Fn: 0x0102, ID: 0x0a0b0c0d, Status: service.ErrInvalidArg}
	want := unhex(t, "1c000000 0400 0201 0d0c0b0a 07000000")
	got := AppendHeader([]byte{0xff}, h)
	if !bytes.Equal(got[1:], want) || got[0] != 0xff {
		t.Fatalf("AppendHeader = % x, want ff % x", got, want)
	}
	var put [HeaderSize]byte
	PutHeader(put[:], h)
	if !bytes.Equal(put[:], want) {
		t.Fatalf("PutHeader = % x, want % x", put, want)
	}
	back, err := ParseHeader(append(want, 1, 2, 3), 0)
	if err != nil || back != h {
		t.Fatalf("ParseHeader = %+v, %v; want %+v", back, err, h)
	}
}

func TestHelloGolden(t *testing.T) {
	want := unhex(t, "1c000000 0100 0000 00000000 00000000 43474950 0100 0200 00000000")
	got := AppendHello(nil, Hello{Version: 1, Service: uint16(service.CPG)})
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendHello = % x\nwant          % x", got, want)
	}
	h, err := ParseHeader(got, 0)
	if err != nil || h.Kind != KindHello || h.Length != uint32(len(got)) {
		t.Fatalf("header %+v, %v", h, err)
	}
	hello, err := ParseHello(got[HeaderSize:])
	if err != nil || hello != (Hello{Version: 1, Service: 2}) {
		t.Fatalf("ParseHello = %+v, %v", hello, err)
	}
	// Extra bytes are for later versions.
	if _, err := ParseHello(append(got[HeaderSize:], 9, 9)); err != nil {
		t.Fatalf("ParseHello with a longer payload: %v", err)
	}
}

func TestWelcomeGolden(t *testing.T) {
	want := unhex(t, "1c000000 0200 0000 00000000 01000000 0100 0200 04030201 10101000")
	w := Welcome{Version: 1, Service: 2, NodeID: 0x01020304, MaxFrame: DefaultMaxFrame}
	got := AppendWelcome(nil, service.OK, w)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendWelcome = % x\nwant            % x", got, want)
	}
	h, err := ParseHeader(got, 0)
	if err != nil || h.Kind != KindWelcome || h.Status != service.OK {
		t.Fatalf("header %+v, %v", h, err)
	}
	back, err := ParseWelcome(got[HeaderSize:])
	if err != nil || back != w {
		t.Fatalf("ParseWelcome = %+v, %v", back, err)
	}
	refused := AppendWelcome(nil, service.ErrAccess, w)
	if !bytes.Equal(refused[12:16], unhex(t, "0b000000")) {
		t.Fatalf("refused WELCOME status bytes % x", refused[12:16])
	}
}

func TestDefaultMaxFrame(t *testing.T) {
	if DefaultMaxFrame != 0x101010 {
		t.Fatalf("DefaultMaxFrame = %#x", DefaultMaxFrame)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want error
		id   uint32
	}{
		{"empty", "", 0, ErrShortHeader, 0},
		{"15 bytes", "10000000 0300 0000 00000000 000000", 0, ErrShortHeader, 0},
		{"length 0", "00000000 0300 0000 05000000 00000000", 0, ErrFrameLength, 5},
		{"length 15", "0f000000 0300 0000 06000000 00000000", 0, ErrFrameLength, 6},
		{"over default max", "11101000 0300 0000 07000000 00000000", 0, ErrFrameTooBig, 7},
		{"over given max", "01010000 0300 0000 08000000 00000000", 256, ErrFrameTooBig, 8},
		{"length 2^32-1", "ffffffff 0300 0000 09000000 00000000", 0, ErrFrameTooBig, 9},
		{"kind 0", "10000000 0000 0000 0a000000 00000000", 0, ErrFrameKind, 10},
		{"kind 6", "10000000 0600 0000 0b000000 00000000", 0, ErrFrameKind, 11},
		{"kind ffff", "10000000 ffff 0000 0c000000 00000000", 0, ErrFrameKind, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHeader(unhex(t, tc.in), tc.max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("err %T is not a *FrameError", err)
			}
			if h.ID != tc.id || fe.Header.ID != tc.id {
				t.Fatalf("id = %d/%d, want %d", h.ID, fe.Header.ID, tc.id)
			}
			if err.Error() == "" {
				t.Fatal("empty message")
			}
		})
	}
	// The limits themselves are fine.
	for _, in := range []string{"10000000 0300 0000 00000000 00000000", "10101000 0500 0000 00000000 00000000"} {
		if _, err := ParseHeader(unhex(t, in), 0); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestParseHelloErrors(t *testing.T) {
	if _, err := ParseHello(unhex(t, "43474950 0100 0200 000000")); !errors.Is(err, ErrShortPayload) {
		t.Errorf("short: %v", err)
	}
	if _, err := ParseHello(unhex(t, "58474950 0100 0200 00000000")); !errors.Is(err, ErrBadMagic) {
		t.Errorf("magic: %v", err)
	}
	if _, err := ParseHello(unhex(t, "58474950")); !errors.Is(err, ErrBadMagic) {
		t.Errorf("short with bad magic: %v", err)
	}
	if _, err := ParseWelcome(unhex(t, "0100 0200 04030201 101010")); !errors.Is(err, ErrShortPayload) {
		t.Errorf("welcome: %v", err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindHello: "HELLO", KindWelcome: "WELCOME", KindRequest: "REQUEST", KindReply: "REPLY", KindEvent: "EVENT", 9: "kind(9)"} {
		if k.String() != want {
			t.Errorf("%d: %q", k, k.String())
		}
	}
}

func TestSocketPath(t *testing.T) {
	t.Setenv(EnvSocket, "")
	if p := SocketPath(); p != DefaultSocket {
		t.Fatalf("SocketPath() = %q with an empty %s", p, EnvSocket)
	}
	t.Setenv(EnvSocket, "/tmp/x.sock")
	if p := SocketPath(); p != "/tmp/x.sock" {
		t.Fatalf("SocketPath() = %q", p)
	}
}

func TestAllowUIDGID(t *testing.T) {
	allow := AllowUIDGID([]uint32{1000}, []uint32{50})
	for _, tc := range []struct {
		c    service.Cred
		want bool
	}{
		{service.Cred{UID: 0, GID: 7}, true},
		{service.Cred{UID: 7, GID: 0}, true}, // corosync admits gid 0 too
		{service.Cred{UID: 1000, GID: 7}, true},
		{service.Cred{UID: 7, GID: 50}, true},
		{service.Cred{UID: 1001, GID: 1001}, false},
	} {
		if got := allow(tc.c); got != tc.want {
			t.Errorf("allow(%+v) = %v", tc.c, got)
		}
	}
}

func TestFrameReaderGrowsAndShrinks(t *testing.T) {
	var stream bytes.Buffer
	small := AppendHeader(nil, Header{Length: HeaderSize + 3, Kind: KindRequest, ID: 1})
	small = append(small, 1, 2, 3)
	big := AppendHeader(nil, Header{Length: HeaderSize + 5000, Kind: KindRequest, ID: 2})
	big = append(big, make([]byte, 5000)...)
	stream.Write(small)
	stream.Write(big)
	stream.Write(small)
	fr := newFrameReader(&stream, 64, 1<<20)
	var ids []uint32
	for len(ids) < 3 {
		h, f, err := fr.next()
		if err == errNeedMore {
			if err := fr.fill(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if int(h.Length) != len(f) {
			t.Fatalf("frame of %d bytes for length %d", len(f), h.Length)
		}
		ids = append(ids, h.ID)
	}
	if ids[0] != 1 || ids[1] != 2 || ids[2] != 1 {
		t.Fatalf("ids %v", ids)
	}
	if err := fr.fill(); err == nil {
		t.Fatal("fill at the end of the stream: no error")
	}
	if len(fr.buf) != 64 {
		t.Fatalf("buffer of %d bytes after draining, want 64", len(fr.buf))
	}
}
