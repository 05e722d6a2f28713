package cpg

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/service"
)

// Exec message fns of the CPG service: the low half of the service header
// id (corosync-wire.md §5.5). The numbering is corosync's.
const (
	FnProcJoin     uint16 = 0
	FnProcLeave    uint16 = 1
	FnJoinList     uint16 = 2
	FnMcast        uint16 = 3
	FnDownListOld  uint16 = 4 // ignored by corosync 3.1 and by us
	FnDownList     uint16 = 5
	FnPartialMcast uint16 = 6
)

// Sizes of the exec messages, in bytes (corosync-wire.md §5.5).
const (
	// MaxNameLen is the longest group name (CPG_MAX_NAME_LENGTH).
	MaxNameLen = 128
	// NameSize is the size of a mar_cpg_name_t: length u32 in an 8-byte
	// slot, then 128 bytes.
	NameSize = 8 + MaxNameLen
	// ProcJoinSize is the size of PROCJOIN and PROCLEAVE.
	ProcJoinSize = 168
	// JoinListHeaderSize is the qb_ipc_response_header that starts a
	// JOINLIST; JoinListEntrySize each entry after it.
	JoinListHeaderSize = 24
	JoinListEntrySize  = 144
	// McastHeaderSize is the part of an MCAST before the payload.
	McastHeaderSize = 184
	// DownListSize is the size of a DOWNLIST; MaxDownListNodes the number
	// of node id slots in it (PROCESSOR_COUNT_MAX).
	DownListSize     = 1568
	MaxDownListNodes = 384
	// PartialMcastHeaderSize is the part of a PARTIAL_MCAST before the
	// fragment.
	PartialMcastHeaderSize = 200
)

// Reason is why a process joined or left a group, as CPG clients see it
// (cpg_address.reason).
type Reason uint32

// Reasons (CPG_REASON_*).
const (
	ReasonUndefined Reason = 0 // members of a confchg
	ReasonJoin      Reason = 1
	ReasonLeave     Reason = 2
	ReasonNodeDown  Reason = 3
	ReasonNodeUp    Reason = 4
	ReasonProcDown  Reason = 5
)

// String names the reason as corosync's cpg tools print it.
func (r Reason) String() string {
	switch r {
	case ReasonUndefined:
		return "undefined"
	case ReasonJoin:
		return "join"
	case ReasonLeave:
		return "leave"
	case ReasonNodeDown:
		return "node down"
	case ReasonNodeUp:
		return "node up"
	case ReasonProcDown:
		return "process down"
	}
	return fmt.Sprintf("reason(%d)", uint32(r))
}

// PartialType tells which part of a message a PARTIAL_MCAST carries
// (LIBCPG_PARTIAL_*).
type PartialType uint32

// Partial message parts.
const (
	PartialFirst     PartialType = 1
	PartialContinued PartialType = 2
	PartialLast      PartialType = 3
)

// Source is the mar_message_source_t of an MCAST: the sending node and the
// sender's connection, a pointer in corosync that means nothing to other
// nodes. A byte-swapped message's Conn decodes as 0, as corosync's
// converter clears it.
type Source struct {
	NodeID uint32
	Conn   uint64
}

// ProcJoin is a PROCJOIN or PROCLEAVE.
type ProcJoin struct {
	// Leave selects PROCLEAVE.
	Leave bool
	// Group is the group name, at most MaxNameLen bytes.
	Group []byte
	PID   uint32
	// Reason is ReasonJoin in a PROCJOIN (receivers ignore it), and
	// ReasonLeave or ReasonProcDown in a PROCLEAVE.
	Reason Reason
}

// JoinEntry is one process of a JOINLIST.
type JoinEntry struct {
	PID   uint32
	Group []byte
}

// JoinList is a JOINLIST: the sender's local processes, sent in every
// sync by a node that has any.
type JoinList struct {
	// Error is the response header's error field: corosync never sets it
	// (it is whatever the stack held, 0 in practice) and nobody reads it.
	Error   int32
	Entries []JoinEntry
}

// Mcast is an MCAST: one application message to a group.
type Mcast struct {
	Group  []byte
	PID    uint32
	Source Source
	Data   []byte
}

// DownList is a DOWNLIST. Corosync 3.1 only logs the ones it receives;
// each node computes its own.
type DownList struct {
	// OldMembers is the size of the sender's previous member list.
	OldMembers uint32
	// Left are the nodes that left, at most MaxDownListNodes. Slots after
	// them are ignored on decode (corosync may leave stale ids there) and
	// written as zeros.
	Left []uint32
}

