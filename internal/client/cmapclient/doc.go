// Package cmapclient is a small client of the daemon's cmap service
// (service id 0): read one key (Get) or every key under a prefix (Iter,
// All), as corosync-cmapctl does with libcmap. The store is read-only:
// the service offers no set, delete or tracking (see package
// internal/service/cmap).
//
// Errors: Dial's match ipc.ErrNotRunning, ipc.ErrAccessDenied and the
// other ipc sentinels; a request the daemon refuses returns a
// *client.StatusError (errors.Is(err, client.ErrNotExist) for a missing
// key); a malformed answer wraps cmap.ErrShort or cmap.ErrBadValue.
package cmapclient
