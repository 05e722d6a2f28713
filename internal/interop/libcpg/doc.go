// Package libcpg builds and drives a tiny CPG client that is linked against
// the distribution's libcpg (Debian's corosync 3.1.7), so that interop tests
// can put a genuine libcpg application on a real corosync node and watch what
// it sees when our daemon shares the ring.
//
// The client is C (client.c, embedded in this package) and is compiled at
// test time by Build with gcc; the Go side needs no cgo. It is single
// threaded: it polls stdin and the libcpg fd, runs one command per stdin
// line and prints one line per event on stdout.
//
// # Line protocol
//
// The program is started as
//
//	cpgclient [-w SECONDS]
//
// where -w (default 10) is how long cpg_model_initialize is retried while
// the daemon is not up yet (CS_ERR_LIBRARY or CS_ERR_TRY_AGAIN). It uses
// CPG_MODEL_V1 with a totem confchg callback and
// CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF.
//
// Commands, one per line on stdin:
//
//	join GROUP     cpg_join; GROUP is %XX-escaped (see below)
//	leave          cpg_leave of the joined group
//	send TEXT      cpg_mcast_joined(CPG_TYPE_AGREED) of TEXT, i.e. every
//	               byte after "send "; "send" alone sends an empty payload
//	sendhex HEX    the same with a hex payload; "-" (or nothing) is empty
//	members        cpg_membership_get of the joined group
//	local          cpg_local_get
//	quit           cpg_finalize, reply "OK quit", exit 0
//
// Sends are retried while libcpg answers CS_ERR_TRY_AGAIN (for up to 10 s),
// dispatching pending callbacks between tries. End of stdin acts as quit
// without a reply.
//
// Lines printed on stdout, each flushed at once (see ParseLine):
//
//	READY nodeid pid                   once, after initialization
//	OK cmd                             command succeeded
//	ERR cmd code                       command failed: code is the cs_error_t,
//	                                   or -1 for a malformed command
//	MEMBERS n nodeid:pid ...           before "OK members"
//	LOCAL nodeid                       before "OK local"
//	DELIVER group nodeid pid len hex   a message; hex is "-" when len is 0
//	CONFCHG group members=N:P,... left=N:P:R,... joined=N:P:R,...
//	                                   a group change; lists in libcpg's
//	                                   order, "-" when empty
//	TOTEM ringnode.ringseq members=N,...
//	                                   a totem configuration; the ring id in
//	                                   lower-case hex as corosync logs it
//	                                   (1.d), members "-" when empty
//	FATAL message                      unexpected error; the client exits 2
//
// Corosync 3.1.7 sends the initial totem configuration (the TOTEM line that
// CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF asks for) not at connection but
// right after the first CONFCHG it sends to any client, typically the
// client's own join; later TOTEM lines follow each new ring. It answers a
// send after leave with CS_OK and delivers nothing.
//
// Numbers are decimal unless said otherwise. Group names (in join, DELIVER
// and CONFCHG) are written with every byte outside '!'..'~', and '%'
// itself, as %XX in upper-case hex, so a group is always one token.
//
// # Driving it from Go
//
// Build compiles the client; Start runs a prepared command (typically
// "ip netns exec NS /path/cpgclient"), waits for READY and parses every line
// into an Event. Command replies go to the method that sent the command
// (Join, Leave, Send, SendText, Members, LocalNodeID); DELIVER, CONFCHG and
// TOTEM events go to Events, which NextEvent reads with a predicate.
package libcpg
