package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corogo/corogo/quorum"
	"github.com/corogo/corogo/votequorum"
)

// ctimeLayout is ctime(3)'s format, without its newline.
const ctimeLayout = "Mon Jan _2 15:04:05 2006"

// order is the -o ordering of the membership table.
type order byte

const (
	byAddress order = 'a' // as the quorum service lists the members
	byName    order = 'n'
	byNodeID  order = 'i'
)

// view holds the display options.
type view struct {
	hex      bool  // -H: node ids as 0x%08x
	order    order // -o
	parsable bool  // -p: the Qdevice column always
}

// status is everything -s, -m and -l show: one snapshot, gathered by
// gather and printed by writeStatus and writeNodes.
type status struct {
	// Date is when the snapshot was taken.
	Date time.Time
	// Provider is the quorum provider's name; "" when none is configured.
	Provider string
	// Votequorum reports that votequorum is the provider: the
	// Votequorum block and the Votes column are shown.
	Votequorum bool
	// LocalID is this node's id.
	LocalID uint32
	// Ring is the quorum view's ring.
	Ring quorum.RingID
	// Quorate is whether the node is quorate.
	Quorate bool
	// Local is this node's votequorum information; nil leaves the
	// Votequorum block out (it could not be read).
	Local *votequorum.Info
	// Nodes are the view's members, in the order the quorum service
	// lists them.
	Nodes []nodeStatus
}

// nodeStatus is one row of the membership table.
type nodeStatus struct {
	ID uint32
	// Name is what the Name column shows: the nodelist name or the
	// addresses, already resolved.
	Name string
	// Info is the node's votequorum information (zero when NoInfo).
	Info votequorum.Info
	// NoInfo reports that the node's information could not be read.
	NoInfo bool
}

// writeStatus prints the "Quorum information" block, then, with
// votequorum, the "Votequorum information" block and the membership
// table, as corosync-quorumtool's display_quorum_data does.
func writeStatus(w io.Writer, st *status, v view) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Quorum information\n")
	fmt.Fprintf(bw, "------------------\n")
	fmt.Fprintf(bw, "Date:             %s\n", st.Date.Format(ctimeLayout))
	provider := st.Provider
	if provider == "" {
		provider = "Not configured"
	}
	fmt.Fprintf(bw, "Quorum provider:  %s\n", provider)
	fmt.Fprintf(bw, "Nodes:            %d\n", len(st.Nodes))
	fmt.Fprintf(bw, "Node ID:          %s\n", v.nodeID(st.LocalID))
	if st.Votequorum {
		fmt.Fprintf(bw, "Ring ID:          %x.%x\n", st.Ring.NodeID, st.Ring.Seq)
	} else {
		fmt.Fprintf(bw, "Ring ID:          %x\n", st.Ring.Seq)
	}
	fmt.Fprintf(bw, "Quorate:          %s\n", yesNo(st.Quorate))
	if !st.Votequorum {
		return bw.Flush()
	}
	if in := st.Local; in != nil {
		fmt.Fprintf(bw, "\nVotequorum information\n")
		fmt.Fprintf(bw, "----------------------\n")
		fmt.Fprintf(bw, "Expected votes:   %d\n", in.ExpectedVotes)
		fmt.Fprintf(bw, "Highest expected: %d\n", in.HighestExpected)
		fmt.Fprintf(bw, "Total votes:      %d\n", in.TotalVotes)
		blocked := "Activity blocked"
		if in.Flags&votequorum.Quorate != 0 {
			blocked = " "
		}
		fmt.Fprintf(bw, "Quorum:           %d %s\n", in.Quorum, blocked)
		fmt.Fprintf(bw, "Flags:            %s\n", flagList(in.Flags))
	}
	writeNodesTo(bw, st, v)
	return bw.Flush()
}

