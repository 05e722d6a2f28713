package sim

import (
	"fmt"
	"slices"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// msgKey names an SRP message: the ring it was sent in and its seq. A
// delivery's MsgRing and MsgSeq name the SRP message that completed it.
type msgKey struct {
	ringSeq uint64
	ringRep uint32
	seq     uint32
}

func keyOf(ring totem.RingID, seq uint32) msgKey {
	return msgKey{ringSeq: ring.Seq, ringRep: ring.Rep, seq: seq}
}

// less orders SRP messages as every node must deliver them: by ring seq
// (which grows along a node's history), then ring representative, then seq.
func (a msgKey) less(b msgKey) bool {
	if a.ringSeq != b.ringSeq {
		return a.ringSeq < b.ringSeq
	}
	if a.ringRep != b.ringRep {
		return a.ringRep < b.ringRep
	}
	return a.seq < b.seq
}

func (a msgKey) String() string {
	return fmt.Sprintf("%x.%x#%d", a.ringRep, a.ringSeq, a.seq)
}

// tinyKey identifies a tiny message, which carries no id: the SRP message
// that completed it and how many tiny messages that SRP message completed
// before it. (A node that cannot reassemble a fragmented message skips it,
// but a fragmented message is never tiny, so the count is the same on every
// node.)
type tinyKey struct {
	msgKey
	idx uint32
}

// mix is the splitmix64 finalizer, for the order-independent set digests
// of virtual synchrony.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// msgInfo is what every delivery of one message must agree on. Its index
// in Checker.msgs is the message's gid.
type msgInfo struct {
	key   msgKey // the SRP message that completed it
	tiny  uint32 // tiny messages only: tinyKey.idx + 1
	from  totem.NodeID
	g     totem.Guarantee
	size  int32
	id    MsgID // 0 for a tiny message
	first *incState
}

func (m *msgInfo) String() string {
	return m.key.String() + "=" + describe(m.id, m.from, int(m.size))
}

// sentMsg is a message the workload sent (Node.Send returned nil).
type sentMsg struct {
	time int64
	size int32
	g    totem.Guarantee
	self bool   // delivered by its sender incarnation
	mask uint64 // nodes that delivered it
}

// conf is an installed configuration.
type conf struct {
	trans   bool
	ring    totem.RingID
	members []totem.NodeID
	at      int64 // when it was installed
}

// transKey names a transitional configuration, or a virtual synchrony
// segment: the previous regular ring and the new one.
type transKey struct{ prev, next totem.RingID }

// segment is what one incarnation delivered between two regular
// configurations.
type segment struct {
	sum        uint64
	n          int
	inc        *incState
	start, end int // range of inc.delivered
}

// incState is one node incarnation as the checker sees it.
type incState struct {
	node totem.NodeID
	inc  int
	up   bool

	// The last SRP message a delivery came from; within it, the counter
	// of the last message with an id (-1 if none) and the number of tiny
	// messages so far.
	hasLast     bool
	last        msgKey
	lastCounter int64
	tinyIdx     uint32

	reg     *conf // latest regular configuration
	pending *conf // transitional configuration awaiting its regular one
	latest  *conf // latest configuration event

	segStart int
	segSum   uint64

	delivered []int32 // gids, in delivery order
	seen      bitset

	tinySent, tinySelf int
}

func (s *incState) String() string { return fmt.Sprintf("n%d.%d", s.node, s.inc) }

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

// Checker checks the invariants of the package documentation over the
// records of a cluster of up to 64 nodes. It stops at the first violation.
type Checker struct {
	nodes   int
	allMask uint64
	codec   *codec
	now     int64
	v       *Violation

	incs    []*incState // every incarnation, in start order
	cur     []*incState // cur[id]: the node's latest incarnation
	maxRing []uint64    // maxRing[id]: highest regular ring seq any incarnation of id installed
	msgs    []msgInfo   // by gid
	byID    map[MsgID]int32
	byTiny  map[tinyKey]int32
	sent    map[uint32][]sentMsg // by sender<<16 | incarnation, indexed by counter

	regular  map[totem.RingID][]totem.NodeID
	trans    map[transKey][]totem.NodeID
	segs     map[transKey]segment
	receipts map[totem.MsgRef]uint64       // nodes (bit id-1) that stored the SRP message
	wrapped  map[totem.MsgRef]totem.MsgRef // recovery wrapper → the old-ring message it carries

	liveAt   int64 // when the final ring formed; -1 before
	liveRing totem.RingID

	delivered int
}

// NewChecker returns a checker for nodes 1..nodes (at most 64).
func NewChecker(nodes int) *Checker {
	if nodes < 1 || nodes > 64 {
		panic(fmt.Sprintf("sim: checker supports 1..64 nodes, not %d", nodes))
	}
	return &Checker{
		nodes:    nodes,
		allMask:  uint64(1)<<nodes - 1,
		codec:    newCodec(0, 1),
		cur:      make([]*incState, nodes+1),
		maxRing:  make([]uint64, nodes+1),
		byID:     map[MsgID]int32{},
		byTiny:   map[tinyKey]int32{},
		sent:     map[uint32][]sentMsg{},
		regular:  map[totem.RingID][]totem.NodeID{},
		trans:    map[transKey][]totem.NodeID{},
		segs:     map[transKey]segment{},
		receipts: map[totem.MsgRef]uint64{},
		wrapped:  map[totem.MsgRef]totem.MsgRef{},
		liveAt:   -1,
	}
}

func bit(id totem.NodeID) uint64 { return 1 << (id - 1) }

// Violation returns the first violation found, or nil.
func (c *Checker) Violation() *Violation { return c.v }

// Rings returns the number of distinct regular configurations installed.
func (c *Checker) Rings() int { return len(c.regular) }

// Delivered returns the number of application deliveries seen.
func (c *Checker) Delivered() int { return c.delivered }

func (c *Checker) fail(inv Invariant, s *incState, format string, args ...any) {
	if c.v != nil {
		return
	}
	v := &Violation{Invariant: inv, Time: c.now, Detail: fmt.Sprintf(format, args...)}
	if s != nil {
		v.Node, v.Inc = s.node, s.inc
	}
	c.v = v
}

// state returns the incarnation a record names.
func (c *Checker) state(r *totemtest.Record) *incState {
	if int(r.Node) >= len(c.cur) || r.Node == 0 {
		panic(fmt.Sprintf("sim: record for node %d outside 1..%d", r.Node, c.nodes))
	}
	s := c.cur[r.Node]
	if s == nil || s.inc != r.Inc {
		panic(fmt.Sprintf("sim: record for n%d.%d, which has not started", r.Node, r.Inc))
	}
	return s
}

// Observe checks one record. It implements totemtest.Observer.
func (c *Checker) Observe(r *totemtest.Record) {
	if c.v != nil {
		return
	}
	c.now = r.Time
	switch r.Kind {
	case totemtest.KindStart:
		s := &incState{node: r.Node, inc: r.Inc, up: true}
		c.incs = append(c.incs, s)
		c.cur[r.Node] = s
	case totemtest.KindCrash, totemtest.KindLeave:
		c.state(r).up = false
	case totemtest.KindAppSend:
		if r.Err == nil {
			c.appSend(c.state(r), r)
		}
	case totemtest.KindSend:
		if r.Frame.Recovery && r.Frame.Inner != (totem.MsgRef{}) {
			c.wrapped[totem.MsgRef{Ring: r.Frame.Ring, Seq: r.Frame.Seq}] = r.Frame.Inner
		}
	case totemtest.KindReceipt:
		// Storing a recovery wrapper is receiving the message it carries,
		// whenever the core moves it to the old ring's queue.
		c.receipts[r.Ref] |= bit(r.Node)
		if inner, ok := c.wrapped[r.Ref]; ok {
			c.receipts[inner] |= bit(r.Node)
		}
	case totemtest.KindDeliver:
		c.deliver(c.state(r), r.Event)
	case totemtest.KindConfChange:
		c.confChange(c.state(r), r.Event.Conf)
	case totemtest.KindStepError:
		c.fail(WireAccepted, c.state(r), "rejected %v from %d (%dB): %v", r.Frame, r.Peer, r.Size, r.Err)
	}
}

func (c *Checker) appSend(s *incState, r *totemtest.Record) {
	id, tiny, err := c.codec.decode(r.Data, r.Node)
	if err != nil {
		panic(fmt.Sprintf("sim: the workload sent a bad payload: %v", err))
	}
	if tiny {
		s.tinySent++
		return
	}
	k := id.senderInc()
	list := c.sent[k]
	if id.Sender() != s.node || id.Inc() != s.inc || int(id.Counter()) != len(list) {
		panic(fmt.Sprintf("sim: %v sent %v out of sequence", s, id))
	}
	c.sent[k] = append(list, sentMsg{time: r.Time, size: int32(len(r.Data)), g: r.Guarantee})
}

// SetLive records that the final ring formed at time t: from now on the
// configuration must not change, and Finish requires every message sent
// from t on to be delivered by every node.
func (c *Checker) SetLive(t int64, ring totem.RingID) {
	c.liveAt, c.liveRing = t, ring
}

// Regular returns the latest regular configuration of the node's current
// incarnation, when it is up and not between a transitional and a regular
// configuration.
func (c *Checker) Regular(id totem.NodeID) (ring totem.RingID, members []totem.NodeID, ok bool) {
	s := c.cur[id]
	if s == nil || !s.up || s.reg == nil || s.pending != nil {
		return totem.RingID{}, nil, false
	}
	return s.reg.ring, s.reg.members, true
}

// RegularSince returns when the node's current incarnation installed its
// latest regular configuration (-1 if none).
func (c *Checker) RegularSince(id totem.NodeID) int64 {
	s := c.cur[id]
	if s == nil || s.reg == nil {
		return -1
	}
	return s.reg.at
}

func isSortedSet(ids []totem.NodeID) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			return false
		}
	}
	return true
}

// subset reports a ⊆ b for sorted sets.
func subset(a, b []totem.NodeID) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}

// minus returns a − b for sorted sets.
func minus(a, b []totem.NodeID) []totem.NodeID {
	var out []totem.NodeID
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// sameSet compares two id lists as sets given sorted want; nil and empty
// are equal.
func sameSet(got, want []totem.NodeID) bool {
	g := slices.Clone(got)
	slices.Sort(g)
	g = slices.Compact(g)
	return len(g) == len(got) && slices.Equal(g, want)
}
