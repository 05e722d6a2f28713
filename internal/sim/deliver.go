package sim

import (
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// deliver checks one application delivery (invariants 1, 2, 5 and 6) and
// records it for 3, 4 and 7.
func (c *Checker) deliver(s *incState, ev *totem.Event) {
	c.delivered++
	// 5: a message is delivered in the configuration it was sent in.
	if s.reg == nil {
		c.fail(ConfChanges, s, "delivered a message of %v before installing any regular configuration", ev.MsgRing)
		return
	}
	if ev.MsgRing != s.reg.ring {
		c.fail(ConfChanges, s, "delivered a message of ring %v (#%d) in configuration %v", ev.MsgRing, ev.MsgSeq, s.reg.ring)
		return
	}

	// 2: the payload was sent, intact, by Event.From.
	k := keyOf(ev.MsgRing, ev.MsgSeq)
	id, tiny, err := c.codec.decode(ev.Data, ev.From)
	if err != nil {
		c.fail(Integrity, s, "message at %v from %d (%dB): %v", k, ev.From, len(ev.Data), err)
		return
	}
	var sm *sentMsg
	if !tiny {
		if id.Sender() != ev.From {
			c.fail(Integrity, s, "message %v at %v delivered as from %d", id, k, ev.From)
			return
		}
		list := c.sent[id.senderInc()]
		if int(id.Counter()) >= len(list) {
			c.fail(Integrity, s, "message %v at %v was never sent", id, k)
			return
		}
		sm = &list[id.Counter()]
		if int(sm.size) != len(ev.Data) || sm.g != ev.Guarantee {
			c.fail(Integrity, s, "message %v at %v: delivered %dB %v, sent %dB %v", id, k, len(ev.Data), guarantee(ev.Guarantee), sm.size, guarantee(sm.g))
			return
		}
		if gid, ok := c.byID[id]; ok && s.seen.has(gid) {
			c.fail(Integrity, s, "message %v delivered twice (at %v and now at %v)", id, c.msgs[gid].key, k)
			return
		}
	}

	// 1: SRP messages in increasing order along the incarnation; within
	// one, its sender's messages in the order sent.
	if !s.hasLast || s.last != k {
		if s.hasLast && !s.last.less(k) {
			c.fail(AgreedOrder, s, "delivered %s completed by %v after one completed by %v: the order went back",
				describe(id, ev.From, len(ev.Data)), k, s.last)
			return
		}
		s.hasLast, s.last, s.lastCounter, s.tinyIdx = true, k, -1, 0
	}
	if !tiny {
		if int64(id.Counter()) <= s.lastCounter {
			c.fail(AgreedOrder, s, "delivered %v after %v, both completed by %v", id, makeMsgID(id.Sender(), id.Inc(), uint32(s.lastCounter)), k)
			return
		}
		s.lastCounter = int64(id.Counter())
	}

	// 1: every node delivers a message as completed by the same SRP message.
	var gid int32
	var known bool
	var tk tinyKey
	if tiny {
		s.tinyIdx++
		tk = tinyKey{k, s.tinyIdx - 1}
		gid, known = c.byTiny[tk]
	} else {
		gid, known = c.byID[id]
	}
	if known {
		m := &c.msgs[gid]
		if m.key != k || m.from != ev.From || m.g != ev.Guarantee || int(m.size) != len(ev.Data) {
			c.fail(AgreedOrder, s, "delivered %s completed by %v (%v), where %v delivered %v (%v)",
				describe(id, ev.From, len(ev.Data)), k, guarantee(ev.Guarantee), m.first, m, guarantee(m.g))
			return
		}
	} else {
		gid = int32(len(c.msgs))
		m := msgInfo{key: k, from: ev.From, g: ev.Guarantee, size: int32(len(ev.Data)), id: id, first: s}
		if tiny {
			m.tiny = tk.idx + 1
			c.byTiny[tk] = gid
		} else {
			c.byID[id] = gid
		}
		c.msgs = append(c.msgs, m)
	}
	if s.seen.has(gid) {
		c.fail(Integrity, s, "message %v delivered twice", &c.msgs[gid])
		return
	}
	s.seen.set(gid)
	s.delivered = append(s.delivered, gid)

	// 6: a safe message was received by every member of the deliverer's
	// configuration.
	if ev.Guarantee == totem.Safe {
		have := c.receipts[totem.MsgRef{Ring: ev.MsgRing, Seq: ev.MsgSeq}]
		for _, m := range s.latest.members {
			if have&bit(m) == 0 {
				kind := "regular"
				if s.latest.trans {
					kind = "transitional"
				}
				c.fail(SafeDelivery, s, "delivered safe %s completed by %v in %s configuration %v %v, but member %d never received %v",
					describe(id, ev.From, len(ev.Data)), k, kind, s.latest.ring, totemtest.FormatIDs(s.latest.members), m, k)
				return
			}
		}
	}

	// 4: the set digest of this segment.
	s.segSum += mix(uint64(gid) + 0x9e3779b97f4a7c15)

	// 3 and 7: who delivered what.
	if sm != nil {
		sm.mask |= bit(s.node)
		if id.Sender() == s.node && id.Inc() == s.inc {
			sm.self = true
		}
	} else if ev.From == s.node {
		s.tinySelf++
	}
}

func guarantee(g totem.Guarantee) string {
	if g == totem.Safe {
		return "safe"
	}
	return "agreed"
}

func describe(id MsgID, from totem.NodeID, size int) string {
	if id == 0 {
		return "tiny/" + itoa(size) + "B from " + itoa(int(from))
	}
	return id.String() + "/" + itoa(size) + "B"
}
