package cmap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestProtoGolden(t *testing.T) {
	get, _ := AppendGet(nil, "totem.token")
	if h := hex.EncodeToString(get); h != "0b00"+hex.EncodeToString([]byte("totem.token")) {
		t.Errorf("get %s", h)
	}
	it, _ := AppendIter(nil, IterRequest{Prefix: "a", After: "ab", Max: 10})
	if h := hex.EncodeToString(it); h != "0100"+"61"+"0200"+"6162"+"0a000000" {
		t.Errorf("iter %s", h)
	}
	rep, _ := AppendIterReply(nil, IterReply{Entries: []KV{{"k", TypeUint8, uint8(1)}}, More: true})
	if h := hex.EncodeToString(rep); h != "01000000"+"01"+"0100"+"6b"+"02"+"01000000"+"01" {
		t.Errorf("iter reply %s", h)
	}
}

func TestProtoRoundTrips(t *testing.T) {
	for _, k := range []string{"", "totem.token", strings.Repeat("k", MaxStringLen)} {
		b, err := AppendGet(nil, k)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecodeGet(b); err != nil || got != k {
			t.Errorf("get %d bytes: %v", len(k), err)
		}
	}
	if _, err := AppendGet(nil, strings.Repeat("k", MaxStringLen+1)); !errors.Is(err, ErrBadValue) {
		t.Errorf("long key: %v", err)
	}
	req := IterRequest{Prefix: "runtime.", After: "runtime.a", Max: 3}
	b, _ := AppendIter(nil, req)
	if got, err := DecodeIter(b); err != nil || got != req {
		t.Errorf("iter: %+v %v", got, err)
	}
	for i := range len(b) {
		if _, err := DecodeIter(b[:i]); !errors.Is(err, ErrShort) {
			t.Errorf("iter cut at %d: %v", i, err)
		}
	}
	rep := IterReply{Entries: []KV{{"a", TypeString, "x"}, {"b", TypeInt32, int32(-1)}, {"c", TypeBinary, []byte{}}}}
	b, _ = AppendIterReply(nil, rep)
	got, err := DecodeIterReply(b)
	if err != nil || !reflect.DeepEqual(got, rep) {
		t.Errorf("iter reply: %+v %v", got, err)
	}
	for i := range len(b) {
		if _, err := DecodeIterReply(b[:i]); err == nil {
			t.Errorf("iter reply cut at %d accepted", i)
		}
	}
	if _, err := AppendIterReply(nil, IterReply{Entries: []KV{{"a", TypeUint8, 300}}}); !errors.Is(err, ErrBadValue) {
		t.Errorf("bad entry: %v", err)
	}
}

func FuzzDecodeGet(f *testing.F) {
	b, _ := AppendGet(nil, "totem.token")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeGet(b)
		if err != nil {
			return
		}
		re, _ := AppendGet(nil, k)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("re-encoding %x differs from %x", re, b)
		}
	})
}

func FuzzDecodeIter(f *testing.F) {
	b, _ := AppendIter(nil, IterRequest{Prefix: "a", After: "b", Max: 1})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeIter(b)
		if err != nil {
			return
		}
		re, _ := AppendIter(nil, r)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("re-encoding %x differs from %x", re, b)
		}
	})
}

func FuzzDecodeIterReply(f *testing.F) {
	b, _ := AppendIterReply(nil, IterReply{Entries: []KV{{"a", TypeString, "x"}, {"b", TypeUint64, uint64(9)}}, More: true})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeIterReply(b)
		if err != nil {
			return
		}
		re, err := AppendIterReply(nil, r)
		if err != nil {
			t.Fatalf("decoded reply does not encode: %v", err)
		}
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("re-encoding %x differs from %x", re, b)
		}
	})
}
