package qdisk

import (
	"errors"
	"fmt"
	"slices"

	"github.com/corogo/corogo/internal/qdevice"
)

// Settle is how many consecutive read cycles a newly elected master must
// stay master in this node's view before this node starts casting its
// vote for it. Nodes read the disk at different moments; the delay lets
// every node see the same disk contents (and stop casting for the old
// master) before anyone casts for the new one.
const Settle = 4

// PeerState is what this node concludes about another node's slot.
type PeerState uint8

// Peer states.
const (
	// PeerAbsent: no valid block seen in the slot since startup.
	PeerAbsent PeerState = iota
	// PeerUnknown: a valid block was seen, but it has not changed yet.
	PeerUnknown
	// PeerLive: the sequence number (or incarnation) changed within the
	// last tko reads.
	PeerLive
	// PeerDead: the block has not changed for tko consecutive reads.
	PeerDead
	// PeerLeft: the node wrote a leaving block (clean shutdown).
	PeerLeft
)

// String names the state.
func (s PeerState) String() string {
	switch s {
	case PeerAbsent:
		return "absent"
	case PeerUnknown:
		return "unknown"
	case PeerLive:
		return "live"
	case PeerDead:
		return "dead"
	case PeerLeft:
		return "left"
	}
	return fmt.Sprintf("peer(%d)", uint8(s))
}

// Peer is this node's view of one slot.
type Peer struct {
	ID    uint32
	State PeerState
	// Block is the last valid block read (zero when absent).
	Block Block
	// Unchanged counts the cycles (Ticks) the block has not changed for,
	// as seen by this node's reads.
	Unchanged int
	// Corrupt counts reads of an invalid block; Restarts counts new
	// incarnations seen.
	Corrupt, Restarts uint64
}

// Params configure a Core.
type Params struct {
	// NodeID is this node's id (1..MaxNodeID).
	NodeID uint32
	// Incarnation identifies this run of the daemon; it must differ from
	// the previous run's.
	Incarnation uint64
	// TKO is how many consecutive reads without progress make a node
	// dead on disk; it is also the length of this node's initialization
	// (in read cycles). At least Settle.
	TKO int
	// MinScore is the heuristics score needed to be eligible as master.
	MinScore int
	// MaxNodeID is the highest slot read (the highest configured node
	// id).
	MaxNodeID uint32
}

// Decision is the core's output.
type Decision struct {
	// Master is the master in this node's view (0: none).
	Master uint32
	// Cast tells whether the device casts its vote.
	Cast bool
	// Reason explains Cast.
	Reason string
}

// Core is the qdisk state machine: disk contents, membership and
// heuristics score in, the block to write and the vote out. It does no
// I/O, reads no clock and is not safe for concurrent use.
//
// Time is counted in cycles. Every interval the runtime calls Tick, which
// returns the block to write; the runtime writes it into this node's
// slot, reads every slot, and hands what it read to Observe.
//
// The rules (see the package documentation for their reasons):
//
//   - liveness: a peer is live when its (incarnation, sequence number)
//     changed between two of this node's reads, and dead when it has not
//     changed for TKO cycles: the count advances, at each successful
//     read, by the number of Ticks since the previous successful read, so
//     a node whose reads failed for a while does not lag behind the
//     others; corrupt reads count as reads without change;
//   - a node that missed reads (I/O errors, or I/O slower than the
//     interval) knows nothing certain about the others for that time:
//     peers that changed during the gap become unknown, and the node is
//     back in the init state (not eligible, no vote) until it has read
//     TKO cycles in a row again;
//   - this node is "fresh" when the block it wrote in the last cycle was
//     read back intact, and at most one Tick has passed since;
//   - candidates: live peers whose block says eligible, and this node
//     when fresh and eligible (running: connected with a membership,
//     initialization of TKO reads done, score ≥ MinScore);
//   - master: the lowest candidate node id, unless a lower node's block
//     says eligible but its liveness is still unknown to this node (then
//     there is no master yet);
//   - vote: cast when ready (initialized, connected, fresh, and at
//     least one other node's block has been seen, which shows the storage
//     is shared) and the master is a member of this node's ring, and
//     either the master has been the same for Settle reads or the vote
//     was already cast in this same ring (a master moving within the
//     partition keeps the vote; after a membership change the master
//     must be settled).
type Core struct {
	p Params

	reads    int    // successful read cycles
	streak   int    // consecutive successful reads, one Tick apart
	ticks    uint64 // Ticks since start
	readTick uint64 // ticks at the last successful read
	seq      uint64
	inflight bool
	missed   int // Ticks since the last good read-back
	ownOK    bool
	own      Block // last block read back
	written  Block // last block handed out by Tick
	shared   bool  // another node's valid block has been seen

	connected bool
	members   qdevice.Membership
	score     int
	total     int
	leaving   bool

	peers     []Peer // indexed by node id; [0] unused
	conflicts uint64 // own slot found written by another incarnation

	stableMaster uint32
	stable       int
	castRing     qdevice.RingID // the ring the vote has been cast in since
	dec          Decision
}

