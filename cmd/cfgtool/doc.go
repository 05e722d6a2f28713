// Command cfgtool is corogo's corosync-cfgtool: it shows this node's
// link and node status and drives the cfg service of corosyncd (reload
// the configuration on every node, kill a node, shut this node down).
//
//	cfgtool [[-i IP|LINK] [-b] -s] [-n] [-R] [-L] [-k NODEID] [-a NODEID] [-h] [-H [--force]] [--socket PATH]
//
// Options have corosync-cfgtool's meaning (corosync 3.1, getopt_long
// syntax: "-sb", "--status", "--kill=2"); when several actions are given
// the last one wins, and without one the usage is printed:
//
//	-s, --status        link status, one block per link:
//	                        Local node ID 1, transport udpu
//	                        LINK ID 0 <udp for knet links, else empty>
//	                        	addr	= 10.0.0.1
//	                        	status:
//	                        		nodeid:          1:	localhost
//	                        		nodeid:          2:	connected
//	                        		nodeid:          3:	disconnected
//	-b, --brief         with -s: "\tstatus\t= n31", one character per node
//	                    (n this node, else enabled + 2×connected)
//	-i, --if IP|LINK    with -s: only the link with that number or local
//	                    address
//	-n, --nodes         the reachable other nodes and their links:
//	                        nodeid: 2 reachable
//	                           LINK: 0  (10.0.0.2) enabled connected mtu: 1500
//	-R, --reload        every node re-reads its configuration file:
//	                    "Reloading corosync.conf..." then "Done"
//	-L, --reopen        reopen log files: not supported by corosyncd
//	-k, --kill NODEID   "Killing node N": ask node N to shut down
//	-a, --address NODEID  the node's addresses, space-separated
//	-H, --shutdown      "Shutting down corosync": stop this node's daemon;
//	--force             with -H: regardless of other daemons (corosyncd
//	                    has no vetoes, so the same)
//	--socket PATH       corosyncd's socket (default $COROSYNCD_SOCKET,
//	                    else /run/corosyncd/corosyncd.sock); also -socket
//
// Exit status: 0 on success, 1 on any error (messages on standard
// error). -s and -n exit 0 whatever the links' state, as corosync's do.
//
// Output formats, flags and messages follow corosync-cfgtool as of
// corosync 3.1 (tools/corosync-cfgtool.c, 2020 revision). Deviations:
// "addr" is always this node's address on the link (corosync's udpu
// prints another node's address there); -i filters as the manual says
// (that revision parses it but does not use it); -R exits 1 when the
// reload failed (corosync overwrites that status with the result of its
// config.reload_error_message check); -H exits 1 when the daemon refuses
// (corosync exits 0); -L reports "not supported"; statuses are named as
// cs_strerror names them (CS_ERR_...) where corosync sometimes prints
// numbers, and connection errors are explained rather than numbered; -k
// and -a need a positive node id, as in corosync.
package main
