// Package cmap is corosync 3.1's configuration map service (exec/cmap.c,
// service id 0, "corosync configuration map access"), reduced to what a
// node needs to join a corosync cluster and to show its state:
//
//   - the sync participant: in every sync each node multicasts one cmap
//     MCAST (reason SYNC) carrying its totem.config_version
//     (corosync-wire.md §5.3); the exec handler records the highest version
//     other nodes sent. At SyncActivate of the node's first sync with other
//     nodes, if its own config_version is not 0 and differs from the
//     highest received, corosync shuts down ("Received config version (R)
//     is different than my config version (L)! Exiting"); here
//     Options.OnConfigVersionMismatch is called and the daemon exits.
//   - a read-only key store for local clients: the daemon supplies a
//     snapshot of its runtime keys (Options.Snapshot) and clients GET one
//     key or ITERate over a prefix, paged (proto.go).
//
// msg.go encodes and decodes the MCAST message byte for byte as corosync
// lays it out (a 48-byte header part, then items of a 264-byte key name, a
// type, a u64 length and the value, each padded to 8 bytes); the golden
// test compares our encoding with the 328-byte messages of the real
// capture. Both byte orders are decoded; malformed messages are dropped
// and counted.
//
// Deviations from corosync: the key store is read-only (no set, delete,
// adjust or tracking); values in client payloads use our own encoding
// (proto.go); a config_version of 0 is sent as "key does not exist", as
// corosync sends it when the key is unset.
package cmap
