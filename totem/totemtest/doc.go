// Package totemtest is the in-memory twin of the Totem transport and a
// whole-cluster harness for the totem core.
//
// A Network carries datagrams between nodes in virtual time with per-link or
// global loss, duplication, random delay (which reorders), partitions and
// one-shot drop filters. Every random choice comes from an injected
// *rand.Rand, so one seed reproduces a run exactly.
//
// A Cluster holds nodes 1..N (every node's nodelist is all N ids), advances
// virtual time in ticks (one tick = Config.TickInterval, 1 ms in the
// simulation profile), drives each node's Ready/Advance loop, keeps each
// node's persisted ring seq across crash and restart, and models crash
// (the node vanishes; what it already sent still arrives), restart (a new
// Node built from the persisted ring seq), pause/resume (a paused node runs
// nothing; datagrams to it queue up to a bound, like a socket buffer, and are
// processed on resume after its clock catches up), clean leave and
// application sends. Everything the cluster does is reported, in order, to
// Observers as Records that name the node incarnation concerned; Trace turns
// them into one line per event for a human.
//
// Nothing here uses goroutines, clocks or global randomness: a Cluster is
// driven by one goroutine and is as deterministic as its Machines.
//
// SimConfig is the small-timer configuration profile used by the scenario
// tests (testdata/*.txt, run by datadriven and regenerated with
// `go test ./totem/totemtest -rewrite`) and by the seeded simulator in
// internal/sim.
package totemtest
