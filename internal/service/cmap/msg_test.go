package cmap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestMcastGolden spells out the MCAST layout (corosync-wire.md §5.3) for
// config_version 0 (the captured message) and 5.
func TestMcastGolden(t *testing.T) {
	key := hex.EncodeToString([]byte("totem.config_version"))
	pad := func(n int) string { return strings.Repeat("00", n) }
	head := func(size string) string {
		return "00000000" + "00000000" + size + "00000000" + // id 0 (cmap, fn 0), size
			"00" + pad(7) + // reason SYNC @16
			"01" + pad(7) + // no_items @24
			pad(16) // reserved @32, @40
	}
	item := func(typ, vlen, val string) string {
		return "1400" + pad(6) + // key length 20 @+0
			key + pad(256-20) + // key @+8
			typ + pad(7) + // value_type @+264
			vlen + // value_len @+272
			val
	}
	for _, c := range []struct {
		v    uint64
		want string
	}{
		{0, head("48010000") + item("00", "0000000000000000", "")},
		{5, head("50010000") + item("08", "0800000000000000", "0500000000000000")},
	} {
		got, err := AppendMcast(nil, ConfigVersionMcast(ReasonSync, c.v))
		if err != nil {
			t.Fatal(err)
		}
		if h := hex.EncodeToString(got); h != c.want {
			t.Errorf("version %d:\n got %s\nwant %s", c.v, h, c.want)
		}
		m, err := DecodeMcast(got, false)
		if v, ok := m.ConfigVersion(); err != nil || !ok || v != c.v {
			t.Errorf("decode version %d: %v %v %v", c.v, v, ok, err)
		}
	}
}

func TestMcastPadding(t *testing.T) {
	m := Mcast{Reason: ReasonNewConfigVersion, Items: []Item{
		{Key: "a", Type: TypeString, Value: []byte("xyz")},
		{Key: "b", Type: TypeUint16, Value: []byte{1, 2}},
		{Key: strings.Repeat("k", MaxKeyLen), Type: TypeBinary, Value: []byte{}},
	}}
	b, err := AppendMcast(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 48+288+288+280 {
		t.Fatalf("size %d", len(b))
	}
	got, err := DecodeMcast(b, false)
	if err != nil || !mcastEqual(got, m) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	// The last item without its padding still decodes.
	short, _ := AppendMcast(nil, Mcast{Items: []Item{{Key: "a", Type: TypeString, Value: []byte("xyz")}}})
	if _, err := DecodeMcast(short[:48+280+3], false); err != nil {
		t.Errorf("unpadded last item: %v", err)
	}
}

func TestMcastEncodeErrors(t *testing.T) {
	if _, err := AppendMcast(nil, Mcast{Items: []Item{{Key: strings.Repeat("k", 256)}}}); !errors.Is(err, ErrKeyTooLong) {
		t.Errorf("long key: %v", err)
	}
	if _, err := AppendMcast(nil, Mcast{Items: make([]Item, 33)}); !errors.Is(err, ErrTooManyItems) {
		t.Errorf("33 items: %v", err)
	}
}

func TestMcastDecodeErrors(t *testing.T) {
	good, _ := AppendMcast(nil, ConfigVersionMcast(ReasonSync, 5))
	mod := func(f func(b []byte)) []byte { b := slices.Clone(good); f(b); return b }
	for name, b := range map[string][]byte{
		"short header": good[:47],
		"short item":   good[:48+279],
		"short value":  good[:48+280+7],
		"items":        mod(func(b []byte) { b[24] = 33 }),
		"two items":    mod(func(b []byte) { b[24] = 2 }),
		"key length":   mod(func(b []byte) { b[48], b[49] = 0, 1 }),
		"type":         mod(func(b []byte) { b[48+264] = 13 }),
		"u64 length":   mod(func(b []byte) { b[48+272] = 4 }),
		"huge length":  mod(func(b []byte) { b[48+279] = 0x80 }),
	} {
		if _, err := DecodeMcast(b, false); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMcastSwapped(t *testing.T) {
	m := Mcast{Items: []Item{
		{Key: "u64", Type: TypeUint64, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{Key: "dbl", Type: TypeDouble, Value: le64(math.Float64bits(1.5))},
		{Key: "u16", Type: TypeUint16, Value: []byte{1, 2}},
		{Key: "u8", Type: TypeUint8, Value: []byte{7}},
		{Key: "str", Type: TypeString, Value: []byte("abc")},
		{Key: "none"},
	}}
	b, _ := AppendMcast(nil, m)
	got, err := DecodeMcast(swapMcast(b), true)
	if err != nil || !mcastEqual(got, m) {
		t.Fatalf("swapped: %+v %v", got, err)
	}
}

func le64(v uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func mcastEqual(a, b Mcast) bool {
	return a.Reason == b.Reason && slices.EqualFunc(a.Items, b.Items, func(x, y Item) bool {
		return x.Key == y.Key && x.Type == y.Type && bytes.Equal(x.Value, y.Value)
	})
}

func FuzzDecodeMcast(f *testing.F) {
	b, _ := AppendMcast(nil, ConfigVersionMcast(ReasonSync, 0))
	f.Add(b, false)
	b, _ = AppendMcast(nil, Mcast{Items: []Item{{Key: "x", Type: TypeString, Value: []byte("v")}, {Key: "y", Type: TypeUint32, Value: []byte{1, 2, 3, 4}}}})
	f.Add(b, true)
	f.Fuzz(func(t *testing.T, b []byte, swapped bool) {
		m, err := DecodeMcast(b, swapped)
		if err != nil {
			return
		}
		re, err := AppendMcast(nil, m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		m2, err := DecodeMcast(re, false)
		if err != nil || !mcastEqual(m, m2) {
			t.Fatalf("re-decode: %+v vs %+v (%v)", m, m2, err)
		}
		m.ConfigVersion()
	})
}
