package pg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
)

// Sizes and limits of the totempg layer (corosync-wire.md §1.5 and §4).
const (
	// HeaderSize is the size of the fixed totempg header: version u16,
	// type u16, fragmented u8, continuation u8, msg_count u16.
	HeaderSize = 8

	// McastHeaderSize is the Totem SRP MCAST header. Corosync subtracts it
	// twice from totem.netmtu to get the totempg packet limit (room for a
	// recovery wrapper around an old-ring MCAST).
	McastHeaderSize = 45

	// DefaultNetMTU is corosync's totem.netmtu for udp and udpu.
	DefaultNetMTU = 1500

	// DefaultPacketLimit is the totempg packet limit (corosync's net_mtu)
	// for the default netmtu: 1500 − 2 × 45 = 1410 bytes, header included.
	DefaultPacketLimit = DefaultNetMTU - 2*McastHeaderSize

	// MinPacketLimit is the smallest limit NewPacker accepts; smaller values
	// are raised to it. Real configurations are far above it.
	MinPacketLimit = 16

	// MaxPacketLimit is the largest limit NewPacker accepts; larger values
	// are lowered to it so every piece length fits the u16 length word.
	MaxPacketLimit = 65535

	// DefaultMaxItem is corosync's MESSAGE_SIZE_MAX (1 MiB): the largest
	// item an Assembler reassembles when NewAssembler is given 0.
	DefaultMaxItem = 1 << 20
)

// PacketLimit returns the totempg packet limit for a totem.netmtu value, as
// corosync computes it: netmtu − 2 × McastHeaderSize. The UDP/IP header is
// not subtracted (corosync 3.1 does not either).
func PacketLimit(netMTU int) int { return netMTU - 2*McastHeaderSize }

// Header is the fixed 8-byte totempg header.
type Header struct {
	// Version and Type are always 0. Corosync neither checks nor swaps them;
	// DecodePacket reads them in the sender's byte order.
	Version uint16
	Type    uint16
	// Fragmented is 0 when the last item of the packet is complete;
	// otherwise the last item continues in the sender's next packet and
	// Fragmented is its fragment number.
	Fragmented uint8
	// Continuation is 0 when the first item starts fresh; otherwise the
	// first item continues the fragment numbered Continuation.
	Continuation uint8
	// Count is msg_count, the number of items (or pieces of items) packed.
	Count uint16
}

// Reason classifies why data was rejected or dropped. Its values are
// append-only so they can index drop counters.
type Reason uint8

// Drop reasons.
const (
	// ReasonNone is what ReasonOf returns for nil and foreign errors.
	ReasonNone Reason = iota
	// ReasonShort: the packet is shorter than its header or its length words.
	ReasonShort
	// ReasonNoItems: msg_count is 0 (corosync never sends such a packet).
	ReasonNoItems
	// ReasonTruncated: the item lengths add up to more than the packet holds.
	ReasonTruncated
	// ReasonTrailing: the packet is longer than its header and items (corosync
	// requires an exact match and drops the packet).
	ReasonTrailing
	// ReasonEmptyItem: an item length is 0 (corosync never sends one).
	ReasonEmptyItem
	// ReasonContinuation: a continuation did not match the originator's last
	// fragment number, or a fragmented item was never continued. The partial
	// item and the unmatched piece are thrown away.
	ReasonContinuation
	// ReasonTooBig: an item is larger than the Assembler's maxItem, or than a
	// length word can describe when encoding.
	ReasonTooBig
	// ReasonGroupHeader: the group header of an item is malformed, or groups
	// cannot be encoded.
	ReasonGroupHeader

	// NumReasons is one more than the largest Reason.
	NumReasons
)

var reasonNames = [NumReasons]string{
	ReasonNone:         "none",
	ReasonShort:        "short packet",
	ReasonNoItems:      "no items",
	ReasonTruncated:    "item lengths exceed packet",
	ReasonTrailing:     "trailing bytes after items",
	ReasonEmptyItem:    "empty item",
	ReasonContinuation: "continuation out of sync",
	ReasonTooBig:       "item too big",
	ReasonGroupHeader:  "bad group header",
}

// String returns a short description of the reason.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Malformed reports whether the reason describes a malformed packet, which
// is dropped whole, as opposed to data dropped by reassembly.
func (r Reason) Malformed() bool {
	switch r {
	case ReasonShort, ReasonNoItems, ReasonTruncated, ReasonTrailing, ReasonEmptyItem:
		return true
	}
	return false
}

// Error is the error type of this package.
type Error struct {
	// Op is the operation that failed: "decode", "deliver", "parse groups",
	// "encode".
	Op string
	// From is the originator's nodeid for Op "deliver", else 0.
	From uint32
	// Reason classifies the error.
	Reason Reason
	// Detail gives the specifics (lengths, fragment numbers).
	Detail string
}

