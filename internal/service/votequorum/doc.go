// Package votequorum is corosync's votequorum service (service id 5): the
// vote counting that decides whether this node's partition is quorate.
//
// The package holds three things:
//
//   - Calculate, the quorum arithmetic as a pure function of node votes,
//     expected votes and options (corosync's calculate_quorum and
//     are_we_quorate);
//   - the exec messages corosync 3.1 sends on the ring (NODEINFO,
//     RECONFIGURE, QDEVICE_REG, QDEVICE_RECONFIGURE), byte-compatible, so
//     real corosync nodes and ours count each other's votes;
//   - Engine, the service state machine: it takes exec messages, sync
//     callbacks, client requests and timer ticks, and decides quorum as
//     corosync 3.1's votequorum does, with every option of votequorum(5)
//     and the quorum device API.
//
// The client protocol (requests, replies and events between the daemon
// and libvotequorum-like clients) is in proto.go; the votequorum package
// at the module root is its client.
package votequorum
