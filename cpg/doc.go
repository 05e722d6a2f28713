// Package cpg is the client library of corosyncd's closed process groups
// (CPG), the Go counterpart of corosync's libcpg.
//
// A process connects to its node's daemon with Dial, joins named groups
// and multicasts messages to them. Every member of a group, on every node,
// receives the group's messages and membership changes in one total
// order (extended virtual synchrony): if two members both receive
// messages a and b, they receive them in the same order, and between the
// same two configuration changes.
//
//	c, err := cpg.Dial(ctx)
//	...
//	defer c.Close()
//	if err := c.Join(ctx, "mygroup"); err != nil { ... }
//	if err := c.Mcast(ctx, "mygroup", cpg.Agreed, []byte("hello")); err != nil { ... }
//	for ev := range c.Events() {
//		switch ev := ev.(type) {
//		case *cpg.ConfChange: // membership of a joined group changed
//		case *cpg.Message:    // a message, ours included
//		}
//	}
//	// Events closed: c.Err() tells why.
//
// # Differences from libcpg
//
//   - One Client may join several groups (a libcpg handle joins one);
//     Mcast and Leave name the group.
//   - Callbacks are replaced by the Events channel, fed by a goroutine of
//     the client, so there is no dispatch call; an application that does
//     not read Events lets them queue in memory.
//   - Join and Leave retry while the daemon answers "try again", until
//     their context ends; Mcast waits under flow control, TryMcast does
//     not (it returns ErrTryAgain, cpg_mcast_joined's behaviour).
//   - Messages larger than the daemon's atomic size are refused
//     (ErrTooBig) rather than split by the library: the daemon splits
//     what the ring cannot carry in one piece, up to MaxAtomic bytes.
//   - Errors are Go errors: sentinels (ErrTryAgain, ErrNotJoined, ...)
//     matched with errors.Is, and *StatusError carrying the daemon's
//     cs_error_t code.
//
// The protocol between this package and the daemon is corosyncd's own
// (its IPC framing and the CPG payloads), not libqb's: corosync's daemon
// and this package cannot talk to each other, but groups are shared with
// libcpg applications on corosync nodes of a mixed ring.
//
// Package cpgtest runs a fake one-node daemon for tests of applications.
package cpg
