// Package cfg is corosync 3.1's configuration service (exec/cfg.c, service
// id 1, "corosync configuration service"): the administrative operations of
// corosync-cfgtool.
//
// Exec messages (corosync-wire.md §5.6), byte-compatible with corosync's
// structs (msg.go documents every offset; all fields aligned(8)):
//
//	fn 0 RINGREENABLE     32 bytes: header, source {nodeid, conn}      (ignored)
//	fn 1 KILLNODE        288 bytes: header, nodeid, reason mar_name_t
//	fn 2 SHUTDOWN         16 bytes: header only
//	fn 3 RELOAD_CONFIG    32 bytes: header, source {nodeid, conn}
//	fn 4 CRYPTO_RECONFIG  24 bytes: header, phase                      (ignored)
//
// Semantics, as corosync's handlers:
//
//   - KILLNODE naming this node logs "Killed by node N: <reason>" and calls
//     Options.OnShutdown; every node logs "request to kill node X(us=Y)" at
//     debug.
//   - SHUTDOWN logs "Node N was shut down by sysadmin" on every node; the
//     sender calls Options.OnShutdown when its own message is delivered, so
//     the others hear of it first.
//   - RELOAD_CONFIG logs "Config reload requested by node N" and calls
//     Options.OnReload on every node; a failure logs "Unable to reload
//     config file: <error>". The node whose client asked replies to it with
//     its own result once its message is delivered.
//
// Client requests are in proto.go (our own IPC payloads, little-endian):
// ring and node status from Options.Status, kill node, shutdown, reload,
// local node id.
//
// Deviations from corosync: cfg's shutdown trackers (corosync_cfg_trackstart
// and replyto_shutdown) are not offered, so a shutdown request never waits
// for other clients' consent: every flag behaves as IMMEDIATE. KILLNODE's
// nodeid is converted from a sender of the other byte order (corosync
// converts only the reason's length). RINGREENABLE and CRYPTO_RECONFIG are
// decoded and ignored (knet crypto reconfiguration is not implemented).
package cfg
