package cpg

import (
	"encoding/binary"
	"fmt"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// Request fns of the CPG IPC protocol, ours and not libcpg's: what
// travels in service.Request payloads, replies and events between the
// daemon and the client library (package cpg at the module root). The
// framing (request id, status, event kind, the IPC magic and version)
// belongs to the IPC layer; this file defines the payloads.
//
// All integers are little-endian. A group name is written as a u16 length
// followed by that many bytes ("name" below); the engine accepts 1 to
// MaxNameLen bytes. Decoders reject truncated input, nonzero pad bytes and
// trailing bytes (except where the layout ends with "data", the rest of
// the payload).
// Decoded byte slices (group names, data) alias the input.
//
// Requests (service.Request.Fn), append-only:
//
//	ReqJoin        pid u32, name                  → reply empty
//	ReqLeave       name                           → reply empty
//	ReqMcast       guarantee u8, pad u8, name, data → reply empty (if id ≠ 0)
//	ReqMembership  name                           → reply count u32, count × (nodeid u32, pid u32)
//	ReqLocalGet    empty                          → reply nodeid u32
//	ReqIterate     mode u8, name (empty unless IterOneGroup)
//	                                              → reply count u32, count × (name, nodeid u32, pid u32)
//	ReqTrackTotem  flags u8 (1 on, 2 initial)     → reply empty
//	ReqFlowState   empty                          → reply state u8 (0 off, 1 on)
//	ReqMaxAtomic   empty                          → reply size u32
//
// A request with id 0 wants no reply (the client pipelines MCASTs that
// way); a failure is then reported by an EvError event.
//
// Events (service.Conn.Event kind), append-only:
//
//	EvDeliver       nodeid u32, pid u32, guarantee u8, pad u8, name, data
//	EvConfChg       name, members u32, left u32, joined u32, then that many
//	                addresses (nodeid u32, pid u32, reason u32): members,
//	                then left, then joined
//	EvTotemConfChg  ring nodeid u32, ring seq u64, count u32, count × nodeid u32
//	EvFlowControl   on u8 (1 when the daemon holds the connection's messages, 0 when released)
//	EvError         fn u16, pad u16, status u32
const (
	// ReqJoin joins a group as a process (cpg_join).
	ReqJoin uint16 = 1
	// ReqLeave leaves a group (cpg_leave).
	ReqLeave uint16 = 2
	// ReqMcast multicasts a message to a group the connection joined
	// (cpg_mcast_joined).
	ReqMcast uint16 = 3
	// ReqMembership returns a group's members (cpg_membership_get).
	ReqMembership uint16 = 4
	// ReqLocalGet returns this node's id (cpg_local_get).
	ReqLocalGet uint16 = 5
	// ReqIterate lists groups and members (cpg_iteration_*).
	ReqIterate uint16 = 6
	// ReqTrackTotem asks for (or stops) EvTotemConfChg events.
	ReqTrackTotem uint16 = 7
	// ReqFlowState returns the connection's flow control state
	// (cpg_flow_control_state_get).
	ReqFlowState uint16 = 8
	// ReqMaxAtomic returns the largest payload of one ReqMcast
	// (cpg_max_atomic_msgsize_get).
	ReqMaxAtomic uint16 = 9
)

// Event kinds sent to clients (service.Conn.Event).
const (
	// EvDeliver is a message delivered to a group the connection joined.
	EvDeliver uint16 = 1
	// EvConfChg is a change of a joined group's membership.
	EvConfChg uint16 = 2
	// EvTotemConfChg is a new ring (after each sync), for connections that
	// asked with ReqTrackTotem.
	EvTotemConfChg uint16 = 3
	// EvFlowControl reports that the daemon started or stopped holding the
	// connection's messages.
	EvFlowControl uint16 = 4
	// EvError reports the failure of a request that wanted no reply.
	EvError uint16 = 5
)

// MaxDeliverHeader is the largest part of an EvDeliver payload before the
// data: an EvDeliver carrying n bytes has at most MaxDeliverHeader+n.
const MaxDeliverHeader = 4 + 4 + 1 + 1 + 2 + MaxNameLen

// IterMode selects what ReqIterate lists (CPG_ITERATION_*).
type IterMode uint8

// Iteration modes, numbered as libcpg numbers them.
const (
	// IterNameOnly lists each group with members once, nodeid and pid 0.
	IterNameOnly IterMode = 1
	// IterOneGroup lists the members of one group.
	IterOneGroup IterMode = 2
	// IterAll lists every (group, member).
	IterAll IterMode = 3
)

// TRACK_TOTEM flags.
const (
	trackOn      = 1
	trackInitial = 2
)

// Member is a process in a group.
type Member struct {
	NodeID uint32
	PID    uint32
}

// Address is a process in a confchg list, with the reason it is listed
// (cpg_address). Members carry ReasonUndefined.
type Address struct {
	NodeID uint32
	PID    uint32
	Reason Reason
}

// JoinRequest is the payload of ReqJoin.
type JoinRequest struct {
	// PID is the joining process; 0 means the connection's peer pid.
	PID   uint32
	Group []byte
}

// LeaveRequest is the payload of ReqLeave.
type LeaveRequest struct {
	Group []byte
}

// McastRequest is the payload of ReqMcast.
type McastRequest struct {
	// Guarantee is totem.Agreed (0) or totem.Safe (1).
	Guarantee totem.Guarantee
	Group     []byte
	Data      []byte
}

// MembershipRequest is the payload of ReqMembership.
type MembershipRequest struct {
	Group []byte
}

// IterateRequest is the payload of ReqIterate.
type IterateRequest struct {
	Mode IterMode
	// Group is the group for IterOneGroup, empty otherwise.
	Group []byte
}

// IterEntry is one line of an IterateReply.
type IterEntry struct {
	Group  []byte
	NodeID uint32
	PID    uint32
}

// TrackTotemRequest is the payload of ReqTrackTotem.
type TrackTotemRequest struct {
	// On starts the events, !On stops them.
	On bool
	// Initial asks for an EvTotemConfChg with the current ring right away
	// (libcpg's CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF), if a ring has
	// been synchronised.
	Initial bool
}

// DeliverEvent is the payload of EvDeliver.
type DeliverEvent struct {
	NodeID    uint32
	PID       uint32
	Guarantee totem.Guarantee
	Group     []byte
	Data      []byte
}

// ConfChgEvent is the payload of EvConfChg.
type ConfChgEvent struct {
	Group   []byte
	Members []Address
	Left    []Address
	Joined  []Address
}

// TotemConfChgEvent is the payload of EvTotemConfChg.
type TotemConfChgEvent struct {
	Ring    totem.RingID
	Members []uint32
}

// ErrorEvent is the payload of EvError.
type ErrorEvent struct {
	Fn     uint16
	Status service.Status
}

func protoErr(what string, format string, args ...any) error {
	return fmt.Errorf("%w: %s: "+format, append([]any{ErrMalformed, what}, args...)...)
}

func appendU16(dst []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(dst, v) }
func appendU32(dst []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(dst, v) }

// appendName appends a u16-prefixed name. Names longer than 65535 bytes
// are cut (the engine refuses anything over MaxNameLen anyway).
func appendName(dst []byte, name []byte) []byte {
	if len(name) > 0xffff {
		name = name[:0xffff]
	}
	dst = appendU16(dst, uint16(len(name)))
	return append(dst, name...)
}

// reader decodes a payload front to back, remembering the first failure.
type reader struct {
	b    []byte
	what string
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = protoErr(r.what, format, args...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("%d bytes left, need %d", len(r.b), n)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if p := r.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// pad reads n reserved bytes, which must be zero.
func (r *reader) pad(n int) {
	for _, c := range r.take(n) {
		if c != 0 {
			r.fail("reserved byte %#x is not zero", c)
			return
		}
	}
}

func (r *reader) name() []byte {
	n := int(r.u16())
	return r.take(n)
}

// rest returns the remaining bytes, possibly none.
func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	p := r.b
	r.b = nil
	return p
}

// count reads a u32 count of items of size bytes each and checks that
// they fit in what is left, so that a bogus count cannot make the decoder
// allocate.
func (r *reader) count(size int) int {
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if uint64(n)*uint64(size) > uint64(len(r.b)) {
		r.fail("count %d needs %d bytes, %d left", n, uint64(n)*uint64(size), len(r.b))
		return 0
	}
	return int(n)
}

// end checks that everything was consumed.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

// AppendJoinRequest appends the payload of ReqJoin.
func AppendJoinRequest(dst []byte, m JoinRequest) []byte {
	dst = appendU32(dst, m.PID)
	return appendName(dst, m.Group)
}

// DecodeJoinRequest decodes the payload of ReqJoin.
func DecodeJoinRequest(b []byte) (JoinRequest, error) {
	r := reader{b: b, what: "join request"}
	m := JoinRequest{PID: r.u32(), Group: r.name()}
	return m, r.end()
}

// AppendLeaveRequest appends the payload of ReqLeave.
func AppendLeaveRequest(dst []byte, m LeaveRequest) []byte {
	return appendName(dst, m.Group)
}

// DecodeLeaveRequest decodes the payload of ReqLeave.
func DecodeLeaveRequest(b []byte) (LeaveRequest, error) {
	r := reader{b: b, what: "leave request"}
	m := LeaveRequest{Group: r.name()}
	return m, r.end()
}

// AppendMcastRequestHeader appends the part of a ReqMcast payload that
// precedes the data, for clients that send the data as a separate buffer.
func AppendMcastRequestHeader(dst []byte, g totem.Guarantee, group []byte) []byte {
	dst = append(dst, byte(g), 0)
	return appendName(dst, group)
}

// AppendMcastRequest appends the payload of ReqMcast.
func AppendMcastRequest(dst []byte, m McastRequest) []byte {
	dst = AppendMcastRequestHeader(dst, m.Guarantee, m.Group)
	return append(dst, m.Data...)
}

// DecodeMcastRequest decodes the payload of ReqMcast. It does not
// allocate.
func DecodeMcastRequest(b []byte) (McastRequest, error) {
	r := reader{b: b, what: "mcast request"}
	m := McastRequest{Guarantee: totem.Guarantee(r.u8())}
	r.pad(1)
	m.Group = r.name()
	m.Data = r.rest()
	return m, r.err
}

// AppendMembershipRequest appends the payload of ReqMembership.
func AppendMembershipRequest(dst []byte, m MembershipRequest) []byte {
	return appendName(dst, m.Group)
}

// DecodeMembershipRequest decodes the payload of ReqMembership.
func DecodeMembershipRequest(b []byte) (MembershipRequest, error) {
	r := reader{b: b, what: "membership request"}
	m := MembershipRequest{Group: r.name()}
	return m, r.end()
}

// AppendMembershipReply appends the reply to ReqMembership.
func AppendMembershipReply(dst []byte, members []Member) []byte {
	dst = appendU32(dst, uint32(len(members)))
	for _, m := range members {
		dst = appendU32(dst, m.NodeID)
		dst = appendU32(dst, m.PID)
	}
	return dst
}

// DecodeMembershipReply decodes the reply to ReqMembership.
func DecodeMembershipReply(b []byte) ([]Member, error) {
	r := reader{b: b, what: "membership reply"}
	n := r.count(8)
	var out []Member
	if n > 0 {
		out = make([]Member, n)
	}
	for i := range out {
		out[i] = Member{NodeID: r.u32(), PID: r.u32()}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return out, nil
}

// AppendLocalGetReply appends the reply to ReqLocalGet.
func AppendLocalGetReply(dst []byte, nodeID uint32) []byte { return appendU32(dst, nodeID) }

// DecodeLocalGetReply decodes the reply to ReqLocalGet.
func DecodeLocalGetReply(b []byte) (uint32, error) {
	r := reader{b: b, what: "local get reply"}
	v := r.u32()
	return v, r.end()
}

// AppendIterateRequest appends the payload of ReqIterate.
func AppendIterateRequest(dst []byte, m IterateRequest) []byte {
	dst = append(dst, byte(m.Mode))
	return appendName(dst, m.Group)
}

// DecodeIterateRequest decodes the payload of ReqIterate.
func DecodeIterateRequest(b []byte) (IterateRequest, error) {
	r := reader{b: b, what: "iterate request"}
	m := IterateRequest{Mode: IterMode(r.u8()), Group: r.name()}
	return m, r.end()
}

// AppendIterateReply appends the reply to ReqIterate.
func AppendIterateReply(dst []byte, entries []IterEntry) []byte {
	dst = appendU32(dst, uint32(len(entries)))
	for _, e := range entries {
		dst = appendName(dst, e.Group)
		dst = appendU32(dst, e.NodeID)
		dst = appendU32(dst, e.PID)
	}
	return dst
}

// DecodeIterateReply decodes the reply to ReqIterate.
func DecodeIterateReply(b []byte) ([]IterEntry, error) {
	r := reader{b: b, what: "iterate reply"}
	n := r.count(2 + 8)
	var out []IterEntry
	if n > 0 {
		out = make([]IterEntry, n)
	}
	for i := range out {
		out[i] = IterEntry{Group: r.name(), NodeID: r.u32(), PID: r.u32()}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return out, nil
}

// AppendTrackTotemRequest appends the payload of ReqTrackTotem.
func AppendTrackTotemRequest(dst []byte, m TrackTotemRequest) []byte {
	var f byte
	if m.On {
		f |= trackOn
	}
	if m.Initial {
		f |= trackInitial
	}
	return append(dst, f)
}

// DecodeTrackTotemRequest decodes the payload of ReqTrackTotem. Unknown
// flag bits are refused.
func DecodeTrackTotemRequest(b []byte) (TrackTotemRequest, error) {
	r := reader{b: b, what: "track totem request"}
	f := r.u8()
	if f&^(trackOn|trackInitial) != 0 {
		r.fail("unknown flags %#x", f)
	}
	m := TrackTotemRequest{On: f&trackOn != 0, Initial: f&trackInitial != 0}
	return m, r.end()
}

// AppendFlowStateReply appends the reply to ReqFlowState.
func AppendFlowStateReply(dst []byte, on bool) []byte { return append(dst, b2u8(on)) }

// DecodeFlowStateReply decodes the reply to ReqFlowState.
func DecodeFlowStateReply(b []byte) (bool, error) {
	r := reader{b: b, what: "flow state reply"}
	v := r.u8()
	if v > 1 {
		r.fail("state %d", v)
	}
	return v == 1, r.end()
}

// AppendMaxAtomicReply appends the reply to ReqMaxAtomic.
func AppendMaxAtomicReply(dst []byte, size uint32) []byte { return appendU32(dst, size) }

// DecodeMaxAtomicReply decodes the reply to ReqMaxAtomic.
func DecodeMaxAtomicReply(b []byte) (uint32, error) {
	r := reader{b: b, what: "max atomic reply"}
	v := r.u32()
	return v, r.end()
}

// AppendDeliverHeader appends the part of an EvDeliver payload that
// precedes the data: the engine sends it as the event's hdr and the data
// as its body.
func AppendDeliverHeader(dst []byte, nodeID, pid uint32, g totem.Guarantee, group []byte) []byte {
	dst = appendU32(dst, nodeID)
	dst = appendU32(dst, pid)
	dst = append(dst, byte(g), 0)
	return appendName(dst, group)
}

// AppendDeliverEvent appends the payload of EvDeliver.
func AppendDeliverEvent(dst []byte, m DeliverEvent) []byte {
	dst = AppendDeliverHeader(dst, m.NodeID, m.PID, m.Guarantee, m.Group)
	return append(dst, m.Data...)
}

// DecodeDeliverEvent decodes the payload of EvDeliver. It does not
// allocate.
func DecodeDeliverEvent(b []byte) (DeliverEvent, error) {
	r := reader{b: b, what: "deliver event"}
	m := DeliverEvent{NodeID: r.u32(), PID: r.u32(), Guarantee: totem.Guarantee(r.u8())}
	r.pad(1)
	m.Group = r.name()
	m.Data = r.rest()
	return m, r.err
}

func appendAddrs(dst []byte, list []Address) []byte {
	for _, a := range list {
		dst = appendU32(dst, a.NodeID)
		dst = appendU32(dst, a.PID)
		dst = appendU32(dst, uint32(a.Reason))
	}
	return dst
}

// AppendConfChgEvent appends the payload of EvConfChg.
func AppendConfChgEvent(dst []byte, m ConfChgEvent) []byte {
	dst = appendName(dst, m.Group)
	dst = appendU32(dst, uint32(len(m.Members)))
	dst = appendU32(dst, uint32(len(m.Left)))
	dst = appendU32(dst, uint32(len(m.Joined)))
	dst = appendAddrs(dst, m.Members)
	dst = appendAddrs(dst, m.Left)
	return appendAddrs(dst, m.Joined)
}

// DecodeConfChgEvent decodes the payload of EvConfChg.
func DecodeConfChgEvent(b []byte) (ConfChgEvent, error) {
	r := reader{b: b, what: "confchg event"}
	m := ConfChgEvent{Group: r.name()}
	nm, nl, nj := uint64(r.u32()), uint64(r.u32()), uint64(r.u32())
	if r.err == nil && (nm+nl+nj)*12 != uint64(len(r.b)) {
		r.fail("%d+%d+%d addresses, %d bytes left", nm, nl, nj, len(r.b))
	}
	if r.err != nil {
		return ConfChgEvent{}, r.err
	}
	read := func(n uint64) []Address {
		if n == 0 {
			return nil
		}
		out := make([]Address, n)
		for i := range out {
			out[i] = Address{NodeID: r.u32(), PID: r.u32(), Reason: Reason(r.u32())}
		}
		return out
	}
	m.Members, m.Left, m.Joined = read(nm), read(nl), read(nj)
	return m, r.end()
}

// AppendTotemConfChgEvent appends the payload of EvTotemConfChg.
func AppendTotemConfChgEvent(dst []byte, m TotemConfChgEvent) []byte {
	dst = appendU32(dst, m.Ring.Rep)
	dst = binary.LittleEndian.AppendUint64(dst, m.Ring.Seq)
	dst = appendU32(dst, uint32(len(m.Members)))
	for _, n := range m.Members {
		dst = appendU32(dst, n)
	}
	return dst
}

// DecodeTotemConfChgEvent decodes the payload of EvTotemConfChg.
func DecodeTotemConfChgEvent(b []byte) (TotemConfChgEvent, error) {
	r := reader{b: b, what: "totem confchg event"}
	m := TotemConfChgEvent{Ring: totem.RingID{Rep: r.u32(), Seq: r.u64()}}
	n := r.count(4)
	if n > 0 {
		m.Members = make([]uint32, n)
	}
	for i := range m.Members {
		m.Members[i] = r.u32()
	}
	if err := r.end(); err != nil {
		return TotemConfChgEvent{}, err
	}
	return m, nil
}

// AppendFlowControlEvent appends the payload of EvFlowControl.
func AppendFlowControlEvent(dst []byte, on bool) []byte { return append(dst, b2u8(on)) }

// DecodeFlowControlEvent decodes the payload of EvFlowControl.
func DecodeFlowControlEvent(b []byte) (bool, error) {
	r := reader{b: b, what: "flow control event"}
	v := r.u8()
	if v > 1 {
		r.fail("state %d", v)
	}
	return v == 1, r.end()
}

// AppendErrorEvent appends the payload of EvError.
func AppendErrorEvent(dst []byte, m ErrorEvent) []byte {
	dst = appendU16(dst, m.Fn)
	dst = appendU16(dst, 0)
	return appendU32(dst, uint32(m.Status))
}

// DecodeErrorEvent decodes the payload of EvError.
func DecodeErrorEvent(b []byte) (ErrorEvent, error) {
	r := reader{b: b, what: "error event"}
	m := ErrorEvent{Fn: r.u16()}
	r.pad(2)
	m.Status = service.Status(r.u32())
	return m, r.end()
}

func b2u8(v bool) byte {
	if v {
		return 1
	}
	return 0
}
