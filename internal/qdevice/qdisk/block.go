package qdisk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/corogo/corogo/internal/qdevice"
)

// Layout of the shared file or block device.
const (
	// SlotSize is the size of every slot. It is a multiple of 512 and of
	// 4096, so that direct I/O works on 512e and 4Kn devices.
	SlotSize = 4096
	// MaxNodeID is the highest node id with a slot. Slot 0 is the
	// header; slot N (1 ≤ N ≤ MaxNodeID) belongs to node id N. The
	// whole area is (MaxNodeID + 1) × SlotSize = 1 MiB.
	MaxNodeID = 255
	// Size is the size the file must have.
	Size = (MaxNodeID + 1) * SlotSize
	// Version is the format version written.
	Version = 1
	// MaxClusterName is the longest cluster name kept in the header.
	MaxClusterName = 255
	// MaxMembers is the most member ids a node block holds.
	MaxMembers = MaxNodeID
	// nodeFixedLen is a node block's length without members and CRC.
	nodeFixedLen = 62
	// MaxBlockLen is the longest node block.
	MaxBlockLen = nodeFixedLen + 4*MaxMembers + 4
)

// Kinds of blocks.
const (
	kindHeader = 1
	kindNode   = 2
)

// magic starts every block.
var magic = [4]byte{'C', 'G', 'Q', 'D'}

// castagnoli is the CRC32C table.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of the decoders. Match them with errors.Is.
var (
	// ErrEmpty: the slot has never been written (all zeros).
	ErrEmpty = errors.New("qdisk: empty slot")
	// ErrCorrupt: the slot holds something that is not a valid block
	// (bad magic, kind, version, length or checksum): a torn write,
	// another program's data, or a newer format.
	ErrCorrupt = errors.New("qdisk: corrupt block")
)

// State is a node's state as written in its block.
type State uint8

// States.
const (
	// StateInit: the daemon started less than tko cycles ago.
	StateInit State = 1
	// StateRunning: connected to corosyncd, with a membership.
	StateRunning State = 2
	// StateDisconnected: no connection to corosyncd.
	StateDisconnected State = 3
	// StateLeaving: the daemon stopped cleanly (last block written).
	StateLeaving State = 4
)

// String names the state.
func (s State) String() string {
	switch s {
	case StateInit:
		return "init"
	case StateRunning:
		return "running"
	case StateDisconnected:
		return "disconnected"
	case StateLeaving:
		return "leaving"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Block is what a node writes into its slot every interval.
//
// Encoding (little-endian), 66 + 4 × len(Members) bytes:
//
//	0   magic "CGQD"
//	4   u16 kind (2)
//	6   u16 version (1)
//	8   u16 length (of the whole block, CRC included)
//	10  u8  state
//	11  u8  flags: 1 eligible, 2 cast vote
//	12  u32 node id
//	16  u64 incarnation
//	24  u64 sequence number
//	32  i64 timestamp (Unix milliseconds; informational only)
//	40  u32 ring id: node id
//	44  u64 ring id: sequence
//	52  u16 heuristics score
//	54  u16 heuristics total
//	56  u32 master (the writer's view; 0: none)
//	60  u16 member count n
//	62  n × u32 members
//	62+4n u32 CRC32C (Castagnoli) of bytes [0, 62+4n)
type Block struct {
	NodeID uint32
	// Incarnation changes every time the daemon starts.
	Incarnation uint64
	// Seq increments with every write of this incarnation.
	Seq uint64
	// Timestamp is the writer's clock (Unix ms); nothing depends on it.
	Timestamp int64
	State     State
	// Eligible: the writer may be master (running, init done, heuristics
	// score ≥ min_score).
	Eligible bool
	// Cast: the writer's device casts its vote (informational).
	Cast bool
	// Score and Total are the writer's last heuristics result.
	Score, Total uint16
	// Master is the master in the writer's view (0: none).
	Master uint32
	// Ring and Members are the writer's membership.
	Ring    qdevice.RingID
	Members []uint32
}

const (
	flagEligible = 1
	flagCast     = 2
)

// Len is the encoded length.
func (b *Block) Len() int { return nodeFixedLen + 4*len(b.Members) + 4 }

// AppendTo appends the encoded block to dst. It fails when there are more
// than MaxMembers members.
func (b *Block) AppendTo(dst []byte) ([]byte, error) {
	if len(b.Members) > MaxMembers {
		return dst, fmt.Errorf("qdisk: %d members, at most %d fit in a block", len(b.Members), MaxMembers)
	}
	start := len(dst)
	dst = append(dst, magic[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, kindNode)
	dst = binary.LittleEndian.AppendUint16(dst, Version)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(b.Len()))
	var flags byte
	if b.Eligible {
		flags |= flagEligible
	}
	if b.Cast {
		flags |= flagCast
	}
	dst = append(dst, byte(b.State), flags)
	dst = binary.LittleEndian.AppendUint32(dst, b.NodeID)
	dst = binary.LittleEndian.AppendUint64(dst, b.Incarnation)
	dst = binary.LittleEndian.AppendUint64(dst, b.Seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Timestamp))
	dst = binary.LittleEndian.AppendUint32(dst, b.Ring.NodeID)
	dst = binary.LittleEndian.AppendUint64(dst, b.Ring.Seq)
	dst = binary.LittleEndian.AppendUint16(dst, b.Score)
	dst = binary.LittleEndian.AppendUint16(dst, b.Total)
	dst = binary.LittleEndian.AppendUint32(dst, b.Master)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(b.Members)))
	for _, m := range b.Members {
		dst = binary.LittleEndian.AppendUint32(dst, m)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

// checkFrame verifies magic, kind, version, length and CRC of the block at
// the start of slot and returns the block's bytes without the CRC.
func checkFrame(slot []byte, kind uint16, minLen int) ([]byte, error) {
	if len(slot) < 10 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(slot))
	}
	if isZero(slot[:min(len(slot), 64)]) {
		return nil, ErrEmpty
	}
	if [4]byte(slot[:4]) != magic {
		return nil, fmt.Errorf("%w: bad magic % x", ErrCorrupt, slot[:4])
	}
	if k := binary.LittleEndian.Uint16(slot[4:]); k != kind {
		return nil, fmt.Errorf("%w: kind %d, want %d", ErrCorrupt, k, kind)
	}
	if v := binary.LittleEndian.Uint16(slot[6:]); v != Version {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, v)
	}
	n := int(binary.LittleEndian.Uint16(slot[8:]))
	if n < minLen || n > len(slot) || n > SlotSize {
		return nil, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	body, sum := slot[:n-4], binary.LittleEndian.Uint32(slot[n-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, sum)
	}
	return body, nil
}

