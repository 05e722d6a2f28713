package votequorum

// NodeVotes is one node as the quorum calculation sees it.
type NodeVotes struct {
	ID       uint32
	State    NodeState
	Votes    uint32
	Expected uint32
}

// CalcInput is everything Calculate looks at: corosync's calculate_quorum
// reads it from votequorum's node list and globals.
type CalcInput struct {
	// Nodes are the nodes votequorum knows; only members count.
	Nodes []NodeVotes
	// QdeviceVotes count when QdeviceCastVote is set (this node's device
	// casts its vote).
	QdeviceVotes    uint32
	QdeviceCastVote bool
	// MaxExpected, when not zero, replaces the highest expected votes of
	// the members (an expected votes change, last man standing).
	MaxExpected uint32
	// AllowDecrease lets the quorum fall below PrevQuorum.
	AllowDecrease bool
	PrevQuorum    uint32
	// TwoNode sets the quorum to 1 while at most two nodes (the device
	// counting as one) are members.
	TwoNode bool
	// AllowDownscale with AllowDecrease and MaxExpected keeps MaxExpected
	// at least EVBarrier.
	AllowDownscale bool
	EVBarrier      uint32
}

// CalcResult is what Calculate decides.
type CalcResult struct {
	Quorum          uint32
	TotalVotes      uint32
	HighestExpected uint32
	// TotalNodes counts the members, and the device when it votes.
	TotalNodes int
}

// Calculate is corosync's calculate_quorum, the OpenVMS rule: quorum is
// a strict majority of the larger of the highest expected votes and the
// total votes present; it never decreases unless allowed; two_node makes
// it 1 while at most two nodes vote.
func Calculate(in CalcInput) CalcResult {
	var r CalcResult
	maxExpected := in.MaxExpected
	if in.AllowDownscale && in.AllowDecrease && maxExpected != 0 {
		maxExpected = max(in.EVBarrier, maxExpected)
	}
	for _, n := range in.Nodes {
		if n.State != StateMember {
			continue
		}
		r.HighestExpected = max(r.HighestExpected, n.Expected)
		r.TotalVotes += n.Votes
		r.TotalNodes++
	}
	if in.QdeviceCastVote {
		r.TotalVotes += in.QdeviceVotes
		r.TotalNodes++
	}
	if maxExpected > 0 {
		r.HighestExpected = maxExpected
	}
	q := max((r.HighestExpected+2)/2, (r.TotalVotes+2)/2)
	if !in.AllowDecrease {
		q = max(in.PrevQuorum, q)
	}
	if in.TwoNode && r.TotalNodes <= 2 {
		q = 1
	}
	r.Quorum = q
	return r
}

// ATB is the auto_tie_breaker mode.
type ATB uint8

// Tie breaker modes (runtime.votequorum.atb_type values).
const (
	ATBNone ATB = iota
	ATBLowest
	ATBHighest
	ATBList
)

// String names the mode as auto_tie_breaker_node spells it.
func (a ATB) String() string {
	switch a {
	case ATBNone:
		return "none"
	case ATBLowest:
		return "lowest"
	case ATBHighest:
		return "highest"
	case ATBList:
		return "list"
	}
	return "atb?"
}

// DecideInput is what Decide looks at: corosync's are_we_quorate.
type DecideInput struct {
	// TotalVotes and Quorum come from Calculate.
	TotalVotes uint32
	Quorum     uint32
	// OwnExpected is this node's expected votes.
	OwnExpected uint32
	// WaitForAll is the option; WFAStatus is whether this node still
	// waits for all (it starts set and clears once all votes were seen
	// or another node that was quorate without waiting said so).
	WaitForAll bool
	WFAStatus  bool
	// ATB is the tie breaker mode; ATBWins reports whether this
	// partition holds the tie breaker (see TieBreakerWins).
	ATB     ATB
	ATBWins bool
	// Members and PrevMembers are the sizes of this ring's member list and
	// of the previous one (a split that may leave the other side quorate
	// cannot use the tie breaker).
	Members, PrevMembers int
	// MasterWins is set when this node's device allows master wins and
	// MasterPresent when a member's device has master wins and casts its
	// vote.
	MasterWins    bool
	MasterPresent bool
}

// Decision is Decide's result.
type Decision struct {
	Quorate bool
	// WFAStatus is the new wait-for-all status: cleared once quorate.
	WFAStatus bool
	// Waiting is set when wait_for_all held quorum back (corosync logs
	// "Waiting for all cluster members").
	Waiting bool
}

// Decide is corosync's are_we_quorate: wait_for_all first, then votes
// against quorum, then the tie breaker in an exact half split, then the
// quorum device's master wins.
func Decide(in DecideInput) Decision {
	d := Decision{WFAStatus: in.WFAStatus}
	if in.WaitForAll && in.WFAStatus {
		if in.TotalVotes != in.OwnExpected {
			d.Waiting = true
			return d
		}
		d.WFAStatus = false
	}
	d.Quorate = in.Quorum <= in.TotalVotes
	if in.ATB != ATBNone && in.TotalVotes == in.OwnExpected/2 &&
		in.PrevMembers-in.Members < int(in.Quorum) && in.ATBWins {
		d.Quorate = true
	}
	if in.MasterWins && !d.Quorate && in.MasterPresent {
		d.Quorate = true
	}
	// Quorum clears the wait; losing it does not set it again: corosync
	// 3.1 waits for all only from startup (checked against
	// corosync-vqsim 3.1.7).
	if in.WaitForAll && d.Quorate {
		d.WFAStatus = false
	}
	return d
}

// TieBreakerWins reports whether a partition holds the tie breaker:
// for lowest and highest, whether the live nodes (members whose node
// information arrived) include the lowest (highest) node id of the last
// quorate membership; for a list, whether the first listed node in the
// ring has no earlier listed node in the previous ring (which might be on
// the other side).
func TieBreakerWins(mode ATB, live, ring, prevRing []uint32, lowest, highest int64, list []uint32) bool {
	switch mode {
	case ATBLowest:
		return lowest >= 0 && contains(live, uint32(lowest))
	case ATBHighest:
		return highest >= 0 && contains(live, uint32(highest))
	case ATBList:
		// Unlike corosync, a list needs a node that was quorate once, as
		// lowest and highest do (their ids come from a quorate
		// membership): two nodes that start apart would otherwise both
		// hold the tie breaker (each sees itself first in its own list).
		if lowest < 0 {
			return false
		}
		for i, id := range list {
			if !contains(ring, id) {
				continue
			}
			for _, earlier := range list[:i] {
				if contains(prevRing, earlier) {
					return false
				}
			}
			return true
		}
	}
	return false
}

func contains(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
