package totemtest

import (
	"github.com/corogo/corogo/totem"
)

// Kind tells what a Record reports.
type Kind uint8

// Record kinds. Node and Inc name the node incarnation concerned (Inc counts
// from 1 and grows with every restart).
const (
	// KindStart: a node incarnation started; RingSeq and Valid are the
	// persisted state it was built from.
	KindStart Kind = iota + 1
	// KindCrash: the node vanished.
	KindCrash
	// KindPause: the node stopped running (frames to it queue up).
	KindPause
	// KindResume: the node runs again; Ticks is the number of ticks it
	// catches up and Size the number of queued frames it then processes.
	KindResume
	// KindLeave: the node left cleanly and stopped.
	KindLeave
	// KindPartition: Groups are the new connected groups (Node is 0).
	KindPartition
	// KindHeal: the partition was removed (Node is 0).
	KindHeal
	// KindSend: Node handed a frame (Frame, Size) to the network for Peer
	// (totem.Broadcast for every node).
	KindSend
	// KindRecv: the network handed Node a frame from Peer.
	KindRecv
	// KindDrop: a frame from Peer to Node was lost (Drop says why).
	KindDrop
	// KindDup: the network duplicated a frame from Peer to Node.
	KindDup
	// KindStepError: Node.Step rejected a frame from Peer (Err).
	KindStepError
	// KindPersist: Node asked for RingSeq to be persisted.
	KindPersist
	// KindReceipt: Node stored the SRP message Ref.
	KindReceipt
	// KindDeliver: Node delivered Event (an EventDeliver).
	KindDeliver
	// KindConfChange: Node delivered Event (an EventConfChange).
	KindConfChange
	// KindNotice: Node reported Notice.
	KindNotice
	// KindAppSend: the application on Node sent Data with Guarantee; Err
	// is the result of Node.Send.
	KindAppSend
	// KindNote: free text from the driver of the cluster (Text).
	KindNote
)

// String returns the kind's name as traces print it.
func (k Kind) String() string {
	switch k {
	case KindStart:
		return "start"
	case KindCrash:
		return "crash"
	case KindPause:
		return "pause"
	case KindResume:
		return "resume"
	case KindLeave:
		return "leave"
	case KindPartition:
		return "partition"
	case KindHeal:
		return "heal"
	case KindSend:
		return "send"
	case KindRecv:
		return "recv"
	case KindDrop:
		return "drop"
	case KindDup:
		return "dup"
	case KindStepError:
		return "steperr"
	case KindPersist:
		return "persist"
	case KindReceipt:
		return "receipt"
	case KindDeliver:
		return "deliver"
	case KindConfChange:
		return "confchg"
	case KindNotice:
		return "notice"
	case KindAppSend:
		return "appsend"
	case KindNote:
		return "note"
	}
	return "kind?"
}

// DropReason says why a frame was lost.
type DropReason uint8

// Drop reasons.
const (
	// DropLoss: random loss on the link.
	DropLoss DropReason = iota + 1
	// DropPartition: sender and receiver are in different groups (at send
	// time or at arrival).
	DropPartition
	// DropFilter: a one-shot drop filter matched.
	DropFilter
	// DropDown: the receiver was not running (crashed, left, not started).
	DropDown
	// DropQueueFull: the receiver was paused and its queue was full.
	DropQueueFull
)

// String returns the reason's name.
func (r DropReason) String() string {
	switch r {
	case DropLoss:
		return "loss"
	case DropPartition:
		return "partition"
	case DropFilter:
		return "filter"
	case DropDown:
		return "down"
	case DropQueueFull:
		return "queue-full"
	}
	return "none"
}

// Record is one thing the cluster did. Only the fields its Kind names are
// set. A Record, and everything it references (Event, Notice, Data,
// Groups), is valid only during the Observe call: observers copy what they
// keep.
type Record struct {
	// Time is the tick at which it happened.
	Time int64
	// Kind says what happened and which fields are set.
	Kind Kind
	// Node and Inc name the node incarnation concerned (the receiver of a
	// frame, the sender of an application message).
	Node totem.NodeID
	Inc  int
	// Peer is the other end of a frame: its sender on receipt, drop and
	// duplication; its destination (or totem.Broadcast) on send.
	Peer totem.NodeID
	// Frame describes the datagram of a frame record.
	Frame FrameInfo
	// Size is the datagram's or message's length in bytes (for KindResume,
	// the number of queued datagrams).
	Size int
	// Drop says why a frame was lost (KindDrop).
	Drop DropReason
	// Err is Node.Step's error (KindStepError) or Node.Send's (KindAppSend).
	Err error
	// Event is set for KindDeliver and KindConfChange.
	Event *totem.Event
	// Notice is set for KindNotice.
	Notice *totem.Notice
	// Ref is set for KindReceipt.
	Ref totem.MsgRef
	// Data and Guarantee are set for KindAppSend.
	Data      []byte
	Guarantee totem.Guarantee
	// RingSeq and Valid: KindStart and KindPersist.
	RingSeq uint64
	Valid   bool
	// Ticks is set for KindResume.
	Ticks int64
	// Groups is set for KindPartition.
	Groups [][]totem.NodeID
	// Text is set for KindNote.
	Text string
}

// Observer receives every Record of a cluster, in order. It is called from
// the goroutine driving the cluster and must not call back into it.
type Observer interface {
	Observe(r *Record)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(r *Record)

// Observe calls f(r).
func (f ObserverFunc) Observe(r *Record) { f(r) }
