package totemtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/corogo/corogo/totem"
)

// NodeState is the cluster's view of a node.
type NodeState uint8

// Node states.
const (
	// NodeIdle: configured, never started.
	NodeIdle NodeState = iota
	// NodeUp: running.
	NodeUp
	// NodePaused: alive but running nothing.
	NodePaused
	// NodeCrashed: gone until restarted.
	NodeCrashed
	// NodeLeft: stopped after a clean leave, until restarted.
	NodeLeft
)

// String returns the state's name.
func (s NodeState) String() string {
	switch s {
	case NodeIdle:
		return "idle"
	case NodeUp:
		return "up"
	case NodePaused:
		return "paused"
	case NodeCrashed:
		return "crashed"
	case NodeLeft:
		return "left"
	}
	return "state?"
}

// Errors returned by Cluster methods.
var (
	// ErrNoNode: the node id is not in the cluster.
	ErrNoNode = errors.New("totemtest: no such node")
	// ErrBadState: the operation does not apply to the node's state.
	ErrBadState = errors.New("totemtest: operation not allowed in the node's state")
)

// Options configure a Cluster.
type Options struct {
	// Nodes is the number of configured nodes; their ids are 1..Nodes.
	Nodes int
	// Config builds a node's configuration; default SimConfig.
	Config func(id totem.NodeID, nodelist []totem.NodeID) totem.Config
	// NewMachine builds a node; default NewNode (the real core).
	NewMachine NewMachineFunc
	// Rand drives the network's randomness; it may be nil while no link
	// parameters are random.
	Rand *rand.Rand
	// Link is the default link; zero means a fixed one-tick delay.
	Link LinkParams
	// PauseQueue bounds the datagrams queued to a paused node (its socket
	// buffer); default 1024.
	PauseQueue int
	// NoCatchUp makes a resumed node continue from the tick it was paused
	// at. By default it first runs the ticks it missed, as a process whose
	// monotonic clock kept going.
	NoCatchUp bool
	// Observers receive every Record.
	Observers []Observer
	// MaxInFlight bounds the datagrams in flight; beyond it the cluster
	// panics with a *FloodError, turning a message storm (which grows
	// without bound) into a report instead of an exhausted memory; default
	// 200000.
	MaxInFlight int
	// MaxReadyLoops bounds the Ready/Advance rounds after one input, to
	// turn a core that never stops producing output into a panic instead of
	// a hang; default 100000.
	MaxReadyLoops int
}

type member struct {
	id       totem.NodeID
	cfg      totem.Config
	m        Machine
	state    NodeState
	inc      int
	ps       totem.PersistentState
	pausedAt int64
	queue    []Datagram
}

// FloodError is the panic value of a cluster whose network holds more than
// Options.MaxInFlight datagrams.
type FloodError struct {
	Time     int64
	InFlight int
}

// Error describes the flood.
func (e *FloodError) Error() string {
	return fmt.Sprintf("totemtest: %d datagrams in flight at t=%dms: the nodes are flooding the network", e.InFlight, e.Time)
}

// Cluster runs N nodes over a Network in virtual time. It is driven by one
// goroutine.
type Cluster struct {
	opts    Options
	now     int64
	net     *Network
	ids     []totem.NodeID
	members []*member // members[id-1]
	obs     []Observer
	rec     Record // reused for every observation, so that emitting allocates nothing
}

// NewCluster builds a cluster of o.Nodes nodes, none started.
func NewCluster(o Options) (*Cluster, error) {
	if o.Nodes < 1 || o.Nodes > 384 {
		return nil, fmt.Errorf("totemtest: %d nodes; want 1..384", o.Nodes)
	}
	if o.Config == nil {
		o.Config = SimConfig
	}
	if o.NewMachine == nil {
		o.NewMachine = NewNode
	}
	if o.Link == (LinkParams{}) {
		o.Link = LinkParams{MinDelay: 1, MaxDelay: 1}
	}
	if o.PauseQueue == 0 {
		o.PauseQueue = 1024
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 200000
	}
	if o.MaxReadyLoops == 0 {
		o.MaxReadyLoops = 100000
	}
	net, err := NewNetwork(o.Rand, o.Link)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: o, net: net, obs: slices.Clone(o.Observers)}
	for i := 1; i <= o.Nodes; i++ {
		c.ids = append(c.ids, totem.NodeID(i))
	}
	for _, id := range c.ids {
		cfg := o.Config(id, slices.Clone(c.ids))
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("totemtest: node %d: %w", id, err)
		}
		c.members = append(c.members, &member{id: id, cfg: cfg})
	}
	return c, nil
}

