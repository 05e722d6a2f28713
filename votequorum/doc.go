// Package votequorum is the Go client of corosyncd's votequorum service,
// the counterpart of corosync's libvotequorum (votequorum.h): the votes
// and quorum of each node (GetInfo), changing expected votes and a node's
// votes, notifications of quorum, node list and expected votes changes,
// and the quorum device API that corosync-qdevice uses.
//
// A Client is one connection to the daemon's votequorum service (service
// id 5) over its local socket: the path given to Dial, else
// $COROSYNCD_SOCKET, else /run/corosyncd/corosyncd.sock. The daemon
// offers the service only when votequorum is the quorum provider
// (quorum.provider: corosync_votequorum); otherwise Dial fails with an
// error matching ErrNoService.
//
//	c, err := votequorum.Dial(ctx, "")
//	if err != nil { ... }
//	defer c.Close()
//	info, err := c.GetInfo(ctx, 0) // this node
//	if err := c.TrackStart(ctx, votequorum.TrackChanges, 0); err != nil { ... }
//	for ev := range c.Events() {
//		switch ev := ev.(type) {
//		case *votequorum.QuorumNotification:        // votequorum_quorum_notify_fn
//		case *votequorum.NodeListNotification:      // votequorum_nodelist_notify_fn
//		case *votequorum.ExpectedVotesNotification: // votequorum_expectedvotes_notify_fn
//		}
//	}
//	// Events is closed when the connection ends; c.Err() tells why.
//
// Mapping from libvotequorum: votequorum_initialize → Dial;
// votequorum_finalize → Close; votequorum_getinfo → GetInfo;
// votequorum_setexpected → SetExpected; votequorum_setvotes → SetVotes;
// votequorum_trackstart / votequorum_trackstop → TrackStart / TrackStop;
// the three notify callbacks → Events; votequorum_qdevice_register,
// _unregister, _update, _poll and _master_wins → the Qdevice* methods;
// the cmap key quorum.cancel_wait_for_all → CancelWaitForAll. The
// context given to TrackStart comes back in every notification, as
// libvotequorum's context argument does.
//
// Semantics are those of corosync 3.1's votequorum service
// (exec/votequorum.c): TrackCurrent sends the current node list and
// quorum state once; TrackChanges sends them and then every change;
// TrackChangesOnly sends only the changes. A second TrackStart while
// tracking fails with ErrExist, TrackStop when not tracking with
// ErrNotExist. A quorum notification lists every node votequorum knows
// with its state, and the quorum device as node QdeviceNodeID (0) when
// one is registered. A node list notification carries the ring's members
// after each membership change. An expected votes notification follows
// every change of expected votes.
//
// Errors: Dial's errors match ErrNotRunning (no daemon on the socket),
// ErrAccess (the daemon refuses this user) or ErrNoService (votequorum is
// not the provider). A request the daemon refuses returns a *StatusError,
// which matches one of ErrTryAgain, ErrInvalidArg, ErrNotExist,
// ErrExist, ErrAccess, ErrMessage, ErrNotSupported or ErrFailed. When the
// connection ends, requests fail with an error matching ErrDisconnected
// (the daemon went away) or ErrClosed (after Close).
//
// Deviations from libvotequorum: no file descriptor or dispatch call
// (Events is a channel); every notification kind is always delivered
// (libvotequorum drops those without a callback); the client is safe for
// concurrent use. The wire protocol is corosyncd's own
// (internal/service/votequorum/proto.go): this package cannot talk to a
// corosync daemon, nor can libvotequorum talk to corosyncd.
package votequorum
