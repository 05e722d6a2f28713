package cmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/corogo/corogo/internal/service"
)

// ExecMcast is cmap's only exec handler (MESSAGE_REQ_EXEC_CMAP_MCAST).
const ExecMcast uint16 = 0

// Reason is an MCAST's subtype (corosync's cmap_mcast_reason).
type Reason uint8

// MCAST reasons.
const (
	// ReasonSync: sent by every node in each sync.
	ReasonSync Reason = 0
	// ReasonNewConfigVersion: sent when totem.config_version changes at
	// run time (a reload).
	ReasonNewConfigVersion Reason = 1
)

// Layout of the MCAST message (struct req_exec_cmap_mcast and
// req_exec_cmap_mcast_item; every field aligned(8)):
//
//	off  size  field
//	  0    16  qb_ipc_request_header: id (service 0 << 16 | fn 0) @0, size @8
//	 16     1  reason            (8-byte slot)
//	 24     1  no_items          (8-byte slot)
//	 32     1  reserved1         (8-byte slot)
//	 40     1  reserved2         (8-byte slot)
//	 48        items, each padded to a multiple of 8:
//	       +0     2  key_name.length (mar_name_t, 8-byte slot)
//	       +8   256  key_name.value, NUL-terminated and NUL-padded
//	     +264     1  value_type (8-byte slot; 0 = key does not exist)
//	     +272     8  value_len (mar_size_t)
//	     +280     n  value
//
// header.size is the whole message: 48 + Σ align8(280 + value_len).
const (
	// McastHeaderSize is the header part before the items.
	McastHeaderSize = 48
	// ItemHeaderSize is an item's size before its value.
	ItemHeaderSize = 280
	// KeyNameSize is mar_name_t's value array (CS_MAX_NAME_LENGTH).
	KeyNameSize = 256
	// MaxKeyLen is the longest key that fits with its terminating NUL
	// (corosync's ICMAP_KEYNAME_MAXLEN − 1).
	MaxKeyLen = KeyNameSize - 1
	// MaxItems is MAX_REQ_EXEC_CMAP_MCAST_ITEMS.
	MaxItems = 32
)

const (
	offReason   = 16
	offNoItems  = 24
	offItemKey  = 8
	offItemType = 264
	offItemLen  = 272
)

// Item is one key of an MCAST.
type Item struct {
	Key string
	// Type is TypeNotExist for a key the sender does not have.
	Type ValueType
	// Value is the raw value in little-endian order (converted from the
	// sender's order on decode).
	Value []byte
}

// Mcast is a decoded cmap MCAST message.
type Mcast struct {
	Reason Reason
	Items  []Item
}

// Errors of the MCAST codec.
var (
	// ErrKeyTooLong: a key longer than MaxKeyLen.
	ErrKeyTooLong = errors.New("cmap: key name too long")
	// ErrTooManyItems: more than MaxItems items.
	ErrTooManyItems = errors.New("cmap: too many items")
	// ErrMalformed: a received MCAST that does not parse.
	ErrMalformed = errors.New("cmap: malformed mcast")
)

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// AppendMcast appends m as corosync's cmap_mcast_send lays it out, header
// included, in little-endian order.
func AppendMcast(dst []byte, m Mcast) ([]byte, error) {
	if len(m.Items) > MaxItems {
		return dst, fmt.Errorf("%w: %d > %d", ErrTooManyItems, len(m.Items), MaxItems)
	}
	size := McastHeaderSize
	for _, it := range m.Items {
		if len(it.Key) > MaxKeyLen {
			return dst, fmt.Errorf("%w: %d bytes", ErrKeyTooLong, len(it.Key))
		}
		size += int(align8(uint64(ItemHeaderSize + len(it.Value))))
	}
	start := len(dst)
	dst = append(dst, make([]byte, size)...)
	b := dst[start:]
	service.PutHeader(b, service.CMAP, ExecMcast, size)
	b[offReason] = byte(m.Reason)
	b[offNoItems] = byte(len(m.Items))
	off := McastHeaderSize
	for _, it := range m.Items {
		ib := b[off:]
		binary.LittleEndian.PutUint16(ib, uint16(len(it.Key)))
		copy(ib[offItemKey:offItemKey+MaxKeyLen], it.Key)
		ib[offItemType] = byte(it.Type)
		binary.LittleEndian.PutUint64(ib[offItemLen:], uint64(len(it.Value)))
		copy(ib[ItemHeaderSize:], it.Value)
		off += int(align8(uint64(ItemHeaderSize + len(it.Value))))
	}
	return dst, nil
}

