package cfg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/corogo/corogo/internal/service"
)

// Exec handler numbers (corosync's cfg_message_req_types).
const (
	ExecRingReenable   uint16 = 0
	ExecKillNode       uint16 = 1
	ExecShutdown       uint16 = 2
	ExecReloadConfig   uint16 = 3
	ExecCryptoReconfig uint16 = 4
)

// Message sizes on the wire, header included.
const (
	RingReenableSize   = 32
	KillNodeSize       = 288
	ShutdownSize       = 16
	ReloadConfigSize   = 32
	CryptoReconfigSize = 24
)

// Layouts (every field aligned(8), so a 4-byte field takes an 8-byte slot):
//
//	struct req_exec_cfg_killnode (288 bytes)
//	  off  size
//	    0    16  qb_ipc_request_header: id (1 << 16 | 1) @0, size 288 @8
//	   16     4  nodeid, the node to kill (+4 pad)
//	   24     2  reason.length (mar_name_t; libcfg stores strlen + 1) (+6 pad)
//	   32   256  reason.value, NUL-terminated (CS_MAX_NAME_LENGTH)
//
//	struct req_exec_cfg_shutdown (16 bytes): the header alone, id 1 << 16 | 2.
//
//	struct req_exec_cfg_reload_config (32 bytes), and ringreenable alike:
//	    0    16  header, id 1 << 16 | 3 (ringreenable: | 0), size 32
//	   16     4  source.nodeid, the requesting node (+4 pad)
//	   24     8  source.conn, the requesting connection (a pointer in
//	             corosync; our connection id); meaningful only to its node
//
//	struct req_exec_cfg_crypto_reconfig (24 bytes):
//	    0    16  header, id 1 << 16 | 4, size 24
//	   16     4  phase (+4 pad)
const (
	offNodeID       = 16
	offReasonLen    = 24
	offReasonValue  = 32
	offSourceNodeID = 16
	offSourceConn   = 24
	offPhase        = 16
	// ReasonSize is mar_name_t's value array (CS_MAX_NAME_LENGTH).
	ReasonSize = 256
	// MaxReasonLen is the longest reason libcfg accepts (it must fit with
	// its NUL).
	MaxReasonLen = ReasonSize - 1
)

// Errors of the codecs.
var (
	// ErrMalformed: a received message that does not parse.
	ErrMalformed = errors.New("cfg: malformed message")
	// ErrReasonTooLong: a kill reason longer than MaxReasonLen bytes.
	ErrReasonTooLong = errors.New("cfg: reason too long")
)

// Source names the connection that asked for an operation
// (mar_message_source_t).
type Source struct {
	NodeID service.NodeID
	// Conn is the connection id on NodeID.
	Conn uint64
}

// KillNode asks NodeID to shut down.
type KillNode struct {
	NodeID service.NodeID
	Reason string
}

// AppendKillNode appends a KILLNODE message.
func AppendKillNode(dst []byte, m KillNode) ([]byte, error) {
	if len(m.Reason) > MaxReasonLen {
		return dst, fmt.Errorf("%w: %d bytes", ErrReasonTooLong, len(m.Reason))
	}
	var b [KillNodeSize]byte
	service.PutHeader(b[:], service.CFG, ExecKillNode, KillNodeSize)
	binary.LittleEndian.PutUint32(b[offNodeID:], m.NodeID)
	binary.LittleEndian.PutUint16(b[offReasonLen:], uint16(len(m.Reason)+1))
	copy(b[offReasonValue:], m.Reason)
	return append(dst, b[:]...), nil
}

// DecodeKillNode parses a KILLNODE. The reason is the value up to its
// length or its first NUL, whichever comes first (corosync prints it as a
// C string).
func DecodeKillNode(msg []byte, swapped bool) (KillNode, error) {
	if err := check(msg, swapped, ExecKillNode, KillNodeSize); err != nil {
		return KillNode{}, err
	}
	id := binary.LittleEndian.Uint32(msg[offNodeID:])
	n := binary.LittleEndian.Uint16(msg[offReasonLen:])
	if swapped {
		id = bits.ReverseBytes32(id)
		n = bits.ReverseBytes16(n)
	}
	if n > ReasonSize {
		return KillNode{}, fmt.Errorf("%w: killnode reason length %d", ErrMalformed, n)
	}
	reason := msg[offReasonValue : offReasonValue+int(n)]
	for i, c := range reason {
		if c == 0 {
			reason = reason[:i]
			break
		}
	}
	return KillNode{NodeID: id, Reason: string(reason)}, nil
}

