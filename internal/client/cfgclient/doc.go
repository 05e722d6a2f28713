// Package cfgclient is a small client of the daemon's cfg service
// (service id 1), the administrative calls of corosync-cfgtool: link and
// node status, killing a node, shutting this node down, reloading the
// configuration on every node, and the local node id.
//
// Errors: Dial's match ipc.ErrNotRunning, ipc.ErrAccessDenied and the
// other ipc sentinels; a request the daemon refuses returns a
// *client.StatusError (errors.Is(err, client.ErrNotExist) for an unknown
// node, client.ErrTryAgain when the ring cannot take the message now,
// client.ErrFailed for a reload that failed); a malformed answer wraps
// cfg.ErrShort or cfg.ErrBadValue.
package cfgclient
