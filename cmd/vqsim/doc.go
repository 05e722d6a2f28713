// Command vqsim is the equivalent of corosync-vqsim: a votequorum
// simulator that builds the cluster of a corosync.conf's nodelist and
// takes commands, one per line, from standard input.
//
//	vqsim [-c corosync.conf] [-o output] [-n] [-s seed] [-z]
//	vqsim -sweep [-seeds 1-100 | -seed N] [-trace] [-v] [-tolerate all]
//
// Every node runs the real stack (internal/sim/vqsim): a Totem core, the
// service host, the quorum service and votequorum, over a simulated
// network split into numbered partitions; time is simulated and
// deterministic (fixed seed by default, -s to change it). All nodes of
// the nodelist start in partition 0 unless -z is given. The commands are
// corosync-vqsim's -- up, down, split/move, join, qdevice on|off, sync
// on|off, show, exit, help -- and ours: kill (down), leave (clean
// shutdown), setexpected, setvotes, cancelwfa, qdevice novote, qdevice
// masterwins, wait (simulated ms), timeout. show prints one line per
// running node:
//
//	node ID part=P ring=R members=A,B,C quorate=0|1 votes=V expected=E highest=H total=T quorum=Q flags=F1,F2
//
// With sync on (the default; -n turns it off) every command that changes
// the cluster waits until the rings and the service sync settle and then
// prints the nodes' status, as corosync-vqsim does. A command's error is
// printed on standard error as "ERR: ..." and the simulator goes on.
//
// -sweep runs the seeded random sweep instead (vqsim.Run): random safe
// votequorum configurations with random partitions, crashes, restarts,
// pauses and clean leaves, checking after every step that no two
// disjoint rings are quorate at once and that no node shows a view of
// its ring votequorum did not decide in it, and at the end that the
// healed cluster is quorate. -tolerate lets known findings pass
// (ghost-voters, tie-breaker, early-view, or all; see the vqsim package).
// A failing seed is printed with its replay command; the exit status is
// 1 when a seed failed, 2 on bad usage or a bad configuration.
//
// Deviations from corosync-vqsim: a node must be in the nodelist (real
// corosync cannot start otherwise; corosync-vqsim gives unknown nodes the
// first node's votes); ring ids are real totem ring ids (rep.seq in hex)
// rather than the simulator's partition numbers; the totem section of
// the configuration is ignored (the simulator's own timers are used, and
// a knet configuration is read as udpu); autofence and assert are not
// supported.
package main
