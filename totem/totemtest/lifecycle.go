package totemtest

import (
	"fmt"

	"github.com/corogo/corogo/totem"
)

// Start starts a node that is idle, crashed or left, as a new incarnation
// built from its persisted ring seq (a restart keeps the ring id's seq).
func (c *Cluster) Start(id totem.NodeID) error {
	mb := c.member(id)
	if mb == nil {
		return fmt.Errorf("%w: %d", ErrNoNode, id)
	}
	switch mb.state {
	case NodeIdle, NodeCrashed, NodeLeft:
	default:
		return fmt.Errorf("totemtest: start node %d: %w (%v)", id, ErrBadState, mb.state)
	}
	m, err := c.opts.NewMachine(mb.cfg, mb.ps)
	if err != nil {
		return fmt.Errorf("totemtest: start node %d: %w", id, err)
	}
	mb.m, mb.state, mb.queue = m, NodeUp, nil
	mb.inc++
	c.rec = Record{Kind: KindStart, Node: id, Inc: mb.inc, RingSeq: mb.ps.RingSeq, Valid: mb.ps.Valid}
	c.emit()
	m.Start()
	c.drain(mb)
	return nil
}

// StartAll starts every idle node, in id order.
func (c *Cluster) StartAll() error {
	for _, mb := range c.members {
		if mb.state == NodeIdle {
			if err := c.Start(mb.id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Restart starts a crashed or left node again (see Start).
func (c *Cluster) Restart(id totem.NodeID) error {
	if s := c.State(id); s != NodeCrashed && s != NodeLeft {
		return fmt.Errorf("totemtest: restart node %d: %w (%v)", id, ErrBadState, s)
	}
	return c.Start(id)
}

// Crash makes an up or paused node vanish. What it already sent is still in
// flight; what is sent to it is lost until it restarts.
func (c *Cluster) Crash(id totem.NodeID) error {
	mb := c.member(id)
	if mb == nil {
		return fmt.Errorf("%w: %d", ErrNoNode, id)
	}
	if mb.state != NodeUp && mb.state != NodePaused {
		return fmt.Errorf("totemtest: crash node %d: %w (%v)", id, ErrBadState, mb.state)
	}
	c.rec = Record{Kind: KindCrash, Node: id, Inc: mb.inc}
	c.emit()
	mb.m, mb.state, mb.queue = nil, NodeCrashed, nil
	return nil
}

// Leave makes an up node leave cleanly: it sends its leave message and
// stops.
func (c *Cluster) Leave(id totem.NodeID) error {
	mb := c.member(id)
	if mb == nil {
		return fmt.Errorf("%w: %d", ErrNoNode, id)
	}
	if mb.state != NodeUp {
		return fmt.Errorf("totemtest: leave node %d: %w (%v)", id, ErrBadState, mb.state)
	}
	c.rec = Record{Kind: KindLeave, Node: id, Inc: mb.inc}
	c.emit()
	mb.m.Leave()
	c.drain(mb)
	mb.m, mb.state = nil, NodeLeft
	return nil
}

// Pause stops an up node from running: it neither ticks nor receives;
// datagrams to it queue up (at most Options.PauseQueue).
func (c *Cluster) Pause(id totem.NodeID) error {
	mb := c.member(id)
	if mb == nil {
		return fmt.Errorf("%w: %d", ErrNoNode, id)
	}
	if mb.state != NodeUp {
		return fmt.Errorf("totemtest: pause node %d: %w (%v)", id, ErrBadState, mb.state)
	}
	mb.state, mb.pausedAt = NodePaused, c.now
	c.rec = Record{Kind: KindPause, Node: id, Inc: mb.inc}
	c.emit()
	return nil
}

// Resume runs a paused node again: unless Options.NoCatchUp, it first runs
// the ticks it missed (its timers fire, as after a process pause), then
// processes the queued datagrams in arrival order.
func (c *Cluster) Resume(id totem.NodeID) error {
	mb := c.member(id)
	if mb == nil {
		return fmt.Errorf("%w: %d", ErrNoNode, id)
	}
	if mb.state != NodePaused {
		return fmt.Errorf("totemtest: resume node %d: %w (%v)", id, ErrBadState, mb.state)
	}
	var missed int64
	if !c.opts.NoCatchUp {
		missed = c.now - mb.pausedAt
	}
	queue := mb.queue
	mb.state, mb.queue = NodeUp, nil
	c.rec = Record{Kind: KindResume, Node: id, Inc: mb.inc, Ticks: missed, Size: len(queue)}
	c.emit()
	for range missed {
		mb.m.Tick()
		c.drain(mb)
	}
	for _, d := range queue {
		if mb.state != NodeUp {
			break
		}
		c.step(mb, d)
	}
	return nil
}