// NewCore returns a core for the given parameters. TKO is raised to
// Settle when lower.
func NewCore(p Params) *Core {
	p.TKO = max(p.TKO, Settle)
	p.MaxNodeID = min(max(p.MaxNodeID, p.NodeID), MaxNodeID)
	c := &Core{p: p, peers: make([]Peer, p.MaxNodeID+1)}
	for i := range c.peers {
		c.peers[i].ID = uint32(i)
	}
	c.decide()
	return c
}

// SetMembership records the current ring (connected to corosyncd).
func (c *Core) SetMembership(m qdevice.Membership) {
	c.connected = true
	c.members = m
	c.decide()
}

// SetDisconnected records that the connection to corosyncd is lost.
func (c *Core) SetDisconnected() {
	c.connected = false
	c.members = qdevice.Membership{}
	c.decide()
}

// SetScore records a heuristics result.
func (c *Core) SetScore(score, total int) {
	c.score, c.total = score, total
	c.decide()
}

// Leave stops the vote; the next Tick writes a leaving block.
func (c *Core) Leave() {
	c.leaving = true
	c.decide()
}

// Membership returns the ring the decision is for.
func (c *Core) Membership() qdevice.Membership { return c.members }

// state is this node's state as written.
func (c *Core) state() State {
	switch {
	case c.leaving:
		return StateLeaving
	case !c.connected || c.members.Ring.IsZero():
		return StateDisconnected
	case c.streak < c.p.TKO:
		// Starting, or reading again after missed cycles.
		return StateInit
	}
	return StateRunning
}

// eligible reports whether this node may be master now.
func (c *Core) eligible() bool {
	return c.state() == StateRunning && c.score >= c.p.MinScore
}

// fresh reports whether this node's own block was read back recently.
func (c *Core) fresh() bool { return c.ownOK && c.missed <= 1 }

// Tick starts a cycle. It returns the block to write, or ok false when
// the previous cycle's I/O has not completed (the cycle is missed).
func (c *Core) Tick() (b Block, ok bool) {
	c.ticks++
	c.missed++
	if c.inflight {
		c.decide()
		return Block{}, false
	}
	c.inflight = true
	c.seq++
	c.decide()
	b = Block{
		NodeID:      c.p.NodeID,
		Incarnation: c.p.Incarnation,
		Seq:         c.seq,
		State:       c.state(),
		Eligible:    c.eligible(),
		Cast:        c.dec.Cast,
		Score:       uint16(min(c.score, 0xffff)),
		Total:       uint16(min(c.total, 0xffff)),
		Master:      c.dec.Master,
		Ring:        c.members.Ring,
		Members:     slices.Clone(c.members.Members),
	}
	if len(b.Members) > MaxMembers {
		b.Members = b.Members[:MaxMembers]
	}
	c.written = b
	return b, true
}

// Observe completes the cycle started by the last Tick: writeErr is the
// result of writing its block, and slots[i] the content read from slot i
// (node id i), or slots is nil when the read failed. Slots beyond
// MaxNodeID are ignored; missing ones count as empty.
func (c *Core) Observe(writeErr error, slots [][]byte) {
	c.inflight = false
	if slots == nil {
		// Nothing learnt; the master must settle again over good reads.
		c.ownOK = false
		c.streak = 0
		c.stableMaster, c.stable = 0, 0
		c.decide()
		return
	}
	c.reads++
	elapsed := max(int(c.ticks-c.readTick), 1)
	c.readTick = c.ticks
	if elapsed == 1 {
		c.streak++
	} else {
		c.streak = 1
	}
	for id := 1; id <= int(c.p.MaxNodeID); id++ {
		var raw []byte
		if id < len(slots) {
			raw = slots[id]
		}
		if uint32(id) == c.p.NodeID {
			c.observeOwn(writeErr, raw)
		} else {
			c.observePeer(&c.peers[id], raw, elapsed)
		}
	}
	m := c.electMaster()
	if m != 0 && m == c.stableMaster {
		c.stable++
	} else {
		c.stableMaster, c.stable = m, 0
		if m != 0 {
			c.stable = 1
		}
	}
	c.decide()
}

func (c *Core) observeOwn(writeErr error, raw []byte) {
	b, err := DecodeBlock(raw)
	switch {
	case err == nil && b.Incarnation != c.p.Incarnation:
		// Someone else writes this node id's slot: a duplicate node id,
		// or a second daemon on this node.
		c.conflicts++
		c.ownOK = false
	case writeErr == nil && err == nil && b.NodeID == c.p.NodeID && b.Seq == c.written.Seq:
		c.ownOK, c.own, c.missed = true, b, 0
		c.peers[c.p.NodeID] = Peer{ID: c.p.NodeID, State: PeerLive, Block: b}
	default:
		c.ownOK = false
	}
}

