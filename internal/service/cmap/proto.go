package cmap

import (
	"encoding/binary"
	"fmt"
)

// Client request types (service.Request.Fn). The numbering is append-only.
const (
	// FnGet reads one key. Request: AppendGet. Reply: AppendValue's typed
	// value; ErrNotExist when the key is absent.
	FnGet uint16 = 1
	// FnIter lists keys by prefix, in byte order of the key, one page at a
	// time. Request: AppendIter. Reply: AppendIterReply. The client asks
	// again with After set to the last key it got while More is set.
	FnIter uint16 = 2
)

// Payload layouts, all little-endian; strings are a u16 length and the
// bytes. A decoder accepts a longer payload and ignores the extra bytes,
// so a later version may append fields.
//
//	GET request   key string
//	GET reply     type u8 | len u32 | value
//	ITER request  prefix string | after string | max u32 (0: no limit)
//	ITER reply    count u32 | more u8 | count × (key string | type u8 | len u32 | value)

// MaxStringLen bounds strings in client payloads (a u16 length).
const MaxStringLen = 1<<16 - 1

// IterRequest asks for the keys starting with Prefix that sort after
// After ("" for the first page), at most Max of them (0: as many as fit in
// one reply).
type IterRequest struct {
	Prefix string
	After  string
	Max    uint32
}

// IterReply is one page of an iteration.
type IterReply struct {
	Entries []KV
	// More says that keys remain after the last entry.
	More bool
}

// AppendGet appends a GET request for key.
func AppendGet(dst []byte, key string) ([]byte, error) { return appendString(dst, key) }

// DecodeGet decodes a GET request.
func DecodeGet(b []byte) (string, error) {
	k, _, err := readString(b, "key")
	return k, err
}

// AppendIter appends an ITER request.
func AppendIter(dst []byte, r IterRequest) ([]byte, error) {
	start := len(dst)
	dst, err := appendString(dst, r.Prefix)
	if err == nil {
		dst, err = appendString(dst, r.After)
	}
	if err != nil {
		return dst[:start], err
	}
	return binary.LittleEndian.AppendUint32(dst, r.Max), nil
}

// DecodeIter decodes an ITER request.
func DecodeIter(b []byte) (IterRequest, error) {
	var r IterRequest
	p, n, err := readString(b, "prefix")
	if err != nil {
		return r, err
	}
	a, m, err := readString(b[n:], "after")
	if err != nil {
		return r, err
	}
	rest := b[n+m:]
	if len(rest) < 4 {
		return r, fmt.Errorf("%w: iter request: max needs 4 bytes, %d left", ErrShort, len(rest))
	}
	return IterRequest{Prefix: p, After: a, Max: binary.LittleEndian.Uint32(rest)}, nil
}

// AppendEntry appends one ITER reply entry: the key and its typed value.
func AppendEntry(dst []byte, kv KV) ([]byte, error) {
	start := len(dst)
	dst, err := appendString(dst, kv.Key)
	if err == nil {
		dst, err = AppendValue(dst, kv)
	}
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// AppendIterReply appends a whole ITER reply.
func AppendIterReply(dst []byte, r IterReply) ([]byte, error) {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Entries)))
	dst = append(dst, b2u(r.More))
	for _, kv := range r.Entries {
		var err error
		if dst, err = AppendEntry(dst, kv); err != nil {
			return dst[:start], err
		}
	}
	return dst, nil
}

// iterReplyHeader is the size of an ITER reply before its entries.
const iterReplyHeader = 5

// DecodeIterReply decodes an ITER reply.
func DecodeIterReply(b []byte) (IterReply, error) {
	var r IterReply
	if len(b) < iterReplyHeader {
		return r, fmt.Errorf("%w: iter reply of %d bytes", ErrShort, len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	switch b[4] {
	case 0:
	case 1:
		r.More = true
	default:
		return r, fmt.Errorf("%w: iter reply more flag %d", ErrBadValue, b[4])
	}
	off := iterReplyHeader
	// Each entry takes at least 7 bytes: check the count before allocating.
	if uint64(n)*7 > uint64(len(b)-off) {
		return r, fmt.Errorf("%w: %d entries in %d bytes", ErrShort, n, len(b)-off)
	}
	r.Entries = make([]KV, 0, n)
	for i := range n {
		key, m, err := readString(b[off:], "key")
		if err != nil {
			return IterReply{}, fmt.Errorf("cmap: iter reply entry %d: %w", i, err)
		}
		off += m
		t, v, m, err := DecodeValue(b[off:])
		if err != nil {
			return IterReply{}, fmt.Errorf("cmap: iter reply entry %d (%q): %w", i, key, err)
		}
		off += m
		r.Entries = append(r.Entries, KV{Key: key, Type: t, Value: v})
	}
	return r, nil
}

// DecodeGetReply decodes a GET reply into a KV for key.
func DecodeGetReply(key string, b []byte) (KV, error) {
	t, v, _, err := DecodeValue(b)
	if err != nil {
		return KV{}, fmt.Errorf("cmap: get reply for %q: %w", key, err)
	}
	return KV{Key: key, Type: t, Value: v}, nil
}

func appendString(dst []byte, s string) ([]byte, error) {
	if len(s) > MaxStringLen {
		return dst, fmt.Errorf("%w: string of %d bytes", ErrBadValue, len(s))
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...), nil
}

func readString(b []byte, what string) (string, int, error) {
	if len(b) < 2 {
		return "", 0, fmt.Errorf("%w: %s length needs 2 bytes, %d left", ErrShort, what, len(b))
	}
	n := int(binary.LittleEndian.Uint16(b))
	if len(b)-2 < n {
		return "", 0, fmt.Errorf("%w: %s of %d bytes, %d left", ErrShort, what, n, len(b)-2)
	}
	return string(b[2 : 2+n]), 2 + n, nil
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}
