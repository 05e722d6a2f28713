package totemtest

import (
	"time"

	"github.com/corogo/corogo/totem"
)

// SimConfig returns the configuration profile for simulation: corosync's
// defaults with the timers scaled down so that a simulated minute holds
// dozens of membership changes. Virtual hops take 1–20 ms in the
// simulations (1 ms in the scenario tests); every choice below keeps
// corosync's ratios between the timers and passes Config.Validate.
func SimConfig(id totem.NodeID, nodelist []totem.NodeID) totem.Config {
	c := totem.DefaultConfig(id, nodelist)
	// One tick is one millisecond, as in the runtime.
	c.TickInterval = time.Millisecond
	// Token loss timeout: 200 ms is 15× shorter than corosync's 3 s yet
	// several full rotations of a 5-node ring even at the worst simulated
	// hop delay (20 ms), so a token is declared lost only when it really is.
	c.Token = 200 * time.Millisecond
	// 20 ms per node beyond two (corosync: 650 ms) keeps a rotation of a
	// large ring (16 nodes: 480 ms) inside the timeout.
	c.TokenCoefficient = 20 * time.Millisecond
	// TokenRetransmit, Hold and Consensus are left to corosync's formulas:
	// token_retransmit = token/4.2 (47 ms for N ≤ 2), hold =
	// token_retransmit×0.8−10 ms (27 ms), consensus = 1.2×token (240 ms).
	//
	// Join re-send interval: 30 ms is a few hops, so a lost join is repeated
	// well within the consensus timeout (8 tries), as 50 ms is in corosync
	// against 3.6 s.
	c.Join = 30 * time.Millisecond
	// Merge detect: an idle representative announces its ring after 50 ms,
	// so separated rings find each other quickly once a partition heals.
	c.Merge = 50 * time.Millisecond
	// FAILED TO RECEIVE after 100 rotations without aru progress (about
	// 0.5–2 s) instead of 2500: long enough that retransmission beats any
	// random loss we inject, short enough that a one-way dead link is
	// detected within a simulated run.
	c.FailRecvConst = 100
	// Checkers need to know which SRP messages each node stored.
	c.ReportReceipts = true
	return c
}