// PartialMcast is a PARTIAL_MCAST: one fragment of a message too large
// for one MCAST.
type PartialMcast struct {
	Group []byte
	// MsgLen is the length of the whole message.
	MsgLen uint32
	PID    uint32
	Type   PartialType
	Source Source
	// Data is this fragment; its length is the message's fraglen.
	Data []byte
}

// Errors returned by the codecs.
var (
	// ErrMalformed wraps every decoding failure.
	ErrMalformed = errors.New("cpg: malformed message")
	// ErrNameTooLong is returned when encoding a group name longer than
	// MaxNameLen bytes.
	ErrNameTooLong = errors.New("cpg: group name longer than 128 bytes")
	// ErrTooLong is returned when encoding a message whose lengths do not
	// fit its fields.
	ErrTooLong = errors.New("cpg: message too long")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func swap32(v uint32) uint32 { return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24 }

func get32(b []byte, swapped bool) uint32 {
	v := binary.LittleEndian.Uint32(b)
	if swapped {
		v = swap32(v)
	}
	return v
}

func put32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }

// slot32 writes v in an 8-byte slot.
func slot32(b []byte, v uint32) {
	put32(b, v)
	put32(b[4:], 0)
}

// checkHeader decodes msg's service header and checks the service, the
// fn, that the declared size is the message's length and that the message
// has at least min bytes.
func checkHeader(msg []byte, swapped bool, fn uint16, minSize int) error {
	h, err := service.ParseHeader(msg, swapped)
	if err != nil {
		return malformed("%d bytes, shorter than a header", len(msg))
	}
	if h.Service != service.CPG || h.Fn != fn {
		return malformed("id %d/%d, want cpg/%d", h.Service, h.Fn, fn)
	}
	if h.Size != len(msg) {
		return malformed("fn %d: header declares %d bytes, message has %d", fn, h.Size, len(msg))
	}
	if len(msg) < minSize {
		return malformed("fn %d: %d bytes, need %d", fn, len(msg), minSize)
	}
	return nil
}

// getName decodes the mar_cpg_name_t at b[:NameSize]; the name aliases b.
func getName(b []byte, swapped bool) ([]byte, error) {
	n := get32(b, swapped)
	if n > MaxNameLen {
		return nil, malformed("group name length %d > %d", n, MaxNameLen)
	}
	return b[8 : 8+n : 8+n], nil
}

// putName writes name as a mar_cpg_name_t into b[:NameSize], zero-padded.
// The caller has checked the length.
func putName(b []byte, name []byte) {
	_ = b[NameSize-1]
	slot32(b, uint32(len(name)))
	n := copy(b[8:NameSize], name)
	clear(b[8+n : NameSize])
}

func grow(dst []byte, n int) ([]byte, []byte) {
	l := len(dst)
	if cap(dst)-l < n {
		nd := make([]byte, l, l+n)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:l+n]
	return dst, dst[l:]
}

// AppendProcJoin appends a PROCJOIN (or PROCLEAVE if m.Leave) to dst.
func AppendProcJoin(dst []byte, m ProcJoin) ([]byte, error) {
	if len(m.Group) > MaxNameLen {
		return dst, ErrNameTooLong
	}
	fn := FnProcJoin
	if m.Leave {
		fn = FnProcLeave
	}
	dst, b := grow(dst, ProcJoinSize)
	service.PutHeader(b, service.CPG, fn, ProcJoinSize)
	putName(b[16:], m.Group)
	slot32(b[152:], m.PID)
	slot32(b[160:], uint32(m.Reason))
	return dst, nil
}

// DecodeProcJoin decodes a PROCJOIN or PROCLEAVE. Group aliases msg.
func DecodeProcJoin(msg []byte, swapped bool) (ProcJoin, error) {
	h, err := service.ParseHeader(msg, swapped)
	if err != nil {
		return ProcJoin{}, malformed("%d bytes, shorter than a header", len(msg))
	}
	if h.Fn != FnProcJoin && h.Fn != FnProcLeave {
		return ProcJoin{}, malformed("fn %d is not procjoin or procleave", h.Fn)
	}
	if err := checkHeader(msg, swapped, h.Fn, ProcJoinSize); err != nil {
		return ProcJoin{}, err
	}
	if len(msg) != ProcJoinSize {
		return ProcJoin{}, malformed("procjoin of %d bytes, want %d", len(msg), ProcJoinSize)
	}
	name, err := getName(msg[16:], swapped)
	if err != nil {
		return ProcJoin{}, err
	}
	return ProcJoin{
		Leave:  h.Fn == FnProcLeave,
		Group:  name,
		PID:    get32(msg[152:], swapped),
		Reason: Reason(get32(msg[160:], swapped)),
	}, nil
}

