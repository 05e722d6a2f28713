// Package quorum is the Go client of corosyncd's quorum API, the
// counterpart of corosync's libquorum (quorum.h): whether this node is
// quorate, the quorum provider type, the current view (ring id and
// members), and notifications when they change.
//
// A Client is one connection to the daemon's quorum service (service id
// 3) over its local socket: $COROSYNCD_SOCKET, else
// /run/corosyncd/corosyncd.sock, or the path given with WithSocket.
//
//	c, err := quorum.Dial(ctx)
//	if err != nil { ... }
//	defer c.Close()
//	if err := c.Track(ctx, quorum.TrackCurrent|quorum.TrackChanges); err != nil { ... }
//	for ev := range c.Events() {
//		switch ev := ev.(type) {
//		case *quorum.View:     // quorum_notify_fn
//		case *quorum.NodeList: // libquorum v1's nodelist_notify_fn
//		}
//	}
//	// Events is closed when the connection ends; c.Err() tells why.
//
// Mapping from libquorum: quorum_initialize / quorum_model_initialize →
// Dial; quorum_getquorate → Quorate; the type out-parameter of
// quorum_initialize → Type; quorum_trackstart / quorum_trackstop → Track
// / StopTracking; the notify callbacks → Events, which carries both model
// v0's view (View: quorate, ring, members) and model v1's node list
// (NodeList: ring, members, joined, left); quorum_finalize → Close.
// View is our addition: the current view without tracking.
//
// Semantics follow corosync's quorum service (exec/vsf_quorum.c):
// TrackCurrent sends the current View and NodeList once; TrackChanges
// sends them too and then every change; TrackChangesOnly sends only the
// changes. A second Track with TrackChanges or TrackChangesOnly while
// tracking fails with ErrExist; StopTracking when not tracking fails with
// ErrNotExist. Without a quorum provider (no votequorum) the node is
// always quorate and Type is None. A View arrives when the daemon
// publishes one: after each membership change once the services are in
// sync, and when the provider's decision changes; a NodeList arrives
// after each membership change.
//
// Errors: Dial's errors match ErrNotRunning (no daemon on the socket),
// ErrAccessDenied (the daemon refuses this user) or ErrNoService. A
// request the daemon answers with a status other than OK returns a
// *StatusError, which matches one of ErrTryAgain, ErrInvalidArg,
// ErrExist, ErrNotExist, ErrAccessDenied, ErrNotSupported or ErrFailed.
// When the connection ends, requests fail with an error matching
// ErrDisconnected (the daemon went away) or ErrClosed (after Close).
//
// Deviations from libquorum: no file descriptor or dispatch call (Events
// is a channel); no context pointer (use a closure); events of both
// models are always delivered; the client is safe for concurrent use.
// The wire protocol is corosyncd's own: this package cannot talk to a
// corosync daemon, nor can libquorum talk to corosyncd.
package quorum
