package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/corogo/corogo/totem"
)

// Payload layout (little-endian), in every workload message of at least
// HeaderSize bytes:
//
//	0  2  magic 0xC5 0x5A
//	2  2  sender node id
//	4  2  sender incarnation
//	6  4  counter (per sender incarnation, from 0)
//	10 4  CRC-32C of the whole message with these 4 bytes taken as zero
//	14 2  zero
//	16 …  a slice of the run's pattern chosen by the counter
//
// Shorter ("tiny") messages are tinyByte(sender, size, i) for each byte i.
const (
	// HeaderSize is the smallest message that carries a payload header.
	HeaderSize = 16
	magic0     = 0xC5
	magic1     = 0x5A
	crcOffset  = 10
)

// MsgID identifies a workload message: sender, sender incarnation and
// counter, packed as sender<<48 | incarnation<<32 | counter.
type MsgID uint64

func makeMsgID(sender totem.NodeID, inc int, counter uint32) MsgID {
	return MsgID(uint64(sender)<<48 | uint64(uint16(inc))<<32 | uint64(counter))
}

// Sender returns the sending node.
func (m MsgID) Sender() totem.NodeID { return totem.NodeID(m >> 48) }

// Inc returns the sender's incarnation.
func (m MsgID) Inc() int { return int(m >> 32 & 0xffff) }

// Counter returns the message's number within its sender incarnation.
func (m MsgID) Counter() uint32 { return uint32(m) }

// senderInc is the MsgID without its counter.
func (m MsgID) senderInc() uint32 { return uint32(m >> 32) }

// String formats the id as "sender.inc#counter".
func (m MsgID) String() string { return fmt.Sprintf("%d.%d#%d", m.Sender(), m.Inc(), m.Counter()) }

func tinyByte(sender totem.NodeID, size, i int) byte {
	return byte(int(sender)*37 + size*11 + i*5 + 0x3c)
}

// codec encodes and verifies payloads.
type codec struct {
	table   *crc32.Table
	pattern []byte // filler, at least MaxMessageSize + patternSpread bytes
}

// patternSpread is the number of distinct filler offsets: two messages of
// the same size get different bodies unless their counters collide modulo it.
const patternSpread = 4093

func newCodec(maxSize int, seed uint64) *codec {
	p := make([]byte, maxSize+patternSpread)
	x := seed | 1
	for i := range p {
		// xorshift64: a cheap deterministic filler.
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x >> 32)
	}
	return &codec{table: crc32.MakeTable(crc32.Castagnoli), pattern: p}
}

func (c *codec) checksum(b []byte) uint32 {
	h := crc32.Update(0, c.table, b[:crcOffset])
	h = crc32.Update(h, c.table, []byte{0, 0, 0, 0})
	return crc32.Update(h, c.table, b[crcOffset+4:])
}

// encode fills msg (its length is the message size) for id.
func (c *codec) encode(msg []byte, id MsgID) {
	if len(msg) < HeaderSize {
		for i := range msg {
			msg[i] = tinyByte(id.Sender(), len(msg), i)
		}
		return
	}
	le := binary.LittleEndian
	msg[0], msg[1] = magic0, magic1
	le.PutUint16(msg[2:], uint16(id.Sender()))
	le.PutUint16(msg[4:], uint16(id.Inc()))
	le.PutUint32(msg[6:], id.Counter())
	le.PutUint16(msg[14:], 0)
	off := int(id.Counter()*2654435761) % patternSpread
	copy(msg[HeaderSize:], c.pattern[off:])
	le.PutUint32(msg[crcOffset:], c.checksum(msg))
}

// Errors from decode.
var (
	errBadMagic    = errors.New("bad magic")
	errBadChecksum = errors.New("checksum mismatch")
	errBadTiny     = errors.New("tiny message bytes do not match its sender and size")
)

// decode returns the id of a message delivered from sender; tiny is true
// (and id 0) for a tiny message. from is the Event's sender.
func (c *codec) decode(msg []byte, from totem.NodeID) (id MsgID, tiny bool, err error) {
	if len(msg) < HeaderSize {
		for i := range msg {
			if msg[i] != tinyByte(from, len(msg), i) {
				return 0, true, errBadTiny
			}
		}
		return 0, true, nil
	}
	if msg[0] != magic0 || msg[1] != magic1 {
		return 0, false, errBadMagic
	}
	le := binary.LittleEndian
	id = makeMsgID(totem.NodeID(le.Uint16(msg[2:])), int(le.Uint16(msg[4:])), le.Uint32(msg[6:]))
	if le.Uint32(msg[crcOffset:]) != c.checksum(msg) {
		return id, false, errBadChecksum
	}
	return id, false, nil
}

// PayloadName names a message from its first bytes, for traces:
// "2.1#45/120B", or "tiny/3B".
func PayloadName(head []byte, size int) string {
	if size < HeaderSize || len(head) < HeaderSize || head[0] != magic0 || head[1] != magic1 {
		if size < HeaderSize {
			return fmt.Sprintf("tiny/%dB", size)
		}
		return fmt.Sprintf("?/%dB", size)
	}
	le := binary.LittleEndian
	id := makeMsgID(totem.NodeID(le.Uint16(head[2:])), int(le.Uint16(head[4:])), le.Uint32(head[6:]))
	return fmt.Sprintf("%v/%dB", id, size)
}
