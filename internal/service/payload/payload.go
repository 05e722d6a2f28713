// Package payload decodes the little-endian fields of the services'
// client protocol payloads (internal/service/{cfg,quorum,votequorum}):
// one Reader that each protocol extends with its own compound fields.
package payload

import (
	"encoding/binary"
	"fmt"
)

// Reader decodes fields in order. The first failure sticks: later reads
// return zero values and Err reports the failure.
type Reader struct {
	b     []byte
	off   int
	short error
	fail  error
}

// NewReader reads b; a field that b does not hold fails with an error
// wrapping short (the protocol's sentinel).
func NewReader(b []byte, short error) Reader { return Reader{b: b, short: short} }

// Need reports whether n more bytes are there for the field what, and
// records the failure if not.
func (r *Reader) Need(n int, what string) bool {
	if r.fail != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail = fmt.Errorf("%w: %s needs %d bytes at offset %d, %d left", r.short, what, n, r.off, len(r.b)-r.off)
		return false
	}
	return true
}

// Fail records err unless a failure is already recorded.
func (r *Reader) Fail(err error) {
	if r.fail == nil {
		r.fail = err
	}
}

// Failed returns the recorded failure, nil if none.
func (r *Reader) Failed() error { return r.fail }

// Left is the number of bytes not read yet.
func (r *Reader) Left() int { return len(r.b) - r.off }

// Bytes returns the next n bytes (aliasing the input).
func (r *Reader) Bytes(n int, what string) []byte {
	if !r.Need(n, what) {
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off]
}

// U8 reads a byte.
func (r *Reader) U8(what string) uint8 {
	if b := r.Bytes(1, what); b != nil {
		return b[0]
	}
	return 0
}

// U16 reads a little-endian uint16.
func (r *Reader) U16(what string) uint16 {
	if b := r.Bytes(2, what); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

// U32 reads a little-endian uint32.
func (r *Reader) U32(what string) uint32 {
	if b := r.Bytes(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// U64 reads a little-endian uint64.
func (r *Reader) U64(what string) uint64 {
	if b := r.Bytes(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Count reads a u32 element count and checks, before anything is
// allocated, that the bytes left can hold that many elements of size
// bytes (at least).
func (r *Reader) Count(size int, what string) int {
	n := r.U32(what + " count")
	if r.fail != nil {
		return 0
	}
	if uint64(n)*uint64(size) > uint64(r.Left()) {
		r.fail = fmt.Errorf("%w: %d %s at offset %d, %d bytes left", r.short, n, what, r.off, r.Left())
		return 0
	}
	return int(n)
}

// Err is nil, or the failure wrapped as "<pkg>: decode <what>: ...".
func (r *Reader) Err(pkg, what string) error {
	if r.fail != nil {
		return fmt.Errorf("%s: decode %s: %w", pkg, what, r.fail)
	}
	return nil
}
