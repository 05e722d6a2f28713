package cpg

import (
	"fmt"

	"github.com/corogo/corogo/internal/service"
	proto "github.com/corogo/corogo/internal/service/cpg"
)

// Guarantee is the delivery guarantee of a message.
type Guarantee uint8

// Delivery guarantees (CPG_TYPE_AGREED and CPG_TYPE_SAFE; corosync treats
// FIFO and CAUSAL as AGREED, so they are not offered).
const (
	// Agreed delivers a message in the ring's total order as soon as this
	// node has it and everything before it.
	Agreed Guarantee = 0
	// Safe delivers a message in the same order, but only once every
	// member of the ring is known to hold it.
	Safe Guarantee = 1
)

// String names the guarantee.
func (g Guarantee) String() string {
	switch g {
	case Agreed:
		return "agreed"
	case Safe:
		return "safe"
	}
	return fmt.Sprintf("guarantee(%d)", uint8(g))
}

// Reason tells why a process appears in a ConfChange list
// (cpg_address.reason, CPG_REASON_*). It is the CPG service's own type, so
// the numbering and names are defined once.
type Reason = proto.Reason

// Reasons, numbered as libcpg numbers them.
const (
	// ReasonUndefined is the reason of the entries of ConfChange.Members
	// and of Membership.
	ReasonUndefined = proto.ReasonUndefined
	// ReasonJoin: the process joined the group.
	ReasonJoin = proto.ReasonJoin
	// ReasonLeave: the process left the group.
	ReasonLeave = proto.ReasonLeave
	// ReasonNodeDown: the process's node left the ring.
	ReasonNodeDown = proto.ReasonNodeDown
	// ReasonNodeUp: the process's node (re)joined the ring with the
	// process already in the group.
	ReasonNodeUp = proto.ReasonNodeUp
	// ReasonProcDown: the process's connection to its daemon ended
	// without a leave.
	ReasonProcDown = proto.ReasonProcDown
)

// Address is a process in a group: its node, its pid, and in a ConfChange
// list why it is listed (cpg_address).
type Address struct {
	NodeID uint32
	PID    uint32
	Reason Reason
}

// String formats the address as "node/pid", followed by ":reason" when
// the reason is set.
func (a Address) String() string {
	if a.Reason == ReasonUndefined {
		return fmt.Sprintf("%d/%d", a.NodeID, a.PID)
	}
	return fmt.Sprintf("%d/%d:%v", a.NodeID, a.PID, a.Reason)
}

// RingID identifies a Totem ring: its representative node and its
// sequence number.
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// String formats the ring id as corosync logs it ("%x.%x").
func (r RingID) String() string { return fmt.Sprintf("%x.%x", r.NodeID, r.Seq) }

// Group is one process group and its members, as Groups lists them.
type Group struct {
	Name string
	// Members are ascending by (NodeID, PID), with ReasonUndefined.
	Members []Address
}

// Event is something the daemon tells a client: *Message, *ConfChange,
// *TotemConfChange, *FlowControl or *SendError.
type Event interface {
	isEvent()
}

// Message is a message delivered in a group this client joined, the
// client's own messages included, in the ring's total order.
type Message struct {
	Group string
	// NodeID and PID are the sending process.
	NodeID, PID uint32
	// Guarantee is the guarantee the sender asked for.
	Guarantee Guarantee
	// Data is the message. It belongs to the receiver: the client never
	// reuses it.
	Data []byte
}

// ConfChange is a change of a joined group's membership (libcpg's
// cpg_confchg_fn): Members is the membership after the change, Left and
// Joined the processes that left and joined, each with its reason. A
// client gets it for every change from its own join on, up to and
// including its own leave.
type ConfChange struct {
	Group                 string
	Members, Left, Joined []Address
}

// TotemConfChange reports a new ring (libcpg's cpg_totem_confchg_fn),
// once the daemon has synchronised it. Only clients dialled
// WithTotemEvents get it.
type TotemConfChange struct {
	RingID RingID
	// Members are the ring's node ids, ascending.
	Members []uint32
}

// FlowControl reports that the daemon started (On) or stopped holding
// this client's messages because the ring's send queue is full. While it
// is on, Mcast waits and TryMcast returns ErrTryAgain.
type FlowControl struct {
	On bool
}

// SendError reports that the daemon refused a message sent with Mcast or
// TryMcast, which get no reply: Err is a *StatusError with Op "mcast"
// (for example ErrTooBig or ErrNotJoined).
type SendError struct {
	Err error
}

func (*Message) isEvent()         {}
func (*ConfChange) isEvent()      {}
func (*TotemConfChange) isEvent() {}
func (*FlowControl) isEvent()     {}
func (*SendError) isEvent()       {}

// Status is a daemon's answer to a request, numbered as corosync's
// cs_error_t so that tools print the same codes.
type Status uint32

// String names the status.
func (s Status) String() string { return service.Status(s).String() }
