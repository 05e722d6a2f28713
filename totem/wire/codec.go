package wire

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Message is implemented by the pointer of every message type.
type Message interface {
	// MessageType returns the type byte the message is encoded with.
	MessageType() MessageType
	// Size returns the encoded length in bytes (for McastHeader, of the
	// header alone).
	Size() int
	// Unmarshal decodes the message from a datagram in either byte order.
	Unmarshal(b []byte) error
	// AppendTo appends the little-endian encoding to dst.
	AppendTo(dst []byte) []byte
}

var (
	_ Message = (*OrfToken)(nil)
	_ Message = (*McastHeader)(nil)
	_ Message = (*MergeDetect)(nil)
	_ Message = (*MembJoin)(nil)
	_ Message = (*CommitToken)(nil)
	_ Message = (*TokenHoldCancel)(nil)
)

// le is the byte order we send in.
var le = binary.LittleEndian

// u32 reads a field in the sender's byte order.
func u32(b []byte, swapped bool) uint32 {
	v := le.Uint32(b)
	if swapped {
		v = bits.ReverseBytes32(v)
	}
	return v
}

// u64 reads a field in the sender's byte order.
func u64(b []byte, swapped bool) uint64 {
	v := le.Uint64(b)
	if swapped {
		v = bits.ReverseBytes64(v)
	}
	return v
}

// ringID reads a 12-byte memb_ring_id.
func ringID(b []byte, swapped bool) RingID {
	return RingID{Rep: u32(b, swapped), Seq: u64(b[4:], swapped)}
}

// appendRingID appends a memb_ring_id little-endian.
func appendRingID(dst []byte, r RingID) []byte {
	dst = le.AppendUint32(dst, r.Rep)
	return le.AppendUint64(dst, r.Seq)
}

// PeekHeader validates and decodes the common header of a datagram, in the
// order corosync checks it (corosync-wire.md §2.10): length >= 13, magic
// 0xC070 in either byte order, version 3, type 0..5. The magic bytes 70 c0
// mean a little-endian sender; c0 70 mean a big-endian one and set Swapped.
// NodeID and TargetNodeID are returned in host meaning either way; the
// target_nodeid value is never checked. Errors are *DecodeError.
func PeekHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, &DecodeError{Reason: ReasonShort, Len: len(b), Detail: "shorter than the 13-byte header"}
	}
	var swapped bool
	switch {
	case b[0] == 0x70 && b[1] == 0xc0:
	case b[0] == 0xc0 && b[1] == 0x70:
		swapped = true
	default:
		return Header{}, &DecodeError{Reason: ReasonBadMagic, Len: len(b), Detail: magicGuess(b)}
	}
	if b[2] != Version {
		return Header{}, &DecodeError{Reason: ReasonBadVersion, Len: len(b), Detail: fmt.Sprintf("version %d", b[2])}
	}
	t := MessageType(b[3])
	if t > TypeTokenHoldCancel {
		return Header{}, &DecodeError{Reason: ReasonBadType, Type: t, TypeKnown: true, Len: len(b)}
	}
	return Header{
		Type:         t,
		Encapsulated: b[4],
		NodeID:       u32(b[5:], swapped),
		TargetNodeID: u32(b[9:], swapped),
		Swapped:      swapped,
	}, nil
}

// magicGuess names the sender a bad magic suggests, as corosync's log does.
func magicGuess(b []byte) string {
	m := le.Uint16(b)
	switch {
	case m == 0xffff:
		return "magic 0xffff: corosync 2.2"
	case m == 0xfefe:
		return "magic 0xfefe: corosync 2.3+"
	case b[0] == 0x01:
		return "first byte 0x01: unencrypted knet"
	case b[0] <= 5:
		return "first byte 0..5: corosync 1.x/2.0/2.1"
	}
	return fmt.Sprintf("magic bytes %02x %02x", b[0], b[1])
}

// unmarshalHeader checks the common header for a decoder of type want whose
// fixed part is minSize bytes.
func unmarshalHeader(b []byte, want MessageType, minSize int) (Header, error) {
	h, err := PeekHeader(b)
	if err != nil {
		if de, ok := err.(*DecodeError); ok && !de.TypeKnown {
			de.Type, de.TypeKnown = want, true
		}
		return Header{}, err
	}
	if h.Type != want {
		return Header{}, &DecodeError{Reason: ReasonWrongType, Type: want, TypeKnown: true, Len: len(b),
			Detail: "type byte is " + h.Type.String()}
	}
	if len(b) < minSize {
		return Header{}, &DecodeError{Reason: ReasonShort, Type: want, TypeKnown: true, Len: len(b),
			Detail: fmt.Sprintf("fixed part is %d bytes", minSize)}
	}
	return h, nil
}

// appendHeader appends the common header, little-endian.
func appendHeader(dst []byte, t MessageType, h *Header) []byte {
	dst = append(dst, 0x70, 0xc0, Version, byte(t), h.Encapsulated)
	dst = le.AppendUint32(dst, h.NodeID)
	return le.AppendUint32(dst, h.TargetNodeID)
}

// resize returns s with length n, reusing its capacity. A nil s stays nil
// when n is 0, so decoding into a zero struct yields nil lists.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Decode decodes any Totem SRP datagram into a newly allocated message
// (*OrfToken, *McastHeader, ...). It is meant for tools and traces; a
// receive path should call PeekHeader and Unmarshal into reused structs.
func Decode(b []byte) (Message, error) {
	h, err := PeekHeader(b)
	if err != nil {
		return nil, err
	}
	var m Message
	switch h.Type {
	case TypeOrfToken:
		m = new(OrfToken)
	case TypeMcast:
		m = new(McastHeader)
	case TypeMergeDetect:
		m = new(MergeDetect)
	case TypeMembJoin:
		m = new(MembJoin)
	case TypeCommitToken:
		m = new(CommitToken)
	default:
		m = new(TokenHoldCancel)
	}
	if err := m.Unmarshal(b); err != nil {
		return nil, err
	}
	return m, nil
}
