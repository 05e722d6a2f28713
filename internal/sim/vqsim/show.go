package vqsim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/totem"
)

// NodeStatus is one running node's state as Show prints it.
type NodeStatus struct {
	ID        uint32
	Partition int
	// Ring, Members and Quorate are the node's quorum service view (what
	// libquorum clients see): the ring of the last sync that published a
	// view, its members, and whether the node is quorate in it.
	Ring    totem.RingID
	Members []uint32
	Quorate bool
	// Info is votequorum's own information about the node (votequorum_
	// getinfo of node 0, as corosync-quorumtool shows it).
	Info votequorum.Info
}

// Status returns the running nodes' states, by node id.
func (cl *Cluster) Status() []NodeStatus {
	var out []NodeStatus
	for _, n := range cl.nodes {
		if !n.up() {
			continue
		}
		v := n.q.View()
		in, _ := n.vq.Info(0)
		st := NodeStatus{ID: n.id, Partition: n.part, Ring: v.Ring, Quorate: v.Quorate, Info: in}
		for _, m := range v.Members {
			st.Members = append(st.Members, uint32(m))
		}
		out = append(out, st)
	}
	return out
}

// String formats the status as Show prints it:
//
//	node ID part=P ring=R members=A,B,C quorate=0|1 votes=V expected=E highest=H total=T quorum=Q flags=F1,F2
func (s NodeStatus) String() string {
	in := s.Info
	return fmt.Sprintf("node %d part=%d ring=%s members=%s quorate=%d votes=%d expected=%d highest=%d total=%d quorum=%d flags=%s",
		s.ID, s.Partition, fmtRing(s.Ring), fmtIDs(s.Members), b2i(s.Quorate), in.Votes, in.ExpectedVotes,
		in.HighestExpected, in.TotalVotes, in.Quorum, FlagNames(in.Flags))
}

// Show returns one line per running node (see NodeStatus.String), by
// node id; "no nodes are up" when none is.
func (cl *Cluster) Show() string {
	var sb strings.Builder
	for _, st := range cl.Status() {
		sb.WriteString(st.String())
		sb.WriteByte('\n')
	}
	if sb.Len() == 0 {
		return "no nodes are up\n"
	}
	return sb.String()
}

// flagNames are the names of votequorum_getinfo's flags: those
// corosync-quorumtool prints on its Flags line, then the device's state
// as votequorum logs it.
var flagNames = []struct {
	f    votequorum.InfoFlags
	name string
}{
	{votequorum.InfoTwoNode, "2Node"},
	{votequorum.InfoQuorate, "Quorate"},
	{votequorum.InfoWaitForAll, "WaitForAll"},
	{votequorum.InfoLastManStanding, "LastManStanding"},
	{votequorum.InfoAutoTieBreaker, "AutoTieBreaker"},
	{votequorum.InfoAllowDownscale, "AllowDownscale"},
	{votequorum.InfoQdeviceRegistered, "Qdevice"},
	{votequorum.InfoQdeviceAlive, "QdeviceAlive"},
	{votequorum.InfoQdeviceCastVote, "QdeviceCastVote"},
	{votequorum.InfoQdeviceMasterWins, "QdeviceMasterWins"},
}

// FlagNames names the flags, separated by commas; "-" for none.
func FlagNames(f votequorum.InfoFlags) string {
	var names []string
	for _, x := range flagNames {
		if f&x.f != 0 {
			names = append(names, x.name)
			f &^= x.f
		}
	}
	if f != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(f)))
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// fmtRing formats a ring id as corosync-quorumtool does: rep.seq in hex.
func fmtRing(r totem.RingID) string { return fmt.Sprintf("%x.%x", uint32(r.Rep), r.Seq) }

func fmtIDs[T ~uint32](ids []T) string {
	if len(ids) == 0 {
		return "-"
	}
	var sb strings.Builder
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(uint64(id), 10))
	}
	return sb.String()
}
