// Package transport carries Totem frames between hosts over UDP, the way
// corosync 3.1's udpu and udp transports do (shared/spec/corosync-wire.md
// §1). New opens the sockets for a Config; the Transport it returns is
// driven by the runtime (internal/runner): Send with the frames of a
// totem.Ready, Receive from a goroutine of its own. The in-memory twin for
// tests is totem/totemtest's simulated network.
//
// # Wire behaviour
//
// One UDP datagram is one Totem message, with nothing before it (§1.1).
// Frames pass through unchanged; nothing is checked here beyond the
// source address.
//
// udpu (corosync's totemudpu, §1.2–§1.4):
//
//   - The token socket is bound to Local:Port (mcastport, default 5405).
//     It receives everything and sends the unicast frames (ORF and commit
//     tokens: Frame.To is a node id), so those leave with source port =
//     mcastport. It has SO_PRIORITY 6.
//   - A Broadcast frame (Frame.To == totem.Broadcast) is sent as one
//     datagram to every member's Addr:Port, this node included (its copy
//     goes over the loopback device to its own token socket), whether or
//     not the member is up or in the ring. The copies leave from a send
//     socket bound to Local:0, an ephemeral port.
//   - A frame for a node id that is not in the member table is not sent,
//     is counted in Stats.TxErrors, and Send reports ErrUnknownNode (the
//     rest of the batch is still sent).
//   - With BlockUnlisted (block_unlisted_ips, corosync's default yes), a
//     datagram whose source IP is not some member's address is dropped and
//     counted in Stats.RxUnlisted; the source port is ignored.
//   - Every datagram has a receive buffer of ReceiveFrameSizeMax (136,192)
//     bytes, which holds any UDP datagram (64 KiB ones included). A
//     datagram larger than Config.RecvBufferSize, when that is set lower,
//     arrives with MSG_TRUNC and is dropped and counted in
//     Stats.RxTruncated.
//   - SO_RCVBUF and SO_SNDBUF are DefaultSocketBuffer (16 × 136,192)
//     bytes. When net.core.rmem_max or wmem_max is lower, the FORCE
//     variants are tried (they need CAP_NET_ADMIN), and failing that the
//     kernel's maximum is kept and a warning is logged.
//   - Datagrams larger than the link MTU (corosync's 1500-byte recovery
//     MCAST at netmtu 1500, say) are fragmented by the sending kernel and
//     reassembled by the receiving one (the sockets keep the kernel's
//     default path-MTU mode, which fragments such datagrams locally).
//   - IPv4 and IPv6 both work. IPv6 sockets are IPV6_V6ONLY; a link-local
//     Local carries its zone, which is also used for link-local members.
//
// udp (corosync's totemudp, §1.2):
//
//   - Multicasts are received on a socket bound to Group:Port (with
//     SO_REUSEADDR) that joined Group on the interface holding Local;
//     unicast frames (tokens) are received on the token socket at
//     Local:Port.
//   - Everything is sent from a socket bound to Local:Port−1: a Broadcast
//     frame as one datagram to Group:Port, a token to its member's
//     Addr:Port. The send socket has IP_MULTICAST_IF = Local, multicast
//     TTL (hop limit) Config.TTL (default 1) and multicast loop off.
//   - Because multicast loop is off, the node's own copy of its Broadcast
//     frames is delivered internally (see the deviations below).
//   - There is no source filter: corosync's udp transport has none
//     (block_unlisted_ips applies to udpu and knet), so BlockUnlisted is
//     ignored.
//   - On the loopback device multicast works, but a datagram sent on lo
//     comes back in through lo's receive path whatever IP_MULTICAST_LOOP
//     says: every node sharing lo gets it, and the sender gets it twice
//     (that copy and its internal one), as corosync's totemudp would.
//     Totem ignores the duplicate. On a real link (tested with veths and
//     a bridge in network namespaces) every node gets each multicast once.
//
// # System calls and blocking
//
// All sockets are non-blocking and registered with Go's netpoller through
// *os.File; the package uses their syscall.RawConn. Send queues the
// datagrams of a batch in preallocated mmsghdr/iovec arrays that point at
// the frames' own bytes and hands them to sendmmsg in one call per socket
// (at most 256 datagrams per call): a udpu Broadcast to three members is
// one call, and so is a whole run of Broadcast frames; frame order is kept
// by flushing a run before the other socket is used. A full socket buffer
// (EAGAIN) parks the goroutine in the netpoller (RawConn.Write) until the
// socket is writable. Receive fills the caller's batch with recvmmsg
// (MSG_DONTWAIT) and, when nothing is pending, parks in the netpoller
// (RawConn.Read) until the socket is readable. The udp transport reads two
// sockets; it waits on an epoll instance holding both (level-triggered),
// itself registered with the netpoller, and drains the token socket first.
// Nothing spins. Close closes the sockets (udp: the epoll instance first),
// which wakes a parked Receive or Send; Receive then returns net.ErrClosed.
// Past the first Receive (which allocates one buffer per batch entry),
// neither Send nor Receive allocates.
//
// Stats are updated with atomics once per system call. The member table is
// an immutable snapshot swapped by SetMembers; Send and Receive read it
// without locks, so a reload applies from the next batch on.
//
// # Deviations from corosync 3.1
//
//   - udpu sends its Broadcast copies from one send socket bound to
//     Local:0, not from one socket per member. Receivers cannot tell: the
//     source port of these copies is ephemeral either way, and the spec
//     says a receiver must not infer anything from it. One socket lets a
//     single sendmmsg carry the copies for every member. On loopback
//     (BenchmarkFanout, 3 members, 1455-byte frames) that gives about 1.5
//     times the datagram rate of one sendto per datagram with one frame
//     per Send, and 2.5–3 times with 16 or more; one sendto per datagram
//     is as fast from one shared socket as from a socket per member.
//   - udpu sends every unicast frame from the token socket, whether or not
//     Frame.Token is set (corosync only sends tokens as unicasts).
//   - udp delivers the node's own multicasts by sending each one, in the
//     same sendmmsg, as a unicast from the send socket to its own token
//     socket (it never leaves the host), where corosync writes it to an
//     AF_UNIX socketpair. An AF_UNIX datagram queue holds only
//     net.unix.max_dgram_qlen (10) datagrams, too few for a token visit's
//     worth of multicasts, while a UDP socket queue is bounded by
//     SO_RCVBUF. The copy therefore arrives From Local:Port−1.
//   - Corosync re-checks the interface every downcheck interval and
//     rebinds to 127.0.0.1 when its address disappears ("ifdown"); this
//     package binds once. A missing Local is an error from New.
//   - DSCP (totem.ip_dscp) is not set.
//
// Limits: Linux only (sendmmsg, recvmmsg, epoll, SO_*BUFFORCE); New
// returns ErrUnsupported elsewhere. The sockets belong to the network
// namespace of the thread that calls New.
package transport
