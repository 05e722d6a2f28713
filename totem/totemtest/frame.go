package totemtest

import (
	"encoding/binary"
	"fmt"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/wire"
)

// FrameInfo is what traces and drop filters need to know about a datagram:
// a few header fields read in place (corosync-wire.md §2), without decoding
// the whole message.
type FrameInfo struct {
	// Valid is false when the datagram has no Totem header.
	Valid bool
	// Type is the SRP message type.
	Type wire.MessageType
	// Recovery marks an MCAST recovery wrapper (encapsulated = 1).
	Recovery bool
	// Leave marks a leave message (a join with header nodeid 0).
	Leave bool
	// Origin is the header nodeid: the originator of an MCAST, the sender
	// otherwise (0 in a leave message).
	Origin totem.NodeID
	// Ring is the ring id carried (the new ring for a commit token); zero
	// for joins.
	Ring totem.RingID
	// Seq is the MCAST or ORF seq, the join's ring seq (low 32 bits), or the
	// commit token's memb_index.
	Seq uint32
	// TokenSeq is the ORF or commit token's token_seq.
	TokenSeq uint32
	// Inner names the old-ring MCAST a recovery wrapper carries (zero
	// otherwise): receiving the wrapper is receiving that message.
	Inner totem.MsgRef
}

// PeekFrame reads the FrameInfo of a datagram. It never panics; a short or
// foreign datagram gives Valid = false.
func PeekFrame(b []byte) FrameInfo {
	var f FrameInfo
	if len(b) < wire.HeaderSize || b[2] != wire.Version {
		return f
	}
	var bo binary.ByteOrder
	switch {
	case b[0] == 0x70 && b[1] == 0xc0:
		bo = binary.LittleEndian
	case b[0] == 0xc0 && b[1] == 0x70:
		bo = binary.BigEndian
	default:
		return f
	}
	f.Valid = true
	f.Type = wire.MessageType(b[3])
	f.Origin = bo.Uint32(b[5:])
	ring := func(off int) totem.RingID {
		if len(b) < off+wire.RingIDSize {
			return totem.RingID{}
		}
		return totem.RingID{Rep: bo.Uint32(b[off:]), Seq: bo.Uint64(b[off+4:])}
	}
	u32 := func(off int) uint32 {
		if len(b) < off+4 {
			return 0
		}
		return bo.Uint32(b[off:])
	}
	switch f.Type {
	case wire.TypeOrfToken:
		f.Seq, f.TokenSeq, f.Ring = u32(13), u32(17), ring(29)
	case wire.TypeMcast:
		f.Recovery = b[4] == wire.Encapsulated
		f.Seq, f.Ring = u32(17), ring(25)
		if f.Recovery && len(b) >= 2*wire.McastHeaderSize {
			if in := PeekFrame(b[wire.McastHeaderSize:]); in.Valid && in.Type == wire.TypeMcast {
				f.Inner = totem.MsgRef{Ring: in.Ring, Seq: in.Seq}
			}
		}
	case wire.TypeMergeDetect:
		f.Ring = ring(17)
	case wire.TypeMembJoin:
		f.Leave = f.Origin == 0
		if len(b) >= 33 {
			f.Seq = uint32(bo.Uint64(b[25:]))
		}
	case wire.TypeCommitToken:
		f.TokenSeq, f.Ring, f.Seq = u32(13), ring(17), u32(33)
	case wire.TypeTokenHoldCancel:
		f.Ring = ring(13)
	}
	return f
}

// TypeName returns the short name of a message type as traces and scenario
// files write it: "token", "mcast", "merge", "join", "commit", "holdcancel".
func TypeName(t wire.MessageType) string {
	switch t {
	case wire.TypeOrfToken:
		return "token"
	case wire.TypeMcast:
		return "mcast"
	case wire.TypeMergeDetect:
		return "merge"
	case wire.TypeMembJoin:
		return "join"
	case wire.TypeCommitToken:
		return "commit"
	case wire.TypeTokenHoldCancel:
		return "holdcancel"
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// ParseType is the inverse of TypeName.
func ParseType(s string) (wire.MessageType, error) {
	for t := wire.TypeOrfToken; t <= wire.TypeTokenHoldCancel; t++ {
		if TypeName(t) == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("totemtest: unknown message type %q", s)
}

// String describes the frame compactly, e.g. "mcast 1.9#17 from 2" or
// "token 1.9 seq=17 tseq=40".
func (f FrameInfo) String() string {
	if !f.Valid {
		return "invalid"
	}
	switch f.Type {
	case wire.TypeOrfToken:
		return fmt.Sprintf("token %v seq=%d tseq=%d", f.Ring, f.Seq, f.TokenSeq)
	case wire.TypeMcast:
		if f.Recovery {
			return fmt.Sprintf("mcast(rec) %v#%d from %d [%v#%d]", f.Ring, f.Seq, f.Origin, f.Inner.Ring, f.Inner.Seq)
		}
		return fmt.Sprintf("mcast %v#%d from %d", f.Ring, f.Seq, f.Origin)
	case wire.TypeMembJoin:
		if f.Leave {
			return fmt.Sprintf("leave ringseq=%x", f.Seq)
		}
		return fmt.Sprintf("join ringseq=%x", f.Seq)
	case wire.TypeCommitToken:
		return fmt.Sprintf("commit %v idx=%d tseq=%d", f.Ring, f.Seq, f.TokenSeq)
	}
	return fmt.Sprintf("%s %v", TypeName(f.Type), f.Ring)
}
