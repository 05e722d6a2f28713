// Package vqsim is the whole-cluster votequorum simulator, the
// equivalent of corosync-vqsim built the way internal/sim/cpgsim is: the
// nodes of a corosync.conf nodelist, each, while up, a real Totem core
// (internal/sim's totemtest.Cluster) under a real service host
// (internal/service/host) running the real quorum service and votequorum
// engine, wired as the daemon wires them (votequorum's decisions go to
// the quorum service's Update), over a simulated network split into
// numbered partitions. Time is simulated: the hosts get it through
// host.Tick, and it moves only when the cluster runs. Nothing reads a
// clock, iterates a map in an order that matters, or starts a goroutine,
// so every run replays exactly.
//
// # The cluster
//
// Cluster (New, Load) offers corosync-vqsim's operations: Up (start nodes
// in partitions), Down (kill: the process vanishes), Leave (clean
// shutdown: votequorum's exit, which with allow_downscale sends NODEINFO
// with LEAVING, delivered before the node leaves the ring), Move
// (corosync-vqsim's split/move), Join (merge partitions), Qdevice (a
// simulated quorum device per node, a client of the node's votequorum as
// corosync-qdevice is: it registers, tracks the node list to learn each
// new ring id, and polls with it, casting its vote or not), MasterWins,
// SetExpected and SetVotes (corosync-quorumtool -e and -v, through the
// client API), CancelWaitForAll, Wait (let simulated time pass) and Sync
// (run until the rings and the service sync settle: every running node
// OPERATIONAL in a ring of exactly the running nodes of its partition,
// every message delivered by every member, every node's sync of that ring
// completed and its quorum service's view published for it, no quorum
// device owing a poll). With auto sync (the default) every operation
// that changes the cluster ends with Sync. Show prints, per running node
// by id:
//
//	node ID part=P ring=R members=A,B,C quorate=0|1 votes=V expected=E highest=H total=T quorum=Q flags=F1,F2
//
// ring, members and quorate are the node's quorum service view (what
// libquorum clients see), the rest is votequorum_getinfo of the node, the
// flags named as corosync-quorumtool names them (then QdeviceAlive,
// QdeviceCastVote and QdeviceMasterWins). Interp runs the command
// language on a Cluster; cmd/vqsim and the scenario tests
// (testdata/*.txt, each explaining why corosync decides as it prints)
// share it.
//
// Node ids are the nodelist's; the Totem cores run as ids 1..N in the
// nodelist's order and every event is mapped back before a host sees it.
// The totem section of the configuration is ignored: the simulator runs
// totemtest.SimConfig's timers (a knet configuration is read as udpu).
// Unlike corosync-vqsim, a node must be in the nodelist (real corosync
// cannot start otherwise).
//
// # The sweep
//
// Run simulates one seed: a profile drawn from the seed (RandomProfile),
// every node started, then internal/sim's fault schedule (network
// weather, partitions into 2 or 3 groups, crashes and restarts, pauses
// longer than the token timeout, clean leaves, lossy one-way links) until
// RunOptions.QuietAfter, then a heal of everything. (A clean leave there is
// totem's; votequorum's exit NODEINFO matters only with allow_downscale,
// which the sweep does not run.) After every step it checks:
//
//  1. No split brain. A node is quorate in its ring when its quorum
//     service view says quorate for its current totem ring; no two rings
//     in which some node is quorate may have disjoint memberships. (A
//     node still in an older ring while the others formed a new one is
//     legitimate: the two rings overlap.)
//  2. Vote accounting (GhostVoters). Once the sync of its ring completed,
//     a node's votequorum counts as members only nodes of the ring.
//  3. No stale view (StaleView). A node's quorum service view of its
//     current ring carries a decision votequorum made in that ring (at
//     or after its sync_init of the ring), as in corosync, where the
//     quorum service publishes only what votequorum's quorum_callback
//     hands over, with votequorum's own ring id and members.
//
// and at the end, liveness: once the faults stopped, by internal/sim's
// liveness bound plus four token timeouts, the cluster settles with
// every node up and quorate, unless expected votes legitimately exceed
// the votes present (quorum.expected_votes above the sum, which with
// wait_for_all waits forever). A failure's report gives the seed, the
// replay command, the configuration and the last events.
//
// The profiles are those whose safety corosync guarantees whatever the
// partitions and failures: plain majority of 2 to 7 nodes, weighted
// quorum_votes, wait_for_all, expected_votes_tracking (which makes
// corosync ignore quorum.expected_votes), quorum.expected_votes at or
// above the votes' sum (below it, two halves each reach quorum), and
// auto_tie_breaker (lowest, highest or a list) when the votes' sum is
// even. Left out, as corosync does not keep them safe: auto_tie_breaker
// with an odd sum of votes (corosync disables it without wait_for_all;
// with wait_for_all it keeps it, and corosync 3.1 itself splits when a
// node that died comes back into the half without the tie breaker: the
// nodes of that half that were up all along do not wait for all again,
// count a majority and are quorate while the other half holds the tie
// breaker; testdata/atb_odd.txt shows it), two_node (both halves of a
// split stay quorate, fencing decides), last_man_standing (it lowers
// expected votes in the partition that lost nodes; if those nodes were
// not dead but cut off, both sides can end up quorate), allow_downscale
// (documented as incomplete; a leave lowers expected votes, and nodes
// that left can come back next to a quorate remnant), runtime
// setexpected/setvotes (an administrator's override), and a quorum
// device voting in both halves (qnetd votes for one;
// testdata/qdevice.txt shows what happens otherwise). Those are covered
// by the scenario files instead.
//
// # Findings
//
// The sweep found four departures. One was a wiring bug, now fixed:
//
//   - Stale quorum view: the quorum service published each new ring's
//     view at its own sync activation with the provider's current
//     decision, the previous ring's, until votequorum's round of the same
//     sync activated; a node cut off from a quorate cluster told its
//     clients it was quorate in its one-node ring (a split brain at once
//     in the sweep). votequorum's provider now says it decides in sync
//     (DecidesInSync) and the quorum service waits for its decision, as
//     corosync's vsf_quorum waits for votequorum's quorum_callback.
//     Invariant StaleView guards it: TestStaleViewFixed checks that the
//     seeds that showed it pass, and that the old wiring still fails
//     them.
//
// The other three are documented with their cause; RunOptions.Tolerate
// lets them pass (counted in the result), with rules as narrow as each
// finding. Two of them are fixed in the engine (TestFindingsFixed checks
// that the seeds that showed them are clean now); FindingTieBreaker
// remains (TestFindingsReproduce):
//
//   - FindingGhostVoters (fixed): corosync 3.1's votequorum_sync_init
//     marks DEAD only the members of its previous sync's ring missing
//     from the new one, so a node learnt of through a NODEINFO in a ring
//     whose sync aborted before votequorum's round keeps counting after
//     it is gone; the sweep found disjoint quorate rings from it. The
//     engine now marks every node outside the new ring dead.
//   - FindingTieBreaker (made rarer, not fixed): auto_tie_breaker decides
//     from node-local state (the lowest or highest id of the node's last
//     quorate membership; a list checked against the previous ring), so
//     after successive partitions, crashes and restarts both halves of a
//     split can hold the tie breaker. corosync 3.1's are_we_quorate and
//     check_auto_tie_breaker do the same (9 of 1000 seeds). The engine
//     takes the lowest and highest ids from the ring's members rather
//     than from the nodes whose NODEINFO arrived, and only outside a sync
//     or when one activates (a sync cut short by a partition left some
//     nodes with the new ring's ids and others with the old ones), checks
//     a list against both the previous ring and the ring of its last
//     quorum, and requires a node that was quorate once for a list: 7 of
//     6000 seeds (1892, 2749, 4086, 4970, ...; all but one with a list)
//     still show it.
//   - FindingEarlyView (fixed: votequorum now hands each decision to the
//     quorum service with its own ring and members, quorum.Engine.Set, as
//     corosync's quorum_callback does): a decision votequorum makes before its sync_init
//     of a new ring (typically counting a starting node's first NODEINFO,
//     which corosync's votequorum_exec_init_fn sends and the new ring
//     delivers before the sync) reaches the quorum service while its own
//     part of the sync runs, is held, and is published at the quorum
//     service's sync activation as the new ring's view (likewise one that
//     arrives between the quorum service's activation and votequorum's
//     sync_init). corosync publishes the same decision labelled with
//     votequorum's previous ring id and members, and the new ring only at
//     votequorum_sync_activate: the quorate value clients see is the
//     same, the ring it is given for is not. A departure of the quorum
//     service (internal/service/quorum); 296 of the sweep's 1000 seeds
//     show it, always as quorate=1, and with the check off the sweep
//     finds no split brain beyond those of the two findings above.
//
// Comparing with corosync-vqsim 3.1.7 (oracle_test.go, whenever corosync-vqsim is installed)
// found that corosync sets the wait_for_all status only at startup (the
// engine set it again whenever a node lost quorum); reading corosync's
// votequorum_readconfig found that with expected_votes_tracking (or
// allow_downscale) corosync replaces quorum.expected_votes by the stored
// barrier, the nodelist's sum when that is 0. The engine now does both
// (testdata/wait_for_all.txt, atb_odd.txt, allow_downscale.txt,
// ev_tracking.txt). What still differs is corosync-vqsim's own: its sync
// has no barrier, so a node that just started and waits can adopt a
// NODEINFO sent after the sender recalculated in the new ring, flagged
// quorate, which corosync's barrier prevents.
package vqsim
