// Package votequorumtest runs a stand-in corosyncd for tests of
// votequorum clients and of tools such as quorumtool: an in-process IPC
// server offering the votequorum service (a fake engine of this package),
// the quorum service and the cmap service (the daemon's real engines),
// all on one socket, as the daemon offers them.
//
// The fake votequorum engine speaks the client protocol of
// internal/service/votequorum/proto.go with the semantics that file
// documents (tracking, notifications, set expected and set votes with
// their refusals, the quorum device calls with ErrAccess, ErrExist,
// ErrInvalidArg, ErrNotExist and ErrMessage), but counts votes with a
// simplified arithmetic: total votes are the members' votes plus the
// quorum device's when this node's device casts its vote; quorum is
// half the highest of expected and total votes, plus one, or 1 with
// two_node; the node is quorate when the total reaches the quorum. It is
// also the quorum service's provider, so the quorum view follows its
// decisions.
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
// There is no Totem and no exec message: the whole cluster is simulated
// by this one node's state.
package votequorumtest
