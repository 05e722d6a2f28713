// Command totemsim sweeps seeds of the deterministic Totem cluster
// simulator (internal/sim) and reports invariant violations.
//
//	go run ./cmd/totemsim -nodes 5 -seeds 1-1000 -steps 20000
//	go run ./cmd/totemsim -nodes 5 -seed 17 -steps 20000 -trace
//
// Each seed's run is deterministic: a failing seed printed by a sweep
// replays exactly with -seed (and, with -trace, prints every event). The
// last line summarizes the sweep; the exit status is 1 when any seed
// violated an invariant, 2 on bad usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errViolations):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "totemsim:", err)
		os.Exit(2)
	}
}
