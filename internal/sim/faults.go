package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

type actKind uint8

const (
	actRestart actKind = iota + 1
	actResume
	actHeal
	actClearLink
)

// action is a scheduled end of a fault.
type action struct {
	at       int64
	order    uint64
	kind     actKind
	node     totem.NodeID
	from, to totem.NodeID
}

// FaultCounts counts the faults a run injected.
type FaultCounts struct {
	Weather, Partitions, Crashes, Pauses, Leaves, LossyLinks, Restarts int
}

// faults injects random faults until quietAt, then heals everything.
type faults struct {
	rng      *rand.Rand
	ids      []totem.NodeID
	interval float64 // mean ticks between faults
	maxLoss  float64
	token    int64 // effective token timeout in ticks
	quietAt  int64
	next     int64
	pending  []action
	order    uint64
	quiet    bool
	counts   FaultCounts
}

func newFaults(rng *rand.Rand, ids []totem.NodeID, interval int64, maxLoss float64, token, quietAt int64) *faults {
	f := &faults{rng: rng, ids: ids, interval: float64(interval), maxLoss: maxLoss, token: token, quietAt: quietAt}
	f.next = f.gap()
	return f
}

func (f *faults) gap() int64 { return 1 + int64(f.rng.ExpFloat64()*f.interval) }

// uniform draws from lo..hi.
func (f *faults) uniform(lo, hi int64) int64 { return lo + f.rng.Int64N(hi-lo+1) }

func (f *faults) schedule(a action) {
	f.order++
	a.order = f.order
	i, _ := slices.BinarySearchFunc(f.pending, a, func(x, y action) int {
		if x.at != y.at {
			return compare(x.at, y.at)
		}
		return compare(x.order, y.order)
	})
	f.pending = slices.Insert(f.pending, i, a)
}

