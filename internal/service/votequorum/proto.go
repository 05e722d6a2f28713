package votequorum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/payload"
)

// Client request types (service.Request.Fn): libvotequorum's calls. The
// numbering is append-only.
const (
	// FnGetInfo asks for a node's information. Request: AppendGetInfo
	// (node id; 0 means this node). Reply: AppendInfo. ErrNotExist when
	// the node was never seen.
	FnGetInfo uint16 = 1
	// FnSetExpected changes expected votes cluster-wide. Request:
	// AppendSetExpected. ErrInvalidArg when the resulting quorum would be
	// above the votes present or below half of them (corosync's check).
	FnSetExpected uint16 = 2
	// FnSetVotes changes a node's votes cluster-wide. Request:
	// AppendSetVotes; node id 0 is the quorum device, as in corosync
	// (corosync-quorumtool -v without -n passes the local node id).
	// service.ErrNameNotFound for an unknown node (as corosync),
	// ErrInvalidArg for a value that breaks quorum.
	FnSetVotes uint16 = 3
	// FnTrackStart starts tracking. Request: AppendTrackStart. With
	// TrackCurrent or TrackChanges the current node list and quorum
	// notifications are sent at once. ErrExist when already tracking.
	FnTrackStart uint16 = 4
	// FnTrackStop stops tracking. ErrNotExist when not tracking.
	FnTrackStop uint16 = 5
	// FnQdeviceRegister registers a quorum device. Request: AppendName.
	// ErrAccess when the configuration forbids a device, ErrExist when
	// another name is registered, ErrTryAgain while another
	// registration is in progress.
	FnQdeviceRegister uint16 = 6
	// FnQdeviceUnregister unregisters the device. Request: AppendName.
	// ErrInvalidArg for another name, ErrNotExist when none is
	// registered.
	FnQdeviceUnregister uint16 = 7
	// FnQdeviceUpdate renames the device. Request: AppendNames (old,
	// new).
	FnQdeviceUpdate uint16 = 8
	// FnQdevicePoll is the device's heartbeat. Request: AppendPoll.
	// ErrMessage when the ring id is not the last synced one (the poll is
	// ignored, as corosync does).
	FnQdevicePoll uint16 = 9
	// FnQdeviceMasterWins sets master wins. Request: AppendMasterWins.
	FnQdeviceMasterWins uint16 = 10
	// FnCancelWaitForAll cancels wait_for_all on every node (corosync's
	// cmap key quorum.cancel_wait_for_all, which pcs sets). Empty
	// request.
	FnCancelWaitForAll uint16 = 11
)

// Event kinds (service.Conn.Event). The numbering is append-only.
const (
	// EventQuorum is the quorum notification (votequorum_quorum_notify_fn):
	// QuorumEvent.
	EventQuorum uint16 = 1
	// EventNodeList is the node list notification
	// (votequorum_nodelist_notify_fn): NodeListEvent.
	EventNodeList uint16 = 2
	// EventExpectedVotes is the expected votes notification
	// (votequorum_expectedvotes_notify_fn): ExpectedVotesEvent.
	EventExpectedVotes uint16 = 3
)

// ErrMessage is CS_ERR_MESSAGE_ERROR (a qdevice poll for a ring that is
// not the last synced one).
const ErrMessage service.Status = 22

// NodeState is a node's state as votequorum keeps it.
type NodeState uint32

// Node states (VOTEQUORUM_NODESTATE_*).
const (
	StateMember  NodeState = 1
	StateDead    NodeState = 2
	StateLeaving NodeState = 3
)

