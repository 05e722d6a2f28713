// Command corosyncd is the corogo cluster engine daemon: it reads an
// existing corosync.conf (or the same settings in TOML), joins the Totem
// ring over udpu or udp exactly as corosync 3.1 does, and keeps the ring
// id in state_dir as corosync keeps it.
//
//	corosyncd [-c FILE] [-f] [-t] [-v] [-n NODEID]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "corosyncd:", err)
		os.Exit(1)
	}
}
