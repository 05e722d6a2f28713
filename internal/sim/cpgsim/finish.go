package cpgsim

import (
	"fmt"
	"slices"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cpg"
)

// finish runs the checks that need the whole run: the naive pairwise
// agreed-order check (1) and, when the cluster went live, the end state
// and the deliveries of invariant 5.
func (ck *checker) finish() {
	if ck.v != nil {
		return
	}
	ck.pairwiseOrder()
	if ck.liveAt >= 0 {
		ck.endState()
		ck.deliveredAfterLive()
	}
}

// pairwiseOrder checks, for every group and every pair of processes, that
// the messages of the group both delivered appear in the same relative
// order: a naive twin of the per-delivery checks.
func (ck *checker) pairwiseOrder() {
	pos := make([]int32, len(ck.msgs))
	for i := range pos {
		pos[i] = -1
	}
	groups := ck.s.o.Groups
	for gi := range groups {
		var ps []*proc
		for _, p := range ck.procs {
			if len(p.groups[gi].delivered) > 1 {
				ps = append(ps, p)
			}
		}
		for j, b := range ps {
			bd := b.groups[gi].delivered
			for k, g := range bd {
				pos[g] = int32(k)
			}
			for _, a := range ps[:j] {
				prev, prevGid := int32(-1), int32(-1)
				for _, g := range a.groups[gi].delivered {
					q := pos[g]
					if q < 0 {
						continue
					}
					if q < prev {
						ck.fail(AgreedOrder, a.String(), "delivered %v before %v in %s, but %v delivered them in the opposite order",
							&ck.msgs[prevGid], &ck.msgs[g], groupLabel(gi), b)
						return
					}
					prev, prevGid = q, g
				}
			}
			for _, g := range bd {
				pos[g] = -1
			}
		}
	}
}

// endState checks that every live process's requests completed and that
// the views converged: every process joined to a group has one view of
// it, listing exactly the live processes joined to it.
func (ck *checker) endState() {
	live := ck.s.liveProcs()
	for _, p := range live {
		n := ck.s.nodes[p.node-1]
		if n.h.Held(p.conn, service.CPG) {
			ck.fail(Liveness, p.String(), "the engine still holds its messages at the end (flow control on)")
			return
		}
		for gi := range p.groups {
			switch p.groups[gi].state {
			case joining:
				ck.fail(Liveness, p.String(), "its join of %s never completed", groupLabel(gi))
				return
			case leaving:
				ck.fail(Liveness, p.String(), "its leave of %s never completed", groupLabel(gi))
				return
			}
		}
	}
	zombie := func(m cpg.Member, gi int) bool {
		p := ck.byMember[m]
		return p == nil || !p.alive || p.groups[gi].state == notJoined
	}
	for gi := range ck.s.o.Groups {
		var want []cpg.Member
		for _, p := range live {
			if p.groups[gi].state == joined {
				want = append(want, p.member())
			}
		}
		slices.SortFunc(want, memberCmp)
		for _, p := range live {
			if mb := &p.groups[gi]; mb.state == joined && !equalMembers(mb.view, want) &&
				!(!slices.ContainsFunc(want, func(m cpg.Member) bool { return !hasMember(mb.view, m) }) &&
					!slices.ContainsFunc(mb.view, func(m cpg.Member) bool { return !hasMember(want, m) && !zombie(m, gi) }) &&
					ck.tolerate(FindingZombies)) {
				ck.fail(Liveness, p.String(), "its final view of %s is %s; the live joined processes are %s",
					groupLabel(gi), formatMembers(mb.view), formatMembers(want))
				return
			}
		}
	}
}

// deliveredAfterLive checks that every message sent once the cluster was
// live reached every process joined to its group when it was sent and
// still joined (in the same episode) at the end, its sender included.
func (ck *checker) deliveredAfterLive() {
	var senders []cpg.Member
	for m := range ck.sent {
		senders = append(senders, m)
	}
	slices.SortFunc(senders, memberCmp)
	for _, from := range senders {
		list := ck.sent[from]
		for i := range list {
			m := &list[i]
			var missing []string
			for _, e := range m.expect {
				mb := &e.p.groups[m.group]
				if !e.p.alive || mb.episode != e.episode || mb.state != joined {
					continue
				}
				if m.gid < 0 || !e.p.seen.has(m.gid) {
					missing = append(missing, e.p.String())
				}
			}
			if len(missing) > 0 {
				id := MsgID{Node: from.NodeID, PID: from.PID, Counter: uint32(i)}
				ck.fail(Liveness, "", "message %v (%dB) of %s sent at t=%dms, after the cluster went live at t=%dms, never delivered to %v",
					id, m.size, groupLabel(int(m.group)), m.time, ck.liveAt, head(missing))
				return
			}
		}
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], fmt.Sprintf("... %d more", len(s)-5))
	}
	return s
}
