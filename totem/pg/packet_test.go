package pg

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDecodePacket(t *testing.T) {
	// §7.2 frame 3: one NODEINFO item of 37 bytes.
	nodeinfo := append([]byte(GroupHeaderA), make([]byte, 32)...)
	le := append([]byte{0, 0, 0, 0, 0, 0, 1, 0, 37, 0}, nodeinfo...)
	be := append([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 37}, nodeinfo...)
	for _, tc := range []struct {
		name    string
		pkt     []byte
		swapped bool
	}{{"little-endian", le, false}, {"big-endian", be, true}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePacket(tc.pkt, tc.swapped)
			if err != nil {
				t.Fatal(err)
			}
			if p.Count != 1 || p.Fragmented != 0 || p.Continuation != 0 || p.ItemLen(0) != 37 {
				t.Fatalf("decoded %+v", p.Header)
			}
			if !bytes.Equal(p.Item(0), nodeinfo) {
				t.Fatal("item differs")
			}
		})
	}

	pkt := mustPacket(t, 3, 2, []byte("ab"), []byte("cde"), []byte("f"))
	want := "0000" + "0000" + "03" + "02" + "0300" + "0200" + "0300" + "0100" + "6162636465" + "66"
	if got := fmt.Sprintf("%x", pkt); got != want {
		t.Fatalf("AppendPacket = %s, want %s", got, want)
	}
	p, err := DecodePacket(pkt, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Header != (Header{Fragmented: 3, Continuation: 2, Count: 3}) {
		t.Fatalf("header %+v", p.Header)
	}
	var got []string
	for i, it := range p.Items() {
		got = append(got, fmt.Sprintf("%d:%s", i, it))
		if i == 1 {
			break
		}
	}
	if strings.Join(got, " ") != "0:ab 1:cde" || string(p.Item(2)) != "f" {
		t.Fatalf("items %q, %q", got, p.Item(2))
	}
}

func TestAppendPacketErrors(t *testing.T) {
	for _, tc := range []struct {
		items [][]byte
		want  Reason
	}{
		{nil, ReasonNoItems},
		{[][]byte{{1}, {}}, ReasonEmptyItem},
		{[][]byte{make([]byte, 0x10000)}, ReasonTooBig},
		{make([][]byte, 0x10000), ReasonTooBig},
	} {
		dst := []byte{9}
		out, err := AppendPacket(dst, Header{}, tc.items...)
		if ReasonOf(err) != tc.want || len(out) != 1 {
			t.Errorf("%d items: %v (len %d), want %v", len(tc.items), err, len(out), tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	a := NewAssembler(0)
	err := a.Deliver(42, []byte{1, 2}, false, func([]byte) {})
	if err == nil || !strings.Contains(err.Error(), "node 42") || !strings.Contains(err.Error(), "short packet") {
		t.Fatalf("error text %q", err)
	}
	wrapped := fmt.Errorf("totem: %w", err)
	if ReasonOf(wrapped) != ReasonShort {
		t.Fatal("ReasonOf does not unwrap")
	}
	if ReasonOf(nil) != ReasonNone || ReasonOf(errors.New("x")) != ReasonNone {
		t.Fatal("ReasonOf of foreign errors")
	}
	for r := ReasonNone; r <= NumReasons; r++ {
		if r.String() == "" {
			t.Errorf("reason %d has no name", r)
		}
	}
	if ReasonContinuation.Malformed() || !ReasonTruncated.Malformed() {
		t.Fatal("Malformed")
	}
	if a.Drops(NumReasons) != 0 {
		t.Fatal("Drops out of range")
	}
}