// String names the state as corosync does.
func (s NodeState) String() string {
	switch s {
	case StateMember:
		return "Member"
	case StateDead:
		return "Dead"
	case StateLeaving:
		return "Leaving"
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// InfoFlags are the flags of Info (VOTEQUORUM_INFO_*).
type InfoFlags uint32

// Info flags.
const (
	InfoTwoNode           InfoFlags = 1
	InfoQuorate           InfoFlags = 2
	InfoWaitForAll        InfoFlags = 4
	InfoLastManStanding   InfoFlags = 8
	InfoAutoTieBreaker    InfoFlags = 16
	InfoAllowDownscale    InfoFlags = 32
	InfoQdeviceRegistered InfoFlags = 64
	InfoQdeviceAlive      InfoFlags = 128
	InfoQdeviceCastVote   InfoFlags = 256
	InfoQdeviceMasterWins InfoFlags = 512
)

// TrackFlags are corosync's CS_TRACK_* bits.
type TrackFlags uint32

// Tracking flags.
const (
	TrackCurrent     TrackFlags = 1
	TrackChanges     TrackFlags = 2
	TrackChangesOnly TrackFlags = 4
	trackAll                    = TrackCurrent | TrackChanges | TrackChangesOnly
)

// MaxNameLen is the longest quorum device name (VOTEQUORUM_QDEVICE_MAX_NAME_LEN
// less its terminating NUL).
const MaxNameLen = 254

// Info is the FnGetInfo reply (struct votequorum_info).
type Info struct {
	NodeID          uint32
	State           NodeState
	Votes           uint32
	ExpectedVotes   uint32
	HighestExpected uint32
	TotalVotes      uint32
	Quorum          uint32
	Flags           InfoFlags
	QdeviceVotes    uint32
	QdeviceName     string
}

// NodeStatus is one entry of a quorum notification.
type NodeStatus struct {
	NodeID uint32
	State  NodeState
}

// QuorumEvent is the EventQuorum payload: every node votequorum knows,
// with its state, and the quorum device (node id 0) when registered.
type QuorumEvent struct {
	Quorate bool
	Context uint64
	Nodes   []NodeStatus
}

// NodeListEvent is the EventNodeList payload: the ring's members as of
// the last sync.
type NodeListEvent struct {
	Context uint64
	Ring    service.RingID
	Members []uint32
}

// ExpectedVotesEvent is the EventExpectedVotes payload.
type ExpectedVotesEvent struct {
	Context       uint64
	ExpectedVotes uint32
}

// Poll is the FnQdevicePoll request.
type Poll struct {
	Name     string
	CastVote bool
	Ring     service.RingID
}

// Decoding errors; decoders wrap them. Test with errors.Is.
var (
	// ErrShort means the payload ends before a field.
	ErrShort = errors.New("votequorum: payload too short")
	// ErrBadValue means a field holds a value the protocol does not allow.
	ErrBadValue = errors.New("votequorum: bad field value")
)

// Payload layouts, all little-endian. A decoder accepts a longer payload
// and ignores the extra bytes, so a later version may append fields.
//
//	getinfo      nodeid u32
//	setexpected  expected u32
//	setvotes     nodeid u32 | votes u32
//	trackstart   flags u32 | context u64
//	name         len u16 | bytes (1..254, no NUL)
//	names        name | name
//	poll         name | cast_vote u8 | ring nodeid u32 | ring seq u64
//	masterwins   name | allow u8
//	info         nodeid, state, votes, expected, highest, total, quorum,
//	             flags, qdevice_votes: 9 × u32 | qdevice name (len u16 | bytes, may be empty)
//	quorum ev    quorate u8 | context u64 | n u32 | n × (nodeid u32 | state u32)
//	nodelist ev  context u64 | ring nodeid u32 | ring seq u64 | n u32 | n × nodeid u32
//	expected ev  context u64 | expected u32

// AppendGetInfo appends the FnGetInfo request.
func AppendGetInfo(dst []byte, nodeID uint32) []byte {
	return binary.LittleEndian.AppendUint32(dst, nodeID)
}

// DecodeGetInfo decodes the FnGetInfo request.
func DecodeGetInfo(b []byte) (uint32, error) {
	r := newReader(b)
	id := r.u32("nodeid")
	return id, r.err("getinfo")
}

// AppendSetExpected appends the FnSetExpected request.
func AppendSetExpected(dst []byte, expected uint32) []byte {
	return binary.LittleEndian.AppendUint32(dst, expected)
}

// DecodeSetExpected decodes the FnSetExpected request.
func DecodeSetExpected(b []byte) (uint32, error) {
	r := newReader(b)
	v := r.u32("expected votes")
	return v, r.err("setexpected")
}

// AppendSetVotes appends the FnSetVotes request.
func AppendSetVotes(dst []byte, nodeID, votes uint32) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, nodeID)
	return binary.LittleEndian.AppendUint32(dst, votes)
}