// AppendShutdown appends a SHUTDOWN message.
func AppendShutdown(dst []byte) []byte {
	return service.AppendHeader(dst, service.CFG, ExecShutdown, ShutdownSize)
}

// DecodeShutdown checks a SHUTDOWN message.
func DecodeShutdown(msg []byte, swapped bool) error {
	return check(msg, swapped, ExecShutdown, ShutdownSize)
}

// AppendReloadConfig appends a RELOAD_CONFIG message from src.
func AppendReloadConfig(dst []byte, src Source) []byte {
	return appendSource(dst, ExecReloadConfig, src)
}

// DecodeReloadConfig parses a RELOAD_CONFIG message.
func DecodeReloadConfig(msg []byte, swapped bool) (Source, error) {
	return decodeSource(msg, swapped, ExecReloadConfig)
}

// AppendRingReenable appends a RINGREENABLE message from src.
func AppendRingReenable(dst []byte, src Source) []byte {
	return appendSource(dst, ExecRingReenable, src)
}

// DecodeRingReenable parses a RINGREENABLE message.
func DecodeRingReenable(msg []byte, swapped bool) (Source, error) {
	return decodeSource(msg, swapped, ExecRingReenable)
}

// AppendCryptoReconfig appends a CRYPTO_RECONFIG message.
func AppendCryptoReconfig(dst []byte, phase uint32) []byte {
	var b [CryptoReconfigSize]byte
	service.PutHeader(b[:], service.CFG, ExecCryptoReconfig, CryptoReconfigSize)
	binary.LittleEndian.PutUint32(b[offPhase:], phase)
	return append(dst, b[:]...)
}

// DecodeCryptoReconfig parses a CRYPTO_RECONFIG message.
func DecodeCryptoReconfig(msg []byte, swapped bool) (uint32, error) {
	if err := check(msg, swapped, ExecCryptoReconfig, CryptoReconfigSize); err != nil {
		return 0, err
	}
	p := binary.LittleEndian.Uint32(msg[offPhase:])
	if swapped {
		p = bits.ReverseBytes32(p)
	}
	return p, nil
}

func appendSource(dst []byte, fn uint16, src Source) []byte {
	var b [ReloadConfigSize]byte
	service.PutHeader(b[:], service.CFG, fn, ReloadConfigSize)
	binary.LittleEndian.PutUint32(b[offSourceNodeID:], src.NodeID)
	binary.LittleEndian.PutUint64(b[offSourceConn:], src.Conn)
	return append(dst, b[:]...)
}

func decodeSource(msg []byte, swapped bool, fn uint16) (Source, error) {
	if err := check(msg, swapped, fn, ReloadConfigSize); err != nil {
		return Source{}, err
	}
	s := Source{NodeID: binary.LittleEndian.Uint32(msg[offSourceNodeID:]), Conn: binary.LittleEndian.Uint64(msg[offSourceConn:])}
	if swapped {
		s.NodeID = bits.ReverseBytes32(s.NodeID)
		s.Conn = bits.ReverseBytes64(s.Conn)
	}
	return s, nil
}

// check verifies the header names cfg's fn and the message holds size
// bytes. The header's size field is not compared with len(msg), as
// corosync does not.
func check(msg []byte, swapped bool, fn uint16, size int) error {
	h, err := service.ParseHeader(msg, swapped)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if h.Service != service.CFG || h.Fn != fn {
		return fmt.Errorf("%w: id %v fn %d, want cfg fn %d", ErrMalformed, h.Service, h.Fn, fn)
	}
	if len(msg) < size {
		return fmt.Errorf("%w: fn %d of %d bytes, want %d", ErrMalformed, fn, len(msg), size)
	}
	return nil
}
