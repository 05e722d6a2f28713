// Package qdisk is the shared-storage quorum device model
// (quorum.device.model: qdisk), in the manner of RHCS qdiskd: the nodes
// of a cluster write their state into their own slot of a shared file or
// block device and read everybody's, elect a master from what they read,
// and the partition holding the master gets the device's votes. With the
// default votes (nodes − 1) one node of N keeps quorum, and after a split
// in which both halves still see the storage, exactly one half wins.
//
// # Layout
//
// The storage is (MaxNodeID + 1) slots of SlotSize (4096) bytes, 1 MiB:
// slot 0 is the Header (magic "CGQD", format version, slot size, max node
// id, cluster name, CRC32C), slot N belongs to node id N (1..255). Each
// slot starts with a Block (layout on Block): magic, node id, incarnation
// (new at every daemon start), a sequence number incremented by every
// write, a timestamp (informational only), the node's ring id and
// members, its heuristics score, its view of the master, its state (init,
// running, disconnected, leaving), whether it is eligible and whether it
// casts the vote, and a CRC32C. A block with a bad magic, version, length
// or checksum is counted as corrupt and treated as "no news" from that
// node; the header must be all zeros (it is then written) or name this
// cluster: the storage of another cluster, or anything else, is never
// overwritten. The file must exist; it is never created, because a path
// that is not on shared storage would give each node a "disk" of its own.
//
// Every interval (default 1 s) a node writes its block (O_DIRECT when
// possible, and O_DSYNC) and reads all slots up to the highest configured
// node id.
//
// # Decision rules (Core)
//
// All counting is in this node's own cycles; no clock of another node is
// used, so clock skew cannot matter.
//
//   - A node is live on disk when its (incarnation, sequence) changed
//     between two reads, dead when it has not changed for tko cycles
//     (default 10), left when it wrote a leaving block. A node seen for
//     the first time is unknown until it changes or tko cycles pass.
//   - A node is eligible when it is running: connected to corosyncd with
//     a membership, past its initialization (tko cycles of reads in a
//     row, at startup and again after any missed cycle) and with a
//     heuristics score ≥ min_score. A node failing its heuristics is not
//     eligible, so the master moves away from it.
//   - The master is the lowest node id among live eligible nodes (this
//     node included when its own block was read back intact). When a
//     lower node is eligible but still unknown, there is no master yet.
//   - The device casts its vote iff the master is a member of this
//     node's ring, this node is initialized, fresh (its own block of the
//     last cycle written and read back, at most one interval ago), has
//     seen another node's block on the storage at least once (evidence
//     that the storage is shared), and either the master has stayed the
//     same for Settle (4) reads or the vote was already cast in the same
//     ring (a master moving inside the partition keeps the vote; after a
//     membership change the master must be settled).
//
// Master election is deterministic over what the nodes read, so nodes
// that read the same blocks agree. Reads happen at different moments; the
// rules make a node stop casting as soon as its own view changes and
// start only after Settle reads, so that every other node has seen the
// change first. TestRandomSafety drives random splits, crashes, restarts,
// storage failures and heuristics changes with one-cycle skews and checks
// that devices of two partitions never cast at once.
//
// # Timing
//
// A master whose daemon hangs keeps its vote in votequorum for at most 2
// intervals (the vote's expiry) plus quorum.device.timeout; the other
// nodes take over tko + Settle − 1 intervals after its last write. The
// daemon therefore requires tko × interval ≥ quorum.device.timeout, which
// leaves at least one interval of margin (10 × 1 s ≥ 10 s with the
// defaults; cmd/qdevice raises a defaulted tko and refuses an explicit
// one that is too low). A cycle must complete within the interval: a
// slower cycle counts as missed and puts the node back into
// initialization.
//
// A master that stops cleanly writes a leaving block, and the others take
// over after Settle cycles instead of tko.
//
// # Deviations from RHCS qdiskd
//
// No label lookup (the path names the device), no eviction or fencing of
// nodes, no per-heuristic scores (each check scores 1; min_score defaults
// to floor((checks + 1) / 2) as qdiskd's), and only the master's
// partition gets the votes (qdiskd's master_wins behaviour; without it
// qdiskd gave its votes to every node that saw the disk). Node ids are
// limited to 1..255.
package qdisk
