// Command quorumtool is corogo's corosync-quorumtool: it shows this
// node's quorum status and the cluster's membership with each node's
// votes, follows them as they change, and changes votes and expected
// votes through corosyncd's votequorum service.
//
//	quorumtool [-s] [-m] [-l] [-p] [-v VOTES [-n NODEID]] [-e EXPECTED] [-H] [-i] [-o a|n|i] [-a] [-f] [-h] [-V] [--socket PATH]
//
// Options have corosync-quorumtool's meaning (corosync 3.1, getopt
// syntax: "-sH", "-v2"); when several commands are given the last one
// wins, and without one -s is assumed:
//
//	-s             the status (the default):
//	                   Quorum information
//	                   ------------------
//	                   Date:             Wed Jul  2 10:00:00 2025
//	                   Quorum provider:  corosync_votequorum
//	                   Nodes:            3
//	                   Node ID:          1
//	                   Ring ID:          1.2c
//	                   Quorate:          Yes
//
//	                   Votequorum information
//	                   ----------------------
//	                   Expected votes:   3
//	                   Highest expected: 3
//	                   Total votes:      3
//	                   Quorum:           2
//	                   Flags:            Quorate
//
//	                   Membership information
//	                   ----------------------
//	                       Nodeid      Votes Name
//	                            1          1 node1 (local)
//	                            2          1 node2
//	                            3          1 node3
//	               "Quorum: N" is followed by two spaces, or by " Activity
//	               blocked" when the node is not quorate; Flags lists 2Node Quorate WaitForAll
//	               LastManStanding AutoTieBreaker AllowDownscale Qdevice,
//	               each followed by a space. With a quorum device, a
//	               Qdevice column (A|NA alive, V|NV casts its vote, MW|NMW
//	               master wins, or NR not registered) and a last line for
//	               the device (node 0; its votes, or 0 and "(votes N)"
//	               after its name when this node's device does not vote).
//	               Without a quorum provider, only the first block, with
//	               "Not configured" and the ring sequence alone.
//	-m             the status at once and after every change of the
//	               quorum view, each followed by an empty line
//	-l             the membership table alone, after an empty line
//	-p             with -s or -l: the Qdevice column even without a device
//	-v VOTES       set a node's votes (votequorum only)
//	-n NODEID      with -v: the node (default this node)
//	-e EXPECTED    set the expected votes (votequorum only; positive)
//	-H             node ids in hexadecimal, 0x%08x
//	-i             addresses instead of names
//	-o a|n|i       order of the table: as the quorum service lists the
//	               members (a, the default), by name (n), by node id (i)
//	-a             every address of each node, ", " separated
//	-f             unregister this node's quorum device, whatever its
//	               name (votequorum only; dangerous)
//	-h             the usage
//	-V             "corosync-quorumtool version: V"
//	--socket PATH  corosyncd's socket (default $COROSYNCD_SOCKET, else
//	               /run/corosyncd/corosyncd.sock); also -socket
//
// The Name column is the node's nodelist.node.N.name from cmap; without
// one (or with -i), its first address: the one the daemon resolved
// (runtime.members.<id>.ip) or else the configured ring0_addr, reverse
// resolved to a name unless -i, as corosync-quorumtool's getnameinfo.
// With -a the other links' addresses follow.
//
// Exit status: -s exits 0 when quorate, 2 when not, 1 on error; the
// other commands 0 on success and 1 on error (messages on standard
// error, statuses named as cs_strerror names them); -m runs until
// interrupted and then exits 0.
//
// Output formats, flags and messages follow corosync-quorumtool as of
// corosync 3.1 (tools/corosync-quorumtool.c). Deviations: "Node ID:" and
// "(local)" show this node's id also without a quorum provider
// (corosync-quorumtool reads it from votequorum and shows 0); the
// membership table puts each node's votes and flags on its own row
// whatever the order (corosync-quorumtool keeps them in the original
// order when sorting with -o); the Ring ID's representative comes from
// the quorum view rather than a votequorum notification (the same ring);
// -m reprints on each quorum view change without waiting for a
// votequorum node list notification; addresses come from cmap rather
// than the cfg service; connection errors are explained; --socket is
// ours.
package main
