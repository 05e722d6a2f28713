// Package clienttest runs the daemon's real cmap, cfg and quorum engines
// behind an in-process IPC server, for tests of the client libraries and
// tools: a one-node stand-in for corosyncd.
//
// The engines run on one goroutine, as in the daemon; cluster messages
// they send are looped back through their Exec at once (this node is the
// whole ring), so a reload or a kill request completes as it would on a
// healthy ring. Tests shape the node with the Server's methods: the links
// cfg reports, the keys cmap serves, the ring and members the quorum
// service publishes, and whether the node is quorate.
//
// Main is a TestMain body that also fails a test binary whose tests left
// goroutines of this module running.
package clienttest
