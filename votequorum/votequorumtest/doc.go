// Package votequorumtest runs a stand-in corosyncd for tests of
// votequorum clients and of tools such as quorumtool: an in-process IPC
// server offering the votequorum, quorum and cmap services (the daemon's
// real engines), all on one socket, as the daemon offers them.
//
// The votequorum service is the daemon's engine
// (internal/service/votequorum), on a simulated ring: every message it
// sends comes back to it in order, and the other nodes of the cluster
// are simulated by the messages the Server sends in their name (NODEINFO
// at each membership change and when their device's state changes,
// RECONFIGURE for changes made elsewhere, QDEVICE_REG for a device).
// Everything votequorum decides is corosync's arithmetic. Its decisions
// reach the quorum service as in the daemon, so the quorum view follows
// them. Its clock stands still unless Server.Advance moves it.
//
// Tests shape the cluster with the Server's methods: the ring and its
// members, votes, expected votes, option flags, the quorum device and
// its state per node, and statuses to refuse requests with. The cmap
// store holds the nodelist (nodelist.node.N.nodeid, .name, .ringX_addr),
// quorum.provider, runtime.votequorum.this_node_id and the keys given in
// Options.
//
// With Options.NoProvider the daemon runs without votequorum: the quorum
// type is none, the node is always quorate, and the votequorum service is
// not offered.
//
// Everything the engines do happens on one goroutine, as in the daemon.
// There is no Totem: the ring is a queue on that goroutine.
package votequorumtest
