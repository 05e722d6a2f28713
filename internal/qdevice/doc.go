// Package qdevice is the quorum device loop shared by corogo's quorum
// device models, the counterpart of corosync-qdevice's model-independent
// part (corosync-qdevice(8); the quorum device API of votequorum(5)).
//
// A Device registers a model's device with votequorum under the model's
// name ("Qdisk", "Ping"; corosync-quorumtool prints it), sets master_wins,
// tracks node list notifications, and calls poll with the model's vote:
//
//   - every quorum.device.timeout / 2 (votequorum drops the device's vote
//     when it has not polled for the timeout);
//   - at once when the model's vote changes;
//   - after a membership change, as soon as the model has voted for the
//     new ring id, so that votequorum's sync, which waits for a poll
//     carrying the new ring id, does not wait for its sync_timeout. The
//     device never polls a new ring with a vote decided for the old one:
//     it waits for the model, at most 3/4 of quorum.device.sync_timeout,
//     then polls with cast_vote false;
//   - when a vote carries an expiry (the model's evidence is getting
//     old), with cast_vote false from that instant.
//
// A poll refused as stale (votequorum's CS_ERR_MESSAGE_ERROR, ErrStaleRing
// here) is not an error: a newer membership is on its way. Any other
// failure ends the connection; the device reconnects with a backoff that
// doubles from 1 s to 30 s (BackoffMin, BackoffMax), and logs each
// failure. On ctx's end the device polls with cast_vote false, unregisters,
// then stops the model (so a model can write its last state, as qdisk's
// leaving block).
//
// Models implement Model: Run receives Updates (connection state, this
// node's id, the current membership; only the latest is kept) and
// reports Votes. The ping model (Ping, PingDecide) is in this package;
// the shared storage model is package qdisk; heuristics are package
// heuristics. The daemon, its configuration keys and its status output
// are in cmd/qdevice.
//
// # The ping model
//
// A tie breaker without shared storage: the device casts its vote while
// the heuristics (ping targets, exec_ commands) pass, that is, reach
// min_score (default: all checks), and this node's partition holds at
// least half of the configured nodes (2 × members ≥ nodes in the
// nodelist). It therefore only breaks ties and never lends its votes to a
// minority. Every membership change starts a heuristics run (with the
// heuristics sync_timeout) and the vote for the new ring waits for it.
//
// Without shared storage the two halves of an even split cannot know of
// each other: when both still reach the ping targets, both get the vote
// and both are quorate — the same trade-off as two_node's fence race. Use
// it only where losing the cluster link means losing the upstream the
// targets are on (the targets are the upstream routers or a service
// behind them); for a guaranteed tie break use the qdisk model (with
// heuristics).
//
// # Deviations from corosync-qdevice
//
// There is no model net (and no qnetd): the models are qdisk and ping.
// The daemon and the models run in one process, a goroutine each; no
// separate process runs the heuristics. The device does not poll a new
// ring before the model has decided on it (at most 3/4 of sync_timeout).
package qdevice
