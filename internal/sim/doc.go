// Package sim is the seeded whole-cluster simulator of the Totem SRP core,
// in the style of FoundationDB's simulation and TigerBeetle's VOPR.
//
// One seed (uint64) drives everything: message loss, duplication,
// reordering and delay; partitions and heals; crashes and restarts (the
// ring seq is kept across a restart); clean leaves; pauses longer than the
// token timeout; and a workload of application messages of 1 B to 1 MiB
// from every node. A run is a number of steps of 1 ms of virtual time. Faults
// happen during the first part of the run; then everything is healed,
// restarted and resumed, and the rest of the run is quiet, to check
// liveness. Nothing in a run reads a clock, iterates a map in an order that
// can matter, or starts a goroutine, so a seed replays exactly; Run with a
// Trace writer prints every event.
//
// # Invariants
//
// A Checker observes every record of the cluster (totemtest.Record) and
// checks the invariants below as each record arrives, so a violation is
// found in the step that causes it; Finish adds the checks that need the
// whole run. A node incarnation is one life of a node between a start and
// a crash or leave. An application message is identified by its payload:
// sender, sender incarnation and counter, written in its first 16 bytes
// with a CRC-32C of the whole message. Every delivery names the SRP message
// that completed it (MsgRing, MsgSeq); SRP messages are totally ordered by
// the key (MsgRing.Seq, MsgRing.Rep, MsgSeq), since ring seqs grow along a
// node's history, and the messages one SRP message completes all come from
// its sender, in the order sent. (We do not identify a message by its index
// within its SRP message: a node that missed the start of a fragmented
// message skips it, which shifts the index of the messages after it.)
//
//  1. Agreed order. Any two nodes deliver the messages they both deliver
//     in the same relative order. Checked per delivery: every incarnation
//     that delivers a message names the same completing SRP message (and
//     the same sender, size and guarantee); each incarnation's deliveries
//     are non-decreasing in the SRP key and, within one SRP message,
//     increasing in the sender's counter. Finish repeats the check naively,
//     pair of incarnations by pair, on the delivered sequences.
//  2. Integrity. A message is delivered at most once per incarnation, and
//     only if it was sent: its header names a sender incarnation that sent
//     it (Node.Send returned nil), the size and guarantee are the sent ones,
//     the sender is Event.From and the checksum holds.
//  3. Self-delivery. A node incarnation that is still up at the end of the
//     run has delivered every message it sent. (The workload stops a drain
//     period before the end.)
//  4. Virtual synchrony. Incarnations that install the same regular
//     configuration after the same previous regular configuration
//     delivered the same set of messages between the two installations (in
//     the previous regular configuration and its transitional one).
//  5. Configuration changes. Every regular configuration is immediately
//     preceded by its transitional one (same RingID, only deliveries in
//     between); the node is a member of every configuration it installs;
//     a transitional configuration's members are a subset of the previous
//     regular one's (Left = the rest) and a regular configuration's members
//     a superset of its transitional one's (Joined = the difference);
//     incarnations that install the same regular RingID agree on its
//     members, and those that install the same transitional configuration
//     (same previous and new ring) agree on its members; a node's regular
//     ring seqs strictly increase, across its restarts too; and every
//     message is delivered in the configuration it was sent in (its MsgRing
//     is the ring of the node's latest regular configuration), never before
//     the first one.
//  6. Safe delivery. A message delivered with Guarantee Safe was received
//     (Ready.Receipts of any incarnation) by every member of the
//     configuration the deliverer was in: its latest configuration event,
//     regular or transitional. The core must report a receipt for every
//     SRP message it stores, including old-ring messages recovered in
//     RECOVERY.
//  7. Liveness. Once faults stop, every node forms one ring (same RingID,
//     all nodes members, all OPERATIONAL per Status) within LivenessBound
//     (derived from the timers in bound.go); after it formed, the ring does
//     not change, and every message sent from then on is delivered by every
//     node.
//
// Three more checks guard the harness: a node must accept every datagram
// another node produced (Node.Step returns no error); the core must not
// panic; and the nodes must not flood the network (more than
// totemtest.Options.MaxInFlight datagrams in flight: a message storm that
// would otherwise exhaust memory).
//
// Tiny messages (under 16 bytes) cannot carry the payload header: their
// bytes are a pattern of sender and size, checked on delivery, and they are
// identified by their completing SRP message and the number of tiny
// messages it completed before them. They take part in checks 1, 4, 5 and 6
// through that identity; check 2 covers them through the pattern, check 3
// by counting; check 7's delivery part ignores them.
//
// # Deliberate faults
//
// Options.Faults sets totem.Config.Faults on every node, making the core
// buggy on purpose; the tests require a modest seed sweep to report a
// violation for each fault, proving that the checks catch real bugs.
package sim
