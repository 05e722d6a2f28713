package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/corogo/corogo/internal/sim"
	"github.com/corogo/corogo/internal/sim/vqsim"
)

// errViolations reports that some seed of a sweep violated an invariant;
// the summary line has said so already.
var errViolations = errors.New("invariant violations found")

type options struct {
	conf    string
	output  string
	noSync  bool
	seed    uint64
	empty   bool
	sweep   bool
	seeds   []uint64
	trace   bool
	verbose bool
	workers int
	steps   int64
	tol     vqsim.Finding
}

func parseFlags(args []string, out io.Writer) (options, error) {
	fs := flag.NewFlagSet("vqsim", flag.ContinueOnError)
	fs.SetOutput(out)
	var o options
	fs.StringVar(&o.conf, "c", "/etc/corosync/corosync.conf", "corosync.conf to simulate")
	fs.StringVar(&o.output, "o", "", "write the output to this file (default standard output)")
	fs.BoolVar(&o.noSync, "n", false, "do not wait for the cluster to settle after each command (sync off)")
	fs.Uint64Var(&o.seed, "s", 1, "seed of the simulated network")
	fs.BoolVar(&o.empty, "z", false, "start with no node up")
	fs.BoolVar(&o.sweep, "sweep", false, "run the seeded random sweep instead of reading commands")
	seeds := fs.String("seeds", "1-100", "sweep: seeds to run, e.g. 1-10,17")
	seed := fs.Uint64("seed", 0, "sweep: run this one seed (overrides -seeds)")
	fs.BoolVar(&o.trace, "trace", false, "sweep: print every event (use with -seed)")
	fs.BoolVar(&o.verbose, "v", false, "sweep: print a summary line per seed")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "sweep: seeds run in parallel (results do not depend on it)")
	fs.Int64Var(&o.steps, "steps", 20000, "sweep: simulated ms per seed")
	tolerate := fs.String("tolerate", "", "sweep: known findings to let pass: all, ghost-voters, tie-breaker, early-view")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !o.sweep {
		return o, nil
	}
	var err error
	if isSet(fs, "seed") {
		o.seeds = []uint64{*seed}
	} else if o.seeds, err = sim.ParseSeeds(*seeds); err != nil {
		return o, err
	}
	for _, name := range strings.Split(*tolerate, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case "all":
			o.tol |= vqsim.AllFindings
		case "ghost-voters":
			o.tol |= vqsim.FindingGhostVoters
		case "tie-breaker":
			o.tol |= vqsim.FindingTieBreaker
		case "early-view":
			o.tol |= vqsim.FindingEarlyView
		default:
			return o, fmt.Errorf("unknown finding %q (known: all, ghost-voters, tie-breaker, early-view)", name)
		}
	}
	if o.trace {
		o.workers, o.verbose = 1, true
	}
	o.workers = max(1, min(o.workers, len(o.seeds)))
	return o, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// run parses the flags and runs the simulator: commands from stdin, or
// the sweep.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if o.sweep {
		return runSweep(ctx, o, stdout)
	}
	out := stdout
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return fmt.Errorf("output: %w", err)
		}
		defer f.Close()
		out = f
	}
	return interact(ctx, o, stdin, stdout, out, stderr)
}

// interact builds the cluster and runs the commands read from in.
func interact(ctx context.Context, o options, in io.Reader, prompt, out, errOut io.Writer) error {
	data, err := os.ReadFile(o.conf)
	if err != nil {
		return err
	}
	cl, err := vqsim.Load(data, o.conf, vqsim.Options{Seed: o.seed})
	if err != nil {
		return err
	}
	ip := &vqsim.Interp{C: cl, AutoShow: true}
	if !o.empty {
		if err := cl.Up(vqsim.Group{Nodes: cl.IDs()}); err != nil {
			fmt.Fprintln(errOut, "ERR:", err)
		}
		fmt.Fprint(out, cl.Show())
	}
	cl.SetAutoSync(!o.noSync)
	tty := isTerminal(in)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		if tty {
			fmt.Fprint(prompt, "vqsim> ")
		}
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case line, ok = <-lines:
		}
		if !ok {
			return nil
		}
		if !tty {
			// As corosync-vqsim does when scripted: the prompt, marked as a
			// comment, and the command.
			fmt.Fprintf(prompt, "#vqsim> %s\n", line)
		}
		text, err := ip.Exec(line)
		fmt.Fprint(out, text)
		if errors.Is(err, vqsim.ErrExit) {
			return nil
		}
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				fmt.Fprintln(errOut, "ERR:", l)
			}
		}
	}
}

// isTerminal reports whether r is a terminal (prompts are printed then).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// runSweep runs the seeds and prints one summary line last.
func runSweep(ctx context.Context, o options, stdout io.Writer) error {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	var trace io.Writer
	if o.trace {
		trace = out
	}
	start := time.Now()
	results := sim.Sweep(ctx, o.seeds, o.workers, func(seed uint64) (vqsim.Result, error) {
		return vqsim.Run(seed, vqsim.RunOptions{Steps: o.steps, Tolerate: o.tol, Trace: trace})
	}, func(vqsim.Result) bool { return false })
	var runs, violations, ghosts, ties, early int
	var failed []string
	for r := range results {
		if r.Err != nil {
			return fmt.Errorf("seed %d: %w", r.Seed, r.Err)
		}
		res := &r.Res
		runs++
		if res.GhostSplits > 0 || res.Ghosts > 0 {
			ghosts++
		}
		if res.TieSplits > 0 {
			ties++
		}
		if res.EarlyViews > 0 {
			early++
		}
		switch {
		case res.Violation != nil:
			violations++
			failed = append(failed, fmt.Sprint(res.Seed))
			fmt.Fprint(out, res.Report())
		case o.verbose:
			fmt.Fprintln(out, res.Summary())
		}
		out.Flush()
	}
	if len(failed) > 0 {
		fmt.Fprintf(out, "failing seeds: %s\n", strings.Join(failed, ","))
	}
	fmt.Fprintf(out, "vqsim: seeds=%d violations=%d steps=%d tolerate=%s tolerated-seeds[ghost-voters=%d tie-breaker=%d early-view=%d] elapsed=%.1fs (%d workers)\n",
		runs, violations, o.steps, o.tol, ghosts, ties, early, time.Since(start).Seconds(), o.workers)
	if violations > 0 {
		return errViolations
	}
	return nil
}
