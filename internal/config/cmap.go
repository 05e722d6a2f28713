package config

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ValueType is a cmap value type, as corosync-cmapctl prints it.
type ValueType uint8

// Value types.
const (
	TypeString ValueType = iota // "str"
	TypeU8                      // "u8"
	TypeU16                     // "u16"
	TypeU32                     // "u32"
	TypeU64                     // "u64"
	TypeI32                     // "i32"
)

// String returns corosync-cmapctl's name of the type.
func (t ValueType) String() string {
	switch t {
	case TypeU8:
		return "u8"
	case TypeU16:
		return "u16"
	case TypeU32:
		return "u32"
	case TypeU64:
		return "u64"
	case TypeI32:
		return "i32"
	default:
		return "str"
	}
}

// Value is one cmap entry.
type Value struct {
	Type ValueType
	// Str is the value as written (strings), or the canonical decimal form
	// of a number.
	Str string
	// Uint holds unsigned numbers, Int holds i32 numbers.
	Uint uint64
	Int  int64
	// Pos is the line that set the value; Line 0 for values this package
	// derived (runtime.*, defaults).
	Pos Pos
}

// Map is a configuration as corosync's parser stores it in cmap: flat keys
// such as "totem.token", "nodelist.node.0.ring0_addr" or
// "logging.logger_subsys.QUORUM.debug", with corosync's value types.
type Map map[string]Value

// Keys returns the keys sorted as corosync-cmapctl lists them (byte order).
func (m Map) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// WriteTo prints "key (type) = value" lines, sorted, as corosync-cmapctl
// does.
func (m Map) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, k := range m.Keys() {
		v := m[k]
		fmt.Fprintf(&b, "%s (%s) = %s\n", k, v.Type, v.Str)
	}
	n, err := io.WriteString(w, b.String())
	if err != nil {
		return int64(n), fmt.Errorf("config: write cmap: %w", err)
	}
	return int64(n), nil
}

func (m Map) str(key string) (string, Pos, bool) {
	v, ok := m[key]
	return v.Str, v.Pos, ok
}

func (m Map) uint(key string) (uint64, Pos, bool) {
	v, ok := m[key]
	if !ok || v.Type == TypeString || v.Type == TypeI32 {
		return 0, v.Pos, false
	}
	return v.Uint, v.Pos, true
}

func strValue(s string, pos Pos) Value { return Value{Type: TypeString, Str: s, Pos: pos} }

func uintValue(t ValueType, n uint64, pos Pos) Value {
	return Value{Type: t, Str: strconv.FormatUint(n, 10), Uint: n, Pos: pos}
}

func intValue(n int64, pos Pos) Value {
	return Value{Type: TypeI32, Str: strconv.FormatInt(n, 10), Int: n, Pos: pos}
}

// parseValue converts a key's text as corosync's parser and readers do.
// key is the full cmap key, used in messages.
func parseValue(spec *keySpec, key, raw string, pos Pos, d *diags) (Value, bool) {
	rangeErr := func(lo, hi int64) (Value, bool) {
		d.errorf(pos, key, "%s: %q is not an integer in %d..%d", key, raw, lo, hi)
		return Value{}, false
	}
	switch spec.kind {
	case kU8, kU16, kU32:
		hi := map[kind]int64{kU8: 0xff, kU16: 0xffff, kU32: 0xffffffff}[spec.kind]
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > hi {
			return rangeErr(0, hi)
		}
		t := map[kind]ValueType{kU8: TypeU8, kU16: TypeU16, kU32: TypeU32}[spec.kind]
		return uintValue(t, uint64(n), pos), true
	case kU64:
		n, err := strconv.ParseUint(strings.TrimPrefix(raw, "+"), 10, 64)
		if err != nil {
			d.errorf(pos, key, "%s: %q is not an unsigned 64-bit integer", key, raw)
			return Value{}, false
		}
		return uintValue(TypeU64, n, pos), true
	case kI32:
		n, err := strconv.ParseInt(raw, 10, 32)
		if err != nil {
			return rangeErr(-1<<31, 1<<31-1)
		}
		return intValue(n, pos), true
	case kYesNo:
		if raw != "yes" && raw != "no" {
			d.errorf(pos, key, "%s: %q must be yes or no%s", key, raw, boolHint(key, raw))
			return Value{}, false
		}
	case kOnOff:
		if raw != "on" && raw != "off" {
			d.errorf(pos, key, "%s: %q must be on or off%s", key, raw, boolHint(key, raw))
			return Value{}, false
		}
	case kYesNoOnOff:
		switch raw {
		case "yes", "no", "on", "off":
		default:
			d.errorf(pos, key, "%s: %q must be yes, no, on or off", key, raw)
			return Value{}, false
		}
	case kEnum:
		if !slices.Contains(spec.values, raw) {
			d.errorf(pos, key, "%s: %q is not one of %s", key, raw, strings.Join(spec.values, ", "))
			return Value{}, false
		}
	}
	return strValue(raw, pos), true
}

// boolHint explains why a boolean spelled another way is refused: for the
// totem keys corosync does not fail on it, it silently uses the default.
func boolHint(key, raw string) string {
	if !strings.HasPrefix(key, "totem.") {
		return ""
	}
	switch raw {
	case "yes", "no", "on", "off", "true", "false", "1", "0":
		return " (corosync ignores " + strconv.Quote(raw) + " here and uses the default)"
	}
	return ""
}
