// Package totem is the Totem single-ring protocol (SRP) of corosync 3.1 as
// a pure state machine: total order, membership and extended virtual
// synchrony.
//
// A Node takes received datagrams (Step), clock ticks (Tick) and
// application messages (Send), and returns a Ready: frames to send (to one
// node, or to every configured node for a "multicast"), deliveries and
// configuration changes in the order the application must see them, the
// ring sequence number to persist before anything is sent, and notices for
// the log. The node has no sockets, goroutines, clocks or randomness; the
// runtime around it owns those. Config.DefaultConfig reproduces corosync's
// defaults and timer formulas, converted once into ticks.
//
// # Compatibility
//
// Every datagram follows corosync 3.1's layouts (package wire) and every
// state transition follows corosync 3.1's totemsrp rules as written down in
// shared/spec/corosync-wire.md §3: GATHER with join messages and consensus,
// the commit token's two rotations, RECOVERY with re-sent old-ring messages
// and the retrans_flg/rotation counting, OPERATIONAL token handling with
// the aru rule, retransmission lists, flow control (fcc, backlog,
// window_size, max_messages), token hold and hold cancel, merge detect, the
// leave message, FAILED TO RECEIVE, and ring ids that grow by 4 and are
// persisted on every entry into COMMIT. Application messages go through
// totempg packing and fragmentation (package pg) exactly as corosync's do.
//
// # Delivery guarantees
//
// Messages are delivered in agreed order: every node delivers the messages
// of a ring in sequence-number order. A message sent with Safe is delivered
// only once every member of the configuration holds it: its sequence
// number is at or below both the current and the previous token's aru as
// seen by this node (two successive token visits prove every member's aru
// passed it). On a configuration change, the old ring's messages are
// delivered as corosync delivers them: those before the first gap (and
// before the first safe message not yet known stable) in the old regular
// configuration, then the transitional configuration, then the rest with
// gaps skipped (past the first gap only those of transitional members),
// then the regular configuration.
//
// The invariants the simulator checks after every step (internal/sim) are:
// agreed order, integrity (at most once, only if sent), self-delivery,
// virtual synchrony, configuration changes in order and in agreement, safe
// delivery, and liveness once faults stop.
//
// # Deviations from corosync 3.1
//
//   - A token whose ring id or token_seq is stale is dropped before the
//     idle/merge bookkeeping runs, not after.
//   - An MCAST of this ring is stored only where it belongs (normal
//     messages while OPERATIONAL, or while gathering straight after it;
//     recovery wrappers while in RECOVERY); corosync files late copies by
//     encapsulation alone, which can mix a new ring's messages into the old
//     ring's queue.
//   - A commit token is accepted in GATHER only when its next slot names
//     this node.
//   - Safe delivery is honoured (corosync carries the flag but ignores it).
//     A packed totempg packet is safe when its messages are: the packer is
//     flushed when the guarantee changes.
//   - A join that teaches a gathering node nothing it may adopt does not
//     make it re-enter GATHER. Corosync re-enters (and re-sends its join)
//     whenever a join's sets are not subsets of its own, even when the
//     difference is a failed list it may not merge because the sender was
//     not in its old ring; two such nodes then answer each other's joins
//     forever and the consensus timer that would settle it keeps being
//     restarted. The simulator showed the storm growing exponentially.
//   - When a committed ring attempt is abandoned (token lost, or a join, in
//     COMMIT or RECOVERY), the failed list is emptied. Corosync keeps it
//     until OPERATIONAL; groups that abandon attempts together then seed
//     each other's failed lists and can split and re-merge forever (seen by
//     the simulator with seven nodes).
//   - Totempg items whose packets straddle a configuration change: every
//     node drops partial items when it installs a regular configuration,
//     and the sender re-packs such an item whole in the new ring. Corosync
//     carries on with the continuation, which members that joined in the
//     new ring throw away while older members deliver the item: a
//     violation of virtual synchrony the simulator found at once.
//   - A node that failed to receive and whose proc − failed is empty forms
//     its singleton ring (corosync's consensus rule for that case).
//   - Process-pause detection (corosync's pause_flush) belongs to the
//     runtime, which sees the real clock; the "waiting for trans ack" queue
//     switch belongs to the service layer's sync.
package totem
