package wire

import "fmt"

// Magic is the Totem SRP magic number, 0xC070 in the sender's byte order.
const Magic uint16 = 0xC070

// Version is the only Totem SRP protocol version corosync 3.1 accepts.
const Version uint8 = 3

// MessageType is the type byte of the common header. The numbering is
// corosync's and is append-only.
type MessageType uint8

// Totem SRP message types (corosync-wire.md §2.2).
const (
	TypeOrfToken        MessageType = 0
	TypeMcast           MessageType = 1
	TypeMergeDetect     MessageType = 2
	TypeMembJoin        MessageType = 3
	TypeCommitToken     MessageType = 4
	TypeTokenHoldCancel MessageType = 5
)

// String returns corosync's name for the type.
func (t MessageType) String() string {
	switch t {
	case TypeOrfToken:
		return "ORF_TOKEN"
	case TypeMcast:
		return "MCAST"
	case TypeMergeDetect:
		return "MEMB_MERGE_DETECT"
	case TypeMembJoin:
		return "MEMB_JOIN"
	case TypeCommitToken:
		return "MEMB_COMMIT_TOKEN"
	case TypeTokenHoldCancel:
		return "TOKEN_HOLD_CANCEL"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Encapsulation values of the MCAST header (corosync-wire.md §2.5).
const (
	// EncapsulatedNone marks a message of the 3.1 wire layer that is not an MCAST.
	EncapsulatedNone uint8 = 0
	// Encapsulated marks a recovery wrapper carrying an old-ring MCAST.
	Encapsulated uint8 = 1
	// NotEncapsulated marks a normal MCAST.
	NotEncapsulated uint8 = 2
)

// Sizes of the fixed parts of every message, in bytes.
const (
	HeaderSize          = 13
	OrfTokenSize        = 57 // plus 16 per retransmit-list entry
	RtrItemSize         = 16
	McastHeaderSize     = 45
	MembJoinSize        = 33 // plus 4 per proc and failed entry
	CommitTokenSize     = 41 // plus 28 per member
	CommitMembSize      = 24
	MergeDetectSize     = 29
	TokenHoldCancelSize = 25
	RingIDSize          = 12
)

// Limits corosync 3.1 applies.
const (
	// MaxRtrEntries is RETRANSMIT_ENTRIES_MAX: a token carries at most this many requests.
	MaxRtrEntries = 30
	// MaxProcessors is PROCESSOR_COUNT_MAX: no list on the wire is longer.
	MaxProcessors = 384
)

// RingID identifies a ring: the representative that formed it and a sequence
// number that grows by 4 with every new ring. Corosync compares ring ids with
// memcmp, so both fields must match.
type RingID struct {
	Rep uint32
	Seq uint64
}

// String formats the ring id as corosync logs it, "%x.%x".
func (r RingID) String() string { return fmt.Sprintf("%x.%x", r.Rep, r.Seq) }

// Header is the 13-byte common header of every Totem SRP message.
type Header struct {
	// Type is the message type.
	Type MessageType
	// Encapsulated is 2 (normal) or 1 (recovery wrapper) for MCAST, 0 otherwise.
	Encapsulated uint8
	// NodeID is the sender; for MCAST the originator; 0 in a leave message.
	NodeID uint32
	// TargetNodeID is used only by knet; receivers ignore it and we send 0.
	TargetNodeID uint32
	// Swapped reports that the message arrived in the other byte order. It is
	// set by decoding and never encoded: we always send little-endian.
	Swapped bool
}

// RtrItem is one retransmission request on the ORF token.
type RtrItem struct {
	RingID RingID
	Seq    uint32
}

// OrfToken is the ordering token (type 0).
type OrfToken struct {
	Header
	Seq        uint32
	TokenSeq   uint32
	Aru        uint32
	AruAddr    uint32
	RingID     RingID
	Backlog    uint32
	FCC        uint32
	RetransFlg uint32
	// RtrList holds at most MaxRtrEntries requests. Decoding reuses its capacity.
	RtrList []RtrItem
}

// McastHeader is the 45-byte header of an MCAST (type 1); the payload follows it.
type McastHeader struct {
	Header
	SystemFrom uint32
	Seq        uint32
	ThisSeqno  uint32
	RingID     RingID
	NodeIDPad  uint32 // always 0 on the wire ("node_id", unused)
	Guarantee  uint32 // 0 agreed, 1 safe; corosync ignores it on receive
}

// MembJoin is a join message (type 3). A leave message is a join whose
// Header.NodeID is 0.
type MembJoin struct {
	Header
	SystemFrom uint32
	RingSeq    uint64
	// ProcList and FailedList are sets of nodeids. Decoding reuses their capacity.
	ProcList   []uint32
	FailedList []uint32
}

// CommitMemb is one member's entry in the commit token.
type CommitMemb struct {
	RingID        RingID // the member's old ring id
	Aru           uint32
	HighDelivered uint32
	ReceivedFlg   uint32
}

// CommitToken is the membership commit token (type 4).
type CommitToken struct {
	Header
	TokenSeq   uint32
	RingID     RingID // the new ring
	RetransFlg uint32
	MembIndex  uint32
	// Addr is the new members, ascending: the ring order.
	Addr []uint32
	// MembList has one entry per Addr entry. Decoding reuses its capacity.
	MembList []CommitMemb
}

// MergeDetect is sent by an idle representative (type 2).
type MergeDetect struct {
	Header
	SystemFrom uint32
	RingID     RingID
}

// TokenHoldCancel asks the representative to release a held token (type 5).
type TokenHoldCancel struct {
	Header
	RingID RingID
}
