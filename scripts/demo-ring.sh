#!/usr/bin/env bash
# Starts three corosyncd on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (udpu, no
# root needed), shows the ring they form, kills one with SIGKILL, shows the
# new ring, and stops everything it started (by PID). Bounded: about 10 s.
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
    }
    node {
        ring0_addr: 127.0.0.2
        nodeid: 2
    }
    node {
        ring0_addr: 127.0.0.3
        nodeid: 3
    }
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
wait_for "$work/n1.log" "was formed\. Members joined: (1 )?2 3"
echo "== node 1's log: the ring"
grep -h "TOTEM" "$work/n1.log" | grep -E "membership|processor failed|left" | sed 's/^/   /'

echo "== kill -9 node 3 (pid ${pids[2]})"
start=$(date +%s%N)
kill -KILL "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true
wait_for "$work/n1.log" "Members left: 3"
end=$(date +%s%N)
echo "== node 1's log: the new ring ($(( (end - start) / 1000000 )) ms after the kill; token 300 ms + consensus 360 ms)"
grep -h "TOTEM" "$work/n1.log" | grep -E "membership|processor failed|failed:" | tail -3 | sed 's/^/   /'
echo "== stopping nodes 1 and 2 (SIGTERM: they send corosync's leave message)"
