package totemtest

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/wire"
)

// LinkParams describe a directed link.
type LinkParams struct {
	// Loss is the probability that a datagram is lost, 0..1.
	Loss float64
	// Dup is the probability that a datagram is delivered twice (each copy
	// with its own delay), 0..1.
	Dup float64
	// MinDelay and MaxDelay bound the delay in ticks, drawn uniformly; a
	// range reorders datagrams. Delays are at least one tick.
	MinDelay, MaxDelay int64
}

// Validate checks the parameters.
func (p LinkParams) Validate() error {
	if p.Loss < 0 || p.Loss > 1 || p.Dup < 0 || p.Dup > 1 {
		return fmt.Errorf("totemtest: loss %v and dup %v must be in 0..1", p.Loss, p.Dup)
	}
	if p.MinDelay < 1 || p.MaxDelay < p.MinDelay {
		return fmt.Errorf("totemtest: delay range %d..%d must satisfy 1 <= min <= max", p.MinDelay, p.MaxDelay)
	}
	return nil
}

// random reports whether the parameters need the random source.
func (p LinkParams) random() bool { return p.Loss > 0 || p.Dup > 0 || p.MaxDelay > p.MinDelay }

// Filter drops the next Count datagrams that match it (on any link but
// loopback). Zero fields match anything.
type Filter struct {
	// From and To restrict the link; 0 matches any node.
	From, To totem.NodeID
	// Type restricts the message type when AnyType is false.
	Type    wire.MessageType
	AnyType bool
	// Recovery matches only MCAST recovery wrappers (loss during RECOVERY).
	Recovery bool
	// Count is how many datagrams remain to be dropped.
	Count int
}

func (f *Filter) matches(from, to totem.NodeID, info *FrameInfo) bool {
	if f.From != 0 && f.From != from || f.To != 0 && f.To != to {
		return false
	}
	if !f.AnyType && (!info.Valid || info.Type != f.Type) {
		return false
	}
	return !f.Recovery || info.Recovery
}

type linkKey struct{ from, to totem.NodeID }

// Network carries datagrams between nodes in virtual time. The zero value is
// not usable: call NewNetwork. Loopback (a node's fan-out copy to itself) is
// never lost, duplicated, filtered or partitioned, and takes one tick.
type Network struct {
	rng   *rand.Rand
	def   LinkParams
	links map[linkKey]LinkParams
	// group[id] is the node's partition group; nil when not partitioned.
	group   map[totem.NodeID]int
	filters []Filter
	queue   dgQueue
	order   uint64
}

// NewNetwork returns a network with default link parameters def. rng may be
// nil only while no link parameters are random.
func NewNetwork(rng *rand.Rand, def LinkParams) (*Network, error) {
	n := &Network{rng: rng, links: map[linkKey]LinkParams{}}
	if err := n.SetDefault(def); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *Network) checkParams(p LinkParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.random() && n.rng == nil {
		return fmt.Errorf("totemtest: random link parameters need a random source")
	}
	return nil
}

// SetDefault sets the parameters of every link without its own.
func (n *Network) SetDefault(p LinkParams) error {
	if err := n.checkParams(p); err != nil {
		return err
	}
	n.def = p
	return nil
}

// Default returns the default link parameters.
func (n *Network) Default() LinkParams { return n.def }

// SetLink sets the parameters of the directed link from → to.
func (n *Network) SetLink(from, to totem.NodeID, p LinkParams) error {
	if err := n.checkParams(p); err != nil {
		return err
	}
	n.links[linkKey{from, to}] = p
	return nil
}

// ClearLinks removes every per-link setting.
func (n *Network) ClearLinks() { clear(n.links) }

// Partition splits the nodes into groups: datagrams between groups are
// dropped, both when sent and when they arrive. A node in no group is
// isolated on its own.
func (n *Network) Partition(groups [][]totem.NodeID) {
	n.group = map[totem.NodeID]int{}
	for i, g := range groups {
		for _, id := range g {
			n.group[id] = i + 1
		}
	}
}

// Heal removes the partition.
func (n *Network) Heal() { n.group = nil }

// Partitioned reports whether a partition is in force.
func (n *Network) Partitioned() bool { return n.group != nil }

// Connected reports whether a datagram from a can reach b.
func (n *Network) Connected(a, b totem.NodeID) bool {
	if n.group == nil || a == b {
		return true
	}
	ga, gb := n.group[a], n.group[b]
	return ga != 0 && ga == gb
}

// AddFilter adds a one-shot drop filter; filters are tried in the order
// added.
func (n *Network) AddFilter(f Filter) {
	if f.Count > 0 {
		n.filters = append(n.filters, f)
	}
}

// ClearFilters removes every filter.
func (n *Network) ClearFilters() { n.filters = n.filters[:0] }

// Filters returns the filters still armed.
func (n *Network) Filters() []Filter { return slices.Clone(n.filters) }

// InFlight returns the number of datagrams in flight.
func (n *Network) InFlight() int { return len(n.queue) }

// NextDue returns the tick at which the next datagram arrives.
func (n *Network) NextDue() (int64, bool) {
	if len(n.queue) == 0 {
		return 0, false
	}
	return n.queue[0].Due, true
}

// PopDue removes and returns the next datagram due at or before now.
func (n *Network) PopDue(now int64) (Datagram, bool) {
	if len(n.queue) == 0 || n.queue[0].Due > now {
		return Datagram{}, false
	}
	return n.queue.pop(), true
}

// Send puts a datagram sent at tick now from → to in flight. It returns the
// number of copies in flight (0, 1 or 2) and, when none, why. data must not
// be modified afterwards.
func (n *Network) Send(now int64, from, to totem.NodeID, data []byte, info FrameInfo) (copies int, why DropReason) {
	if from == to {
		n.enqueue(now+1, from, to, data, info)
		return 1, 0
	}
	if !n.Connected(from, to) {
		return 0, DropPartition
	}
	for i := range n.filters {
		f := &n.filters[i]
		if f.matches(from, to, &info) {
			if f.Count--; f.Count <= 0 {
				n.filters = slices.Delete(n.filters, i, i+1)
			}
			return 0, DropFilter
		}
	}
	p := n.def
	if len(n.links) > 0 {
		if lp, ok := n.links[linkKey{from, to}]; ok {
			p = lp
		}
	}
	if p.Loss > 0 && n.rng.Float64() < p.Loss {
		return 0, DropLoss
	}
	copies = 1
	if p.Dup > 0 && n.rng.Float64() < p.Dup {
		copies = 2
	}
	for range copies {
		d := p.MinDelay
		if p.MaxDelay > p.MinDelay {
			d += n.rng.Int64N(p.MaxDelay - p.MinDelay + 1)
		}
		n.enqueue(now+d, from, to, data, info)
	}
	return copies, 0
}

func (n *Network) enqueue(due int64, from, to totem.NodeID, data []byte, info FrameInfo) {
	n.order++
	n.queue.push(Datagram{Due: due, From: from, To: to, Data: data, Info: info, order: n.order})
}
