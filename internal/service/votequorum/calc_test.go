package votequorum

import (
	"math/rand/v2"
	"testing"
)

func members(votes ...uint32) []NodeVotes {
	var ns []NodeVotes
	for i, v := range votes {
		ns = append(ns, NodeVotes{ID: uint32(i + 1), State: StateMember, Votes: v, Expected: 0})
	}
	return ns
}

func withExpected(ns []NodeVotes, e uint32) []NodeVotes {
	for i := range ns {
		ns[i].Expected = e
	}
	return ns
}

func TestCalculateTable(t *testing.T) {
	dead := withExpected(members(1, 1, 1), 3)
	dead[2].State = StateDead
	leaving := withExpected(members(1, 1, 1), 3)
	leaving[1].State = StateLeaving
	tests := []struct {
		name string
		in   CalcInput
		want CalcResult
	}{
		{"3 of 3", CalcInput{Nodes: withExpected(members(1, 1, 1), 3)}, CalcResult{Quorum: 2, TotalVotes: 3, HighestExpected: 3, TotalNodes: 3}},
		{"2 of 3 present", CalcInput{Nodes: dead, PrevQuorum: 2}, CalcResult{Quorum: 2, TotalVotes: 2, HighestExpected: 3, TotalNodes: 2}},
		{"leaving not counted", CalcInput{Nodes: leaving}, CalcResult{Quorum: 2, TotalVotes: 2, HighestExpected: 3, TotalNodes: 2}},
		{"4 nodes", CalcInput{Nodes: withExpected(members(1, 1, 1, 1), 4)}, CalcResult{Quorum: 3, TotalVotes: 4, HighestExpected: 4, TotalNodes: 4}},
		{"5 nodes", CalcInput{Nodes: withExpected(members(1, 1, 1, 1, 1), 5)}, CalcResult{Quorum: 3, TotalVotes: 5, HighestExpected: 5, TotalNodes: 5}},
		{"weighted", CalcInput{Nodes: withExpected(members(3, 1, 1), 5)}, CalcResult{Quorum: 3, TotalVotes: 5, HighestExpected: 5, TotalNodes: 3}},
		{"total above expected", CalcInput{Nodes: withExpected(members(1, 1, 1, 1, 1), 3)}, CalcResult{Quorum: 3, TotalVotes: 5, HighestExpected: 3, TotalNodes: 5}},
		{"never decreases", CalcInput{Nodes: withExpected(members(1), 3), PrevQuorum: 4}, CalcResult{Quorum: 4, TotalVotes: 1, HighestExpected: 3, TotalNodes: 1}},
		{"decrease allowed", CalcInput{Nodes: withExpected(members(1), 3), PrevQuorum: 4, AllowDecrease: true}, CalcResult{Quorum: 2, TotalVotes: 1, HighestExpected: 3, TotalNodes: 1}},
		{"max expected", CalcInput{Nodes: withExpected(members(1, 1), 5), MaxExpected: 2, AllowDecrease: true, PrevQuorum: 3}, CalcResult{Quorum: 2, TotalVotes: 2, HighestExpected: 2, TotalNodes: 2}},
		{"downscale barrier", CalcInput{Nodes: withExpected(members(1, 1), 5), MaxExpected: 2, AllowDecrease: true, AllowDownscale: true, EVBarrier: 4}, CalcResult{Quorum: 3, TotalVotes: 2, HighestExpected: 4, TotalNodes: 2}},
		{"two_node alone", CalcInput{Nodes: withExpected(members(1), 2), TwoNode: true, PrevQuorum: 2}, CalcResult{Quorum: 1, TotalVotes: 1, HighestExpected: 2, TotalNodes: 1}},
		{"two_node both", CalcInput{Nodes: withExpected(members(1, 1), 2), TwoNode: true}, CalcResult{Quorum: 1, TotalVotes: 2, HighestExpected: 2, TotalNodes: 2}},
		{"two_node with 3 members", CalcInput{Nodes: withExpected(members(1, 1, 1), 3), TwoNode: true}, CalcResult{Quorum: 2, TotalVotes: 3, HighestExpected: 3, TotalNodes: 3}},
		{"qdevice casts", CalcInput{Nodes: withExpected(members(1), 5), QdeviceVotes: 2, QdeviceCastVote: true}, CalcResult{Quorum: 3, TotalVotes: 3, HighestExpected: 5, TotalNodes: 2}},
		{"qdevice silent", CalcInput{Nodes: withExpected(members(1), 5), QdeviceVotes: 2}, CalcResult{Quorum: 3, TotalVotes: 1, HighestExpected: 5, TotalNodes: 1}},
		{"qdevice counts as a node for two_node", CalcInput{Nodes: withExpected(members(1, 1), 3), QdeviceVotes: 1, QdeviceCastVote: true, TwoNode: true}, CalcResult{Quorum: 2, TotalVotes: 3, HighestExpected: 3, TotalNodes: 3}},
		{"no nodes", CalcInput{}, CalcResult{Quorum: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Calculate(tc.in); got != tc.want {
				t.Errorf("Calculate = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// naiveCalculate is the reference: quorum is the smallest vote count
// that is a strict majority of both the expected votes and the votes
// present, found by counting up.
func naiveCalculate(in CalcInput) CalcResult {
	var r CalcResult
	for _, n := range in.Nodes {
		if n.State == StateMember {
			r.TotalVotes += n.Votes
			r.TotalNodes++
			if n.Expected > r.HighestExpected {
				r.HighestExpected = n.Expected
			}
		}
	}
	if in.QdeviceCastVote {
		r.TotalVotes += in.QdeviceVotes
		r.TotalNodes++
	}
	if in.MaxExpected > 0 {
		r.HighestExpected = in.MaxExpected
		if in.AllowDownscale && in.AllowDecrease && in.EVBarrier > in.MaxExpected {
			r.HighestExpected = in.EVBarrier
		}
	}
	var q uint32 = 1
	for !(2*q > r.HighestExpected && 2*q > r.TotalVotes) {
		q++
	}
	if !in.AllowDecrease && in.PrevQuorum > q {
		q = in.PrevQuorum
	}
	if in.TwoNode && r.TotalNodes <= 2 {
		q = 1
	}
	r.Quorum = q
	return r
}

func randomInput(r *rand.Rand) CalcInput {
	n := r.IntN(8)
	in := CalcInput{
		QdeviceVotes:    uint32(r.IntN(5)),
		QdeviceCastVote: r.IntN(2) == 0,
		AllowDecrease:   r.IntN(2) == 0,
		PrevQuorum:      uint32(r.IntN(10)),
		TwoNode:         r.IntN(4) == 0,
		AllowDownscale:  r.IntN(4) == 0,
		EVBarrier:       uint32(r.IntN(10)),
	}
	if r.IntN(3) == 0 {
		in.MaxExpected = uint32(r.IntN(10))
	}
	for i := range n {
		in.Nodes = append(in.Nodes, NodeVotes{
			ID: uint32(i + 1), State: NodeState(1 + r.IntN(3)),
			Votes: uint32(r.IntN(4)), Expected: uint32(r.IntN(12)),
		})
	}
	return in
}

// TestCalculateMatchesNaive checks Calculate against the naive reference
// on random inputs.
func TestCalculateMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		in := randomInput(r)
		if got, want := Calculate(in), naiveCalculate(in); got != want {
			t.Fatalf("case %d: Calculate(%+v) = %+v, naive %+v", i, in, got, want)
		}
	}
}

// TestNoTwoQuorateMajorities: nodes that agree on expected votes, split
// into disjoint partitions, never give two partitions quorum by votes
// alone (no two_node, no tie breaker, no device).
func TestNoTwoQuorateMajorities(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		n := 1 + r.IntN(7)
		votes := make([]uint32, n)
		var sum uint32
		for i := range votes {
			votes[i] = uint32(r.IntN(4))
			sum += votes[i]
		}
		expected := sum + uint32(r.IntN(3)) // expected votes ≥ the votes that exist
		parts := 1 + r.IntN(3)
		side := make([]int, n)
		for i := range side {
			side[i] = r.IntN(parts)
		}
		quorate := 0
		for p := range parts {
			var in CalcInput
			for i := range n {
				if side[i] == p {
					in.Nodes = append(in.Nodes, NodeVotes{ID: uint32(i + 1), State: StateMember, Votes: votes[i], Expected: expected})
				}
			}
			c := Calculate(in)
			d := Decide(DecideInput{TotalVotes: c.TotalVotes, Quorum: c.Quorum, OwnExpected: expected})
			if d.Quorate {
				quorate++
			}
		}
		if quorate > 1 {
			t.Fatalf("votes %v expected %d sides %v: %d quorate partitions", votes, expected, side, quorate)
		}
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		in   DecideInput
		want Decision
	}{
		{"quorate", DecideInput{TotalVotes: 2, Quorum: 2, OwnExpected: 3}, Decision{Quorate: true}},
		{"not quorate", DecideInput{TotalVotes: 1, Quorum: 2, OwnExpected: 3}, Decision{}},
		{"wfa waiting", DecideInput{TotalVotes: 2, Quorum: 2, OwnExpected: 3, WaitForAll: true, WFAStatus: true}, Decision{WFAStatus: true, Waiting: true}},
		{"wfa all seen", DecideInput{TotalVotes: 3, Quorum: 2, OwnExpected: 3, WaitForAll: true, WFAStatus: true}, Decision{Quorate: true}},
		{"wfa: losing quorum does not wait again", DecideInput{TotalVotes: 1, Quorum: 2, OwnExpected: 3, WaitForAll: true}, Decision{}},
		{"atb half with tie breaker", DecideInput{TotalVotes: 2, Quorum: 3, OwnExpected: 4, ATB: ATBLowest, ATBWins: true, Members: 2, PrevMembers: 4}, Decision{Quorate: true}},
		{"atb half without", DecideInput{TotalVotes: 2, Quorum: 3, OwnExpected: 4, ATB: ATBLowest, Members: 2, PrevMembers: 4}, Decision{}},
		{"atb other side may be quorate", DecideInput{TotalVotes: 2, Quorum: 3, OwnExpected: 5, ATB: ATBLowest, ATBWins: true, Members: 2, PrevMembers: 5}, Decision{}},
		{"master wins", DecideInput{TotalVotes: 1, Quorum: 2, OwnExpected: 3, MasterWins: true, MasterPresent: true}, Decision{Quorate: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.in); got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTieBreakerWins(t *testing.T) {
	list := []uint32{3, 1, 2}
	tests := []struct {
		name           string
		mode           ATB
		live, ring, pr []uint32
		want           bool
	}{
		{"lowest in", ATBLowest, []uint32{1, 2}, []uint32{1, 2}, nil, true},
		{"lowest out", ATBLowest, []uint32{3, 4}, []uint32{3, 4}, nil, false},
		{"highest in", ATBHighest, []uint32{3, 4}, []uint32{3, 4}, nil, true},
		{"list first here", ATBList, nil, []uint32{3, 4}, []uint32{1, 2, 3, 4}, true},
		{"list second here, first was in previous", ATBList, nil, []uint32{1, 4}, []uint32{1, 2, 3, 4}, false},
		{"list second here, first never seen", ATBList, nil, []uint32{1, 4}, []uint32{1, 2, 4}, true},
		{"list none here", ATBList, nil, []uint32{4, 5}, []uint32{1, 2, 3, 4, 5}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TieBreakerWins(tc.mode, tc.live, tc.ring, tc.pr, 1, 4, list); got != tc.want {
				t.Errorf("TieBreakerWins = %v, want %v", got, tc.want)
			}
		})
	}
}
