package cpgsim

import (
	"fmt"
	"slices"

	"github.com/corogo/corogo/internal/service/cpg"
	"github.com/corogo/corogo/totem"
)

// msgInfo is what every delivery of one message must agree on. Its index
// in checker.msgs is the message's gid.
type msgInfo struct {
	key   srpKey // the SRP message that completed it
	group int8
	from  cpg.Member
	size  int32
	g     totem.Guarantee
	id    MsgID // zero for a tiny message
	tiny  bool
	first *proc
	// frag is set for a message sent as PARTIAL_MCAST fragments, whose
	// first fragment was completed by fragFrom.
	frag     bool
	fragFrom srpKey
}

func (m *msgInfo) String() string {
	if m.tiny {
		return fmt.Sprintf("tiny/%dB from %d/%d@%v", m.size, m.from.NodeID, m.from.PID, m.key)
	}
	return fmt.Sprintf("%v/%dB@%v", m.id, m.size, m.key)
}

// sentMsg is a message a client sent (its MCAST request was accepted).
type sentMsg struct {
	time  int64
	group int8
	size  int32
	g     totem.Guarantee
	inc   int
	gid   int32 // -1 until first delivered
	// expect are the processes that must deliver it (invariant 5): set
	// for messages sent once the cluster is live.
	expect []expectRecv
}

// expectRecv is a process that must deliver a message if it is still in
// the same membership episode of the group at the end of the run.
type expectRecv struct {
	p       *proc
	episode int
}

// segKey names a pair of consecutive views of a group.
type segKey struct {
	group    int8
	from, to viewID
}

// segment is what one process delivered between two consecutive views.
type segment struct {
	sum  uint64
	n    int
	p    *proc
	msgs []int32
	// startKey is where the first of the two views was installed.
	startKey srpKey
	// confs hashes the configurations its node installed between the views.
	confs uint64
}

// snapKey names the state of a group after one delivery.
type snapKey struct {
	group int8
	cause causeKey
}

type snap struct {
	hash    uint64
	members []cpg.Member
	p       *proc
}

// checker checks the invariants of the package documentation as the
// clients' events arrive; finish adds the checks that need the whole run.
type checker struct {
	s     *sim
	now   int64
	v     *Violation
	codec *codec

	msgs     []msgInfo
	byID     map[MsgID]int32
	byTiny   map[causeKey]int32
	sent     map[cpg.Member][]sentMsg
	tinySent map[tinyCount]int

	segs        map[segKey]segment
	snaps       map[snapKey]snap
	activations map[totem.RingID]causeKey

	procs    []*proc // every process, in creation order
	byMember map[cpg.Member]*proc

	liveAt int64

	delivered, confchgs, lateLeaves int
	tolerated                       map[Finding]int
}

func newChecker(s *sim, cd *codec) *checker {
	return &checker{
		s:           s,
		codec:       cd,
		byID:        map[MsgID]int32{},
		byTiny:      map[causeKey]int32{},
		sent:        map[cpg.Member][]sentMsg{},
		tinySent:    map[tinyCount]int{},
		segs:        map[segKey]segment{},
		snaps:       map[snapKey]snap{},
		activations: map[totem.RingID]causeKey{},
		liveAt:      -1,
		tolerated:   map[Finding]int{},
		byMember:    map[cpg.Member]*proc{},
	}
}

// tolerate reports whether finding f is tolerated, counting it if so.
func (ck *checker) tolerate(f Finding) bool {
	if ck.s.o.Tolerate&f == 0 {
		return false
	}
	ck.tolerated[f]++
	return true
}

func (ck *checker) fail(inv Invariant, who string, format string, args ...any) {
	if ck.v != nil {
		return
	}
	ck.v = &Violation{Invariant: inv, Time: ck.now, Who: who, Detail: fmt.Sprintf(format, args...)}
}

// newProc registers a process.
func (ck *checker) newProc(p *proc) {
	ck.procs = append(ck.procs, p)
	ck.byMember[p.member()] = p
}

