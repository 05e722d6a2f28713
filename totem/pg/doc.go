// Package pg is the totempg layer of corosync 3.1: it sits between
// application messages ("items") and the payloads of Totem SRP MCAST
// messages. It follows corosync-wire.md §4 and corosync's exec/totempg.c
// (v3.1.x), and is byte-compatible with it.
//
// # Packets
//
// The payload of a normal MCAST (after its 45-byte header) is one totempg
// packet:
//
//	version u16 (0) | type u16 (0) | fragmented u8 | continuation u8 | msg_count u16
//	msg_len[msg_count] u16 | items, back to back
//
// We always send little-endian. On receive, swapped (the SRP magic read as
// 0x70C0) means msg_count, msg_len[] and the group length words are
// byte-swapped; the fragment bytes are not. DecodePacket and AppendPacket are
// the codec; malformed packets yield an *Error whose Reason (ReasonOf) can
// index a drop counter. No decoder panics on any input.
//
// # Sending: Packer
//
// A Packer buffers small items into one packet, which the caller flushes
// when the token arrives (Flush), and emits a packet by itself as soon as an
// item does not fit: it fills the packet up to the limit (1410 bytes by
// default: netmtu 1500 − 2 × 45), marks it fragmented with a fragment
// number, and continues the item in the next packet, whose continuation is
// that number. The exact rule, which decides whether our packets are
// byte-identical to corosync's, is documented on Packer; in short, corosync
// treats each message as a list of parts (its iovecs: the group header
// words, each group name, then the service's buffers) and applies the
// "fits with 3 bytes to spare" test to each part. AddGroups reproduces that
// split; Add treats an item as a single part. The tests re-pack the items of
// a real corosync capture and get every captured packet back byte for byte.
//
// # Receiving: Assembler
//
// An Assembler keeps, per originator nodeid, the partial item whose first
// fragments have arrived, and delivers every completed item in order. Whole
// items are passed as sub-slices of the packet.
//
// # Groups
//
// Every item starts with a group header: group_count u16, group_len[] u16,
// the names concatenated, then the service message. Corosync uses exactly
// two groups, one per item: "a" for all service traffic and "sync" for the
// sync protocol (GroupHeaderA, GroupHeaderSync). AppendGroupHeader builds a
// header; ParseGroups splits an item without allocating.
//
// # Deviations from corosync
//
//   - Throw-away mode. When a continuation does not match the originator's
//     last fragment number, corosync 3.1 drops that whole packet, including
//     the fresh items packed after the unmatched piece, and then keeps
//     dropping whole packets until one whose fragmented field is 0 or 1 (which
//     it also drops). We drop only the unmatched piece and the further pieces
//     of the same item, and deliver the fresh items. A mismatch happens only
//     to a node that missed the start of an item (it joined mid-item); the
//     members that saw the whole item deliver those fresh items, so ours is
//     the closer match to them.
//   - A packet that does not continue a pending fragment (continuation 0
//     after a fragmented packet) drops the partial item and is otherwise
//     processed normally; corosync treats it as the mismatch above.
//   - Corosync keeps two sets of reassembly buffers, one used while totem
//     waits for the sync's transitional acknowledgement and one otherwise. An
//     Assembler is one set; a caller that needs both keeps two.
//   - Items longer than the Assembler's maxItem are dropped and counted;
//     corosync asserts instead.
//   - Packets with msg_count 0 or an empty item are rejected as malformed.
//     Corosync never sends them; it would pass an empty message up.
//   - Version and type are read in the sender's byte order (corosync neither
//     swaps nor checks them; they are always 0).
//
// Nothing in this package uses goroutines, clocks, randomness or package
// state; Packer and Assembler are plain values owned by one caller.
package pg