// DecodeSetVotes decodes the FnSetVotes request.
func DecodeSetVotes(b []byte) (nodeID, votes uint32, err error) {
	r := newReader(b)
	nodeID = r.u32("nodeid")
	votes = r.u32("votes")
	return nodeID, votes, r.err("setvotes")
}

// AppendTrackStart appends the FnTrackStart request.
func AppendTrackStart(dst []byte, f TrackFlags, context uint64) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(f))
	return binary.LittleEndian.AppendUint64(dst, context)
}

// DecodeTrackStart decodes the FnTrackStart request. Bits other than the
// three CS_TRACK_* flags are refused.
func DecodeTrackStart(b []byte) (TrackFlags, uint64, error) {
	r := newReader(b)
	f := TrackFlags(r.u32("flags"))
	ctx := r.u64("context")
	if err := r.err("trackstart"); err != nil {
		return 0, 0, err
	}
	if f&^trackAll != 0 {
		return 0, 0, fmt.Errorf("votequorum: decode trackstart: %w: track flags %#x", ErrBadValue, uint32(f))
	}
	return f, ctx, nil
}

// AppendName appends a quorum device name (FnQdeviceRegister,
// FnQdeviceUnregister).
func AppendName(dst []byte, name string) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(name)))
	return append(dst, name...)
}

// DecodeName decodes a quorum device name request.
func DecodeName(b []byte) (string, error) {
	r := newReader(b)
	s := r.name(false)
	return s, r.err("name")
}

// AppendNames appends the FnQdeviceUpdate request.
func AppendNames(dst []byte, oldName, newName string) []byte {
	return AppendName(AppendName(dst, oldName), newName)
}

// DecodeNames decodes the FnQdeviceUpdate request.
func DecodeNames(b []byte) (oldName, newName string, err error) {
	r := newReader(b)
	oldName = r.name(false)
	newName = r.name(false)
	return oldName, newName, r.err("update")
}

// AppendPoll appends the FnQdevicePoll request.
func AppendPoll(dst []byte, p Poll) []byte {
	dst = AppendName(dst, p.Name)
	dst = append(dst, b2u(p.CastVote))
	dst = binary.LittleEndian.AppendUint32(dst, p.Ring.Rep)
	return binary.LittleEndian.AppendUint64(dst, p.Ring.Seq)
}

// DecodePoll decodes the FnQdevicePoll request.
func DecodePoll(b []byte) (Poll, error) {
	r := newReader(b)
	var p Poll
	p.Name = r.name(false)
	p.CastVote = r.bool("cast_vote")
	p.Ring.Rep = r.u32("ring nodeid")
	p.Ring.Seq = r.u64("ring seq")
	return p, r.err("poll")
}

// AppendMasterWins appends the FnQdeviceMasterWins request.
func AppendMasterWins(dst []byte, name string, allow bool) []byte {
	return append(AppendName(dst, name), b2u(allow))
}

// DecodeMasterWins decodes the FnQdeviceMasterWins request.
func DecodeMasterWins(b []byte) (name string, allow bool, err error) {
	r := newReader(b)
	name = r.name(false)
	allow = r.bool("allow")
	return name, allow, r.err("masterwins")
}

// AppendInfo appends the FnGetInfo reply.
func AppendInfo(dst []byte, in Info) []byte {
	for _, v := range [...]uint32{in.NodeID, uint32(in.State), in.Votes, in.ExpectedVotes,
		in.HighestExpected, in.TotalVotes, in.Quorum, uint32(in.Flags), in.QdeviceVotes} {
		dst = binary.LittleEndian.AppendUint32(dst, v)
	}
	return AppendName(dst, in.QdeviceName)
}

// DecodeInfo decodes the FnGetInfo reply.
func DecodeInfo(b []byte) (Info, error) {
	r := newReader(b)
	var in Info
	in.NodeID = r.u32("nodeid")
	in.State = NodeState(r.u32("state"))
	in.Votes = r.u32("votes")
	in.ExpectedVotes = r.u32("expected votes")
	in.HighestExpected = r.u32("highest expected")
	in.TotalVotes = r.u32("total votes")
	in.Quorum = r.u32("quorum")
	in.Flags = InfoFlags(r.u32("flags"))
	in.QdeviceVotes = r.u32("qdevice votes")
	in.QdeviceName = r.name(true)
	return in, r.err("info")
}