// flagList is the Flags line's value: each flag followed by a space.
func flagList(f votequorum.InfoFlags) string {
	var b strings.Builder
	for _, x := range []struct {
		f    votequorum.InfoFlags
		name string
	}{
		{votequorum.TwoNode, "2Node"},
		{votequorum.Quorate, "Quorate"},
		{votequorum.WaitForAll, "WaitForAll"},
		{votequorum.LastManStanding, "LastManStanding"},
		{votequorum.AutoTieBreaker, "AutoTieBreaker"},
		{votequorum.AllowDownscale, "AllowDownscale"},
		{votequorum.QdeviceRegistered, "Qdevice"},
	} {
		if f&x.f != 0 {
			b.WriteString(x.name)
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// writeNodes prints the membership table, as corosync-quorumtool's
// display_nodes_data does (-l, and the end of -s).
func writeNodes(w io.Writer, st *status, v view) error {
	bw := bufio.NewWriter(w)
	writeNodesTo(bw, st, v)
	return bw.Flush()
}

func writeNodesTo(bw *bufio.Writer, st *status, v view) {
	qdevice := false
	for _, n := range st.Nodes {
		if n.NoInfo && st.Votequorum {
			fmt.Fprintf(bw, "Unable to get node %d info\n", n.ID)
		}
		if st.Votequorum && n.Info.Flags&votequorum.QdeviceRegistered != 0 {
			qdevice = true
		}
	}
	qcolumn := st.Votequorum && (qdevice || v.parsable)

	fmt.Fprintf(bw, "\nMembership information\n")
	fmt.Fprintf(bw, "----------------------\n")
	bw.WriteString(padded("Nodeid"))
	if st.Votequorum {
		bw.WriteString(padded("Votes"))
		if qcolumn {
			bw.WriteString(padded("Qdevice"))
		}
	}
	bw.WriteString("Name\n")

	nodes := slices.Clone(st.Nodes)
	switch v.order {
	case byNodeID:
		slices.SortStableFunc(nodes, func(a, b nodeStatus) int { return cmpU32(a.ID, b.ID) })
	case byName:
		slices.SortStableFunc(nodes, func(a, b nodeStatus) int { return strings.Compare(a.Name, b.Name) })
	}
	var ourFlags votequorum.InfoFlags
	for _, n := range nodes {
		bw.WriteString(v.column(n.ID))
		if st.Votequorum {
			bw.WriteString(padded(strconv.FormatUint(uint64(n.Info.Votes), 10)))
			if qcolumn {
				bw.WriteString(padded(qdeviceState(n.Info.Flags)))
			}
		}
		bw.WriteString(n.Name)
		if n.ID == st.LocalID {
			bw.WriteString(" (local)")
			ourFlags = n.Info.Flags
		}
		bw.WriteString("\n")
	}

	if qdevice {
		// The device's votes and name are the first member's view of
		// them, as corosync-quorumtool takes them; its votes show as 0
		// when this node's device does not cast its vote.
		dev := st.Nodes[0].Info
		bw.WriteString(v.column(votequorum.QdeviceNodeID))
		if ourFlags&votequorum.QdeviceCastVote != 0 {
			bw.WriteString(padded(strconv.FormatUint(uint64(dev.QdeviceVotes), 10)))
			fmt.Fprintf(bw, "           %s\n", dev.QdeviceName)
		} else {
			bw.WriteString(padded("0"))
			fmt.Fprintf(bw, "           %s (votes %d)\n", dev.QdeviceName, dev.QdeviceVotes)
		}
	}
}

// qdeviceState is a node's Qdevice column: alive, casting its vote and
// master wins, each as X or NX, or NR when no device is registered.
func qdeviceState(f votequorum.InfoFlags) string {
	if f&votequorum.QdeviceRegistered == 0 {
		return "NR"
	}
	pick := func(bit votequorum.InfoFlags, yes, no string) string {
		if f&bit != 0 {
			return yes
		}
		return no
	}
	return pick(votequorum.QdeviceAlive, "A", "NA") + "," +
		pick(votequorum.QdeviceCastVote, "V", "NV") + "," +
		pick(votequorum.QdeviceMasterWins, "MW", "NMW")
}

// padded right-justifies s in 10 columns and adds a space, as
// corosync-quorumtool's print_string_padded.
func padded(s string) string {
	if len(s) >= 10 {
		return s + " "
	}
	return strings.Repeat(" ", 10-len(s)) + s + " "
}

// nodeID formats a node id for the Node ID line.
func (v view) nodeID(id uint32) string {
	if v.hex {
		return fmt.Sprintf("0x%08x", id)
	}
	return strconv.FormatUint(uint64(id), 10)
}

// column formats a node id for the Nodeid column.
func (v view) column(id uint32) string {
	if v.hex {
		return fmt.Sprintf("0x%08x ", id)
	}
	return padded(strconv.FormatUint(uint64(id), 10))
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
