package pg

import "encoding/binary"

// Packer turns a sequence of items into totempg packets exactly as
// corosync 3.1's totempg (mcast_msg and the token-received callback) does, so
// that for the same items, split into the same parts, and the same flush
// points, the packets are byte-identical.
//
// The rule, with limit L (1410 by default), n items already pending with d
// data bytes, and room r = L − 8 − 2(n+1) for data if the next item is added:
//
//   - An item is processed part by part (corosync's iovecs; see AddVec). A
//     part of length m is buffered whole when d + m < r − 2, that is when the
//     packet would still have room for another length word and one byte.
//   - Otherwise as much of the part as fits (min(rest, r − d)) is copied and
//     the packet is emitted at once. If bytes of the item remain (the rest of
//     this part, or further parts), the packet is marked fragmented with the
//     next fragment number and the item continues in a new packet whose
//     continuation is that number; otherwise (the item ends in this packet)
//     it is emitted unfragmented.
//   - The buffered test compares the part's full length, not what is left
//     of it. So the tail of a part that needed a fragment because it was
//     large (m ≥ L − 12) is itself emitted at once, not buffered: a 3022-byte
//     CPG payload goes out as 3 packets with nothing packed after it, while
//     the tail of a small part that merely did not fit is buffered. (If
//     further parts follow such a tail, the packet is fragmented although it
//     is not full; corosync's services never put a large part before another.)
//   - The fragment counter is 8-bit, skips 0 on wrap, and is reset to 1
//     whenever a part is buffered. Since corosync sends the group header as
//     separate parts that are normally buffered, fragment numbers restart at
//     1 for most items: (1,0) (2,1) (0,2) for a 3-packet item.
//   - Flush emits the buffered items (count > 0) unfragmented, with the
//     pending continuation. Corosync calls it when the token arrives.
//
// A Packer is not safe for concurrent use, and emit must not call back into
// the Packer. It does not allocate after NewPacker, except that AddGroups
// grows its part list once if given more than 8 payload parts.
type Packer struct {
	limit int
	data  []byte   // buffered bytes of the pending packet
	lens  []uint16 // lengths of the complete buffered items
	cont  uint8    // continuation of the pending packet (corosync's fragment_continuation)
	next  uint8    // next fragment number (corosync's next_fragment)
	out   []byte   // the packet handed to emit

	one   [1][]byte // Add's single part
	ghdr  []byte    // AddGroups' group header
	parts [][]byte  // AddGroups' parts
}

// NewPacker returns a Packer whose packets are at most limit bytes, header
// included (DefaultPacketLimit = 1410 for netmtu 1500; see PacketLimit).
// limit ≤ 0 selects DefaultPacketLimit; other values are clamped to
// [MinPacketLimit, MaxPacketLimit]. Limit reports the value used.
func NewPacker(limit int) *Packer {
	switch {
	case limit <= 0:
		limit = DefaultPacketLimit
	case limit < MinPacketLimit:
		limit = MinPacketLimit
	case limit > MaxPacketLimit:
		limit = MaxPacketLimit
	}
	return &Packer{
		limit: limit,
		data:  make([]byte, 0, limit),
		// Every buffered item takes at least one byte and a length word.
		lens:  make([]uint16, 0, limit/3+1),
		next:  1,
		out:   make([]byte, 0, limit),
		ghdr:  make([]byte, 0, 2+2*MaxGroups+64),
		parts: make([][]byte, 0, 1+MaxGroups+8),
	}
}

// Limit returns the packet limit in bytes, header included.
func (p *Packer) Limit() int { return p.limit }

// Pending returns the size in bytes of the packet Flush would emit now
// (header, length words and data), or 0 if nothing is buffered.
func (p *Packer) Pending() int {
	if len(p.lens) == 0 {
		return 0
	}
	return HeaderSize + 2*len(p.lens) + len(p.data)
}

// PendingItems returns the number of items (or tails of items) buffered.
func (p *Packer) PendingItems() int { return len(p.lens) }

// Add appends one item, handled as a single part. Packets that become full
// are handed to emit, which may be called several times (about
// len(item)/1400 times for a large item) or not at all; the packet is valid
// only during the call. An empty item is ignored, as corosync ignores
// zero-length iovecs.
//
// To reproduce corosync's bytes for items sent through totempg groups, use
// AddGroups (or AddVec with the group header split as corosync splits it):
// corosync never passes an item as one part.
func (p *Packer) Add(item []byte, emit func(pkt []byte)) {
	p.one[0] = item
	p.add(p.one[:], emit)
	p.one[0] = nil
}