// AppendQuorumEvent appends an EventQuorum payload.
func AppendQuorumEvent(dst []byte, ev QuorumEvent) []byte {
	dst = append(dst, b2u(ev.Quorate))
	dst = binary.LittleEndian.AppendUint64(dst, ev.Context)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ev.Nodes)))
	for _, n := range ev.Nodes {
		dst = binary.LittleEndian.AppendUint32(dst, n.NodeID)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n.State))
	}
	return dst
}

// DecodeQuorumEvent decodes an EventQuorum payload.
func DecodeQuorumEvent(b []byte) (QuorumEvent, error) {
	r := newReader(b)
	var ev QuorumEvent
	ev.Quorate = r.bool("quorate")
	ev.Context = r.u64("context")
	n := r.count(8, "nodes")
	if n > 0 {
		ev.Nodes = make([]NodeStatus, n)
		for i := range ev.Nodes {
			ev.Nodes[i].NodeID = r.u32("nodeid")
			ev.Nodes[i].State = NodeState(r.u32("state"))
		}
	}
	return ev, r.err("quorum event")
}

// AppendNodeListEvent appends an EventNodeList payload.
func AppendNodeListEvent(dst []byte, ev NodeListEvent) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, ev.Context)
	dst = binary.LittleEndian.AppendUint32(dst, ev.Ring.Rep)
	dst = binary.LittleEndian.AppendUint64(dst, ev.Ring.Seq)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ev.Members)))
	for _, id := range ev.Members {
		dst = binary.LittleEndian.AppendUint32(dst, id)
	}
	return dst
}

// DecodeNodeListEvent decodes an EventNodeList payload.
func DecodeNodeListEvent(b []byte) (NodeListEvent, error) {
	r := newReader(b)
	var ev NodeListEvent
	ev.Context = r.u64("context")
	ev.Ring.Rep = r.u32("ring nodeid")
	ev.Ring.Seq = r.u64("ring seq")
	n := r.count(4, "members")
	if n > 0 {
		ev.Members = make([]uint32, n)
		for i := range ev.Members {
			ev.Members[i] = r.u32("nodeid")
		}
	}
	return ev, r.err("nodelist event")
}

// AppendExpectedVotesEvent appends an EventExpectedVotes payload.
func AppendExpectedVotesEvent(dst []byte, ev ExpectedVotesEvent) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, ev.Context)
	return binary.LittleEndian.AppendUint32(dst, ev.ExpectedVotes)
}

// DecodeExpectedVotesEvent decodes an EventExpectedVotes payload.
func DecodeExpectedVotesEvent(b []byte) (ExpectedVotesEvent, error) {
	r := newReader(b)
	var ev ExpectedVotesEvent
	ev.Context = r.u64("context")
	ev.ExpectedVotes = r.u32("expected votes")
	return ev, r.err("expected votes event")
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// reader is the votequorum protocol's payload.Reader.
type reader struct{ payload.Reader }

func newReader(b []byte) *reader { return &reader{payload.NewReader(b, ErrShort)} }

func (r *reader) u32(what string) uint32 { return r.U32(what) }
func (r *reader) u64(what string) uint64 { return r.U64(what) }

// count reads an element count and checks it against the bytes left.
func (r *reader) count(size int, what string) int { return r.Count(size, what) }

// bool reads a byte that must be 0 or 1.
func (r *reader) bool(what string) bool {
	v := r.U8(what)
	if v > 1 {
		r.Fail(fmt.Errorf("%w: %s byte %d", ErrBadValue, what, v))
	}
	return v == 1
}

// name reads a u16-length device name: 1..MaxNameLen bytes (0 allowed
// with emptyOK), no NUL.
func (r *reader) name(emptyOK bool) string {
	n := int(r.U16("name length"))
	if r.Failed() != nil {
		return ""
	}
	if n > MaxNameLen || (n == 0 && !emptyOK) {
		r.Fail(fmt.Errorf("%w: device name of %d bytes (1..%d)", ErrBadValue, n, MaxNameLen))
		return ""
	}
	b := r.Bytes(n, "name")
	if bytes.IndexByte(b, 0) >= 0 {
		r.Fail(fmt.Errorf("%w: device name holds a NUL byte", ErrBadValue))
		return ""
	}
	return string(b)
}

func (r *reader) err(what string) error { return r.Err("votequorum", what) }