func compare[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// nextAt returns when step next has something to do.
func (f *faults) nextAt() int64 {
	if f.quiet {
		return math.MaxInt64
	}
	t := min(f.next, f.quietAt)
	if len(f.pending) > 0 {
		t = min(t, f.pending[0].at)
	}
	return t
}

// step runs the fault actions due at now.
func (f *faults) step(c *totemtest.Cluster, now int64) error {
	if f.quiet {
		return nil
	}
	if now >= f.quietAt {
		return f.heal(c)
	}
	for len(f.pending) > 0 && f.pending[0].at <= now {
		a := f.pending[0]
		f.pending = f.pending[1:]
		if err := f.end(c, a); err != nil {
			return err
		}
	}
	for f.next <= now {
		f.next += f.gap()
		if err := f.inject(c, now); err != nil {
			return err
		}
	}
	return nil
}

func (f *faults) end(c *totemtest.Cluster, a action) error {
	switch a.kind {
	case actRestart:
		f.counts.Restarts++
		return c.Restart(a.node)
	case actResume:
		return c.Resume(a.node)
	case actHeal:
		c.Heal()
	case actClearLink:
		c.Note(fmt.Sprintf("link %d->%d back to default", a.from, a.to))
		return c.Network().SetLink(a.from, a.to, c.Network().Default())
	}
	return nil
}

// down counts the nodes not running.
func (f *faults) down(c *totemtest.Cluster) int {
	n := 0
	for _, id := range f.ids {
		if c.State(id) != totemtest.NodeUp {
			n++
		}
	}
	return n
}

// upNode picks a running node, or 0.
func (f *faults) upNode(c *totemtest.Cluster) totem.NodeID {
	id := f.ids[f.rng.IntN(len(f.ids))]
	if c.State(id) != totemtest.NodeUp {
		return 0
	}
	return id
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// inject draws one fault. Every branch draws the same way whatever the
// cluster's state, so that runs diverge only where the state does.
func (f *faults) inject(c *totemtest.Cluster, now int64) error {
	kind := f.rng.IntN(100)
	canDown := f.down(c) < len(f.ids)-1
	switch {
	case kind < 20: // weather: change every link's loss, duplication and delay
		p := totemtest.LinkParams{
			Loss:     min(pick(f.rng, 0, 0, 0.01, 0.05, f.maxLoss), f.maxLoss),
			Dup:      pick(f.rng, 0, 0, 0.02, 0.1),
			MinDelay: 1,
			MaxDelay: pick[int64](f.rng, 1, 2, 5, 10, 20),
		}
		f.counts.Weather++
		c.Note(fmt.Sprintf("weather loss=%v dup=%v delay=1..%d", p.Loss, p.Dup, p.MaxDelay))
		return c.Network().SetDefault(p)
	case kind < 35: // partition into 2 or 3 groups
		perm := f.rng.Perm(len(f.ids))
		k := 2 + f.rng.IntN(2)
		dur := f.uniform(100, 2000)
		if c.Network().Partitioned() || len(f.ids) < 2 {
			return nil
		}
		k = min(k, len(f.ids))
		groups := make([][]totem.NodeID, k)
		for i, p := range perm {
			g := i % k
			groups[g] = append(groups[g], f.ids[p])
		}
		for _, g := range groups {
			slices.Sort(g)
		}
		slices.SortFunc(groups, func(a, b []totem.NodeID) int { return compare(int64(a[0]), int64(b[0])) })
		f.counts.Partitions++
		c.Partition(groups)
		f.schedule(action{at: now + dur, kind: actHeal})
	case kind < 50: // crash, restart later
		id, dur := f.upNode(c), f.uniform(20, 1500)
		if id == 0 || !canDown {
			return nil
		}
		f.counts.Crashes++
		f.schedule(action{at: now + dur, kind: actRestart, node: id})
		return c.Crash(id)
	case kind < 65: // pause, often longer than the token timeout
		id, dur := f.upNode(c), f.uniform(f.token/4, 3*f.token)
		if id == 0 || !canDown {
			return nil
		}
		f.counts.Pauses++
		f.schedule(action{at: now + dur, kind: actResume, node: id})
		return c.Pause(id)
	case kind < 70: // clean leave, restart later
		id, dur := f.upNode(c), f.uniform(20, 1500)
		if id == 0 || !canDown {
			return nil
		}
		f.counts.Leaves++
		f.schedule(action{at: now + dur, kind: actRestart, node: id})
		return c.Leave(id)
	case kind < 85: // a lossy (up to dead) one-way link
		from, to := f.ids[f.rng.IntN(len(f.ids))], f.ids[f.rng.IntN(len(f.ids))]
		loss := pick(f.rng, 0.3, 0.6, 1.0)
		if f.maxLoss == 0 {
			loss = 0 // no loss at all; the draws stay the same
		}
		dur := f.uniform(100, 1500)
		if from == to {
			return nil
		}
		p := c.Network().Default()
		p.Loss = loss
		f.counts.LossyLinks++
		c.Note(fmt.Sprintf("link %d->%d loss=%v", from, to, loss))
		f.schedule(action{at: now + dur, kind: actClearLink, from: from, to: to})
		return c.Network().SetLink(from, to, p)
	}
	return nil // no fault this time
}

// heal ends every fault: the network becomes quiet (no loss or
// duplication, 1..quietMaxDelay ticks of delay), paused nodes resume and
// stopped nodes restart.
func (f *faults) heal(c *totemtest.Cluster) error {
	f.quiet, f.pending = true, nil
	c.Note("faults stop")
	net := c.Network()
	if net.Partitioned() {
		c.Heal()
	}
	net.ClearLinks()
	net.ClearFilters()
	if err := net.SetDefault(totemtest.LinkParams{MinDelay: 1, MaxDelay: quietMaxDelay}); err != nil {
		return err
	}
	for _, id := range f.ids {
		switch c.State(id) {
		case totemtest.NodePaused:
			if err := c.Resume(id); err != nil {
				return err
			}
		case totemtest.NodeCrashed, totemtest.NodeLeft:
			f.counts.Restarts++
			if err := c.Restart(id); err != nil {
				return err
			}
		}
	}
	return nil
}
