package votequorum

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/corogo/corogo/internal/service"
)

// Exec message function ids (corosync-wire.md §5.4).
const (
	FnExecNodeInfo           uint16 = 0
	FnExecReconfigure        uint16 = 1
	FnExecQdeviceReg         uint16 = 2
	FnExecQdeviceReconfigure uint16 = 3
)

// Exec message sizes, header included.
const (
	NodeInfoSize           = 32
	ReconfigureSize        = 32
	QdeviceRegSize         = 280
	QdeviceReconfigureSize = 528
	nameField              = 255 // VOTEQUORUM_QDEVICE_MAX_NAME_LEN
)

// NodeInfo flags (NODE_FLAGS_*), sent in NODEINFO.
const (
	FlagQuorate           uint32 = 1
	FlagLeaving           uint32 = 2
	FlagWFAStatus         uint32 = 4
	FlagFirst             uint32 = 8
	FlagQdeviceRegistered uint32 = 16
	FlagQdeviceAlive      uint32 = 32
	FlagQdeviceCastVote   uint32 = 64
	FlagQdeviceMasterWins uint32 = 128
)

// Reconfigure parameters.
const (
	ParamExpectedVotes uint8 = 1
	ParamNodeVotes     uint8 = 2
	ParamCancelWFA     uint8 = 3
)

// Qdevice registration operations.
const (
	OpUnregister uint32 = 0
	OpRegister   uint32 = 1
)

// NodeInfo is the NODEINFO message: a node's votes, expected votes and
// flags, or (NodeID 0) the sender's quorum device votes.
type NodeInfo struct {
	NodeID   uint32
	Votes    uint32
	Expected uint32
	Flags    uint32
}

// Reconfigure is the RECONFIGURE message.
type Reconfigure struct {
	NodeID uint32
	Value  uint32
	Param  uint8
}

// QdeviceReg is the QDEVICE_REG message.
type QdeviceReg struct {
	Op   uint32
	Name string
}

// QdeviceReconfigure is the QDEVICE_RECONFIGURE message (a rename).
type QdeviceReconfigure struct {
	OldName, NewName string
}

// AppendNodeInfo appends a NODEINFO message, header included.
func AppendNodeInfo(dst []byte, m NodeInfo) []byte {
	dst = service.AppendHeader(dst, service.Votequorum, FnExecNodeInfo, NodeInfoSize)
	dst = binary.LittleEndian.AppendUint32(dst, m.NodeID)
	dst = binary.LittleEndian.AppendUint32(dst, m.Votes)
	dst = binary.LittleEndian.AppendUint32(dst, m.Expected)
	return binary.LittleEndian.AppendUint32(dst, m.Flags)
}

// AppendReconfigure appends a RECONFIGURE message, header included.
func AppendReconfigure(dst []byte, m Reconfigure) []byte {
	dst = service.AppendHeader(dst, service.Votequorum, FnExecReconfigure, ReconfigureSize)
	dst = binary.LittleEndian.AppendUint32(dst, m.NodeID)
	dst = binary.LittleEndian.AppendUint32(dst, m.Value)
	return append(dst, m.Param, 0, 0, 0, 0, 0, 0, 0)
}

// AppendQdeviceReg appends a QDEVICE_REG message, header included.
func AppendQdeviceReg(dst []byte, m QdeviceReg) []byte {
	dst = service.AppendHeader(dst, service.Votequorum, FnExecQdeviceReg, QdeviceRegSize)
	dst = binary.LittleEndian.AppendUint32(dst, m.Op)
	dst = appendName(dst, m.Name)
	return append(dst, make([]byte, QdeviceRegSize-20-nameField)...)
}

// AppendQdeviceReconfigure appends a QDEVICE_RECONFIGURE message.
func AppendQdeviceReconfigure(dst []byte, m QdeviceReconfigure) []byte {
	dst = service.AppendHeader(dst, service.Votequorum, FnExecQdeviceReconfigure, QdeviceReconfigureSize)
	dst = appendName(dst, m.OldName)
	dst = appendName(dst, m.NewName)
	return append(dst, 0, 0)
}

func appendName(dst []byte, name string) []byte {
	var f [nameField]byte
	copy(f[:nameField-1], name)
	return append(dst, f[:]...)
}

func cName(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func need(b []byte, n int, what string) error {
	if len(b) < n {
		return fmt.Errorf("votequorum: %s of %d bytes, need %d: %w", what, len(b), n, ErrShort)
	}
	return nil
}

type u32 func([]byte) uint32

func order(swapped bool) u32 {
	if swapped {
		return binary.BigEndian.Uint32
	}
	return binary.LittleEndian.Uint32
}

// DecodeNodeInfo decodes a NODEINFO message (header included). Swapped
// means the sender's byte order differs from ours.
func DecodeNodeInfo(b []byte, swapped bool) (NodeInfo, error) {
	if err := need(b, NodeInfoSize, "NODEINFO"); err != nil {
		return NodeInfo{}, err
	}
	g := order(swapped)
	return NodeInfo{NodeID: g(b[16:]), Votes: g(b[20:]), Expected: g(b[24:]), Flags: g(b[28:])}, nil
}

// DecodeReconfigure decodes a RECONFIGURE message (header included). The
// message is 32 bytes on the wire; 28 are enough.
func DecodeReconfigure(b []byte, swapped bool) (Reconfigure, error) {
	if err := need(b, 25, "RECONFIGURE"); err != nil {
		return Reconfigure{}, err
	}
	g := order(swapped)
	return Reconfigure{NodeID: g(b[16:]), Value: g(b[20:]), Param: b[24]}, nil
}

// DecodeQdeviceReg decodes a QDEVICE_REG message (header included).
func DecodeQdeviceReg(b []byte, swapped bool) (QdeviceReg, error) {
	if err := need(b, 20+nameField, "QDEVICE_REG"); err != nil {
		return QdeviceReg{}, err
	}
	return QdeviceReg{Op: order(swapped)(b[16:]), Name: cName(b[20 : 20+nameField])}, nil
}

// DecodeQdeviceReconfigure decodes a QDEVICE_RECONFIGURE message.
func DecodeQdeviceReconfigure(b []byte) (QdeviceReconfigure, error) {
	if err := need(b, 16+2*nameField, "QDEVICE_RECONFIGURE"); err != nil {
		return QdeviceReconfigure{}, err
	}
	return QdeviceReconfigure{
		OldName: cName(b[16 : 16+nameField]),
		NewName: cName(b[16+nameField : 16+2*nameField]),
	}, nil
}
