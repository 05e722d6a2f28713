package sim

import (
	"time"

	"github.com/corogo/corogo/totem"
)

// Parameters of the quiet phase that the liveness bound depends on.
const (
	// quietMaxDelay is the largest hop delay, in ticks, once faults stop.
	quietMaxDelay = 3
	// livenessRounds is how many membership rounds the bound allows.
	livenessRounds = 4
	// recoveryRotations bounds the token rotations RECOVERY needs to
	// re-send the old rings' messages that some member lacks.
	recoveryRotations = 20
)

// LivenessBound returns the number of ticks after the faults stop within
// which every node must be OPERATIONAL in one ring of all nodes.
//
// Derivation, with R = nodes × quietMaxDelay the longest token rotation
// once the network is quiet:
//
//   - Discovery: rings that cannot see each other find out through a
//     foreign MCAST (at once when they are busy) or, when idle, through the
//     merge detect that the representative sends merge ms after it starts
//     holding the token (hold ms): merge + hold + R.
//   - One membership round costs at most:
//     token (a node still in COMMIT or RECOVERY of a ring that cannot
//     complete, or holding a dead token, gives up after the token timeout)
//   - consensus (a gather ends, at worst, in a consensus timeout)
//   - 2 × join (joins are re-sent until every node has seen every other)
//   - 2 R (the commit token's two rotations)
//   - (4 + recoveryRotations) R (RECOVERY: four rotations with retrans_flg
//     clear to install, after up to recoveryRotations rotations re-sending
//     old-ring messages — 1,000 messages at window_size 50).
//   - Rounds: the first round may start from any mess the faults left; a
//     node restarted or resumed as the faults stop, or one still in
//     another's failed list, can force one more after a ring formed without
//     it; we allow livenessRounds (4) rounds in all.
//
// The sum gets a 10% margin. With SimConfig's timers and 5 nodes (token
// 260 ms, consensus 312 ms, join 30 ms, merge 50 ms, hold 38 ms, R = 15 ms)
// the bound is about 4.6 s of virtual time.
func LivenessBound(cfg totem.Config, nodes int) int64 {
	t := cfg.EffectiveTimers()
	ms := func(d time.Duration) int64 { return int64(d / cfg.TickInterval) }
	r := int64(nodes) * quietMaxDelay
	discovery := ms(t.Merge) + ms(t.Hold) + r
	round := ms(t.Token) + ms(t.Consensus) + 2*ms(t.Join) + (2+4+recoveryRotations)*r
	return (discovery + livenessRounds*round) * 11 / 10
}

// drainTicks is how long before the end of a run the workload stops, so
// that everything sent can be delivered: five token timeouts, enough for
// the largest message (about 750 SRP messages, 15 rotations at window 50)
// and safe delivery's extra rotations, and one more share of that for
// every five nodes beyond five, whose queues drain through the same
// window one rotation (of more hops) at a time.
func drainTicks(cfg totem.Config) int64 {
	n := int64(len(cfg.Nodelist))
	return 5 * int64(cfg.EffectiveTimers().Token/cfg.TickInterval) * max(1, (n+4)/5)
}
