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
	"syscall"
)

// Runtime defaults of the daemon, unless the environment sets GOMAXPROCS:
// one processor (the node's work is one event loop, like corosync's; more
// Ps only add cross-thread wake-ups, which cost more than they give on
// every token hop). A soft memory limit (GOMEMLIMIT=14MiB keeps the RSS
// of a node under saturation near 17 MB) is left to the operator: it made
// the collector run constantly with 64 KiB messages from three senders.
const (
	defaultMaxProcs = 1
)

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(defaultMaxProcs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "corosyncd:", err)
		os.Exit(1)
	}
}
