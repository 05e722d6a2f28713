package totemtest

import (
	"fmt"
	"math"
	"slices"

	"github.com/corogo/corogo/totem"
)

// Step advances virtual time by one tick: the datagrams due now arrive, in
// the order they were sent, then every running node ticks, in id order.
// Each input is followed by the node's Ready/Advance loop.
func (c *Cluster) Step() {
	c.now++
	for {
		d, ok := c.net.PopDue(c.now)
		if !ok {
			break
		}
		c.arrive(d)
	}
	for _, mb := range c.members {
		if mb.state == NodeUp {
			mb.m.Tick()
			c.drain(mb)
		}
	}
}

// Run advances virtual time by ticks. Stretches in which nothing is in
// flight and no node's timer fires (Machine.NextTimer) only tick the nodes.
func (c *Cluster) Run(ticks int64) {
	end := c.now + ticks
	for c.now < end {
		if k := min(c.IdleTicks(), end-c.now); k > 0 {
			c.skip(k)
			continue
		}
		c.Step()
	}
}

// RunUntil steps until cond holds after a step, for at most max ticks. It
// returns the ticks run and whether cond held.
func (c *Cluster) RunUntil(max int64, cond func() bool) (int64, bool) {
	start := c.now
	for c.now-start < max {
		c.Step()
		if cond() {
			return c.now - start, true
		}
	}
	return c.now - start, false
}

// IdleTicks returns how many ticks can pass with nothing arriving and no
// node's timer firing: the next Step that matters comes after them.
func (c *Cluster) IdleTicks() int64 {
	free := int64(math.MaxInt64)
	if due, ok := c.net.NextDue(); ok {
		free = due - c.now - 1
	}
	for _, mb := range c.members {
		if mb.state != NodeUp {
			continue
		}
		if mb.m.HasReady() {
			return 0
		}
		if t, ok := mb.m.NextTimer(); ok {
			free = min(free, t-1)
		}
	}
	return max(free, 0)
}

// skip runs up to k ticks that IdleTicks promised to be quiet. Should a
// node produce output anyway, it is handled and skipping stops.
func (c *Cluster) skip(k int64) {
	for range k {
		c.now++
		busy := false
		for _, mb := range c.members {
			if mb.state == NodeUp {
				mb.m.Tick()
				if mb.m.HasReady() {
					c.drain(mb)
					busy = true
				}
			}
		}
		if busy {
			return
		}
	}
}

// arrive hands a datagram to its destination, queues it for a paused node,
// or drops it.
func (c *Cluster) arrive(d Datagram) {
	if !c.net.Connected(d.From, d.To) {
		c.drop(d, DropPartition)
		return
	}
	mb := c.member(d.To)
	if mb == nil {
		c.drop(d, DropDown)
		return
	}
	switch mb.state {
	case NodeUp:
		c.step(mb, d)
	case NodePaused:
		if len(mb.queue) >= c.opts.PauseQueue {
			c.drop(d, DropQueueFull)
			return
		}
		mb.queue = append(mb.queue, d)
	default:
		c.drop(d, DropDown)
	}
}

func (c *Cluster) drop(d Datagram, why DropReason) {
	c.rec = Record{Kind: KindDrop, Node: d.To, Inc: c.Incarnation(d.To), Peer: d.From, Frame: d.Info, Size: len(d.Data), Drop: why}
	c.emit()
}

// step hands one datagram to a running node.
func (c *Cluster) step(mb *member, d Datagram) {
	c.rec = Record{Kind: KindRecv, Node: mb.id, Inc: mb.inc, Peer: d.From, Frame: d.Info, Size: len(d.Data)}
	c.emit()
	if err := mb.m.Step(d.Data); err != nil {
		c.rec = Record{Kind: KindStepError, Node: mb.id, Inc: mb.inc, Peer: d.From, Frame: d.Info, Size: len(d.Data), Err: err}
		c.emit()
	}
	c.drain(mb)
}