// joinLeave records the delivery of a PROCJOIN or PROCLEAVE from node
// from: the ground truth of the processes' memberships.
func (ck *checker) joinLeave(from uint32, cause causeKey, it item, swapped bool) {
	pj, err := cpg.DecodeProcJoin(it.payload, swapped)
	gi := groupIndex(pj.Group)
	p := ck.byMember[cpg.Member{NodeID: from, PID: pj.PID}]
	if err != nil || gi < 0 || gi >= ck.s.o.Groups || p == nil {
		return
	}
	p.groups[gi].addMark(cause, it.fn == cpg.FnProcJoin)
}

// zombie reports whether m is, in truth, not a member of group gi after
// the delivery n is making (in SRP message k of n's ring): its node
// incarnation is not in the ring, or the last of its PROCJOINs and
// PROCLEAVEs up to that delivery in the total order is a PROCLEAVE (or
// there is none).
func (ck *checker) zombie(m cpg.Member, gi int, k srpKey, n *node) bool {
	p := ck.byMember[m]
	if p == nil || int(m.NodeID) > len(ck.s.nodes) {
		return true
	}
	home := ck.s.nodes[m.NodeID-1]
	if home.inc != p.inc || home.h == nil || !slices.Contains(n.regMembers, m.NodeID) {
		return true
	}
	return !p.groups[gi].memberAt(k, func(c causeKey) bool { return slices.Contains(n.srpItems, c) })
}

// onlyZombies reports whether two views of group gi at k differ only by
// zombies (FindingZombies).
func (ck *checker) onlyZombies(a, b []cpg.Member, gi int, k srpKey, n *node) bool {
	for _, m := range a {
		if !hasMember(b, m) && !ck.zombie(m, gi, k, n) {
			return false
		}
	}
	for _, m := range b {
		if !hasMember(a, m) && !ck.zombie(m, gi, k, n) {
			return false
		}
	}
	return true
}

// procDown ends a process: its client disconnected or its node went down.
func (ck *checker) procDown(p *proc) {
	p.alive = false
	for i := range p.groups {
		mb := &p.groups[i]
		mb.state, mb.hasView, mb.view = notJoined, false, nil
	}
}

// totemConf checks nothing but the quiet after the cluster went live.
func (ck *checker) totemConf(n *node, cc *totem.ConfChange) {
	if ck.liveAt >= 0 {
		kind := "regular"
		if cc.Transitional {
			kind = "transitional"
		}
		ck.fail(Liveness, n.String(), "%s configuration %v installed after the cluster went live at t=%dms", kind, cc.RingID, ck.liveAt)
	}
}

// syncDone checks that every node that completes the sync of a ring does
// so at the same delivery (invariant 3).
func (ck *checker) syncDone(n *node, ring totem.RingID) {
	if !n.inDelivery {
		ck.fail(ViewConsistency, n.String(), "sync of %v completed outside any delivery", ring)
		return
	}
	if k, ok := ck.activations[ring]; ok {
		if k != n.cause {
			ck.fail(ViewConsistency, n.String(), "completed the sync of %v at %v, other nodes at %v", ring, n.cause, k)
		}
		return
	}
	ck.activations[ring] = n.cause
}

