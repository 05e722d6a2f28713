// Package wire encodes and decodes the Totem SRP messages of corosync 3.1
// (exec/totemsrp.c, tags v3.1.0 to v3.1.10) byte for byte, as described in
// ../shared/spec/corosync-wire.md §2 and checked against captured packets
// (§7). One UDP datagram carries exactly one message; nothing precedes it.
//
// # Contract
//
//   - Layouts are corosync 3.1's packed structs: the 13-byte common header,
//     the ORF token (57 + 16 per retransmit request), the MCAST header (45,
//     payload after it), the join (33 + 4 per list entry), the commit token
//     (41 + 28 per member), the merge detect (29) and the token hold cancel
//     (25). Member lists are bare 32-bit nodeids.
//   - Send: AppendTo always encodes little-endian (magic bytes 70 c0), as
//     x86-64 and arm64 corosync do, with version 3 and the message's own
//     type byte. The header's encapsulated and target_nodeid fields are
//     written as the struct holds them; we send target_nodeid 0.
//   - Receive: Unmarshal accepts both byte orders (magic 70 c0 or c0 70) and
//     sets Header.Swapped for a big-endian sender; every field is returned
//     in host meaning. Validation follows corosync's order (§2.10): length,
//     magic, version, type, then the type's minimum size and list counts.
//     Trailing bytes are tolerated.
//   - target_nodeid is uninitialised stack memory in corosync's udpu
//     messages; it is returned in Header.TargetNodeID but never validated.
//   - Sequence numbers compare with SeqLess and SeqLessEq, corosync's
//     rollover-adjusted compare (sq.h), not with < and <=.
//   - Decoders return *DecodeError, whose Reason (see ReasonOf) classifies
//     the drop and which wraps one sentinel error per reason. No input makes
//     a decoder panic; on error the destination struct is unchanged.
//   - Allocation: Unmarshal reuses the capacity of the struct's slices and
//     AppendTo appends in place, so a receive or send path that reuses its
//     structs and buffers does not allocate.
//
// # Deviations from corosync
//
//   - rtr_list_entries above 30 (RETRANSMIT_ENTRIES_MAX), or negative as a
//     C int, is rejected; corosync checks only that the declared entries fit
//     in the datagram (§2.10) and keeps at most 30 of them (§1.5).
//   - List counts above 384 (PROCESSOR_COUNT_MAX) are rejected, and so is a
//     commit token whose memb_index exceeds addr_entries; corosync trusts
//     the sender beyond the length check.
//   - A commit token shorter than 41 bytes is rejected; corosync only logs
//     it.
//   - Corosync swaps the fields of a big-endian message in place and leaves
//     target_nodeid unswapped; we decode every field in the sender's order.
package wire
