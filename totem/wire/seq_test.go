package wire_test

import (
	"testing"
	"testing/quick"

	"github.com/corogo/corogo/totem/wire"
)

func TestSeqCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b   uint32
		lt, le bool
	}{
		// Neither above 0x80000000: plain unsigned compare.
		{0, 1, true, true},
		{1, 0, false, false},
		{5, 5, false, true},
		{0, 0, false, true},
		{0x7fffffff, 0x80000000, true, true},
		{0x80000000, 0, false, false}, // 0x80000000 itself is not "above"
		{0x80000000, 0x80000000, false, true},
		// The initial aru 0xffffffff is just before 0 and small values.
		{0xffffffff, 0, true, true},
		{0, 0xffffffff, false, false},
		{0xffffffff, 1, true, true},
		{0xffffffff, 5, true, true},
		{0xffffffff, 0xffff, true, true},
		{0xffffffff, 0xffffffff, false, true},
		// The window is only 0x10000 wide: from 0x10000 up, no adjustment.
		{0xffffffff, 0x10000, false, false},
		{0x10000, 0xffffffff, true, true},
		{0xfffeffff, 0xffff0000, true, true},
		// Both high: the adjustment preserves their order.
		{0x80000001, 0x80000002, true, true},
		{0x80000002, 0x80000001, false, false},
		{0xfffffffe, 0xffffffff, true, true},
		// One just above the point, one small: the small one wraps high.
		{0x80000001, 0, true, true},
		{0x80000001, 0xffff, true, true},
		{0x80000001, 0x10000, false, false},
		{0x80000001, 0x7fffffff, false, false},
		{0x7fffffff, 0x80000001, true, true},
	} {
		if got := wire.SeqLess(tc.a, tc.b); got != tc.lt {
			t.Errorf("SeqLess(%#x, %#x) = %v, want %v", tc.a, tc.b, got, tc.lt)
		}
		if got := wire.SeqLessEq(tc.a, tc.b); got != tc.le {
			t.Errorf("SeqLessEq(%#x, %#x) = %v, want %v", tc.a, tc.b, got, tc.le)
		}
		if got := wire.SeqGreater(tc.b, tc.a); got != tc.lt {
			t.Errorf("SeqGreater(%#x, %#x) = %v, want %v", tc.b, tc.a, got, tc.lt)
		}
		if got := wire.SeqGreaterEq(tc.b, tc.a); got != tc.le {
			t.Errorf("SeqGreaterEq(%#x, %#x) = %v, want %v", tc.b, tc.a, got, tc.le)
		}
	}
}

// TestSeqCompareNotTransitive documents what the SeqLess comment warns about.
func TestSeqCompareNotTransitive(t *testing.T) {
	a, b, c := uint32(0x90000000), uint32(5), uint32(0x20000)
	if !wire.SeqLess(a, b) || !wire.SeqLess(b, c) || wire.SeqLess(a, c) {
		t.Errorf("expected %#x < %#x < %#x but not %#x < %#x", a, b, c, a, c)
	}
}

// naiveSeqLess is the spec sentence of corosync-wire.md §2.4 computed in
// 64-bit arithmetic, as a twin for the quick check.
func naiveSeqLess(a, b uint32, orEqual bool) bool {
	x, y := uint64(a), uint64(b)
	if x > 0x80000000 || y > 0x80000000 {
		x = (x + 1<<32 - 0x10000) % (1 << 32)
		y = (y + 1<<32 - 0x10000) % (1 << 32)
	}
	if orEqual {
		return x <= y
	}
	return x < y
}

func TestSeqCompareQuick(t *testing.T) {
	// Bias inputs towards the interesting edges.
	edge := func(v uint32) uint32 {
		switch v % 4 {
		case 0:
			return v
		case 1:
			return v % 0x20000 // small
		case 2:
			return 0xffffffff - v%0x20000 // just below the wrap
		default:
			return 0x80000000 - 2 + v%4 // around the point
		}
	}
	prop := func(a, b uint32) bool {
		a, b = edge(a), edge(b)
		lt, le := wire.SeqLess(a, b), wire.SeqLessEq(a, b)
		return lt == naiveSeqLess(a, b, false) && le == naiveSeqLess(a, b, true) &&
			le == (lt || a == b) && !(lt && wire.SeqLess(b, a))
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 200000}); err != nil {
		t.Error(err)
	}
}
