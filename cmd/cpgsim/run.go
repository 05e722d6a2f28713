package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/corogo/corogo/internal/sim"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/corogo/corogo/internal/sim/cpgsim"
)

// errViolations reports that some seed violated an invariant; the summary
// line has said so already.
var errViolations = errors.New("invariant violations found")

type config struct {
	seeds    []uint64
	trace    bool
	opts     cpgsim.Options
	workers  int
	verbose  bool
	failFast bool
}

func parseFlags(args []string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("cpgsim", flag.ContinueOnError)
	fs.SetOutput(out)
	var names, tolNames []string
	for _, f := range cpgsim.FaultNames() {
		names = append(names, f.Name)
	}
	for _, f := range cpgsim.Findings() {
		tolNames = append(tolNames, f.Name)
	}
	var (
		cfg        config
		seeds      = fs.String("seeds", "1-100", "seeds to run: numbers and inclusive ranges, e.g. 1-10,17")
		seed       = fs.Uint64("seed", 0, "run this one seed (overrides -seeds)")
		trace      = fs.Bool("trace", false, "print every event of every seed run (use with -seed)")
		faults     = fs.String("faults", "", "deliberate engine faults on node 1: a mask or names ("+strings.Join(names, ", ")+")")
		tolerate   = fs.String("tolerate", "", "known findings to let pass: a mask, all, or names ("+strings.Join(tolNames, ", ")+")")
		nodes      = fs.Int("nodes", 5, "cluster size (1..64)")
		steps      = fs.Int64("steps", 20000, "steps (ms of virtual time) per seed")
		loss       = fs.Float64("loss", 0.2, "worst random loss rate of the fault phase (0: none; one-way lossy links then lose nothing either)")
		quietAfter = fs.Float64("quiet-after", 0.5, "fraction of the steps after which faults stop")
		faultEvery = fs.Int64("fault-interval", 400, "mean ms between faults")
		clients    = fs.Int("clients", 3, "client seats per node")
		groups     = fs.Int("groups", 3, fmt.Sprintf("group names the clients use (1..%d)", cpgsim.MaxGroups))
		actEvery   = fs.Int64("action-interval", 0, "mean ms between two actions of one client (default max(40, 10 × nodes))")
		maxItem    = fs.Int("max-item", 8<<10, "the ring's largest item (totem's MaxMessageSize); larger CPG messages go as PARTIAL_MCAST")
		maxMsg     = fs.Int("max-message", 64<<10, "the CPG engine's largest message")
		sendQueue  = fs.Int("send-queue", 256, "totem's send queue limit, in packets")
		tail       = fs.Int("tail", 400, "events of each trace (totem, CPG) printed with a violation")
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
	f, err := cpgsim.ParseFaults(*faults)
	if err != nil {
		return cfg, err
	}
	tol, err := cpgsim.ParseFindings(*tolerate)
	if err != nil {
		return cfg, err
	}
	cfg.opts = cpgsim.Options{Nodes: *nodes, Steps: *steps, MaxLoss: *loss, QuietAfter: *quietAfter, FaultInterval: *faultEvery,
		Clients: *clients, Groups: *groups, ActionInterval: *actEvery, MaxItem: *maxItem, MaxMessage: *maxMsg,
		SendQueue: *sendQueue, Faults: f, Tolerate: tol, TraceTail: *tail}
	if *loss == 0 {
		cfg.opts.MaxLoss = -1 // 0 means "default" to cpgsim.Options
	}
	if *tail == 0 {
		cfg.opts.TraceTail = -1
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

	var tot struct{ runs, violations, syncs, delivered, sent int }
	tolerated := map[cpgsim.Finding]int{}
	var failed []string
	for r := range results {
		if r.Err != nil {
			return fmt.Errorf("seed %d: %w", r.Seed, r.Err)
		}
		res := &r.Res
		tot.runs++
		tot.syncs += res.Syncs
		tot.delivered += res.Delivered
		tot.sent += res.Sent
		for f, n := range res.Tolerated {
			if n > 0 {
				tolerated[f]++
			}
		}
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
	var tol []string
	for _, f := range cpgsim.Findings() {
		if n := tolerated[f.Finding]; n > 0 {
			tol = append(tol, fmt.Sprintf("%s=%d", f.Name, n))
		}
	}
	fmt.Fprintf(out, "cpgsim: seeds=%d violations=%d steps=%d nodes=%d faults=%#x tolerate=%#x syncs=%d delivered=%d sent=%d "+
		"tolerated-seeds[%s] elapsed=%.1fs (%.3fs/seed, %d workers)\n",
		tot.runs, tot.violations, cfg.opts.Steps, cfg.opts.Nodes, uint32(cfg.opts.Faults), uint32(cfg.opts.Tolerate),
		tot.syncs, tot.delivered, tot.sent, strings.Join(tol, " "), elapsed.Seconds(), perSeed, cfg.workers)
	if tot.violations > 0 {
		return errViolations
	}
	return nil
}

// sweep runs the seeds of cfg (see sim.Sweep), in seed-list order.
func sweep(ctx context.Context, cfg config, trace io.Writer) <-chan sim.SeedResult[cpgsim.Result] {
	run := func(seed uint64) (cpgsim.Result, error) {
		o := cfg.opts
		o.Trace = trace
		return cpgsim.Run(seed, o)
	}
	stop := func(r cpgsim.Result) bool { return cfg.failFast && r.Violation != nil }
	return sim.Sweep(ctx, cfg.seeds, cfg.workers, run, stop)
}
