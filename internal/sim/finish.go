package sim

import (
	"fmt"
	"slices"

	"github.com/corogo/corogo/totem"
)

// Finish runs the checks that need the whole run, at time now: the naive
// pairwise agreed-order check (1), self-delivery (3) and, when SetLive was
// called, delivery of every message sent after the final ring formed (7).
// It returns the first violation of the run.
func (c *Checker) Finish(now int64) *Violation {
	if c.v != nil {
		return c.v
	}
	c.now = now
	c.pairwiseOrder()
	c.selfDelivery()
	c.deliveredAfterLive()
	return c.v
}

// pairwiseOrder checks, for every pair of incarnations, that the messages
// both delivered appear in the same relative order: a naive twin of the
// per-delivery key checks.
func (c *Checker) pairwiseOrder() {
	pos := make([][]int32, len(c.incs))
	for i, s := range c.incs {
		if len(s.delivered) == 0 {
			continue
		}
		p := make([]int32, len(c.msgs))
		for j := range p {
			p[j] = -1
		}
		for j, g := range s.delivered {
			p[g] = int32(j)
		}
		pos[i] = p
	}
	for i, a := range c.incs {
		for j := i + 1; j < len(c.incs) && c.v == nil; j++ {
			b, pb := c.incs[j], pos[j]
			if pos[i] == nil || pb == nil {
				continue
			}
			prev, prevGid := int32(-1), int32(-1)
			for _, g := range a.delivered {
				q := pb[g]
				if q < 0 {
					continue
				}
				if q < prev {
					m1, m2 := &c.msgs[prevGid], &c.msgs[g]
					c.fail(AgreedOrder, a, "delivered %v before %v, but %v delivered them in the opposite order",
						m1, m2, b)
					return
				}
				prev, prevGid = q, g
			}
		}
	}
}

// selfDelivery checks that every incarnation still up delivered every
// message it sent.
func (c *Checker) selfDelivery() {
	for _, s := range c.incs {
		if !s.up || c.v != nil {
			continue
		}
		list := c.sent[makeMsgID(s.node, s.inc, 0).senderInc()]
		var missing []string
		for i := range list {
			if !list[i].self {
				missing = append(missing, fmt.Sprintf("%v(t=%d)", makeMsgID(s.node, s.inc, uint32(i)), list[i].time))
			}
		}
		if len(missing) > 0 {
			c.fail(SelfDelivery, s, "%d of its %d messages never delivered to itself: %v", len(missing), len(list), head(missing))
			return
		}
		if s.tinySelf != s.tinySent {
			c.fail(SelfDelivery, s, "delivered %d of its own %d tiny messages", s.tinySelf, s.tinySent)
			return
		}
	}
}

// deliveredAfterLive checks that every message sent once the final ring
// formed was delivered by every node.
func (c *Checker) deliveredAfterLive() {
	if c.liveAt < 0 || c.v != nil {
		return
	}
	keys := make([]uint32, 0, len(c.sent))
	for k := range c.sent {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for i, m := range c.sent[k] {
			if m.time < c.liveAt || m.mask == c.allMask {
				continue
			}
			id := MsgID(uint64(k)<<32 | uint64(i))
			var missing []totem.NodeID
			for n := 1; n <= c.nodes; n++ {
				if m.mask&bit(totem.NodeID(n)) == 0 {
					missing = append(missing, totem.NodeID(n))
				}
			}
			c.fail(Liveness, nil, "message %v sent at t=%dms, after the final ring %v formed at t=%dms, never delivered by nodes %v",
				id, m.time, c.liveRing, c.liveAt, missing)
			return
		}
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], fmt.Sprintf("... %d more", len(s)-5))
	}
	return s
}
