// Command cpgsim sweeps seeds of the deterministic CPG cluster simulator
// (internal/sim/cpgsim: real Totem cores, hosts and CPG engines, simulated
// CPG clients) and reports invariant violations.
//
//	go run ./cmd/cpgsim -nodes 5 -seeds 1-1000 -steps 20000
//	go run ./cmd/cpgsim -nodes 5 -seed 17 -steps 20000 -trace
//	go run ./cmd/cpgsim -seeds 1-1000 -tolerate all
//
// Each seed's run is deterministic: a failing seed printed by a sweep
// replays exactly with -seed (and, with -trace, prints every totem record
// and every CPG event). -tolerate lets known findings of the simulator
// pass (see the cpgsim package documentation), -faults breaks node 1's
// engine on purpose. The last line summarizes the sweep; the exit status
// is 1 when any seed violated an invariant, 2 on bad usage.
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
		fmt.Fprintln(os.Stderr, "cpgsim:", err)
		os.Exit(2)
	}
}
