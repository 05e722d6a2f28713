package wire

import (
	"errors"
	"fmt"
)

// Reason classifies why a datagram was rejected, so that a receiver can count
// drops by cause. The numbering is append-only.
type Reason uint8

// Decode failure reasons, in the order corosync's receive path checks them
// (corosync-wire.md §2.10).
const (
	// ReasonNone is what ReasonOf returns for a nil error.
	ReasonNone Reason = iota
	// ReasonShort: shorter than the 13-byte header or the type's fixed part.
	ReasonShort
	// ReasonBadMagic: the first two bytes are not 0xC070 in either order.
	ReasonBadMagic
	// ReasonBadVersion: the version byte is not 3.
	ReasonBadVersion
	// ReasonBadType: the type byte is not 0..5.
	ReasonBadType
	// ReasonWrongType: a valid type, but not the one the decoder handles.
	ReasonWrongType
	// ReasonTruncated: the declared list counts do not fit in the datagram.
	ReasonTruncated
	// ReasonBadCount: a list count above its limit (or negative as a C int),
	// or a commit token's memb_index above its addr_entries.
	ReasonBadCount
	// ReasonOther is what ReasonOf returns for an error not from this package.
	ReasonOther
)

// String returns the reason's short name, suitable as a metric label.
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonShort:
		return "short"
	case ReasonBadMagic:
		return "bad-magic"
	case ReasonBadVersion:
		return "bad-version"
	case ReasonBadType:
		return "bad-type"
	case ReasonWrongType:
		return "wrong-type"
	case ReasonTruncated:
		return "truncated"
	case ReasonBadCount:
		return "bad-count"
	case ReasonOther:
		return "other"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Sentinel errors, one per Reason. Every DecodeError wraps the one matching
// its Reason, so callers can test with errors.Is.
var (
	// ErrShort is wrapped by ReasonShort errors.
	ErrShort = errors.New("wire: datagram too short")
	// ErrBadMagic is wrapped by ReasonBadMagic errors.
	ErrBadMagic = errors.New("wire: bad magic")
	// ErrBadVersion is wrapped by ReasonBadVersion errors.
	ErrBadVersion = errors.New("wire: unsupported version")
	// ErrBadType is wrapped by ReasonBadType errors.
	ErrBadType = errors.New("wire: unknown message type")
	// ErrWrongType is wrapped by ReasonWrongType errors.
	ErrWrongType = errors.New("wire: wrong message type for decoder")
	// ErrTruncated is wrapped by ReasonTruncated errors.
	ErrTruncated = errors.New("wire: lists truncated")
	// ErrBadCount is wrapped by ReasonBadCount errors.
	ErrBadCount = errors.New("wire: bad list count")

	errOtherReason = errors.New("wire: other")
)

// sentinel returns the sentinel error of a reason.
func (r Reason) sentinel() error {
	switch r {
	case ReasonShort:
		return ErrShort
	case ReasonBadMagic:
		return ErrBadMagic
	case ReasonBadVersion:
		return ErrBadVersion
	case ReasonBadType:
		return ErrBadType
	case ReasonWrongType:
		return ErrWrongType
	case ReasonTruncated:
		return ErrTruncated
	case ReasonBadCount:
		return ErrBadCount
	}
	return errOtherReason
}

// DecodeError describes a rejected datagram.
type DecodeError struct {
	// Reason classifies the failure.
	Reason Reason
	// Type is the offending type byte for ReasonBadType and otherwise the
	// type of the decoder that failed (for ReasonWrongType, the type it
	// expected). PeekHeader sets it only for ReasonBadType. It is valid only
	// when TypeKnown is set.
	Type MessageType
	// TypeKnown reports whether Type is set: PeekHeader leaves it unset when
	// the datagram is rejected before its type byte is read.
	TypeKnown bool
	// Len is the datagram's length in bytes.
	Len int
	// Detail says what exactly was wrong, for logs.
	Detail string
}

// Error formats the error as "wire: decode TYPE: reason (len N): detail".
func (e *DecodeError) Error() string {
	what := "header"
	if e.TypeKnown {
		what = e.Type.String()
	}
	s := fmt.Sprintf("wire: decode %s: %s (len %d)", what, e.Reason, e.Len)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the sentinel error matching the Reason.
func (e *DecodeError) Unwrap() error { return e.Reason.sentinel() }

// ReasonOf returns the Reason of a decode error: ReasonNone for nil,
// ReasonOther for errors that are not from this package's decoders.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	for r := ReasonShort; r < ReasonOther; r++ {
		if errors.Is(err, r.sentinel()) {
			return r
		}
	}
	return ReasonOther
}

// decodeErr builds a DecodeError for a per-type decoder.
func decodeErr(r Reason, t MessageType, n int, format string, args ...any) error {
	return &DecodeError{Reason: r, Type: t, TypeKnown: true, Len: n, Detail: fmt.Sprintf(format, args...)}
}
