package totem

import "github.com/corogo/corogo/totem/wire"

// Sequence numbers are compared as corosync compares them (wire.SeqLess):
// the initial aru 0xFFFFFFFF counts as just before 0.

func seqLT(a, b uint32) bool  { return wire.SeqLess(a, b) }
func seqLTE(a, b uint32) bool { return wire.SeqLessEq(a, b) }

// seqMin returns the smaller of a and b.
func seqMin(a, b uint32) uint32 {
	if seqLT(b, a) {
		return b
	}
	return a
}
