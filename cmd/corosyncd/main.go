// Command corosyncd is the corogo cluster engine daemon: it reads an
// existing corosync.conf (or the same settings in TOML), joins the Totem
// ring over udpu or udp exactly as corosync 3.1 does, and keeps the ring
// id in state_dir as corosync keeps it.
//
//	corosyncd [-c FILE] [-f] [-t] [-v] [-n NODEID] [-m ADDR]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Runtime defaults of the daemon, unless the environment sets them
// (GOMAXPROCS, GOMEMLIMIT): one processor (the node's work is one event
// loop, like corosync's; more Ps only add cross-thread wake-ups, which
// cost more than they give on every token hop) and a soft memory limit.
const (
	defaultMaxProcs = 1
	// defaultMemoryLimit is a soft limit on the Go heap and runtime (not a
	// cap: beyond it the collector runs more often). At steady load the
	// node holds a few MiB (send queue, sort queue, receive batches,
	// client queues); without the limit the collector lets the heap grow
	// to twice that between cycles.
	defaultMemoryLimit = 14 << 20
)

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(defaultMaxProcs)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "corosyncd:", err)
		os.Exit(1)
	}
}
