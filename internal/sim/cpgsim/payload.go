package cpgsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Payload layout (little-endian) of every workload message of at least
// HeaderSize bytes:
//
//	0  2  magic 0xC9 0x6A
//	2  4  sender node id
//	6  2  sender node incarnation
//	8  4  sender pid
//	12 1  group index
//	13 1  zero
//	14 4  counter (per sending process, over all its groups, from 0)
//	18 4  CRC-32C of the whole message with these 4 bytes taken as zero
//	22 2  zero
//	24 …  a slice of the run's filler pattern chosen by the counter
//
// Shorter ("tiny") messages are tinyByte(pid, group, size, i) for each
// byte i.
const (
	// HeaderSize is the smallest message that carries a payload header.
	HeaderSize = 24
	magic0     = 0xC9
	magic1     = 0x6A
	crcOffset  = 18
)

// MsgID identifies a workload message: its sending process and the
// process's counter. Pids are never reused on a node, so the process
// names the node incarnation too (MsgID.Inc is checked against it).
type MsgID struct {
	Node    uint32
	PID     uint32
	Counter uint32
}

// String formats the id as "node/pid#counter".
func (m MsgID) String() string { return fmt.Sprintf("%d/%d#%d", m.Node, m.PID, m.Counter) }

// header is a decoded payload header.
type header struct {
	id    MsgID
	inc   int
	group int
}

func tinyByte(pid uint32, group, size, i int) byte {
	return byte(int(pid)*41 + group*67 + size*13 + i*7 + 0x5d)
}

// codec encodes and verifies payloads.
type codec struct {
	table   *crc32.Table
	pattern []byte // filler, at least maxSize + patternSpread bytes
}

// patternSpread is the number of distinct filler offsets.
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

// encode fills msg (its length is the message size) for a message of
// group from the process id names, in node incarnation inc.
func (c *codec) encode(msg []byte, id MsgID, inc, group int) {
	if len(msg) < HeaderSize {
		for i := range msg {
			msg[i] = tinyByte(id.PID, group, len(msg), i)
		}
		return
	}
	le := binary.LittleEndian
	msg[0], msg[1] = magic0, magic1
	le.PutUint32(msg[2:], id.Node)
	le.PutUint16(msg[6:], uint16(inc))
	le.PutUint32(msg[8:], id.PID)
	msg[12], msg[13] = byte(group), 0
	le.PutUint32(msg[14:], id.Counter)
	le.PutUint16(msg[22:], 0)
	off := int(id.Counter*2654435761) % patternSpread
	copy(msg[HeaderSize:], c.pattern[off:])
	le.PutUint32(msg[crcOffset:], c.checksum(msg))
}

// Errors from decode.
var (
	errBadMagic    = errors.New("bad magic")
	errBadChecksum = errors.New("checksum mismatch")
	errBadTiny     = errors.New("tiny message bytes do not match its sender, group and size")
)

// decode checks a message delivered as from process pid in group: tiny
// is true for a tiny message (whose bytes must match pid, group and
// size); otherwise the header is returned once its magic and checksum
// hold.
func (c *codec) decode(msg []byte, pid uint32, group int) (h header, tiny bool, err error) {
	if len(msg) < HeaderSize {
		for i := range msg {
			if msg[i] != tinyByte(pid, group, len(msg), i) {
				return header{}, true, errBadTiny
			}
		}
		return header{}, true, nil
	}
	if msg[0] != magic0 || msg[1] != magic1 || msg[13] != 0 || msg[22] != 0 || msg[23] != 0 {
		return header{}, false, errBadMagic
	}
	h = peekHeader(msg)
	if binary.LittleEndian.Uint32(msg[crcOffset:]) != c.checksum(msg) {
		return h, false, errBadChecksum
	}
	return h, false, nil
}

func peekHeader(msg []byte) header {
	le := binary.LittleEndian
	return header{
		id:    MsgID{Node: le.Uint32(msg[2:]), PID: le.Uint32(msg[8:]), Counter: le.Uint32(msg[14:])},
		inc:   int(le.Uint16(msg[6:])),
		group: int(msg[12]),
	}
}

// payloadName names a workload message for traces: "2/104#17/300B", or
// "tiny/3B".
func payloadName(msg []byte) string {
	if len(msg) < HeaderSize {
		return fmt.Sprintf("tiny/%dB", len(msg))
	}
	if msg[0] != magic0 || msg[1] != magic1 {
		return fmt.Sprintf("?/%dB", len(msg))
	}
	return fmt.Sprintf("%v/%dB", peekHeader(msg).id, len(msg))
}