func (e *Error) Error() string {
	s := "pg: " + e.Op
	if e.Op == "deliver" {
		s += fmt.Sprintf(" from node %d", e.From)
	}
	s += ": " + e.Reason.String()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ReasonOf returns the Reason of an error of this package (found with
// errors.As), or ReasonNone.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonNone
}

func errorf(op string, r Reason, format string, args ...any) *Error {
	return &Error{Op: op, Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Packet is a decoded totempg packet. It refers to the bytes it was decoded
// from and is valid as long as they are.
type Packet struct {
	Header
	lens    []byte // Count raw length words
	data    []byte // the items, back to back
	swapped bool
}

// u16 reads a 16-bit word in the sender's byte order.
func u16(b []byte, swapped bool) uint16 {
	if swapped {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

// DecodePacket decodes and validates a totempg packet: the payload of a
// normal Totem SRP MCAST (the bytes after its 45-byte header). swapped
// reports that the SRP message arrived in the other byte order (magic read
// as 0x70C0); msg_count and the length words are then byte-swapped.
//
// The packet is accepted only if its length is exactly the header, the
// length words and the items (as corosync requires), with at least one item
// and no empty item. DecodePacket does not allocate and never panics.
func DecodePacket(pkt []byte, swapped bool) (Packet, error) {
	var p Packet
	if len(pkt) < HeaderSize {
		return p, errorf("decode", ReasonShort, "%d bytes, header needs %d", len(pkt), HeaderSize)
	}
	p.Version = u16(pkt[0:], swapped)
	p.Type = u16(pkt[2:], swapped)
	p.Fragmented = pkt[4]
	p.Continuation = pkt[5]
	p.Count = u16(pkt[6:], swapped)
	p.swapped = swapped
	if p.Count == 0 {
		return p, errorf("decode", ReasonNoItems, "msg_count 0")
	}
	end := HeaderSize + 2*int(p.Count)
	if len(pkt) < end {
		return p, errorf("decode", ReasonShort, "%d bytes, %d length words need %d", len(pkt), p.Count, end)
	}
	p.lens = pkt[HeaderSize:end]
	total := 0
	for i := 0; i < len(p.lens); i += 2 {
		n := int(u16(p.lens[i:], swapped))
		if n == 0 {
			return p, errorf("decode", ReasonEmptyItem, "item %d has length 0", i/2)
		}
		total += n
	}
	switch {
	case end+total > len(pkt):
		return p, errorf("decode", ReasonTruncated, "items need %d bytes, packet has %d", end+total, len(pkt))
	case end+total < len(pkt):
		return p, errorf("decode", ReasonTrailing, "items end at %d, packet has %d", end+total, len(pkt))
	}
	p.data = pkt[end:]
	return p, nil
}

// ItemLen returns the length of item i in this packet.
func (p *Packet) ItemLen(i int) int { return int(u16(p.lens[2*i:], p.swapped)) }

// Item returns item i (a piece of an item if it is the first item of a
// continuation or the last of a fragmented packet). It walks the length
// words, so iterating with Items is cheaper.
func (p *Packet) Item(i int) []byte {
	off := 0
	for j := 0; j < i; j++ {
		off += p.ItemLen(j)
	}
	return p.data[off : off+p.ItemLen(i)]
}

// Items iterates over the packet's items in order, as sub-slices of the
// packet.
func (p *Packet) Items() iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		off := 0
		for i := 0; i < int(p.Count); i++ {
			n := p.ItemLen(i)
			if !yield(i, p.data[off:off+n]) {
				return
			}
			off += n
		}
	}
}

// AppendPacket appends a totempg packet holding items to dst, in
// little-endian order, and returns the extended slice. h.Count is ignored
// (the count is len(items)). It fails if an item is empty or longer than a
// length word can describe, or if there are no items or more than 65,535.
func AppendPacket(dst []byte, h Header, items ...[]byte) ([]byte, error) {
	if len(items) == 0 {
		return dst, errorf("encode", ReasonNoItems, "no items")
	}
	if len(items) > 0xFFFF {
		return dst, errorf("encode", ReasonTooBig, "%d items, at most 65535", len(items))
	}
	for i, it := range items {
		if len(it) == 0 {
			return dst, errorf("encode", ReasonEmptyItem, "item %d is empty", i)
		}
		if len(it) > 0xFFFF {
			return dst, errorf("encode", ReasonTooBig, "item %d has %d bytes, at most 65535", i, len(it))
		}
	}
	dst = appendHeader(dst, h.Version, h.Type, h.Fragmented, h.Continuation, uint16(len(items)))
	for _, it := range items {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(it)))
	}
	for _, it := range items {
		dst = append(dst, it...)
	}
	return dst, nil
}

func appendHeader(dst []byte, version, typ uint16, frag, cont uint8, count uint16) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, version)
	dst = binary.LittleEndian.AppendUint16(dst, typ)
	dst = append(dst, frag, cont)
	return binary.LittleEndian.AppendUint16(dst, count)
}