// deliver checks one EvDeliver (invariants 1, 2 and 4) and records it for
// 1, 3 and 5.
func (ck *checker) deliver(p *proc, n *node, ev *cpg.DeliverEvent) {
	ck.delivered++
	if !n.inDelivery {
		ck.fail(Replies, p.String(), "EvDeliver outside any totem delivery")
		return
	}
	gi := groupIndex(ev.Group)
	if gi < 0 || gi >= len(p.groups) {
		ck.fail(Integrity, p.String(), "delivered a message of unknown group %q", ev.Group)
		return
	}
	mb := &p.groups[gi]
	from := cpg.Member{NodeID: ev.NodeID, PID: ev.PID}

	// 4: the receiver is a member and the sender is in its view.
	if !mb.hasView {
		ck.fail(SenderMembership, p.String(), "delivered a message of %s from %d/%d (%dB), but it is not a member (%v)",
			groupLabel(gi), from.NodeID, from.PID, len(ev.Data), mb.state)
		return
	}
	if !hasMember(mb.view, from) && !(slices.ContainsFunc(mb.view, func(m cpg.Member) bool { return m.NodeID == from.NodeID }) &&
		ck.tolerate(FindingNodeLevelSender)) {
		ck.fail(SenderMembership, p.String(), "delivered %s of %s from %d/%d, which is not in its view %s",
			payloadName(ev.Data), groupLabel(gi), from.NodeID, from.PID, formatMembers(mb.view))
		return
	}

	// 2: the payload was sent, intact, by the process named.
	key := n.cause.srp
	h, tiny, err := ck.codec.decode(ev.Data, ev.PID, gi)
	if err != nil {
		ck.fail(Integrity, p.String(), "message of %s from %d/%d (%dB) at %v: %v", groupLabel(gi), from.NodeID, from.PID, len(ev.Data), key, err)
		return
	}
	var sm *sentMsg
	if tiny {
		tc := tinyCount{from: from, group: int8(gi), size: int16(len(ev.Data))}
		if p.tiny == nil {
			p.tiny = map[tinyCount]int{}
		}
		p.tiny[tc]++
		if p.tiny[tc] > ck.tinySent[tc] {
			ck.fail(Integrity, p.String(), "delivered %d tiny messages of %dB of %s from %d/%d, which sent %d",
				p.tiny[tc], len(ev.Data), groupLabel(gi), from.NodeID, from.PID, ck.tinySent[tc])
			return
		}
	} else {
		if h.id.Node != from.NodeID || h.id.PID != from.PID {
			ck.fail(Integrity, p.String(), "message %v delivered as from %d/%d", h.id, from.NodeID, from.PID)
			return
		}
		if h.group != gi {
			ck.fail(Integrity, p.String(), "message %v of %s delivered in %s", h.id, groupLabel(h.group), groupLabel(gi))
			return
		}
		list := ck.sent[from]
		if int(h.id.Counter) >= len(list) {
			ck.fail(Integrity, p.String(), "message %v at %v was never sent", h.id, key)
			return
		}
		sm = &list[h.id.Counter]
		if int(sm.size) != len(ev.Data) || sm.g != ev.Guarantee || sm.inc != h.inc {
			ck.fail(Integrity, p.String(), "message %v: delivered %dB %s from incarnation %d, sent %dB %s from %d",
				h.id, len(ev.Data), guaranteeName(ev.Guarantee), h.inc, sm.size, guaranteeName(sm.g), sm.inc)
			return
		}
	}

	// 1: every process delivers a message as completed by the same SRP
	// message.
	var gid int32
	var known bool
	if tiny {
		gid, known = ck.byTiny[n.cause]
	} else {
		gid, known = ck.byID[h.id]
	}
	if known {
		m := &ck.msgs[gid]
		if m.key != key || m.from != from || m.g != ev.Guarantee || int(m.size) != len(ev.Data) || int(m.group) != gi {
			ck.fail(AgreedOrder, p.String(), "delivered %s of %s completed by %v, where %v delivered %v", payloadName(ev.Data),
				groupLabel(gi), key, m.first, m)
			return
		}
	} else {
		gid = int32(len(ck.msgs))
		m := msgInfo{key: key, group: int8(gi), from: from, size: int32(len(ev.Data)), g: ev.Guarantee,
			id: h.id, tiny: tiny, first: p}
		m.fragFrom, m.frag = n.partialFirst[partialKey{from: from, group: int8(gi)}]
		m.frag = m.frag && n.item.fn == cpg.FnPartialMcast
		ck.msgs = append(ck.msgs, m)
		if tiny {
			ck.byTiny[n.cause] = gid
		} else {
			ck.byID[h.id] = gid
		}
	}
	// 2: at most once per process.
	if p.seen.has(gid) {
		ck.fail(Integrity, p.String(), "delivered %v twice", &ck.msgs[gid])
		return
	}
	// 1: SRP messages in order along the process's deliveries, and each
	// sender's messages in the order sent.
	if p.hasLast && key.less(p.last) {
		ck.fail(AgreedOrder, p.String(), "delivered %v after a message completed by %v: the order went back", &ck.msgs[gid], p.last)
		return
	}
	p.hasLast, p.last = true, key
	if !tiny {
		if p.fifo == nil {
			p.fifo = map[cpg.Member]uint32{}
		}
		if next, ok := p.fifo[from]; ok && h.id.Counter < next {
			ck.fail(AgreedOrder, p.String(), "delivered %v after %v: not in the order sent", h.id, MsgID{from.NodeID, from.PID, next - 1})
			return
		}
		p.fifo[from] = h.id.Counter + 1
	}

	p.seen.set(gid)
	mb.delivered = append(mb.delivered, gid)
	mb.segSum += mix(uint64(gid) + 0x9e3779b97f4a7c15)
	mb.segN++
	if sm != nil && sm.gid < 0 {
		sm.gid = gid
	}
	ck.s.tr.add(entry{time: ck.now, kind: entDeliver, p: p, node: p.node, inc: int32(p.inc), group: int8(gi), g: ev.Guarantee,
		size: int32(len(ev.Data)), id: h.id, from: from})
}