// drain runs the node's Ready/Advance loop: persist the ring seq, report
// receipts, events and notices, then send the frames.
func (c *Cluster) drain(mb *member) {
	for loops := 0; mb.m.HasReady(); loops++ {
		if loops >= c.opts.MaxReadyLoops {
			panic(fmt.Sprintf("totemtest: node %d still has output after %d Ready rounds", mb.id, loops))
		}
		rd := mb.m.Ready()
		if rd.PersistRingSeq {
			mb.ps = totem.PersistentState{RingSeq: rd.RingSeq, Valid: true}
			c.rec = Record{Kind: KindPersist, Node: mb.id, Inc: mb.inc, RingSeq: rd.RingSeq, Valid: true}
			c.emit()
		}
		for _, ref := range rd.Receipts {
			c.rec = Record{Kind: KindReceipt, Node: mb.id, Inc: mb.inc, Ref: ref}
			c.emit()
		}
		for i := range rd.Events {
			ev := &rd.Events[i]
			k := KindDeliver
			if ev.Type == totem.EventConfChange {
				k = KindConfChange
			}
			c.rec = Record{Kind: k, Node: mb.id, Inc: mb.inc, Event: ev, Size: len(ev.Data)}
			c.emit()
		}
		for i := range rd.Notices {
			c.rec = Record{Kind: KindNotice, Node: mb.id, Inc: mb.inc, Notice: &rd.Notices[i]}
			c.emit()
		}
		for _, f := range rd.Frames {
			c.sendFrame(mb, f)
		}
		mb.m.Advance()
	}
}

// sendFrame copies a frame once and puts one copy in flight per
// destination: every configured node (this one included) for Broadcast.
func (c *Cluster) sendFrame(mb *member, f totem.Frame) {
	data := slices.Clone(f.Data)
	info := PeekFrame(data)
	c.rec = Record{Kind: KindSend, Node: mb.id, Inc: mb.inc, Peer: f.To, Frame: info, Size: len(data)}
	c.emit()
	if f.To != totem.Broadcast {
		c.transmit(mb.id, f.To, data, info)
		return
	}
	for _, to := range mb.cfg.Nodelist {
		c.transmit(mb.id, to, data, info)
	}
}

func (c *Cluster) transmit(from, to totem.NodeID, data []byte, info FrameInfo) {
	n, why := c.net.Send(c.now, from, to, data, info)
	if c.net.InFlight() > c.opts.MaxInFlight {
		panic(&FloodError{Time: c.now, InFlight: c.net.InFlight()})
	}
	switch {
	case n == 0:
		c.rec = Record{Kind: KindDrop, Node: to, Inc: c.Incarnation(to), Peer: from, Frame: info, Size: len(data), Drop: why}
		c.emit()
	case n > 1:
		c.rec = Record{Kind: KindDup, Node: to, Inc: c.Incarnation(to), Peer: from, Frame: info, Size: len(data)}
		c.emit()
	}
}

// Components returns the groups of running nodes that can reach each
// other, each ascending, ordered by their lowest id. Paused nodes belong
// to none.
func (c *Cluster) Components() [][]totem.NodeID {
	var comps [][]totem.NodeID
	seen := make([]bool, len(c.members)+1)
	for _, a := range c.members {
		if a.state != NodeUp || seen[a.id] {
			continue
		}
		var g []totem.NodeID
		for _, b := range c.members {
			if b.state == NodeUp && !seen[b.id] && c.net.Connected(a.id, b.id) && c.net.Connected(b.id, a.id) {
				seen[b.id] = true
				g = append(g, b.id)
			}
		}
		comps = append(comps, g)
	}
	return comps
}

// Converged reports whether every running node is OPERATIONAL in a ring
// whose members are exactly its component (the running nodes it can
// reach), all members of a component agree on the ring id, and no node has
// anything left to send or to receive (backlog 0, aru = high seq).
func (c *Cluster) Converged() bool {
	for _, comp := range c.Components() {
		var ring totem.RingID
		for i, id := range comp {
			st := c.members[id-1].m.Status()
			if st.State != totem.StateOperational || !slices.Equal(st.Members, comp) ||
				st.Backlog != 0 || st.Aru != st.HighSeq {
				return false
			}
			if i == 0 {
				ring = st.RingID
			} else if st.RingID != ring {
				return false
			}
		}
	}
	return true
}