// AddVec appends one item made of parts, concatenated, treated as corosync
// treats the iovec array of one message: empty parts are skipped and the
// buffering rule is applied to each part in turn (see Packer). The part
// boundaries therefore decide, near a full packet, whether a packet is filled
// to the last byte or emitted up to 2 bytes short, and they reset the
// fragment counter. The item's bytes are the same either way. parts is not
// retained.
func (p *Packer) AddVec(parts [][]byte, emit func(pkt []byte)) {
	p.add(parts, emit)
}

// AddGroups appends one item addressed to groups, with the payload parts
// after the group header, exactly as corosync's totempg_groups_mcast_joined
// passes it to mcast_msg: the group count and lengths form one part, each
// group name one part, then each payload part. For corosync's services the
// payload is one part (the whole message), except CPG MCAST and
// PARTIAL_MCAST, which pass the 184- or 200-byte exec header and the
// application data as two. It fails, without adding anything, if the groups
// cannot be encoded (see CheckGroups).
func (p *Packer) AddGroups(groups []string, payload [][]byte, emit func(pkt []byte)) error {
	if err := CheckGroups(groups...); err != nil {
		return err
	}
	p.ghdr = AppendGroupHeader(p.ghdr[:0], groups...)
	off := 2 + 2*len(groups)
	parts := append(p.parts[:0], p.ghdr[:off])
	for _, g := range groups {
		parts = append(parts, p.ghdr[off:off+len(g)])
		off += len(g)
	}
	parts = append(parts, payload...)
	p.add(parts, emit)
	clear(parts) // do not retain the caller's payload
	p.parts = parts[:0]
	return nil
}

// Flush emits the buffered items as one unfragmented packet, if there are
// any. Corosync does this when the token arrives at the node, before it
// sends its queued messages.
func (p *Packer) Flush(emit func(pkt []byte)) {
	if len(p.lens) == 0 {
		return
	}
	p.emit(0, 0, emit)
	p.cont = 0
}

// add is corosync's mcast_msg for one message.
func (p *Packer) add(parts [][]byte, emit func(pkt []byte)) {
	last := len(parts) - 1
	for last >= 0 && len(parts[last]) == 0 {
		last--
	}
	space := p.limit - HeaderSize     // corosync's TOTEMPG_PACKET_SIZE
	room := space - 2*(len(p.lens)+1) // data room with this item's length word
	cur := 0                          // bytes of this item in the pending packet
	base := 0                         // bytes of parts[i] already sent
	for i := 0; i <= last; {
		part := parts[i]
		if len(part) == 0 {
			i++
			continue
		}
		rest := part[base:]
		if len(part)+len(p.data) < room-2 {
			p.data = append(p.data, rest...)
			cur += len(rest)
			p.next = 1
			base = 0
			i++
			continue
		}
		n := min(len(rest), room-len(p.data))
		p.data = append(p.data, rest[:n]...)
		cur += n
		cont := uint8(0) // continuation of the packet after this one
		if i < last || n < len(rest) {
			if p.next == 0 {
				p.next = 1
			}
			cont = p.next
			p.next++
		}
		p.emit(cont, cur, emit)
		p.cont = cont
		cur = 0
		room = space - 2
		if n == len(rest) {
			base = 0
			i++
		} else {
			base += n
		}
	}
	if cur > 0 {
		p.lens = append(p.lens, uint16(cur))
	}
}

// emit hands the pending packet to fn and empties it. frag is the packet's
// fragmented field; cur > 0 is the length of a last item not yet in lens.
func (p *Packer) emit(frag uint8, cur int, fn func(pkt []byte)) {
	count := len(p.lens)
	if cur > 0 {
		count++
	}
	out := appendHeader(p.out[:0], 0, 0, frag, p.cont, uint16(count))
	for _, n := range p.lens {
		out = binary.LittleEndian.AppendUint16(out, n)
	}
	if cur > 0 {
		out = binary.LittleEndian.AppendUint16(out, uint16(cur))
	}
	out = append(out, p.data...)
	p.out = out[:0]
	p.lens = p.lens[:0]
	p.data = p.data[:0]
	fn(out)
}
