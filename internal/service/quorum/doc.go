// Package quorum is corosync 3.1's quorum service (exec/vsf_quorum.c,
// service id 3, "corosync cluster quorum service v0.1"): it publishes this
// node's quorum view (quorate or not, the ring id and its members) to local
// clients, and takes part in the sync protocol (corosync-wire.md §5.6).
//
// It has no exec messages. Its sync callbacks work locally:
//
//   - SyncInit computes the members that joined and left since the last
//     activated sync and logs "Sync members[N]: ...", "Sync joined[K]: ..."
//     and "Sync left[K]: ..." as corosync does;
//   - SyncProcess returns true at once (only the barrier is needed);
//   - SyncActivate sends the node list (members, joined, left) to tracking
//     clients and publishes the new view.
//
// Whether the node is quorate comes from a Provider (votequorum). Without
// one, the node is always quorate, corosync's "primary designated" default
// when quorum.provider is unset. A provider reports its decisions through
// Engine.Update; while a sync is in progress decisions are held and
// delivered at SyncActivate, as corosync holds quorum notifications during
// sync. A provider that takes part in sync itself (it implements
// service.Syncer, as votequorum does) activates after this service, and
// corosync publishes the view only from the provider's activation: such a
// provider must call Update at each of its sync activations, changed or
// not, and the new ring's view is published then.
//
// Publishing logs "Members[N]: ..." (split over several lines with a
// trailing backslash when long, as corosync's 64-byte buffer does) and, when
// the quorate state changes, "This node is within the primary component and
// will provide service." or "This node is within the non-primary component
// and will NOT provide any services.", then sends a NOTIFY event to every
// tracking client.
//
// Client requests and events are defined in proto.go (our own IPC payloads,
// little-endian; see the package's Append*/Decode* functions).
//
// Deviations from corosync:
//   - without a provider, corosync never publishes a view (its client view
//     stays empty and "Members[N]" is not logged); this engine publishes
//     the ring's members at every SyncActivate;
//   - libquorum's model v0 and v1 callbacks are both sent to every tracking
//     client (NOTIFY and NODELIST events); the client library picks.
package quorum
