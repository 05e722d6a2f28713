// Package heuristics runs a quorum device's heuristics: shell commands
// and reachability checks whose outcome tells whether this node is fit
// to receive the device's vote.
//
// The semantics follow corosync-qdevice(8) ("heuristics" subsection of
// quorum.device):
//
//   - every check of a run is started at once, in parallel, and the run
//     ends when all have ended or the run's timeout has passed;
//   - an exec check (exec_NAME: COMMAND) runs COMMAND with /bin/sh -c in
//     its own process group; it passes when it exits 0 before the
//     timeout. On timeout (or when the run is cancelled) the whole
//     process group is killed with SIGKILL;
//   - a run passes when every check passes. Result.Score counts the
//     checks that passed, which the qdisk model compares with its
//     min_score, as RHCS qdiskd did;
//   - mode off runs nothing (a result with no checks, which passes);
//     mode sync runs the checks at startup and after every membership
//     change (Runner.Trigger), with the sync timeout; mode on also runs
//     them every interval with the normal timeout.
//
// Two more kinds of check, used by the ping model (and by qdisk when
// configured), are this implementation's own:
//
//   - a TCP check (TCP) passes when a TCP connection to ADDR:PORT is
//     established before the timeout;
//   - an ICMP check (ICMP) passes when an echo reply arrives before the
//     timeout. It uses an unprivileged ICMP datagram socket
//     (net.ipv4.ping_group_range must include the daemon's group), else a
//     raw socket (CAP_NET_RAW); when neither can be opened the check
//     fails with an error matching ErrICMPNotPermitted, which says how to
//     fix it.
//
// Deviations from corosync-qdevice: the commands run directly from the
// daemon (corosync-qdevice forks a separate worker process for them);
// there is no limit of 32 exec_ keys; a run started by a membership
// change cancels a run in progress.
package heuristics
