package sim

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

func itoa(i int) string { return strconv.Itoa(i) }

// confChange checks a configuration change (invariants 4, 5 and 7).
func (c *Checker) confChange(s *incState, cc *totem.ConfChange) {
	kind := "regular"
	if cc.Transitional {
		kind = "transitional"
	}
	if c.liveAt >= 0 {
		c.fail(Liveness, s, "%s configuration %v installed after the final ring %v formed at t=%dms",
			kind, cc.RingID, c.liveRing, c.liveAt)
		return
	}
	if !isSortedSet(cc.Members) {
		c.fail(ConfChanges, s, "%s configuration %v: members %v not ascending", kind, cc.RingID, cc.Members)
		return
	}
	// A node's first transitional configuration is empty, as corosync's
	// is: it comes from no previous ring. Every other one includes it.
	firstTrans := cc.Transitional && s.reg == nil && len(cc.Members) == 0
	if _, ok := slices.BinarySearch(cc.Members, s.node); !ok && !firstTrans {
		c.fail(ConfChanges, s, "%s configuration %v %v does not include the node", kind, cc.RingID, cc.Members)
		return
	}
	members := slices.Clone(cc.Members)
	if cc.Transitional {
		c.transitional(s, cc, members)
	} else {
		c.regularConf(s, cc, members)
	}
}

func (c *Checker) transitional(s *incState, cc *totem.ConfChange, members []totem.NodeID) {
	if s.pending != nil {
		c.fail(ConfChanges, s, "transitional configuration %v follows transitional %v without a regular one", cc.RingID, s.pending.ring)
		return
	}
	if s.reg != nil {
		if !subset(members, s.reg.members) {
			c.fail(ConfChanges, s, "transitional configuration %v %v is not a subset of the previous regular %v %v",
				cc.RingID, members, s.reg.ring, s.reg.members)
			return
		}
		if want := minus(s.reg.members, members); !sameSet(cc.Left, want) {
			c.fail(ConfChanges, s, "transitional configuration %v: left=%v, want %v", cc.RingID, cc.Left, want)
			return
		}
		key := transKey{s.reg.ring, cc.RingID}
		if other, ok := c.trans[key]; ok && !slices.Equal(other, members) {
			c.fail(ConfChanges, s, "transitional configuration %v→%v has members %v here and %v elsewhere", key.prev, key.next, members, other)
			return
		}
		c.trans[key] = members
	}
	s.pending = &conf{trans: true, ring: cc.RingID, members: members}
	s.latest = s.pending
}

func (c *Checker) regularConf(s *incState, cc *totem.ConfChange, members []totem.NodeID) {
	if s.pending == nil || s.pending.ring != cc.RingID {
		c.fail(ConfChanges, s, "regular configuration %v is not preceded by its transitional configuration", cc.RingID)
		return
	}
	if !subset(s.pending.members, members) {
		c.fail(ConfChanges, s, "regular configuration %v %v lacks members of its transitional one %v", cc.RingID, members, s.pending.members)
		return
	}
	if want := minus(members, s.pending.members); !sameSet(cc.Joined, want) {
		c.fail(ConfChanges, s, "regular configuration %v: joined=%v, want %v", cc.RingID, cc.Joined, want)
		return
	}
	if cc.RingID.Seq <= c.maxRing[s.node] {
		c.fail(ConfChanges, s, "regular configuration %v: ring seq not above %x, installed earlier by this node", cc.RingID, c.maxRing[s.node])
		return
	}
	if other, ok := c.regular[cc.RingID]; ok && !slices.Equal(other, members) {
		c.fail(ConfChanges, s, "regular configuration %v has members %v here and %v elsewhere", cc.RingID, members, other)
		return
	}
	c.regular[cc.RingID] = members

	// 4: the messages delivered since the previous regular configuration.
	if s.reg != nil {
		key := transKey{s.reg.ring, cc.RingID}
		seg := segment{sum: s.segSum, n: len(s.delivered) - s.segStart, inc: s, start: s.segStart, end: len(s.delivered)}
		if other, ok := c.segs[key]; ok {
			if other.sum != seg.sum || other.n != seg.n {
				c.fail(VirtualSynchrony, s, "moved from %v to %v with %s", key.prev, key.next, c.segmentDiff(seg, other))
				return
			}
		} else {
			c.segs[key] = seg
		}
	}
	s.reg = &conf{ring: cc.RingID, members: members, at: c.now}
	s.pending, s.latest = nil, s.reg
	s.segStart, s.segSum = len(s.delivered), 0
	c.maxRing[s.node] = cc.RingID.Seq
}

// segmentDiff explains how two segments differ.
func (c *Checker) segmentDiff(a, b segment) string {
	in := func(s segment) map[int32]bool {
		m := map[int32]bool{}
		for _, g := range s.inc.delivered[s.start:s.end] {
			m[g] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	only := func(s segment, other map[int32]bool) []string {
		var out []string
		for _, g := range s.inc.delivered[s.start:s.end] {
			if !other[g] {
				out = append(out, c.msgs[g].String())
			}
		}
		if len(out) > 5 {
			out = append(out[:5], fmt.Sprintf("... %d more", len(out)-5))
		}
		return out
	}
	return fmt.Sprintf("%d messages, but %v made the same move with %d; only here: %v; only there: %v",
		a.n, b.inc, b.n, only(a, mb), only(b, ma))
}

var _ totemtest.Observer = (*Checker)(nil)
