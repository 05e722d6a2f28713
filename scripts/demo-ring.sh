#!/usr/bin/env bash
# Starts three corosyncd on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (udpu, no
# root needed), shows the ring they form and the service sync, runs a CPG
# client on every node (one group, 1,000 messages from node 1, the same
# order everywhere), shows cfgtool, cpgtool and quorumtool (votequorum),
# kills one daemon with SIGKILL, shows the new ring and that the two left
# are still quorate, and stops everything it started (by PID).
# Bounded: about 20 s.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/corogo-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/corosyncd" ./cmd/corosyncd
go build -o "$work/cpgbench" ./cmd/cpgbench
go build -o "$work/cpgtool" ./cmd/cpgtool
go build -o "$work/cfgtool" ./cmd/cfgtool
go build -o "$work/quorumtool" ./cmd/quorumtool
port=$((20000 + RANDOM % 20000))
cat >"$work/corosync.conf" <<CONF
# corosync.conf, unchanged syntax: three nodes on loopback addresses.
totem {
    version: 2
    cluster_name: demo
    transport: udpu
    token: 300
    token_coefficient: 0
    interface {
        mcastport: $port
    }
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        nodeid: 1
        name: node1
    }
    node {
        ring0_addr: 127.0.0.2
        nodeid: 2
        name: node2
    }
    node {
        ring0_addr: 127.0.0.3
        nodeid: 3
        name: node3
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_stderr: yes
    to_syslog: no
    timestamp: hires
}
system {
    state_dir: $work/state
}
CONF

echo "== starting corosyncd 1, 2, 3 on 127.0.0.1-3:$port (config $work/corosync.conf)"
for i in 1 2 3; do
	COROSYNCD_SOCKET="$work/n$i.sock" "$work/corosyncd" -f -c "$work/corosync.conf" -n "$i" >"$work/n$i.log" 2>&1 &
	pids+=($!)
done

# wait_for FILE PATTERN: up to 10 s.
wait_for() {
	for _ in $(seq 100); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $1"; cat "$1"; return 1
}
wait_for "$work/n1.log" "Members\[3\]: 1 2 3"
echo "== node 1's log: the ring"
grep -h "TOTEM" "$work/n1.log" | grep -E "membership|processor failed|left" | sed 's/^/   /'
wait_for "$work/n1.log" "Completed service synchronization"
grep -h "QUORUM\|MAIN" "$work/n1.log" | grep -E "Members\[3\]|Completed service" | tail -2 | sed 's/^/   /'

echo "== cfgtool -s on node 1"
COROSYNCD_SOCKET="$work/n1.sock" "$work/cfgtool" -s | sed 's/^/   /'

echo "== quorumtool -s on node 2 (votequorum: 3 votes, quorum 2)"
COROSYNCD_SOCKET="$work/n2.sock" "$work/quorumtool" -s | sed 's/^/   /'

echo "== CPG: a process on every node joins group 'demo'; node 1's sends 1000 messages of 1 KiB"
cpids=()
for i in 1 2 3; do
	send=""
	[ "$i" = 1 ] && send=-send
	COROSYNCD_SOCKET="$work/n$i.sock" timeout 30 "$work/cpgbench" -group demo -members 3 -size 1024 \
		-count 1000 -rate 2000 -duration 5s -label "node$i" $send >"$work/cpg$i.out" 2>&1 &
	cpids+=($!)
done
sleep 0.3
echo "== cpgtool on node 2 while they run"
COROSYNCD_SOCKET="$work/n2.sock" "$work/cpgtool" | sed 's/^/   /'
for p in "${cpids[@]}"; do wait "$p"; done
echo "== what each node's client delivered (same hash chain = same messages in the same order)"
for i in 1 2 3; do
	awk '{for (i = 1; i <= NF; i++) if ($i ~ /^(label|delivered|hash|lat_p50_us|lat_p99_us|seq_errors)=/) printf "%s ", $i; print ""}' "$work/cpg$i.out" | sed 's/^/   /'
done

echo "== kill -9 node 3 (pid ${pids[2]})"
start=$(date +%s%N)
kill -KILL "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true
wait_for "$work/n1.log" "Members left: 3"
end=$(date +%s%N)
echo "== node 1's log: the new ring ($(( (end - start) / 1000000 )) ms after the kill; token 300 ms + consensus 360 ms)"
grep -h "TOTEM" "$work/n1.log" | grep -E "membership|processor failed|failed:" | tail -3 | sed 's/^/   /'
for _ in $(seq 50); do
	COROSYNCD_SOCKET="$work/n1.sock" "$work/quorumtool" -s 2>/dev/null | grep -q "Total votes:      2" && break
	sleep 0.1
done
echo "== quorumtool -s on node 1: 2 of 3 votes, still quorate (exit status 0)"
COROSYNCD_SOCKET="$work/n1.sock" "$work/quorumtool" -s | sed 's/^/   /'
echo "== stopping nodes 1 and 2 (SIGTERM: they send corosync's leave message)"
