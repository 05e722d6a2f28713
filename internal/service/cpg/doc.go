// Package cpg is corosync 3.1's closed process group service (service id
// 2, "corosync cluster closed process group service v1.01") as a pure
// engine behind the service.Engine boundary: no goroutines, clocks or
// sockets; it reaches the daemon only through service.API.
//
// It follows corosync-wire.md §5.5 (exec messages, runtime rules, CPG
// sync) and corosync's exec/cpg.c:
//
//   - Exec messages are byte-compatible with corosync's (wire.go):
//     PROCJOIN/PROCLEAVE (168 bytes), JOINLIST (24 + 144k, after a
//     qb_ipc_response_header), MCAST (184 + len), DOWNLIST (1568),
//     PARTIAL_MCAST (200 + fraglen); DOWNLIST_OLD is ignored. Decoders
//     accept both byte orders and reject short messages, names over 128
//     bytes and sizes that disagree with the data; the engine drops and
//     counts those.
//   - A group's membership is the set of (nodeid, pid) that joined it,
//     sorted. It changes only when a message is delivered: PROCJOIN,
//     PROCLEAVE, or the sync's downlist, JOINLISTs and zombie cleanup.
//     Our own requests change nothing until they come back through the
//     ring, so every node applies the same changes in the same order and
//     gives its clients the same confchgs.
//   - An MCAST is delivered to the group's local members only if some
//     process of the sending node is known in the group.
//   - Sync: SyncInit computes the downlist (members of the last activated
//     ring not in the transitional list), SyncProcess sends DOWNLIST then
//     JOINLIST, SyncActivate removes the processes of left nodes
//     (NODEDOWN), adds those of other nodes' JOINLISTs (NODEUP), removes
//     remote processes no JOINLIST listed (PROCDOWN) and reports the new
//     ring to the clients that track it.
//
// Local clients speak our own IPC protocol (proto.go), modelled on libcpg.
//
// Deviations from corosync 3.1:
//
//   - PARTIAL_MCAST fragments are reassembled here, per (node, pid,
//     group), and delivered as one message; corosync forwards them and
//     libcpg reassembles. Messages over Options.MaxReassembly are dropped.
//     We send a message as fragments when its MCAST would exceed
//     API.MaxMessage.
//   - A connection may join several groups (libcpg: one per handle); the
//     MCAST and LEAVE requests name the group. A (pid, group) is joined at
//     most once per node, as in corosync.
//   - Orders the spec leaves open are fixed: a sync's NODEDOWN and NODEUP
//     confchgs come one per group (groups in byte order of their names,
//     lists ascending by node and pid), its PROCDOWN confchgs one per
//     process in (node, pid, group) order; a JOINLIST lists (pid, group)
//     ascending. Member lists are always ascending by (node, pid), as
//     corosync keeps them.
//   - A JOINLIST larger than API.MaxMessage is split into several (corosync
//     would fail to send it); receivers merge them.
//   - LEAVE of a group whose join is not delivered yet answers TRY_AGAIN
//     (corosync: CS_ERR_BUSY, which service.Status lacks).
//   - The "Unknown node" warning is logged for the 1st, 2nd, 4th, 8th ...
//     dropped message, not for every one.
//   - Totem confchgs go only to connections that asked (ReqTrackTotem);
//     corosync sends them to every connection and libcpg filters.
//
// Flow control: when API.Send reports a full queue (or a sync is in
// progress) a pipelined MCAST is kept in a per-connection FIFO and the
// client gets EvFlowControl{on}; Resume sends the FIFO in order and turns
// it off. The daemon stops reading a connection while Held reports it,
// which bounds the memory a connection can pin.
package cpg