// DecodeBlock decodes the node block at the start of slot. It returns an
// error matching ErrEmpty for a slot never written and ErrCorrupt for
// anything else that is not a valid block.
func DecodeBlock(slot []byte) (Block, error) {
	body, err := checkFrame(slot, kindNode, nodeFixedLen+4)
	if err != nil {
		return Block{}, err
	}
	n := int(binary.LittleEndian.Uint16(body[60:]))
	if n > MaxMembers || len(body) != nodeFixedLen+4*n {
		return Block{}, fmt.Errorf("%w: %d members in %d bytes", ErrCorrupt, n, len(body)+4)
	}
	b := Block{
		State:       State(body[10]),
		Eligible:    body[11]&flagEligible != 0,
		Cast:        body[11]&flagCast != 0,
		NodeID:      binary.LittleEndian.Uint32(body[12:]),
		Incarnation: binary.LittleEndian.Uint64(body[16:]),
		Seq:         binary.LittleEndian.Uint64(body[24:]),
		Timestamp:   int64(binary.LittleEndian.Uint64(body[32:])),
		Ring: qdevice.RingID{
			NodeID: binary.LittleEndian.Uint32(body[40:]),
			Seq:    binary.LittleEndian.Uint64(body[44:]),
		},
		Score:  binary.LittleEndian.Uint16(body[52:]),
		Total:  binary.LittleEndian.Uint16(body[54:]),
		Master: binary.LittleEndian.Uint32(body[56:]),
	}
	if b.State < StateInit || b.State > StateLeaving {
		return Block{}, fmt.Errorf("%w: state %d", ErrCorrupt, body[10])
	}
	if body[11]&^(flagEligible|flagCast) != 0 {
		return Block{}, fmt.Errorf("%w: flags %#x", ErrCorrupt, body[11])
	}
	if n > 0 {
		b.Members = make([]uint32, n)
		for i := range b.Members {
			b.Members[i] = binary.LittleEndian.Uint32(body[nodeFixedLen+4*i:])
		}
	}
	return b, nil
}

// Header is slot 0: it identifies the format and the cluster.
//
// Encoding (little-endian), 26 + len(ClusterName) bytes:
//
//	0   magic "CGQD"
//	4   u16 kind (1)
//	6   u16 version (1)
//	8   u16 length (of the whole header, CRC included)
//	10  u16 reserved (0)
//	12  u32 slot size (4096)
//	16  u32 max node id (255)
//	20  u16 cluster name length n
//	22  n bytes cluster name
//	22+n u32 CRC32C of bytes [0, 22+n)
//
// The header holds nothing that differs between nodes, so that two nodes
// initializing an empty device at once write the same bytes.
type Header struct {
	SlotSize    uint32
	MaxNodeID   uint32
	ClusterName string
}

// NewHeader returns the header of this format for a cluster.
func NewHeader(cluster string) Header {
	return Header{SlotSize: SlotSize, MaxNodeID: MaxNodeID, ClusterName: cluster}
}

// AppendTo appends the encoded header to dst.
func (h *Header) AppendTo(dst []byte) ([]byte, error) {
	if len(h.ClusterName) > MaxClusterName {
		return dst, fmt.Errorf("qdisk: cluster name of %d bytes, at most %d", len(h.ClusterName), MaxClusterName)
	}
	start := len(dst)
	dst = append(dst, magic[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, kindHeader)
	dst = binary.LittleEndian.AppendUint16(dst, Version)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(26+len(h.ClusterName)))
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, h.SlotSize)
	dst = binary.LittleEndian.AppendUint32(dst, h.MaxNodeID)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(h.ClusterName)))
	dst = append(dst, h.ClusterName...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli)), nil
}

// DecodeHeader decodes the header at the start of slot 0.
func DecodeHeader(slot []byte) (Header, error) {
	body, err := checkFrame(slot, kindHeader, 26)
	if err != nil {
		return Header{}, err
	}
	n := int(binary.LittleEndian.Uint16(body[20:]))
	if len(body) != 22+n {
		return Header{}, fmt.Errorf("%w: cluster name of %d bytes in %d", ErrCorrupt, n, len(body)+4)
	}
	return Header{
		SlotSize:    binary.LittleEndian.Uint32(body[12:]),
		MaxNodeID:   binary.LittleEndian.Uint32(body[16:]),
		ClusterName: string(body[22:]),
	}, nil
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
