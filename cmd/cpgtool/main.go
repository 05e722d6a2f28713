// Command cpgtool lists the closed process groups of the local corosyncd
// and their members, as corosync-cpgtool does, with its flags and layout:
//
//	cpgtool [-d delimiter] [-e] [-n] [-h]
//
// By default it prints a header and, for each group with members (sorted
// by name), the name on a line of its own and one line per member with
// its pid, its node id and, in parentheses, the node's addresses (from the
// daemon's cmap keys runtime.members.<id>.ip; empty when unknown):
//
//	Group Name	       PID	   Node ID
//	wbgrp
//			     18440	         2 (10.77.0.2)
//
// -d C separates the fields with C instead ("GRP_NAME<C>PID<C>NODEID",
// then "name<C>pid<C>nodeid" per member, no addresses); -n prints only the
// group names, one per line or each followed by C; -e prints names as they
// are, where by default bytes outside printable ASCII are escaped as \xHH
// and a backslash as \\. The daemon's socket is $COROSYNCD_SOCKET, else
// /run/corosyncd/corosyncd.sock.
//
// Exit status: 0 on success (and for -h), 1 on errors.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, errHelp) {
		fmt.Fprintln(os.Stderr, "cpgtool:", err)
		os.Exit(1)
	}
}
