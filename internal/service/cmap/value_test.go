package cmap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestValueRoundTrips(t *testing.T) {
	for _, kv := range []KV{
		{"a", TypeInt8, int8(-128)},
		{"a", TypeUint8, uint8(255)},
		{"a", TypeInt16, int16(-32768)},
		{"a", TypeUint16, uint16(65535)},
		{"a", TypeInt32, int32(math.MinInt32)},
		{"a", TypeUint32, uint32(math.MaxUint32)},
		{"a", TypeInt64, int64(math.MinInt64)},
		{"a", TypeUint64, uint64(math.MaxUint64)},
		{"a", TypeFloat, float32(1.25)},
		{"a", TypeDouble, float64(-2.5)},
		{"a", TypeString, "udpu"},
		{"a", TypeString, ""},
		{"a", TypeBinary, []byte{0, 1, 2}},
	} {
		b, err := AppendValue(nil, kv)
		if err != nil {
			t.Fatalf("%v: %v", kv, err)
		}
		typ, v, n, err := DecodeValue(append(b, 0xff))
		if err != nil || typ != kv.Type || n != len(b) || !reflect.DeepEqual(v, kv.Value) {
			t.Errorf("%s %v: got %s %#v %d %v", kv.Type, kv.Value, typ, v, n, err)
		}
	}
}

func TestValueGolden(t *testing.T) {
	for _, c := range []struct {
		kv   KV
		want string
	}{
		{KV{"k", TypeUint32, 3000}, "06" + "04000000" + "b80b0000"},
		{KV{"k", TypeString, "udpu"}, "0b" + "04000000" + "75647075"},
		{KV{"k", TypeInt16, -2}, "03" + "02000000" + "feff"},
		{KV{"k", TypeDouble, 1.0}, "0a" + "08000000" + "000000000000f03f"},
	} {
		b, err := AppendValue(nil, c.kv)
		if err != nil || hex.EncodeToString(b) != c.want {
			t.Errorf("%v: %x %v, want %s", c.kv, b, err, c.want)
		}
	}
}

func TestValueConversions(t *testing.T) {
	ok := []KV{
		{"k", TypeUint8, 255}, {"k", TypeUint16, uint64(1)}, {"k", TypeInt8, -128}, {"k", TypeInt8, uint8(127)},
		{"k", TypeInt64, math.MinInt64}, {"k", TypeUint64, uint(5)}, {"k", TypeFloat, 0.5}, {"k", TypeDouble, float32(0.5)},
		{"k", TypeString, []byte("x")}, {"k", TypeBinary, "x"},
	}
	for _, kv := range ok {
		if _, err := AppendValue(nil, kv); err != nil {
			t.Errorf("%v: %v", kv, err)
		}
	}
	bad := []KV{
		{"k", TypeUint8, 256}, {"k", TypeUint8, -1}, {"k", TypeInt8, 128}, {"k", TypeInt8, -129},
		{"k", TypeInt32, uint64(math.MaxInt32 + 1)}, {"k", TypeUint32, "3"}, {"k", TypeString, 3},
		{"k", TypeFloat, 1}, {"k", TypeUint64, -1}, {"k", TypeUint64, 1.0},
	}
	for _, kv := range bad {
		if _, err := AppendValue(nil, kv); !errors.Is(err, ErrBadValue) {
			t.Errorf("%v: %v", kv, err)
		}
	}
	if _, err := AppendValue(nil, KV{"k", 13, 1}); !errors.Is(err, ErrBadType) {
		t.Errorf("type 13: %v", err)
	}
	if b, _ := AppendValue([]byte{9}, KV{"k", TypeUint8, 300}); !bytes.Equal(b, []byte{9}) {
		t.Errorf("failed append left %x", b)
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		kv   KV
		want string
	}{
		{KV{"totem.token", TypeUint32, uint32(3000)}, "totem.token (u32) = 3000"},
		{KV{"totem.transport", TypeString, "udpu"}, "totem.transport (str) = udpu"},
		{KV{"runtime.votequorum.two_node", TypeUint8, uint8(0)}, "runtime.votequorum.two_node (u8) = 0"},
		{KV{"x", TypeInt8, int8(-5)}, "x (i8) = -5"},
		{KV{"x", TypeInt64, int64(-1)}, "x (i64) = -1"},
		{KV{"x", TypeUint64, uint64(math.MaxUint64)}, "x (u64) = 18446744073709551615"},
		{KV{"x", TypeFloat, float32(1.1)}, "x (flt) = 1.100000"},
		{KV{"x", TypeDouble, 2.0 / 3}, "x (dbl) = 0.666667"},
		{KV{"x", TypeBinary, []byte{1}}, "x (bin)"},
	} {
		if got := FormatValue(c.kv); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if got := FormatValueBinary(KV{"x", TypeBinary, []byte("a\\\x00\x7f~")}); got != `x (bin) = a\\\x00\x7F~` {
		t.Errorf("binary: %q", got)
	}
	if got := FormatValueBinary(KV{"x", TypeBinary, []byte{}}); got != "x (bin) = *empty*" {
		t.Errorf("empty binary: %q", got)
	}
	if got := FormatValueBinary(KV{"x", TypeUint8, uint8(1)}); got != "x (u8) = 1" {
		t.Errorf("non-binary: %q", got)
	}
}

func FuzzDecodeValue(f *testing.F) {
	b, _ := AppendValue(nil, KV{"k", TypeUint32, 7})
	f.Add(b)
	b, _ = AppendValue(nil, KV{"k", TypeString, "abc"})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, v, n, err := DecodeValue(b)
		if err != nil {
			return
		}
		re, err := AppendValue(nil, KV{Key: "k", Type: typ, Value: v})
		if err != nil {
			t.Fatalf("decoded %s %#v does not encode: %v", typ, v, err)
		}
		if !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoding %x differs from %x", re, b[:n])
		}
		_ = FormatValueBinary(KV{Key: "k", Type: typ, Value: v})
	})
}
