package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/corogo/corogo/internal/sim"
)

// errViolations reports that some seed violated an invariant; the summary
// line has said so already.
var errViolations = errors.New("invariant violations found")

type config struct {
	seeds    []uint64
	trace    bool
	opts     sim.Options
	workers  int
	verbose  bool
	failFast bool
}

func parseFlags(args []string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("totemsim", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		cfg        config
		seeds      = fs.String("seeds", "1-100", "seeds to run: numbers and inclusive ranges, e.g. 1-10,17")
		seed       = fs.Uint64("seed", 0, "run this one seed (overrides -seeds)")
		trace      = fs.Bool("trace", false, "print every event of every seed run (use with -seed)")
		faults     = fs.String("faults", "", "deliberate core faults: a mask or names (skip-retransmit, skip-recovery-resend, deliver-over-gaps, ignore-safe, duplicate-delivery)")
		nodes      = fs.Int("nodes", 5, "cluster size (1..64)")
		steps      = fs.Int64("steps", 20000, "steps (ms of virtual time) per seed")
		loss       = fs.Float64("loss", 0.2, "worst random loss rate of the fault phase (0: none; one-way lossy links then lose nothing either)")
		quietAfter = fs.Float64("quiet-after", 0.5, "fraction of the steps after which faults stop")
		faultEvery = fs.Int64("fault-interval", 400, "mean ms between faults")
		sendEvery  = fs.Int64("send-interval", 0, "mean ms between two messages of one node (default max(20, 4 × nodes))")
		maxMsg     = fs.Int("max-message", 1<<20, "largest application message in bytes")
		tail       = fs.Int("tail", 300, "events of trace printed with a violation")
	)
	fs.IntVar(&cfg.workers, "workers", runtime.GOMAXPROCS(0), "seeds run in parallel (results do not depend on it)")
	fs.BoolVar(&cfg.verbose, "v", false, "print a summary line per seed")
	fs.BoolVar(&cfg.failFast, "failfast", false, "stop at the first violation")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if *seed != 0 || isSet(fs, "seed") {
		cfg.seeds = []uint64{*seed}
	} else if cfg.seeds, err = sim.ParseSeeds(*seeds); err != nil {
		return cfg, err
	}
	f, err := parseFaults(*faults)
	if err != nil {
		return cfg, err
	}
	cfg.opts = sim.Options{Nodes: *nodes, Steps: *steps, Faults: f, MaxLoss: *loss, QuietAfter: *quietAfter,
		FaultInterval: *faultEvery, SendInterval: *sendEvery, MaxMessage: *maxMsg, TraceTail: *tail}
	if *loss == 0 {
		cfg.opts.MaxLoss = -1 // 0 means "default" to sim.Options
	}
	if *trace {
		// One worker, so the lines of one seed are not interleaved with
		// another's; the whole trace is printed, so no tail.
		cfg.trace, cfg.workers, cfg.verbose = true, 1, true
		cfg.opts.TraceTail = -1
	}
	cfg.workers = max(1, min(cfg.workers, len(cfg.seeds)))
	if _, _, _, err := cfg.opts.Plan(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// run sweeps the seeds and prints one summary line last. It returns
// errViolations when any seed failed.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	cfg, err := parseFlags(args, out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	traceTo := io.Writer(nil)
	if cfg.trace {
		traceTo = out
	}
	start := time.Now()
	results := sweep(ctx, cfg, traceTo)

	var tot struct{ runs, violations, rings, delivered, sent int }
	var failed []string
	for r := range results {
		if r.Err != nil {
			return fmt.Errorf("seed %d: %w", r.Seed, r.Err)
		}
		res := &r.Res
		tot.runs++
		tot.rings += res.Rings
		tot.delivered += res.Delivered
		tot.sent += res.Sent
		switch {
		case res.Violation != nil:
			tot.violations++
			failed = append(failed, fmt.Sprint(res.Seed))
			fmt.Fprint(out, res.Report())
		case cfg.verbose:
			fmt.Fprintln(out, res.Summary())
		}
		out.Flush()
	}
	elapsed := time.Since(start)
	if len(failed) > 0 {
		fmt.Fprintf(out, "failing seeds: %s\n", strings.Join(failed, ","))
	}
	perSeed := 0.0
	if tot.runs > 0 {
		perSeed = elapsed.Seconds() / float64(tot.runs)
	}
	fmt.Fprintf(out, "totemsim: seeds=%d violations=%d steps=%d nodes=%d faults=%#x rings=%d delivered=%d sent=%d elapsed=%.1fs (%.3fs/seed, %d workers)\n",
		tot.runs, tot.violations, cfg.opts.Steps, cfg.opts.Nodes, uint32(cfg.opts.Faults), tot.rings, tot.delivered, tot.sent,
		elapsed.Seconds(), perSeed, cfg.workers)
	if tot.violations > 0 {
		return errViolations
	}
	return nil
}

// sweep runs the seeds of cfg (see sim.Sweep), in seed-list order.
func sweep(ctx context.Context, cfg config, trace io.Writer) <-chan sim.SeedResult[sim.Result] {
	run := func(seed uint64) (sim.Result, error) {
		o := cfg.opts
		o.Trace = trace
		return sim.Run(seed, o)
	}
	stop := func(r sim.Result) bool { return cfg.failFast && r.Violation != nil }
	return sim.Sweep(ctx, cfg.seeds, cfg.workers, run, stop)
}