// AddObserver adds an observer of every later Record.
func (c *Cluster) AddObserver(o Observer) { c.obs = append(c.obs, o) }

// Now returns the current tick.
func (c *Cluster) Now() int64 { return c.now }

// Network returns the network, to change its parameters.
func (c *Cluster) Network() *Network { return c.net }

// IDs returns the configured node ids, ascending.
func (c *Cluster) IDs() []totem.NodeID { return slices.Clone(c.ids) }

func (c *Cluster) member(id totem.NodeID) *member {
	if id < 1 || int(id) > len(c.members) {
		return nil
	}
	return c.members[id-1]
}

// Config returns node id's configuration.
func (c *Cluster) Config(id totem.NodeID) (totem.Config, bool) {
	mb := c.member(id)
	if mb == nil {
		return totem.Config{}, false
	}
	return mb.cfg, true
}

// State returns the node's state (NodeIdle for an unknown id).
func (c *Cluster) State(id totem.NodeID) NodeState {
	if mb := c.member(id); mb != nil {
		return mb.state
	}
	return NodeIdle
}

// Incarnation returns the node's current (or last) incarnation, counting
// from 1; 0 before its first start.
func (c *Cluster) Incarnation(id totem.NodeID) int {
	if mb := c.member(id); mb != nil {
		return mb.inc
	}
	return 0
}

// Persisted returns the ring seq the node has persisted (what a restart
// reads).
func (c *Cluster) Persisted(id totem.NodeID) totem.PersistentState {
	if mb := c.member(id); mb != nil {
		return mb.ps
	}
	return totem.PersistentState{}
}

// SetPersisted overwrites the node's persisted state, for example to
// restart it from a stale ring seq.
func (c *Cluster) SetPersisted(id totem.NodeID, ps totem.PersistentState) error {
	mb := c.member(id)
	if mb == nil {
		return fmt.Errorf("%w: %d", ErrNoNode, id)
	}
	mb.ps = ps
	return nil
}

// Machine returns the node's running (or paused) machine, or nil.
func (c *Cluster) Machine(id totem.NodeID) Machine {
	if mb := c.member(id); mb != nil && (mb.state == NodeUp || mb.state == NodePaused) {
		return mb.m
	}
	return nil
}

// Status returns the node's status when it is up or paused.
func (c *Cluster) Status(id totem.NodeID) (totem.Status, bool) {
	if m := c.Machine(id); m != nil {
		return m.Status(), true
	}
	return totem.Status{}, false
}

// Note records free text in the record stream (for traces).
func (c *Cluster) Note(text string) {
	c.rec = Record{Kind: KindNote, Text: text}
	c.emit()
}

// emit stamps c.rec with the time and hands it to every observer.
func (c *Cluster) emit() {
	c.rec.Time = c.now
	for _, o := range c.obs {
		o.Observe(&c.rec)
	}
}

// Partition splits the network into groups (see Network.Partition).
func (c *Cluster) Partition(groups [][]totem.NodeID) {
	c.net.Partition(groups)
	c.rec = Record{Kind: KindPartition, Groups: groups}
	c.emit()
}

// Heal removes the partition.
func (c *Cluster) Heal() {
	c.net.Heal()
	c.rec = Record{Kind: KindHeal}
	c.emit()
}

// Send hands msg to the application's node id for ordered delivery.
func (c *Cluster) Send(id totem.NodeID, msg []byte, g totem.Guarantee) error {
	mb := c.member(id)
	if mb == nil {
		return fmt.Errorf("%w: %d", ErrNoNode, id)
	}
	if mb.state != NodeUp {
		return fmt.Errorf("%w: node %d is %v", ErrBadState, id, mb.state)
	}
	err := mb.m.Send(msg, g)
	c.rec = Record{Kind: KindAppSend, Node: id, Inc: mb.inc, Data: msg, Size: len(msg), Guarantee: g, Err: err}
	c.emit()
	c.drain(mb)
	return err
}