// DecodeMcast parses an MCAST (header included). swapped says the sender
// used the other byte order: as corosync's exec_cmap_mcast_endian_convert,
// the key length, the value length and 2-, 4- and 8-byte numeric values
// are converted. The header's size field is not checked (corosync does
// not); the items must fit in msg. The last item may lack its padding.
func DecodeMcast(msg []byte, swapped bool) (Mcast, error) {
	if len(msg) < McastHeaderSize {
		return Mcast{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrMalformed, len(msg), McastHeaderSize)
	}
	m := Mcast{Reason: Reason(msg[offReason])}
	n := int(msg[offNoItems])
	if n > MaxItems {
		return Mcast{}, fmt.Errorf("%w: %d items", ErrMalformed, n)
	}
	m.Items = make([]Item, 0, n)
	off := McastHeaderSize
	for i := range n {
		left := len(msg) - off
		if left < ItemHeaderSize {
			return Mcast{}, fmt.Errorf("%w: item %d at offset %d: %d bytes left, header needs %d", ErrMalformed, i, off, left, ItemHeaderSize)
		}
		ib := msg[off:]
		keyLen := binary.LittleEndian.Uint16(ib)
		valLen := binary.LittleEndian.Uint64(ib[offItemLen:])
		if swapped {
			keyLen = bits.ReverseBytes16(keyLen)
			valLen = bits.ReverseBytes64(valLen)
		}
		if keyLen > MaxKeyLen {
			return Mcast{}, fmt.Errorf("%w: item %d: key length %d", ErrMalformed, i, keyLen)
		}
		if valLen > uint64(left-ItemHeaderSize) {
			return Mcast{}, fmt.Errorf("%w: item %d: value of %d bytes, %d left", ErrMalformed, i, valLen, left-ItemHeaderSize)
		}
		t := ValueType(ib[offItemType])
		if t != TypeNotExist && !t.Valid() {
			return Mcast{}, fmt.Errorf("%w: item %d: value type %d", ErrMalformed, i, uint8(t))
		}
		if sz := t.Size(); sz != 0 && valLen != uint64(sz) {
			return Mcast{}, fmt.Errorf("%w: item %d: %s value of %d bytes", ErrMalformed, i, t, valLen)
		}
		it := Item{
			Key:   string(ib[offItemKey : offItemKey+int(keyLen)]),
			Type:  t,
			Value: append([]byte(nil), ib[ItemHeaderSize:ItemHeaderSize+int(valLen)]...),
		}
		if swapped && t.Size() > 1 {
			reverse(it.Value)
		}
		m.Items = append(m.Items, it)
		off += int(min(align8(ItemHeaderSize+valLen), uint64(left)))
	}
	return m, nil
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// Find returns the item for key and whether it is there, as corosync's
// cmap_mcast_item_find.
func (m Mcast) Find(key string) (Item, bool) {
	for _, it := range m.Items {
		if it.Key == key {
			return it, true
		}
	}
	return Item{}, false
}

// ConfigVersionKey is the key every node sends in its sync MCAST.
const ConfigVersionKey = "totem.config_version"

// ConfigVersion returns the totem.config_version an MCAST carries: 0 when
// the item is missing or says the key does not exist, as corosync reads
// it. ok is false for an item of another type (corosync then reads 0).
func (m Mcast) ConfigVersion() (v uint64, ok bool) {
	it, found := m.Find(ConfigVersionKey)
	if !found || it.Type == TypeNotExist {
		return 0, true
	}
	if it.Type != TypeUint64 || len(it.Value) != 8 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(it.Value), true
}

// ConfigVersionMcast returns the MCAST a node sends with reason r for its
// config version v: an UINT64 item, or a "does not exist" item for 0.
func ConfigVersionMcast(r Reason, v uint64) Mcast {
	it := Item{Key: ConfigVersionKey}
	if v != 0 {
		it.Type = TypeUint64
		it.Value = binary.LittleEndian.AppendUint64(nil, v)
	}
	return Mcast{Reason: r, Items: []Item{it}}
}
