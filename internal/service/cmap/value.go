package cmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ValueType is a cmap value type, numbered as corosync's
// cmap_value_types_t (and icmap_value_types_t) on the wire.
type ValueType uint8

// Value types. TypeNotExist appears only in MCAST items, for a key the
// sender does not have.
const (
	TypeNotExist ValueType = 0
	TypeInt8     ValueType = 1
	TypeUint8    ValueType = 2
	TypeInt16    ValueType = 3
	TypeUint16   ValueType = 4
	TypeInt32    ValueType = 5
	TypeUint32   ValueType = 6
	TypeInt64    ValueType = 7
	TypeUint64   ValueType = 8
	TypeFloat    ValueType = 9
	TypeDouble   ValueType = 10
	TypeString   ValueType = 11
	TypeBinary   ValueType = 12
)

// String returns corosync-cmapctl's name of the type ("u32", "str", ...).
func (t ValueType) String() string {
	switch t {
	case TypeInt8:
		return "i8"
	case TypeUint8:
		return "u8"
	case TypeInt16:
		return "i16"
	case TypeUint16:
		return "u16"
	case TypeInt32:
		return "i32"
	case TypeUint32:
		return "u32"
	case TypeInt64:
		return "i64"
	case TypeUint64:
		return "u64"
	case TypeFloat:
		return "flt"
	case TypeDouble:
		return "dbl"
	case TypeString:
		return "str"
	case TypeBinary:
		return "bin"
	case TypeNotExist:
		return "none"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is one of the twelve value types.
func (t ValueType) Valid() bool { return t >= TypeInt8 && t <= TypeBinary }

// Size is the encoded size of a fixed-size type, 0 for strings, binaries
// and unknown types.
func (t ValueType) Size() int {
	switch t {
	case TypeInt8, TypeUint8:
		return 1
	case TypeInt16, TypeUint16:
		return 2
	case TypeInt32, TypeUint32, TypeFloat:
		return 4
	case TypeInt64, TypeUint64, TypeDouble:
		return 8
	}
	return 0
}

// KV is one key of the runtime key store.
//
// Value holds, by Type: int8, uint8, int16, uint16, int32, uint32, int64,
// uint64, float32 (TypeFloat), float64 (TypeDouble), string (TypeString),
// []byte (TypeBinary). Encoders also accept any Go integer that fits the
// type, a float64 for TypeFloat, and string and []byte for each other;
// decoders return exactly the types listed.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// Errors of the value codecs.
var (
	// ErrBadValue means a KV's Value does not fit its Type.
	ErrBadValue = errors.New("cmap: value does not fit its type")
	// ErrShort means an encoding ends before a field.
	ErrShort = errors.New("cmap: payload too short")
	// ErrBadType means an unknown value type.
	ErrBadType = errors.New("cmap: unknown value type")
)

// PutValue encodes kv's value as raw little-endian bytes (no type or
// length), as it sits in an MCAST item or a client payload.
func PutValue(dst []byte, kv KV) ([]byte, error) {
	t := kv.Type
	switch {
	case t == TypeString || t == TypeBinary:
		switch v := kv.Value.(type) {
		case string:
			return append(dst, v...), nil
		case []byte:
			return append(dst, v...), nil
		}
	case t == TypeFloat || t == TypeDouble:
		var f float64
		switch v := kv.Value.(type) {
		case float32:
			if t == TypeFloat {
				// Directly: a float64 detour would quiet a signalling NaN.
				return binary.LittleEndian.AppendUint32(dst, math.Float32bits(v)), nil
			}
			f = float64(v)
		case float64:
			f = v
		default:
			return dst, fmt.Errorf("%w: %s %q holds %T", ErrBadValue, t, kv.Key, kv.Value)
		}
		if t == TypeFloat {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case t.Valid():
		return putInt(dst, kv)
	default:
		return dst, fmt.Errorf("%w %d for %q", ErrBadType, uint8(t), kv.Key)
	}
	return dst, fmt.Errorf("%w: %s %q holds %T", ErrBadValue, t, kv.Key, kv.Value)
}

// putInt encodes an integer type, range-checking the Go value.
func putInt(dst []byte, kv KV) ([]byte, error) {
	var (
		u      uint64
		neg    bool
		signed = kv.Type == TypeInt8 || kv.Type == TypeInt16 || kv.Type == TypeInt32 || kv.Type == TypeInt64
	)
	switch v := kv.Value.(type) {
	case int:
		u, neg = uint64(v), v < 0
	case int8:
		u, neg = uint64(v), v < 0
	case int16:
		u, neg = uint64(v), v < 0
	case int32:
		u, neg = uint64(v), v < 0
	case int64:
		u, neg = uint64(v), v < 0
	case uint:
		u = uint64(v)
	case uint8:
		u = uint64(v)
	case uint16:
		u = uint64(v)
	case uint32:
		u = uint64(v)
	case uint64:
		u = v
	default:
		return dst, fmt.Errorf("%w: %s %q holds %T", ErrBadValue, kv.Type, kv.Key, kv.Value)
	}
	bits := uint(kv.Type.Size() * 8)
	ok := true
	switch {
	case signed && neg:
		ok = bits == 64 || int64(u) >= -(1<<(bits-1))
	case signed:
		ok = u <= 1<<(bits-1)-1
	case neg:
		ok = false
	default:
		ok = bits == 64 || u < 1<<bits
	}
	if !ok {
		return dst, fmt.Errorf("%w: %v out of range for %s %q", ErrBadValue, kv.Value, kv.Type, kv.Key)
	}
	switch bits {
	case 8:
		return append(dst, byte(u)), nil
	case 16:
		return binary.LittleEndian.AppendUint16(dst, uint16(u)), nil
	case 32:
		return binary.LittleEndian.AppendUint32(dst, uint32(u)), nil
	}
	return binary.LittleEndian.AppendUint64(dst, u), nil
}

// ParseValue decodes raw little-endian value bytes of type t into the Go
// type KV documents. A fixed-size type needs exactly its size.
func ParseValue(t ValueType, b []byte) (any, error) {
	if n := t.Size(); n != 0 && len(b) != n {
		return nil, fmt.Errorf("%w: %s value of %d bytes", ErrBadValue, t, len(b))
	}
	le := binary.LittleEndian
	switch t {
	case TypeInt8:
		return int8(b[0]), nil
	case TypeUint8:
		return b[0], nil
	case TypeInt16:
		return int16(le.Uint16(b)), nil
	case TypeUint16:
		return le.Uint16(b), nil
	case TypeInt32:
		return int32(le.Uint32(b)), nil
	case TypeUint32:
		return le.Uint32(b), nil
	case TypeInt64:
		return int64(le.Uint64(b)), nil
	case TypeUint64:
		return le.Uint64(b), nil
	case TypeFloat:
		return math.Float32frombits(le.Uint32(b)), nil
	case TypeDouble:
		return math.Float64frombits(le.Uint64(b)), nil
	case TypeString:
		return string(b), nil
	case TypeBinary:
		return append([]byte{}, b...), nil
	}
	return nil, fmt.Errorf("%w %d", ErrBadType, uint8(t))
}

// AppendValue appends a client payload's typed value: type u8, length
// u32, then the value bytes (little-endian numbers).
func AppendValue(dst []byte, kv KV) ([]byte, error) {
	start := len(dst)
	dst = append(dst, byte(kv.Type), 0, 0, 0, 0)
	dst, err := PutValue(dst, kv)
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start - 5
	if uint64(n) > math.MaxUint32 {
		return dst[:start], fmt.Errorf("%w: %q value of %d bytes", ErrBadValue, kv.Key, n)
	}
	binary.LittleEndian.PutUint32(dst[start+1:], uint32(n))
	return dst, nil
}

// DecodeValue decodes a typed value at the start of b and returns it with
// the number of bytes it took.
func DecodeValue(b []byte) (ValueType, any, int, error) {
	if len(b) < 5 {
		return 0, nil, 0, fmt.Errorf("%w: value header needs 5 bytes, %d left", ErrShort, len(b))
	}
	t := ValueType(b[0])
	n := binary.LittleEndian.Uint32(b[1:])
	if uint64(n) > uint64(len(b)-5) {
		return 0, nil, 0, fmt.Errorf("%w: %s value of %d bytes, %d left", ErrShort, t, n, len(b)-5)
	}
	if !t.Valid() {
		return 0, nil, 0, fmt.Errorf("%w %d", ErrBadType, uint8(t))
	}
	v, err := ParseValue(t, b[5:5+int(n)])
	if err != nil {
		return 0, nil, 0, err
	}
	return t, v, 5 + int(n), nil
}

// FormatValue prints kv as corosync-cmapctl does: "key (u32) = 3",
// "key (str) = udpu", "key (flt) = 1.500000". A binary value prints as
// "key (bin)", as cmapctl prints it without -b (see FormatValueBinary).
func FormatValue(kv KV) string {
	if kv.Type == TypeBinary {
		return kv.Key + " (bin)"
	}
	return kv.Key + " (" + kv.Type.String() + ") = " + formatScalar(kv)
}

// FormatValueBinary is FormatValue as corosync-cmapctl -b prints binary
// values: printable ASCII as is, a backslash doubled, other bytes as
// \xNN; an empty value as *empty*.
func FormatValueBinary(kv KV) string {
	if kv.Type != TypeBinary {
		return FormatValue(kv)
	}
	var b []byte
	switch v := kv.Value.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	}
	if len(b) == 0 {
		return kv.Key + " (bin) = *empty*"
	}
	var sb strings.Builder
	sb.WriteString(kv.Key + " (bin) = ")
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= ' ' && c < 0x7f:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02X`, c)
		}
	}
	return sb.String()
}

// formatScalar renders a value in cmapctl's printf style: integers in
// decimal, floats and doubles with %f (six decimals).
func formatScalar(kv KV) string {
	raw, err := PutValue(nil, kv)
	if err != nil {
		return fmt.Sprint(kv.Value)
	}
	v, err := ParseValue(kv.Type, raw)
	if err != nil {
		return fmt.Sprint(kv.Value)
	}
	switch v := v.(type) {
	case float32:
		return strconv.FormatFloat(float64(v), 'f', 6, 64)
	case float64:
		return strconv.FormatFloat(v, 'f', 6, 64)
	case string:
		return v
	}
	return fmt.Sprint(v)
}
