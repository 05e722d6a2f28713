// Package qdevicetest is an in-memory twin of votequorum's quorum device
// API for tests of quorum device models: a Cluster of nodes whose
// memberships the test sets (Partition), each node dialing it through
// Dialer, and the polls recorded so that a test can ask which nodes'
// devices cast their vote.
//
// Votes expire as in votequorum: a device that has not polled for the
// cluster's Timeout no longer counts (Casting).
package qdevicetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
)

// Errors of the fake client.
var (
	// ErrDisconnected: the connection was cut (Disconnect) or closed.
	ErrDisconnected = errors.New("qdevicetest: disconnected")
	// ErrNotRegistered: a device call without a registered device.
	ErrNotRegistered = errors.New("qdevicetest: no device registered")
	// ErrExist: a second device registered on a node.
	ErrExist = errors.New("qdevicetest: a device is already registered")
)

// Poll is a recorded poll call.
type Poll struct {
	Cast bool
	Ring qdevice.RingID
	At   time.Time
}

// Cluster is a set of nodes with memberships.
type Cluster struct {
	// Timeout is votequorum's quorum.device.timeout (default 10 s).
	Timeout time.Duration

	mu      sync.Mutex
	ringSeq uint64
	nodes   map[uint32]*node
}

type node struct {
	id         uint32
	m          qdevice.Membership
	clients    []*Client
	registered string
	masterWins bool
	last       Poll
	polled     bool
	polls      []Poll
	dialErr    error
}

// NewCluster returns a cluster of the given node ids, all in one ring.
func NewCluster(ids ...uint32) *Cluster {
	c := &Cluster{Timeout: 10 * time.Second, nodes: map[uint32]*node{}}
	for _, id := range ids {
		c.nodes[id] = &node{id: id}
	}
	c.Partition(slices.Clone(ids))
	return c
}

// Partition sets the memberships: each group becomes one ring, announced
// to every tracking client of its nodes.
func (c *Cluster) Partition(groups ...[]uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ringSeq += 4
	for _, g := range groups {
		m := qdevice.NewMembership(qdevice.RingID{NodeID: slices.Min(g), Seq: c.ringSeq}, g)
		for _, id := range g {
			n := c.nodes[id]
			n.m = m
			for _, cl := range n.clients {
				cl.announce(m)
			}
		}
	}
}

// Membership returns a node's current membership.
func (c *Cluster) Membership(id uint32) qdevice.Membership {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id].m
}

// Disconnect cuts a node's connections: their membership channels close
// and calls fail with ErrDisconnected. The registration is dropped, as
// votequorum drops it when its owner's connection closes.
func (c *Cluster) Disconnect(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	for _, cl := range n.clients {
		cl.closeLocked()
	}
	n.clients = nil
	n.registered, n.polled = "", false
}

// SetDialError makes the node's dials fail with err (nil: succeed).
func (c *Cluster) SetDialError(id uint32, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[id].dialErr = err
}

// Registered returns the device name registered on a node ("" none) and
// its master_wins setting.
func (c *Cluster) Registered(id uint32) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	return n.registered, n.masterWins
}

// LastPoll returns a node's last poll since its device registered.
func (c *Cluster) LastPoll(id uint32) (Poll, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	return n.last, n.polled
}

// Polls returns every poll a node's devices made.
func (c *Cluster) Polls(id uint32) []Poll {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nodes[id].polls)
}

// Casting returns the nodes whose registered device's last poll cast the
// vote for the node's current ring less than Timeout ago, sorted.
func (c *Cluster) Casting() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	var ids []uint32
	for id, n := range c.nodes {
		if n.registered != "" && n.polled && n.last.Cast && n.last.Ring == n.m.Ring && now.Sub(n.last.At) < c.Timeout {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Dialer returns the dialer of node id.
func (c *Cluster) Dialer(id uint32) qdevice.Dialer {
	return func(ctx context.Context) (qdevice.Votequorum, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := c.nodes[id]
		if n.dialErr != nil {
			return nil, n.dialErr
		}
		cl := &Client{c: c, n: n, ch: make(chan qdevice.Membership, 64)}
		n.clients = append(n.clients, cl)
		return cl, nil
	}
}

// Client is one fake connection.
type Client struct {
	c        *Cluster
	n        *node
	ch       chan qdevice.Membership
	tracking bool
	closed   bool
	name     string // device registered by this client
}

func (cl *Client) announce(m qdevice.Membership) {
	if cl.tracking && !cl.closed {
		select {
		case cl.ch <- m:
		default: // a test that never reads; drop
		}
	}
}

func (cl *Client) closeLocked() {
	if !cl.closed {
		cl.closed = true
		close(cl.ch)
	}
}

// check returns ErrDisconnected for a closed client; c.mu must be held.
func (cl *Client) check() error {
	if cl.closed {
		return ErrDisconnected
	}
	return nil
}

// LocalNodeID implements qdevice.Votequorum.
func (cl *Client) LocalNodeID() uint32 { return cl.n.id }

// Track implements qdevice.Votequorum.
func (cl *Client) Track(context.Context) (<-chan qdevice.Membership, error) {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if err := cl.check(); err != nil {
		return nil, err
	}
	cl.tracking = true
	cl.announce(cl.n.m)
	return cl.ch, nil
}

// Register implements qdevice.Votequorum.
func (cl *Client) Register(_ context.Context, name string) error {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if err := cl.check(); err != nil {
		return err
	}
	if cl.n.registered != "" {
		return ErrExist
	}
	cl.n.registered, cl.name, cl.n.polled = name, name, false
	return nil
}

// Unregister implements qdevice.Votequorum.
func (cl *Client) Unregister(_ context.Context, name string) error {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if err := cl.check(); err != nil {
		return err
	}
	if cl.n.registered != name {
		return ErrNotRegistered
	}
	cl.n.registered, cl.name, cl.n.polled = "", "", false
	return nil
}

// Poll implements qdevice.Votequorum: ErrStaleRing unless ring is the
// node's current ring.
func (cl *Client) Poll(_ context.Context, name string, cast bool, ring qdevice.RingID) error {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if err := cl.check(); err != nil {
		return err
	}
	if cl.n.registered != name {
		return ErrNotRegistered
	}
	if ring != cl.n.m.Ring {
		return qdevice.ErrStaleRing
	}
	p := Poll{Cast: cast, Ring: ring, At: time.Now()}
	cl.n.last, cl.n.polled = p, true
	cl.n.polls = append(cl.n.polls, p)
	return nil
}

// MasterWins implements qdevice.Votequorum.
func (cl *Client) MasterWins(_ context.Context, name string, allow bool) error {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if err := cl.check(); err != nil {
		return err
	}
	if cl.n.registered != name {
		return ErrNotRegistered
	}
	cl.n.masterWins = allow
	return nil
}

// Close implements qdevice.Votequorum; the device registered through this
// client is unregistered, as votequorum does when its owner disconnects.
func (cl *Client) Close() error {
	cl.c.mu.Lock()
	defer cl.c.mu.Unlock()
	if cl.name != "" && cl.n.registered == cl.name {
		cl.n.registered, cl.n.polled = "", false
	}
	cl.closeLocked()
	cl.n.clients = slices.DeleteFunc(cl.n.clients, func(x *Client) bool { return x == cl })
	return nil
}
