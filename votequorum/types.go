package votequorum

import (
	"fmt"
	"strings"

	svq "github.com/corogo/corogo/internal/service/votequorum"
)

// QdeviceNodeID is the node id of the quorum device in quorum
// notifications and in corosync-quorumtool's membership table
// (VOTEQUORUM_QDEVICE_NODEID).
const QdeviceNodeID uint32 = 0

// MaxQdeviceNameLen is the longest quorum device name, in bytes
// (VOTEQUORUM_QDEVICE_MAX_NAME_LEN less its terminating NUL).
const MaxQdeviceNameLen = svq.MaxNameLen

// NodeState is a node's state as votequorum keeps it
// (VOTEQUORUM_NODESTATE_*).
type NodeState uint32

// Node states.
const (
	// Member: the node is in the current ring.
	Member NodeState = 1
	// Dead: the node was seen once and is not in the current ring.
	Dead NodeState = 2
	// Leaving: the node announced that it leaves the cluster.
	Leaving NodeState = 3
)

// String names the state: "Member", "Dead" or "Leaving".
func (s NodeState) String() string { return svq.NodeState(s).String() }

// InfoFlags are the flags of Info (VOTEQUORUM_INFO_*): the votequorum
// options in force and the quorum device's state as the node sees it.
type InfoFlags uint32

// Info flags, with votequorum's bit values.
const (
	// TwoNode: two_node is set.
	TwoNode = InfoFlags(svq.InfoTwoNode)
	// Quorate: the node is quorate.
	Quorate = InfoFlags(svq.InfoQuorate)
	// WaitForAll: wait_for_all is in force (until all nodes were seen
	// once).
	WaitForAll = InfoFlags(svq.InfoWaitForAll)
	// LastManStanding: last_man_standing is set.
	LastManStanding = InfoFlags(svq.InfoLastManStanding)
	// AutoTieBreaker: auto_tie_breaker is set.
	AutoTieBreaker = InfoFlags(svq.InfoAutoTieBreaker)
	// AllowDownscale: allow_downscale is set.
	AllowDownscale = InfoFlags(svq.InfoAllowDownscale)
	// QdeviceRegistered: a quorum device is registered.
	QdeviceRegistered = InfoFlags(svq.InfoQdeviceRegistered)
	// QdeviceAlive: the node's quorum device polls in time.
	QdeviceAlive = InfoFlags(svq.InfoQdeviceAlive)
	// QdeviceCastVote: the node's quorum device casts its vote.
	QdeviceCastVote = InfoFlags(svq.InfoQdeviceCastVote)
	// QdeviceMasterWins: the quorum device's master wins mode is on.
	QdeviceMasterWins = InfoFlags(svq.InfoQdeviceMasterWins)
)

var flagNames = []struct {
	f    InfoFlags
	name string
}{
	{TwoNode, "2Node"},
	{Quorate, "Quorate"},
	{WaitForAll, "WaitForAll"},
	{LastManStanding, "LastManStanding"},
	{AutoTieBreaker, "AutoTieBreaker"},
	{AllowDownscale, "AllowDownscale"},
	{QdeviceRegistered, "Qdevice"},
	{QdeviceAlive, "QdeviceAlive"},
	{QdeviceCastVote, "QdeviceCastVote"},
	{QdeviceMasterWins, "QdeviceMasterWins"},
}

// String lists the flags set, space-separated, with
// corosync-quorumtool's names for the first seven ("2Node Quorate
// WaitForAll LastManStanding AutoTieBreaker AllowDownscale Qdevice"),
// then QdeviceAlive, QdeviceCastVote, QdeviceMasterWins and any unknown
// bits in hexadecimal.
func (f InfoFlags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(f)))
	}
	return strings.Join(parts, " ")
}

// Info is a node's votequorum information (struct votequorum_info).
type Info struct {
	// NodeID is the node's id.
	NodeID uint32
	// State is the node's state.
	State NodeState
	// Votes are the node's votes.
	Votes uint32
	// ExpectedVotes are the expected votes the node holds.
	ExpectedVotes uint32
	// HighestExpected is the highest expected votes among the members.
	HighestExpected uint32
	// TotalVotes is the sum of the members' votes (and the quorum
	// device's when it casts its vote).
	TotalVotes uint32
	// Quorum is the number of votes needed to be quorate.
	Quorum uint32
	// Flags are the options in force and the quorum device's state.
	Flags InfoFlags
	// QdeviceVotes are the votes of the quorum device.
	QdeviceVotes uint32
	// QdeviceName is the registered quorum device's name ("" when none
	// is).
	QdeviceName string
}

// TrackFlags select what TrackStart delivers: corosync's CS_TRACK_* bits.
type TrackFlags uint32

// Tracking flags.
const (
	// TrackCurrent delivers the current node list and quorum state once.
	TrackCurrent = TrackFlags(svq.TrackCurrent)
	// TrackChanges delivers the current node list and quorum state, then
	// every change.
	TrackChanges = TrackFlags(svq.TrackChanges)
	// TrackChangesOnly delivers every change, not the current state.
	TrackChangesOnly = TrackFlags(svq.TrackChangesOnly)
)

// RingID identifies a ring: the representative's node id and the ring
// sequence number (votequorum_ring_id_t).
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// String formats the ring id as corosync prints it: both numbers in
// hexadecimal, "1.2c".
func (r RingID) String() string { return fmt.Sprintf("%x.%x", r.NodeID, r.Seq) }

// NodeStatus is one node of a QuorumNotification.
type NodeStatus struct {
	NodeID uint32
	State  NodeState
}

// Event is a notification from Client.Events: a *QuorumNotification, a
// *NodeListNotification or an *ExpectedVotesNotification.
type Event interface {
	votequorumEvent()
}

// QuorumNotification is the quorum state: whether the node is quorate,
// and every node votequorum knows with its state, the quorum device
// (node QdeviceNodeID) included when registered
// (votequorum_quorum_notify_fn).
type QuorumNotification struct {
	Quorate bool
	// Context is the value given to TrackStart.
	Context uint64
	Nodes   []NodeStatus
}

// NodeListNotification is the ring's membership after a membership change
// (votequorum_nodelist_notify_fn).
type NodeListNotification struct {
	// Context is the value given to TrackStart.
	Context uint64
	Ring    RingID
	Members []uint32
}

// ExpectedVotesNotification reports new expected votes
// (votequorum_expectedvotes_notify_fn).
type ExpectedVotesNotification struct {
	// Context is the value given to TrackStart.
	Context       uint64
	ExpectedVotes uint32
}

func (*QuorumNotification) votequorumEvent()        {}
func (*NodeListNotification) votequorumEvent()      {}
func (*ExpectedVotesNotification) votequorumEvent() {}