// AppendJoinList appends a JOINLIST to dst.
func AppendJoinList(dst []byte, m JoinList) ([]byte, error) {
	size := JoinListHeaderSize + JoinListEntrySize*len(m.Entries)
	if size > 1<<31-1 || len(m.Entries) > (1<<31-1)/JoinListEntrySize {
		return dst, ErrTooLong
	}
	for _, e := range m.Entries {
		if len(e.Group) > MaxNameLen {
			return dst, ErrNameTooLong
		}
	}
	dst, b := grow(dst, size)
	service.PutHeader(b, service.CPG, FnJoinList, size)
	slot32(b[16:], uint32(m.Error))
	for i, e := range m.Entries {
		p := b[JoinListHeaderSize+i*JoinListEntrySize:]
		slot32(p, e.PID)
		putName(p[8:], e.Group)
	}
	return dst, nil
}

// DecodeJoinList decodes a JOINLIST. The groups alias msg.
func DecodeJoinList(msg []byte, swapped bool) (JoinList, error) {
	if err := checkHeader(msg, swapped, FnJoinList, JoinListHeaderSize); err != nil {
		return JoinList{}, err
	}
	if (len(msg)-JoinListHeaderSize)%JoinListEntrySize != 0 {
		return JoinList{}, malformed("joinlist of %d bytes is not 24 + 144k", len(msg))
	}
	n := (len(msg) - JoinListHeaderSize) / JoinListEntrySize
	m := JoinList{Error: int32(get32(msg[16:], swapped))}
	if n > 0 {
		m.Entries = make([]JoinEntry, n)
	}
	for i := range n {
		p := msg[JoinListHeaderSize+i*JoinListEntrySize:]
		name, err := getName(p[8:], swapped)
		if err != nil {
			return JoinList{}, fmt.Errorf("joinlist entry %d: %w", i, err)
		}
		m.Entries[i] = JoinEntry{PID: get32(p, swapped), Group: name}
	}
	return m, nil
}

// PutMcastHeader writes the first McastHeaderSize bytes of an MCAST
// carrying dataLen bytes into b. The caller has checked that group is at
// most MaxNameLen bytes and that McastHeaderSize+dataLen fits an int32.
func PutMcastHeader(b []byte, group []byte, pid uint32, src Source, dataLen int) {
	_ = b[McastHeaderSize-1]
	service.PutHeader(b, service.CPG, FnMcast, McastHeaderSize+dataLen)
	putName(b[16:], group)
	slot32(b[152:], uint32(dataLen))
	slot32(b[160:], pid)
	slot32(b[168:], src.NodeID)
	binary.LittleEndian.PutUint64(b[176:], src.Conn)
}

// AppendMcast appends an MCAST to dst.
func AppendMcast(dst []byte, m Mcast) ([]byte, error) {
	if len(m.Group) > MaxNameLen {
		return dst, ErrNameTooLong
	}
	if len(m.Data) > 1<<31-1-McastHeaderSize {
		return dst, ErrTooLong
	}
	dst, b := grow(dst, McastHeaderSize+len(m.Data))
	PutMcastHeader(b, m.Group, m.PID, m.Source, len(m.Data))
	copy(b[McastHeaderSize:], m.Data)
	return dst, nil
}

// DecodeMcast decodes an MCAST. Group and Data alias msg. It does not
// allocate.
func DecodeMcast(msg []byte, swapped bool) (Mcast, error) {
	if err := checkHeader(msg, swapped, FnMcast, McastHeaderSize); err != nil {
		return Mcast{}, err
	}
	name, err := getName(msg[16:], swapped)
	if err != nil {
		return Mcast{}, err
	}
	if n := get32(msg[152:], swapped); uint64(n) != uint64(len(msg)-McastHeaderSize) {
		return Mcast{}, malformed("mcast msglen %d, %d bytes follow the header", n, len(msg)-McastHeaderSize)
	}
	m := Mcast{
		Group:  name,
		PID:    get32(msg[160:], swapped),
		Source: Source{NodeID: get32(msg[168:], swapped)},
		Data:   msg[McastHeaderSize:],
	}
	if !swapped {
		m.Source.Conn = binary.LittleEndian.Uint64(msg[176:])
	}
	return m, nil
}