// confchg checks one EvConfChg (invariant 3) and installs its view.
func (ck *checker) confchg(p *proc, n *node, ev *cpg.ConfChgEvent) {
	ck.confchgs++
	gi := groupIndex(ev.Group)
	if gi < 0 || gi >= len(p.groups) {
		ck.fail(ViewConsistency, p.String(), "confchg of unknown group %q", ev.Group)
		return
	}
	if !n.inDelivery {
		ck.fail(Replies, p.String(), "confchg of %s outside any totem delivery", groupLabel(gi))
		return
	}
	mb := &p.groups[gi]
	text := fmt.Sprintf("members[%s] left[%s] joined[%s]", formatAddrs(ev.Members), formatAddrs(ev.Left), formatAddrs(ev.Joined))
	ck.s.tr.add(entry{time: ck.now, kind: entConfChg, p: p, node: p.node, inc: int32(p.inc), group: int8(gi), text: text})
	bad := func(format string, args ...any) {
		ck.fail(ViewConsistency, p.String(), "confchg of %s %s: %s", groupLabel(gi), text, fmt.Sprintf(format, args...))
	}

	// The lists are well formed.
	members := make([]cpg.Member, len(ev.Members))
	for i, a := range ev.Members {
		if a.Reason != cpg.ReasonUndefined {
			bad("member %d/%d listed with reason %s", a.NodeID, a.PID, reasonName(a.Reason))
			return
		}
		members[i] = cpg.Member{NodeID: a.NodeID, PID: a.PID}
		if i > 0 && memberCmp(members[i-1], members[i]) >= 0 {
			bad("members not strictly ascending")
			return
		}
	}
	for _, a := range ev.Left {
		switch a.Reason {
		case cpg.ReasonLeave, cpg.ReasonNodeDown, cpg.ReasonProcDown:
		default:
			bad("left %d/%d with reason %s", a.NodeID, a.PID, reasonName(a.Reason))
			return
		}
		if hasMember(members, cpg.Member{NodeID: a.NodeID, PID: a.PID}) {
			bad("%d/%d is both left and a member", a.NodeID, a.PID)
			return
		}
	}
	for _, a := range ev.Joined {
		switch a.Reason {
		case cpg.ReasonJoin, cpg.ReasonNodeUp:
		default:
			bad("joined %d/%d with reason %s", a.NodeID, a.PID, reasonName(a.Reason))
			return
		}
		if !hasMember(members, cpg.Member{NodeID: a.NodeID, PID: a.PID}) {
			bad("joined %d/%d is not a member", a.NodeID, a.PID)
			return
		}
	}
	self := p.member()
	listed := func(list []cpg.Address, m cpg.Member) (cpg.Reason, bool) {
		for _, a := range list {
			if a.NodeID == m.NodeID && a.PID == m.PID {
				return a.Reason, true
			}
		}
		return 0, false
	}

	// The view's identity.
	if p.subCause != n.cause {
		p.subCause = n.cause
		clear(p.subs)
	}
	vid := viewID{cause: n.cause, sub: p.subs[gi], hash: membersHash(members)}
	p.subs[gi]++

	if !mb.hasView {
		// The first view is the process's own join.
		if mb.state != joining {
			bad("the process is %v", mb.state)
			return
		}
		if r, ok := listed(ev.Joined, self); !ok || r != cpg.ReasonJoin {
			bad("its first confchg is not its own join")
			return
		}
		mb.state, mb.hasView, mb.view, mb.vid = joined, true, members, vid
		mb.segSum, mb.segN, mb.segStart = 0, 0, len(mb.delivered)
		mb.confIdx = max(len(n.confs)-1, 0)
		return
	}

	// Later views follow from the previous one.
	prev := mb.view
	want := slices.Clone(prev)
	for _, a := range ev.Joined {
		m := cpg.Member{NodeID: a.NodeID, PID: a.PID}
		if hasMember(prev, m) {
			bad("joined %d/%d was already in the view %s", a.NodeID, a.PID, formatMembers(prev))
			return
		}
		want = append(want, m)
	}
	late := false
	for _, a := range ev.Left {
		m := cpg.Member{NodeID: a.NodeID, PID: a.PID}
		if _, ok := slices.BinarySearchFunc(prev, m, memberCmp); !ok {
			// Documented engine behaviour (corosync's): a PROCLEAVE of a
			// process already gone is still reported.
			if a.Reason == cpg.ReasonLeave || a.Reason == cpg.ReasonProcDown {
				late = true
				continue
			}
			bad("left %d/%d was not in the view %s", a.NodeID, a.PID, formatMembers(prev))
			return
		}
		want = slices.DeleteFunc(want, func(x cpg.Member) bool { return x == m })
	}
	slices.SortFunc(want, memberCmp)
	if !slices.Equal(want, members) {
		bad("the previous view %s minus left plus joined is %s", formatMembers(prev), formatMembers(want))
		return
	}
	if late {
		ck.lateLeaves++
	}
	r, ownLeave := listed(ev.Left, self)
	if ownLeave {
		if r != cpg.ReasonLeave {
			bad("its own process left with reason %s", reasonName(r))
			return
		}
		if mb.state != leaving {
			bad("it left while %v", mb.state)
			return
		}
	} else if !hasMember(members, self) {
		bad("the process is not in its own view")
		return
	}

	// 3: processes that saw the same two consecutive views delivered the
	// same messages between them.
	k := segKey{group: int8(gi), from: mb.vid, to: vid}
	seg := segment{sum: mb.segSum, n: mb.segN, p: p, msgs: mb.delivered[mb.segStart:len(mb.delivered):len(mb.delivered)],
		startKey: mb.vid.cause.srp}
	seg.confs = uint64(len(n.confs) - mb.confIdx)
	for _, h := range n.confs[mb.confIdx:] {
		seg.confs = mix(seg.confs ^ h)
	}
	if other, ok := ck.segs[k]; ok {
		if (other.sum != seg.sum || other.n != seg.n) &&
			!(other.confs != seg.confs && ck.tolerate(FindingViewsSpanConfigurations)) &&
			!(ck.partialAcrossViews(seg, other) && ck.tolerate(FindingPartialAcrossViews)) {
			ck.fail(ViewConsistency, p.String(), "between views %s and %s of %s (installed at %v and %v) delivered %s",
				formatMembers(prev), formatMembers(members), groupLabel(gi), mb.vid.cause, vid.cause, ck.segmentDiff(seg, other))
			return
		}
	} else {
		ck.segs[k] = seg
	}
	if ownLeave {
		mb.state, mb.hasView, mb.view = notJoined, false, nil
		return
	}
	mb.view, mb.vid = members, vid
	mb.segSum, mb.segN, mb.segStart, mb.confIdx = 0, 0, len(mb.delivered), max(len(n.confs)-1, 0)
}

