package totem

import (
	"errors"
	"fmt"

	"github.com/corogo/corogo/totem/wire"
)

// NodeID is a node's 32-bit identity, the only identity on the wire.
type NodeID = uint32

// RingID identifies a ring; see wire.RingID.
type RingID = wire.RingID

// Broadcast is the Frame.To value of a "multicast": the runtime sends the frame
// to every configured node, this one included (corosync's udpu fan-out).
const Broadcast NodeID = 0

// Guarantee is the delivery guarantee an application asks for a message.
type Guarantee uint8

const (
	// Agreed delivers a message in the agreed total order as soon as every
	// message before it has been delivered.
	Agreed Guarantee = 0
	// Safe additionally waits until every member of the configuration holds
	// the message. Corosync 3.1 ignores the flag on receive and delivers such
	// a message as agreed; ours honours it.
	Safe Guarantee = 1
)

// State is the SRP state, numbered as corosync numbers it.
type State uint8

// SRP states.
const (
	StateOperational State = 1
	StateGather      State = 2
	StateCommit      State = 3
	StateRecovery    State = 4
	// StateStopped is ours: before Start and after Leave.
	StateStopped State = 0
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateOperational:
		return "OPERATIONAL"
	case StateGather:
		return "GATHER"
	case StateCommit:
		return "COMMIT"
	case StateRecovery:
		return "RECOVERY"
	case StateStopped:
		return "STOPPED"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Errors returned by Node methods.
var (
	// ErrTryAgain means the send queue is full; retry after some deliveries.
	ErrTryAgain = errors.New("totem: send queue full, try again")
	// ErrMessageTooBig means the message exceeds Config.MaxMessageSize.
	ErrMessageTooBig = errors.New("totem: message too big")
	// ErrStopped means the node has not been started or has left.
	ErrStopped = errors.New("totem: node stopped")
)

// Frame is a datagram the runtime must send.
type Frame struct {
	// To is the destination node, or Broadcast for every configured node
	// (this one included).
	To NodeID
	// Token reports a unicast token (ORF or commit); corosync sends these
	// from the token socket.
	Token bool
	// Data is the datagram. It is valid until Advance.
	Data []byte
}

// EventType tells what an Event carries.
type EventType uint8

const (
	// EventDeliver is an application message in agreed (or safe) order.
	EventDeliver EventType = iota + 1
	// EventConfChange is a transitional or regular configuration.
	EventConfChange
)

// ConfChange is a configuration installed by the node. A membership change
// delivers a transitional configuration (the members that came along from
// the previous ring) and then the regular one (the new ring).
type ConfChange struct {
	// Transitional is true for the transitional configuration.
	Transitional bool
	// RingID is the new ring's id (for the transitional one as well).
	RingID RingID
	// Members, ascending.
	Members []NodeID
	// Joined are the members new to this configuration (regular only).
	Joined []NodeID
	// Left are the members of the previous configuration that are gone.
	Left []NodeID
}

// Event is a delivery or a configuration change, in the order the
// application must see them.
type Event struct {
	Type EventType
	// Delivery fields (EventDeliver).
	From      NodeID
	Guarantee Guarantee
	// Swapped reports that the sender used the other byte order: the
	// group header and service messages in Data are in that order.
	Swapped bool
	// Data is the application message; valid until Advance.
	Data []byte
	// MsgRing and MsgSeq name the SRP message that completed Data (its last
	// fragment): what a member must have received for Data to be safe.
	MsgRing RingID
	MsgSeq  uint32
	// Conf is set for EventConfChange.
	Conf *ConfChange
}

// MsgRef names one SRP message: the ring it was sent in and its sequence number.
type MsgRef struct {
	Ring RingID
	Seq  uint32
}

// NoticeType names something worth logging. The runtime words the log line.
type NoticeType uint8

// Notices.
const (
	// NoticeTokenLost: "A processor failed, forming new configuration: token
	// timed out (Value ms), waiting Value2 ms for consensus."
	NoticeTokenLost NoticeType = iota + 1
	// NoticeTokenWarning: "Token has not been received in Value ms".
	NoticeTokenWarning
	// NoticeFailedToReceive: "FAILED TO RECEIVE".
	NoticeFailedToReceive
	// NoticeStateChange: entering State from OldState; Value is corosync's
	// reason code.
	NoticeStateChange
	// NoticeMembership: "A new membership (Ring) was formed. Members joined:
	// Joined left: Left"; Failed lists the left members that sent no leave.
	NoticeMembership
	// NoticeConsensusTimeout: consensus timed out in GATHER.
	NoticeConsensusTimeout
)

// Notice is a protocol event for the log.
type Notice struct {
	Type     NoticeType
	State    State
	OldState State
	Ring     RingID
	Members  []NodeID
	Joined   []NodeID
	Left     []NodeID
	Failed   []NodeID
	Value    int64
	Value2   int64
}

// Ready is what the node asks its runtime to do. Everything in it is valid
// until Advance is called.
type Ready struct {
	// Frames to send, in order.
	Frames []Frame
	// Events to hand to the application, in order.
	Events []Event
	// PersistRingSeq is set when RingSeq must be written to stable storage
	// (corosync's ringid_<nodeid> file) before any frame is sent.
	PersistRingSeq bool
	RingSeq        uint64
	// Notices for the log.
	Notices []Notice
	// Receipts lists SRP messages stored by this node since the last Ready,
	// when Config.ReportReceipts is set (for invariant checkers).
	Receipts []MsgRef
}

// IsEmpty reports whether the Ready carries nothing.
func (r *Ready) IsEmpty() bool {
	return len(r.Frames) == 0 && len(r.Events) == 0 && !r.PersistRingSeq &&
		len(r.Notices) == 0 && len(r.Receipts) == 0
}

// PersistentState is what survives a restart: the ring sequence number that
// corosync keeps in <state_dir>/ringid_<nodeid>.
type PersistentState struct {
	// RingSeq is the stored ring seq; Valid is false when no file existed.
	RingSeq uint64
	Valid   bool
}

// Status is a snapshot of the node's protocol state.
type Status struct {
	NodeID  NodeID
	State   State
	RingID  RingID
	Members []NodeID
	Aru     uint32
	HighSeq uint32
	Backlog int
	Rep     bool
	Holding bool
}