// AppendDownList appends a DOWNLIST to dst.
func AppendDownList(dst []byte, m DownList) ([]byte, error) {
	if len(m.Left) > MaxDownListNodes {
		return dst, ErrTooLong
	}
	dst, b := grow(dst, DownListSize)
	service.PutHeader(b, service.CPG, FnDownList, DownListSize)
	slot32(b[16:], m.OldMembers)
	slot32(b[24:], uint32(len(m.Left)))
	for i, n := range m.Left {
		put32(b[32+4*i:], n)
	}
	clear(b[32+4*len(m.Left):])
	return dst, nil
}

// DecodeDownList decodes a DOWNLIST.
func DecodeDownList(msg []byte, swapped bool) (DownList, error) {
	if err := checkHeader(msg, swapped, FnDownList, DownListSize); err != nil {
		return DownList{}, err
	}
	if len(msg) != DownListSize {
		return DownList{}, malformed("downlist of %d bytes, want %d", len(msg), DownListSize)
	}
	n := get32(msg[24:], swapped)
	if n > MaxDownListNodes {
		return DownList{}, malformed("downlist of %d nodes > %d", n, MaxDownListNodes)
	}
	m := DownList{OldMembers: get32(msg[16:], swapped)}
	if n > 0 {
		m.Left = make([]uint32, n)
	}
	for i := range m.Left {
		m.Left[i] = get32(msg[32+4*i:], swapped)
	}
	return m, nil
}

// PutPartialMcastHeader writes the first PartialMcastHeaderSize bytes of a
// PARTIAL_MCAST carrying fragLen bytes of a msgLen-byte message into b.
// The caller has checked the group's length and that the sizes fit.
func PutPartialMcastHeader(b []byte, group []byte, msgLen int, pid uint32, t PartialType, src Source, fragLen int) {
	_ = b[PartialMcastHeaderSize-1]
	service.PutHeader(b, service.CPG, FnPartialMcast, PartialMcastHeaderSize+fragLen)
	putName(b[16:], group)
	slot32(b[152:], uint32(msgLen))
	slot32(b[160:], uint32(fragLen))
	slot32(b[168:], pid)
	slot32(b[176:], uint32(t))
	slot32(b[184:], src.NodeID)
	binary.LittleEndian.PutUint64(b[192:], src.Conn)
}

// AppendPartialMcast appends a PARTIAL_MCAST to dst.
func AppendPartialMcast(dst []byte, m PartialMcast) ([]byte, error) {
	if len(m.Group) > MaxNameLen {
		return dst, ErrNameTooLong
	}
	if len(m.Data) > 1<<31-1-PartialMcastHeaderSize {
		return dst, ErrTooLong
	}
	dst, b := grow(dst, PartialMcastHeaderSize+len(m.Data))
	PutPartialMcastHeader(b, m.Group, int(m.MsgLen), m.PID, m.Type, m.Source, len(m.Data))
	copy(b[PartialMcastHeaderSize:], m.Data)
	return dst, nil
}

// DecodePartialMcast decodes a PARTIAL_MCAST. Group and Data alias msg.
// The fragment must fit in the declared message length and the type must
// be one of the three parts; whether the fragments add up is the
// reassembler's business.
func DecodePartialMcast(msg []byte, swapped bool) (PartialMcast, error) {
	if err := checkHeader(msg, swapped, FnPartialMcast, PartialMcastHeaderSize); err != nil {
		return PartialMcast{}, err
	}
	name, err := getName(msg[16:], swapped)
	if err != nil {
		return PartialMcast{}, err
	}
	frag := get32(msg[160:], swapped)
	if uint64(frag) != uint64(len(msg)-PartialMcastHeaderSize) {
		return PartialMcast{}, malformed("partial mcast fraglen %d, %d bytes follow the header", frag, len(msg)-PartialMcastHeaderSize)
	}
	m := PartialMcast{
		Group:  name,
		MsgLen: get32(msg[152:], swapped),
		PID:    get32(msg[168:], swapped),
		Type:   PartialType(get32(msg[176:], swapped)),
		Source: Source{NodeID: get32(msg[184:], swapped)},
		Data:   msg[PartialMcastHeaderSize:],
	}
	if m.Type < PartialFirst || m.Type > PartialLast {
		return PartialMcast{}, malformed("partial mcast type %d", m.Type)
	}
	if frag > m.MsgLen {
		return PartialMcast{}, malformed("partial mcast fragment of %d bytes, message of %d", frag, m.MsgLen)
	}
	if !swapped {
		m.Source.Conn = binary.LittleEndian.Uint64(msg[192:])
	}
	return m, nil
}
