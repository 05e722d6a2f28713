package cpgsim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Finding is a set of known departures of the engine from the invariants
// (Options.Tolerate): behaviour the simulator found, documented in the
// package documentation, that a sweep may let pass in order to look for
// other violations.
type Finding uint32

// Findings.
const (
	// FindingNodeLevelSender: an MCAST is delivered when some process of
	// the sending node is in the group, not only when the sending process
	// is (corosync's "unknown node" rule): a process can deliver a
	// message from a process that is not in its view. Tolerated only when
	// another process of the sender's node is in the receiver's view.
	FindingNodeLevelSender Finding = 1 << iota
	// FindingZombies: after a sync, the views of a group differ between
	// nodes of the ring by processes that are dead or no longer in the
	// group, which some nodes added back (NODEUP) from a JOINLIST that no
	// longer held. Two causes:
	//   (a) a client that disconnects during a sync has its PROCLEAVE
	//   (PROCDOWN) sent at once (Engine.Disconnect does not hold it as it
	//   holds MCASTs); delivered after its node computed the JOINLIST that
	//   still lists the process, it removes the process everywhere, then
	//   activation adds it back on the other nodes (JOINLIST entries are
	//   added when missing), not on its own node (which ignores its own
	//   JOINLIST);
	//   (b) JOINLISTs carry no ring id: one queued by a sync that a
	//   configuration change interrupts is sent in the next ring, and its
	//   receivers store it (execJoinList stores every JOINLIST); if their
	//   own CPG round has not started when that sync is aborted in turn,
	//   syncproto does not call SyncAbort, and SyncInit does not clear the
	//   stored JOINLISTs, so the stale one is applied at a later
	//   activation, possibly rings later, resurrecting processes that left
	//   or died since (even of a crashed node incarnation) on those nodes
	//   only.
	// Tolerated when the views differ only by processes that, in the total
	// order, are not members at that point (the last of their PROCJOINs
	// and PROCLEAVEs before it is a PROCLEAVE, or their node incarnation is
	// not in the ring).
	FindingZombies
	// FindingPartialAcrossViews: a PARTIAL_MCAST message whose first
	// fragment comes before a view change and whose last comes after it is
	// delivered by the processes of some nodes and not of others, though
	// they saw the same views: an engine delivers it only if it saw the
	// first fragment with a member of the group present and kept the
	// reassembly. It misses it when its node had no member of the group
	// at the first fragment (a process that joins mid-message gets it only
	// if another process of its node was already a member) or was not in
	// the ring the first fragment was sent in (the fragments of one
	// message are separate totem messages and can span a configuration
	// change), and drops it when a sync removes the sender's node
	// (NODEDOWN) even if it adds the same process back (NODEUP).
	// Tolerated when every message two processes' segments differ by is
	// such a message, missing from a segment that starts after its first
	// fragment.
	FindingPartialAcrossViews
	// FindingViewsSpanConfigurations: CPG views change when a sync
	// activates, not at totem configuration changes, so processes whose
	// nodes installed different totem configurations between the same two
	// consecutive views (a partition whose syncs never completed, a
	// transitional configuration that skipped messages, as extended
	// virtual synchrony allows) delivered different messages between
	// them. Tolerated when the two nodes' configuration histories between
	// the views differ.
	FindingViewsSpanConfigurations
)

// NamedFinding is a finding and its name.
type NamedFinding struct {
	Name    string
	Finding Finding
}

// Findings returns the findings' names, as cmd/cpgsim's -tolerate takes
// them.
func Findings() []NamedFinding {
	return []NamedFinding{
		{"node-level-sender", FindingNodeLevelSender},
		{"zombies", FindingZombies},
		{"partial-across-views", FindingPartialAcrossViews},
		{"views-span-configurations", FindingViewsSpanConfigurations},
	}
}

// AllFindings tolerates every known finding.
const AllFindings = FindingNodeLevelSender | FindingZombies | FindingPartialAcrossViews | FindingViewsSpanConfigurations

// String names the findings in f, separated by commas ("" for none,
// "all" for AllFindings).
func (f Finding) String() string {
	if f == AllFindings {
		return "all"
	}
	var names []string
	for _, x := range Findings() {
		if f&x.Finding != 0 {
			names = append(names, x.Name)
		}
	}
	if rest := f &^ AllFindings; rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(rest)))
	}
	return strings.Join(names, ",")
}

// ParseFindings parses a finding mask: a number, "all", or names
// separated by commas.
func ParseFindings(s string) (Finding, error) {
	switch s {
	case "":
		return 0, nil
	case "all":
		return AllFindings, nil
	}
	if n, err := strconv.ParseUint(s, 0, 32); err == nil {
		return Finding(n), nil
	}
	var f Finding
	for _, name := range strings.Split(s, ",") {
		all := Findings()
		i := slices.IndexFunc(all, func(x NamedFinding) bool { return x.Name == strings.TrimSpace(name) })
		if i < 0 {
			var names []string
			for _, fn := range all {
				names = append(names, fn.Name)
			}
			return 0, fmt.Errorf("unknown finding %q (known: all, %s)", name, strings.Join(names, ", "))
		}
		f |= all[i].Finding
	}
	return f, nil
}
