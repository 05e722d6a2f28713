package wire

// Corosync's rollover adjustment for sequence comparisons (include/corosync/sq.h).
const (
	// SeqRolloverPoint: when either value is above it, both are adjusted.
	SeqRolloverPoint uint32 = 0x80000000
	// SeqRolloverAdjust is subtracted (mod 2^32) from both values.
	SeqRolloverAdjust uint32 = 0x10000
)

// SeqLess reports a < b as corosync's sq_lt_compare decides it for message
// sequence numbers, aru values and token_seq (corosync-wire.md §2.4): when
// either value is above 0x80000000, both have 0x10000 subtracted modulo 2^32
// before the unsigned compare; otherwise the plain unsigned compare applies.
//
// The effect is a window around the wrap: 0xFFFFFFFF (the initial aru) and
// any value above 0x80000000 count as less than 0..0xFFFF, because those
// small values move to the top of the range. It is not a total order:
// values from 0x10000 upward do not move, so SeqLess(0xFFFFFFFF, 0x10000) is
// false, and transitivity fails across the window (0x90000000 < 5 and 5 <
// 0x20000, yet not 0x90000000 < 0x20000). Corosync relies on sequence numbers
// never getting that far apart; so must callers.
func SeqLess(a, b uint32) bool {
	if a > SeqRolloverPoint || b > SeqRolloverPoint {
		return a-SeqRolloverAdjust < b-SeqRolloverAdjust
	}
	return a < b
}

// SeqLessEq reports a <= b as corosync's sq_lte_compare decides it; see
// SeqLess for the rollover adjustment.
func SeqLessEq(a, b uint32) bool {
	if a > SeqRolloverPoint || b > SeqRolloverPoint {
		return a-SeqRolloverAdjust <= b-SeqRolloverAdjust
	}
	return a <= b
}

// SeqGreater reports a > b, which corosync writes as sq_lt_compare(b, a).
func SeqGreater(a, b uint32) bool { return SeqLess(b, a) }

// SeqGreaterEq reports a >= b, which corosync writes as sq_lte_compare(b, a).
func SeqGreaterEq(a, b uint32) bool { return SeqLessEq(b, a) }
