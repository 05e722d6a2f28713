package cpgsim

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/corogo/corogo/internal/service/cpg"
)

// groupNames are the groups clients join, of different name lengths; a
// run uses the first Options.Groups of them.
var groupNames = [MaxGroups]string{
	"g",
	"cpg-group-1",
	"a-much-longer-group-name-to-exercise-the-name-codecs-" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123",
}

// MaxGroups is the most group names a run can use.
const MaxGroups = 3

func groupName(i int) string {
	if i < 0 || i >= len(groupNames) {
		return fmt.Sprintf("group?%d", i)
	}
	return groupNames[i]
}

// groupLabel is a group's name for traces and reports: long names are
// cut, with their length.
func groupLabel(i int) string {
	name := groupName(i)
	if len(name) > 16 {
		return fmt.Sprintf("%s…(%dB)", name[:12], len(name))
	}
	return name
}

// groupIndex returns the index of a group name, or -1.
func groupIndex(name []byte) int {
	for i, g := range groupNames {
		if g == string(name) {
			return i
		}
	}
	return -1
}

// mstate is a process's state in one group, as its client knows it.
type mstate uint8

const (
	// notJoined: no join requested (or the last one ended).
	notJoined mstate = iota
	// joining: JOIN answered OK; its own join confchg has not come.
	joining
	// joined: it has a view of the group.
	joined
	// leaving: LEAVE answered OK; its own leave confchg has not come.
	leaving
)

func (s mstate) String() string {
	switch s {
	case notJoined:
		return "not joined"
	case joining:
		return "joining"
	case joined:
		return "joined"
	case leaving:
		return "leaving"
	}
	return "state?"
}

// viewID identifies one installation of a view: the delivery that caused
// it, the number of confchgs of the group that delivery caused before it
// on the node, and the members' hash.
type viewID struct {
	cause causeKey
	sub   uint16
	hash  uint64
}

// membership is a process's participation in one group.
type membership struct {
	state mstate
	// episode counts the joins accepted; a message's expected receivers
	// are recorded with their episode (invariant 5).
	episode int
	// view is the current view (nil without one) and vid its identity.
	view    []cpg.Member
	hasView bool
	vid     viewID
	// segSum and segN digest the messages delivered since the view was
	// installed (invariant 3).
	segSum   uint64
	segN     int
	segStart int
	// confIdx is the index in its node's configurations of the one
	// current when the view was installed.
	confIdx int
	// delivered are the gids delivered in this group, in order, over
	// every episode (invariant 1).
	delivered []int32
	// marks are the deliveries of its PROCJOINs and PROCLEAVEs, on any
	// node, ascending by the SRP message that completed them: its
	// memberships in the total order.
	marks []mark
}

// mark is a PROCJOIN (join) or PROCLEAVE of a process: the delivery
// that carried it, which names its place in the total order.
type mark struct {
	cause causeKey
	join  bool
}

// addMark records a PROCJOIN or PROCLEAVE delivered as cause, once. Marks
// are ordered by SRP message, then in the order recorded: every node
// delivers the items of one SRP message in the same order (a node may
// skip only a leading continuation of a fragmented item, and these are
// never fragmented), so the first node to deliver an item delivered the
// items before it first.
func (mb *membership) addMark(cause causeKey, join bool) {
	if slices.ContainsFunc(mb.marks, func(m mark) bool { return m.cause == cause }) {
		return
	}
	i := len(mb.marks)
	for i > 0 && cause.srp.less(mb.marks[i-1].cause.srp) {
		i--
	}
	mb.marks = slices.Insert(mb.marks, i, mark{cause: cause, join: join})
}

// memberAt reports whether the last PROCJOIN or PROCLEAVE before the
// delivery in progress on a node (in SRP message k, after the items done
// reports as delivered) is a PROCJOIN.
func (mb *membership) memberAt(k srpKey, done func(causeKey) bool) bool {
	in := false
	for _, m := range mb.marks {
		if k.less(m.cause.srp) {
			break
		}
		if m.cause.srp == k && !done(m.cause) {
			continue
		}
		in = m.join
	}
	return in
}

// proc is one simulated client process: one connection with its own pid,
// which may join several groups.
type proc struct {
	node uint32
	inc  int
	pid  uint32
	conn *conn
	// alive until the client disconnects or its node goes down.
	alive bool
	// track asked for EvTotemConfChg events.
	track bool
	// counter is the next message's counter; reqs the last request id.
	counter uint32
	reqs    uint32
	groups  []membership

	// Checker state: the last SRP message a delivery came from, the
	// messages seen, and per sender the next counter expected at least.
	hasLast bool
	last    srpKey
	seen    bitset
	fifo    map[cpg.Member]uint32
	// tiny counts tiny deliveries per (sender, group, size).
	tiny map[tinyCount]int
	// subs counts, per group, the confchgs delivery subCause caused.
	subCause causeKey
	subs     []uint16
}

type tinyCount struct {
	from  cpg.Member
	group int8
	size  int16
}

func (p *proc) String() string { return fmt.Sprintf("n%d.%d/p%d", p.node, p.inc, p.pid) }

func (p *proc) member() cpg.Member { return cpg.Member{NodeID: p.node, PID: p.pid} }

func memberCmp(a, b cpg.Member) int {
	return cmp.Or(cmp.Compare(a.NodeID, b.NodeID), cmp.Compare(a.PID, b.PID))
}

func hasMember(ms []cpg.Member, m cpg.Member) bool {
	_, ok := slices.BinarySearchFunc(ms, m, memberCmp)
	return ok
}

// membersHash is an order-dependent hash of a member list.
func membersHash(ms []cpg.Member) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, m := range ms {
		h = mix(h ^ uint64(m.NodeID)<<32 ^ uint64(m.PID))
	}
	return mix(h + uint64(len(ms)))
}

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// bitset is a growable set of small integers.
type bitset []uint64

func (b bitset) has(i int32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

func (b *bitset) set(i int32) {
	w := int(i >> 6)
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (i & 63)
}
