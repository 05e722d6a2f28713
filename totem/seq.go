package totem

// Sequence numbers are compared as corosync compares them (sq.h): when
// either value is above 0x80000000 both are shifted down by 0x10000 before
// the unsigned compare, so that the initial aru 0xFFFFFFFF counts as just
// before 0.

func seqShift(a, b uint32) (uint32, uint32) {
	if a > 0x80000000 || b > 0x80000000 {
		return a - 0x10000, b - 0x10000
	}
	return a, b
}

// seqLT reports a < b.
func seqLT(a, b uint32) bool { a, b = seqShift(a, b); return a < b }

// seqLTE reports a <= b.
func seqLTE(a, b uint32) bool { a, b = seqShift(a, b); return a <= b }

// seqMin returns the smaller of a and b.
func seqMin(a, b uint32) uint32 {
	if seqLT(b, a) {
		return b
	}
	return a
}