// observePeer updates a peer from its slot; elapsed is the number of
// Ticks since the previous successful read, so that a node whose reads
// failed for a while does not count fewer cycles than the others.
func (c *Core) observePeer(p *Peer, raw []byte, elapsed int) {
	b, err := DecodeBlock(raw)
	switch {
	case errors.Is(err, ErrEmpty):
		if p.State != PeerAbsent {
			p.Unchanged += elapsed
		}
	case err != nil || b.NodeID != p.ID:
		p.Corrupt++
		if p.State != PeerAbsent {
			p.Unchanged += elapsed
		}
	default:
		c.shared = true
		switch {
		case p.State == PeerAbsent:
			p.Block, p.State, p.Unchanged = b, PeerUnknown, 0
		case b.Incarnation != p.Block.Incarnation || b.Seq != p.Block.Seq:
			if b.Incarnation != p.Block.Incarnation {
				p.Restarts++
			}
			p.Block, p.State, p.Unchanged = b, PeerLive, 0
			if elapsed > 1 {
				// It wrote at some point since our previous read, which
				// says nothing about whether it still does.
				p.State = PeerUnknown
			}
		default:
			p.Unchanged += elapsed
		}
		if b.State == StateLeaving && p.State != PeerUnknown {
			p.State = PeerLeft
		}
	}
	if (p.State == PeerUnknown || p.State == PeerLive) && p.Unchanged >= c.p.TKO {
		p.State = PeerDead
	}
}

// candidate reports whether node id may be master in this node's view.
func (c *Core) candidate(id uint32) bool {
	if id == c.p.NodeID {
		return c.fresh() && c.own.Eligible && c.eligible()
	}
	p := &c.peers[id]
	return p.State == PeerLive && p.Block.Eligible
}

// electMaster returns the lowest candidate, 0 when there is none or when
// a lower node's block says eligible but its liveness is not known yet
// (another node may see it live and take it for the master).
func (c *Core) electMaster() uint32 {
	for id := uint32(1); id <= c.p.MaxNodeID; id++ {
		if c.candidate(id) {
			return id
		}
		if p := &c.peers[id]; id != c.p.NodeID && p.State == PeerUnknown && p.Block.Eligible {
			return 0
		}
	}
	return 0
}

// decide computes the vote from the current view.
func (c *Core) decide() {
	m := c.electMaster()
	prev := c.dec.Cast
	d := Decision{Master: m}
	switch {
	case c.leaving:
		d.Reason = "stopping"
	case !c.connected || c.members.Ring.IsZero():
		d.Reason = "not connected to corosyncd"
	case c.reads < c.p.TKO:
		d.Reason = fmt.Sprintf("initializing (%d of %d cycles)", c.reads, c.p.TKO)
	case c.streak < c.p.TKO:
		d.Reason = fmt.Sprintf("reading the storage again after missed cycles (%d of %d cycles)", c.streak, c.p.TKO)
	case !c.fresh():
		d.Reason = "own block not written and read back in the last cycle"
	case !c.shared:
		d.Reason = "no other node's block seen on the storage yet (is it shared?)"
	case m == 0:
		d.Reason = "no master: no live node is eligible"
	case !c.members.Contains(m):
		d.Reason = fmt.Sprintf("master %d is not a member of ring %s", m, c.members.Ring)
	case prev && c.members.Ring == c.castRing:
		// The master moved within the partition: other partitions see a
		// master outside them. A new ring needs a settled master.
		d.Cast, d.Reason = true, fmt.Sprintf("master %d is a member", m)
	case m != c.stableMaster || c.stable < Settle:
		st := 0
		if m == c.stableMaster {
			st = c.stable
		}
		d.Reason = fmt.Sprintf("master %d is a member; settling (%d of %d cycles)", m, st, Settle)
	default:
		d.Cast, d.Reason = true, fmt.Sprintf("master %d is a member", m)
	}
	if d.Cast {
		c.castRing = c.members.Ring
	}
	c.dec = d
}

// Decision returns the current decision.
func (c *Core) Decision() Decision { return c.dec }

// OwnOK reports whether the last cycle's block was read back intact.
func (c *Core) OwnOK() bool { return c.ownOK }

// Snapshot is a copy of the core's state for status reports.
type Snapshot struct {
	NodeID      uint32
	Incarnation uint64
	Seq         uint64
	Reads       int
	State       State
	Fresh       bool
	Shared      bool
	Score       int
	Total       int
	MinScore    int
	TKO         int
	Conflicts   uint64
	Decision    Decision
	Membership  qdevice.Membership
	// Peers are the slots that hold or held a block, this node's
	// included, by node id.
	Peers []Peer
}

// Snapshot returns a copy of the state.
func (c *Core) Snapshot() Snapshot {
	s := Snapshot{
		NodeID: c.p.NodeID, Incarnation: c.p.Incarnation, Seq: c.seq, Reads: c.reads,
		State: c.state(), Fresh: c.fresh(), Shared: c.shared,
		Score: c.score, Total: c.total, MinScore: c.p.MinScore, TKO: c.p.TKO,
		Conflicts: c.conflicts, Decision: c.dec, Membership: c.members,
	}
	for _, p := range c.peers[1:] {
		if p.State != PeerAbsent || p.Corrupt > 0 {
			p.Block.Members = slices.Clone(p.Block.Members)
			s.Peers = append(s.Peers, p)
		}
	}
	return s
}
