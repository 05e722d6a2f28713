package sim

import (
	"math/rand/v2"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// FaultInjector is this simulator's fault schedule, exported for the
// simulators built on top of it (internal/sim/cpgsim), so that they inject
// the same faults the same way: network weather, partitions, crashes and
// restarts, pauses, clean leaves and lossy one-way links until quietAt,
// then a heal of everything. It draws only from the rng it is given.
type FaultInjector struct{ f *faults }

// NewFaultInjector returns the schedule for the cluster's nodes ids: a
// fault every interval ticks on average, random loss up to maxLoss (0 for
// none), pauses scaled to token (the effective token timeout in ticks),
// and quiet from quietAt on.
func NewFaultInjector(rng *rand.Rand, ids []totem.NodeID, interval int64, maxLoss float64, token, quietAt int64) *FaultInjector {
	return &FaultInjector{f: newFaults(rng, ids, interval, maxLoss, token, quietAt)}
}

// NextAt returns the next tick at which Step has something to do.
func (fi *FaultInjector) NextAt() int64 { return fi.f.nextAt() }

// Step injects and ends the faults due at now; at quietAt it heals
// everything (see Run).
func (fi *FaultInjector) Step(c *totemtest.Cluster, now int64) error { return fi.f.step(c, now) }

// Counts returns the faults injected so far.
func (fi *FaultInjector) Counts() FaultCounts { return fi.f.counts }

// DrainTicks is how long before the end of a run the workload stops, so
// that everything sent can be delivered (Options.Plan's workEnd is
// Steps − DrainTicks).
func DrainTicks(cfg totem.Config) int64 { return drainTicks(cfg) }
