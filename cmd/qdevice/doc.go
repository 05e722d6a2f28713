// Command qdevice is corogo's quorum device daemon, in the role of
// corosync-qdevice: it runs on every node, registers a quorum device with
// corosyncd's votequorum, and polls it with the device's vote. It
// implements two models: qdisk (a shared file or block device, as RHCS
// qdiskd) and ping (a tie breaker from reachability checks, without
// shared storage). corosync-qdevice's model net (corosync-qnetd) is not
// implemented.
//
//	qdevice [-c FILE] [-f] [-d] [-L] [-M MODEL] [-S SOCKET] [-p STATUS_SOCKET]
//	qdevice -t [-c FILE] [-M MODEL]
//	qdevice -s [-p STATUS_SOCKET]
//
//	-c FILE    corosync.conf (default /etc/corosync/corosync.conf; TOML when it ends in .toml)
//	-f         stay in the foreground; without it the daemon re-runs itself detached, logging to syslog
//	-d         debug messages
//	-L         log to syslog (facility daemon, tag corogo-qdevice) instead of standard error
//	-M MODEL   qdisk or ping, overriding quorum.device.model
//	-S SOCKET  corosyncd's socket (default $COROSYNCD_SOCKET, else /run/corosyncd/corosyncd.sock)
//	-p PATH    status socket (default /run/corogo-qdevice/qdevice.sock, mode 0600)
//	-t         check the configuration, print the device's effective settings, exit
//	-s         print the running daemon's status (as corosync-qdevice-tool -s)
//
// SIGTERM and SIGINT stop the daemon cleanly: the vote is withdrawn, the
// device unregistered, and qdisk writes a leaving block. When corosyncd
// goes away the daemon reconnects with a backoff from 1 s to 30 s.
// Exit status: 0 after a clean stop, 1 on a configuration error (every
// problem printed as "file:line: message") or a failure.
//
// # Configuration
//
// The quorum.device section of corosync.conf (the nodelist gives the
// node ids; totem.cluster_name is written into the qdisk header):
//
//	quorum {
//	    provider: corosync_votequorum
//	    device {
//	        model: qdisk            # or ping
//	        votes: N                # votequorum's; default nodes − 1
//	        timeout: 10000          # ms; the device polls every timeout/2
//	        sync_timeout: 30000     # ms; votequorum's wait during a membership change
//	        master_wins: 0          # 0|1, passed to votequorum (see below)
//	        heuristics {
//	            mode: off           # off|sync|on; default off (qdisk), on (ping)
//	            timeout: 5000       # ms, a periodic run; default timeout/2
//	            sync_timeout: 15000 # ms, a run at startup or after a membership change
//	            interval: 30000     # ms between periodic runs (mode on); default 3 × timeout
//	            exec_NAME: COMMAND  # run with /bin/sh -c; passes when it exits 0 in time
//	        }
//	        ping {
//	            hosts: 10.0.0.254 10.0.1.254:443   # IP (ICMP echo) or IP:PORT / [IPv6]:PORT (TCP connect)
//	            target_NAME: ADDRESS[:PORT]         # one more target, named
//	            min_score: N        # model ping: checks that must pass; default all
//	        }
//	        qdisk {
//	            path: /dev/disk/by-id/...  # required; must exist; on storage every node shares
//	            interval: 1000      # ms between cycles (≥ 100)
//	            tko: 10             # cycles without a write after which a node is dead
//	            min_score: N        # heuristics checks a node must pass to be master;
//	                                # default floor((checks + 1) / 2), as qdiskd
//	            master_wins: 0|1    # the same as quorum.device.master_wins
//	        }
//	    }
//	}
//
// Heuristics checks are the exec_ commands and the ping targets; they run
// in parallel, each check scores 1, and the result is "pass" when all
// pass. Ping targets are checks with either model. Host names are not
// resolved. 0/1 keys also accept yes/no and on/off.
//
// Checks and errors: model must be qdisk or ping; model ping needs
// heuristics (mode sync or on) and at least one check, and refuses
// master_wins; model qdisk needs qdisk.path, node ids 1..255, interval ≥
// 100 ms, tko ≥ 4, and tko × interval ≥ quorum.device.timeout (a
// defaulted tko is raised to meet it, an explicit one is an error: a hung
// master's vote could otherwise outlive the takeover); min_score cannot
// exceed the number of checks. Unknown keys and sections under
// quorum.device are warnings.
//
// # Decisions
//
// qdisk (package qdisk has the exact rules): the master is the lowest
// node id that is live on the storage and eligible (running, initialized,
// heuristics score ≥ min_score); the device casts its vote iff the master
// is a member of this node's ring (and this node is initialized, its own
// block read back in the last cycle, the master settled for 4 cycles,
// and the storage shown shared). Only the master's partition gets the
// votes, so with the default votes one node of N keeps quorum, and after
// a split in which both halves see the storage exactly one half wins; if
// the master dies, the others take over after tko + 3 cycles. master_wins
// defaults to 0: with the default votes the master's partition wins by
// votes anyway; set it when votes are lower and the master's partition
// must win regardless.
//
// ping (package qdevice): the device casts its vote while the checks pass
// (≥ min_score) and this node's partition holds at least half of the
// configured nodes. Without shared storage, two halves that both still
// reach the targets both get the vote (the trade-off of two_node's fence
// race): use it where losing the cluster link means losing the upstream;
// for a guaranteed tie break use qdisk with heuristics. votes: 1 makes it
// a pure tie breaker for an even number of nodes.
//
// # Status
//
// qdevice -s prints the daemon's view, one "Name: value" line each:
// Model, Node ID, Connected to corosyncd, Registered, Poll interval,
// Master wins, Ring ID, Membership node list, Model vote (with its
// reason), Last poll call; then the model's lines — ping: Configured
// nodes, Heuristics, Min score, Heuristics result; qdisk: Qdisk path,
// Qdisk storage (open, direct I/O or not, or the open error), interval,
// tko, min score, Qdisk state (this node's state and cycle), Heuristics
// score, Master, Cast vote (with the reason), and one "Node N" line per
// slot seen: "live, running, eligible, score 1/1, seq 123, ring 1.8
// (1 2 3), master 1, cast", with corrupt reads and restarts counted.
//
// Deviations from corosync-qdevice: no model net; the status is served
// on the daemon's own socket and printed by qdevice -s (there is no
// corosync-qdevice-tool, and no -H: stop the daemon with SIGTERM); the
// heuristics run inside the daemon; no -S advanced settings.
package main