// partialAcrossViews reports whether two segments differ only by
// PARTIAL_MCAST messages, each missing from a segment that starts after
// the message's first fragment, or in the same SRP message
// (FindingPartialAcrossViews).
func (ck *checker) partialAcrossViews(a, b segment) bool {
	in := func(s segment) map[int32]bool {
		m := map[int32]bool{}
		for _, g := range s.msgs {
			m[g] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	explained := func(s segment, other map[int32]bool, missing segment) bool {
		for _, g := range s.msgs {
			if other[g] {
				continue
			}
			m := &ck.msgs[g]
			// (A first fragment completed by the SRP message that installed
			// the view may come before or after it in that message.)
			if !m.frag || missing.startKey.less(m.fragFrom) {
				return false
			}
		}
		return true
	}
	return explained(a, mb, b) && explained(b, ma, a)
}

// segmentDiff explains how two segments differ.
func (ck *checker) segmentDiff(a, b segment) string {
	in := func(s segment) map[int32]bool {
		m := map[int32]bool{}
		for _, g := range s.msgs {
			m[g] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	only := func(s segment, other map[int32]bool) []string {
		var out []string
		for _, g := range s.msgs {
			if !other[g] {
				out = append(out, ck.msgs[g].String())
			}
		}
		if len(out) > 5 {
			out = append(out[:5], fmt.Sprintf("... %d more", len(out)-5))
		}
		return out
	}
	return fmt.Sprintf("%d messages, but %v saw the same views with %d; only here: %v; only there: %v",
		a.n, b.p, b.n, only(a, mb), only(b, ma))
}

// snapshot compares the views of the node's processes after a delivery
// that may have changed a group's membership with those of every other
// process that made the same delivery in the same ring, once the sync of
// that ring completed (invariant 3).
func (ck *checker) snapshot(n *node) {
	if !n.hasReg || n.trans || !n.activated {
		return
	}
	for _, p := range n.procs {
		for gi := range p.groups {
			mb := &p.groups[gi]
			if !mb.hasView {
				continue
			}
			k := snapKey{group: int8(gi), cause: n.cause}
			h := membersHash(mb.view)
			if s, ok := ck.snaps[k]; ok {
				if s.hash != h && !(ck.onlyZombies(mb.view, s.members, gi, n.cause.srp, n) && ck.tolerate(FindingZombies)) {
					ck.fail(ViewConsistency, p.String(), "in ring %v after %v its view of %s is %s, but %v's is %s",
						n.reg, n.cause, groupLabel(gi), formatMembers(mb.view), s.p, formatMembers(s.members))
					return
				}
				continue
			}
			ck.snaps[k] = snap{hash: h, members: mb.view, p: p}
		}
	}
}

// totemConfChg checks an EvTotemConfChg: it reports the ring whose sync
// completes (or, for the initial one, completed last) and its members.
func (ck *checker) totemConfChg(p *proc, n *node, initial bool, ev *cpg.TotemConfChgEvent) {
	ring, members := n.reg, n.regMembers
	if initial {
		ring, members = n.lastAct, n.lastMembers
	}
	ck.s.tr.add(entry{time: ck.now, kind: entTotemConf, p: p, node: p.node, inc: int32(p.inc), ring: ev.Ring,
		text: fmt.Sprint(ev.Members)})
	if !p.track {
		ck.fail(Replies, p.String(), "EvTotemConfChg %v for a connection that did not ask", ev.Ring)
		return
	}
	if !initial && !n.inDelivery || ev.Ring != ring || !slices.Equal(ev.Members, members) {
		ck.fail(ViewConsistency, p.String(), "EvTotemConfChg %v %v, but the node synchronised %v %v", ev.Ring, ev.Members, ring, members)
	}
}

// sentOK records a message whose MCAST was accepted.
func (ck *checker) sentOK(p *proc, gi int, size int, g totem.Guarantee) {
	if size < HeaderSize {
		ck.tinySent[tinyCount{from: p.member(), group: int8(gi), size: int16(size)}]++
		return
	}
	m := sentMsg{time: ck.now, group: int8(gi), size: int32(size), g: g, inc: p.inc, gid: -1}
	if ck.liveAt >= 0 {
		for _, q := range ck.s.liveProcs() {
			mb := &q.groups[gi]
			if mb.state == joined || q == p && mb.state == joining {
				m.expect = append(m.expect, expectRecv{p: q, episode: mb.episode})
			}
		}
	}
	ck.sent[p.member()] = append(ck.sent[p.member()], m)
}
