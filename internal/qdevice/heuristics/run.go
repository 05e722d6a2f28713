package heuristics

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Mode is quorum.device.heuristics.mode.
type Mode uint8

// Modes.
const (
	// ModeOff runs no checks (corosync-qdevice's default).
	ModeOff Mode = iota
	// ModeSync runs the checks at startup and after each membership
	// change.
	ModeSync
	// ModeOn also runs them every interval.
	ModeOn
)

// ParseMode reads "off", "sync" or "on".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "off":
		return ModeOff, nil
	case "sync":
		return ModeSync, nil
	case "on":
		return ModeOn, nil
	}
	return 0, fmt.Errorf("heuristics: mode %q is not off, sync or on", s)
}

// String returns the mode's configuration name.
func (m Mode) String() string {
	switch m {
	case ModeSync:
		return "sync"
	case ModeOn:
		return "on"
	default:
		return "off"
	}
}

// CheckResult is the outcome of one check in a run.
type CheckResult struct {
	Name string
	// Err is nil when the check passed.
	Err error
	// Duration is how long the check took.
	Duration time.Duration
}

// OK reports whether the check passed.
func (r CheckResult) OK() bool { return r.Err == nil }

// Result is the outcome of one run.
type Result struct {
	// Gen is the generation given to the Trigger that started the run
	// (0 for runs not started by a trigger since the last one: startup
	// uses 0, periodic runs carry the latest generation).
	Gen uint64
	// Sync is true for runs started at startup or by Trigger (with the
	// sync timeout), false for periodic runs.
	Sync bool
	// Score is the number of checks that passed; Total the number run.
	Score, Total int
	// Checks are the checks' outcomes, in configuration order.
	Checks []CheckResult
	// Started and Duration time the run.
	Started  time.Time
	Duration time.Duration
}

// Passed reports whether every check passed (true when there are none).
func (r Result) Passed() bool { return r.Score == r.Total }

// String summarizes the result: "pass 2/2" or "fail 1/2 (exec_gw: ...)".
func (r Result) String() string {
	var b strings.Builder
	if r.Passed() {
		b.WriteString("pass")
	} else {
		b.WriteString("fail")
	}
	fmt.Fprintf(&b, " %d/%d", r.Score, r.Total)
	var failed []string
	for _, c := range r.Checks {
		if !c.OK() {
			failed = append(failed, c.Name+": "+c.Err.Error())
		}
	}
	if len(failed) > 0 {
		b.WriteString(" (" + strings.Join(failed, "; ") + ")")
	}
	return b.String()
}

// Run runs checks in parallel and waits until all have ended or timeout
// has passed (each check is then told to stop through its context).
func Run(ctx context.Context, checks []Check, timeout time.Duration) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := Result{Total: len(checks), Checks: make([]CheckResult, len(checks)), Started: start}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			t := time.Now()
			err := c.Check(ctx)
			res.Checks[i] = CheckResult{Name: c.Name(), Err: err, Duration: time.Since(t)}
		})
	}
	wg.Wait()
	for _, c := range res.Checks {
		if c.OK() {
			res.Score++
		}
	}
	res.Duration = time.Since(start)
	return res
}

// Config configures a Runner (quorum.device.heuristics).
type Config struct {
	Mode Mode
	// Timeout bounds a periodic run (default: quorum.device.timeout / 2).
	Timeout time.Duration
	// SyncTimeout bounds a run at startup or after a membership change
	// (default 15 s).
	SyncTimeout time.Duration
	// Interval is the period of runs in ModeOn (default: 3 ×
	// quorum.device.timeout).
	Interval time.Duration
	// Checks are the exec_ commands and ping targets, in configuration
	// order. With ModeOff they are not run.
	Checks []Check
}

// Runner schedules runs as Config.Mode says and delivers their results.
type Runner struct {
	cfg     Config
	log     *slog.Logger
	trigger chan uint64
	results chan Result
}

// NewRunner returns a runner; Run starts it.
func NewRunner(cfg Config, log *slog.Logger) *Runner {
	return &Runner{cfg: cfg, log: log, trigger: make(chan uint64, 1), results: make(chan Result, 1)}
}

// Mode returns the configured mode.
func (r *Runner) Mode() Mode { return r.cfg.Mode }

// Trigger asks for a run after a membership change; gen comes back in its
// Result. A run in progress is cancelled. Trigger never blocks: triggers
// not yet seen by Run are replaced by the latest. With ModeOff, a result
// with no checks is delivered at once.
func (r *Runner) Trigger(gen uint64) {
	for {
		select {
		case r.trigger <- gen:
			return
		default:
		}
		select {
		case <-r.trigger:
		default:
		}
	}
}

// Results delivers the results of runs. Only the latest result is kept
// when the reader is slow.
func (r *Runner) Results() <-chan Result { return r.results }

func (r *Runner) publish(res Result) {
	for {
		select {
		case r.results <- res:
			return
		default:
		}
		select {
		case <-r.results:
		default:
		}
	}
}

// Run runs the schedule until ctx ends; a run in progress is then
// cancelled and waited for.
func (r *Runner) Run(ctx context.Context) {
	if r.cfg.Mode == ModeOff {
		r.publish(Result{Sync: true, Started: time.Now()})
		for {
			select {
			case <-ctx.Done():
				return
			case gen := <-r.trigger:
				r.publish(Result{Gen: gen, Sync: true, Started: time.Now()})
			}
		}
	}

	type done struct {
		id  uint64
		res Result
	}
	var (
		gen       uint64
		runID     uint64
		cancelRun context.CancelFunc = func() {}
		wg        sync.WaitGroup
		doneCh    = make(chan done, 1)
		period    *time.Timer
		periodC   <-chan time.Time
	)
	defer func() {
		cancelRun()
		wg.Wait()
		if period != nil {
			period.Stop()
		}
	}()
	start := func(isSync bool) {
		cancelRun()
		runID++
		id, g := runID, gen
		timeout := r.cfg.Timeout
		if isSync {
			timeout = r.cfg.SyncTimeout
		}
		runCtx, cancel := context.WithCancel(ctx)
		cancelRun = cancel
		wg.Go(func() {
			res := Run(runCtx, r.cfg.Checks, timeout)
			res.Gen, res.Sync = g, isSync
			select {
			case doneCh <- done{id, res}:
			case <-runCtx.Done():
			}
		})
	}
	start(true)
	for {
		select {
		case <-ctx.Done():
			return
		case gen = <-r.trigger:
			if period != nil {
				period.Stop()
				periodC = nil
			}
			start(true)
		case d := <-doneCh:
			if d.id != runID {
				continue
			}
			cancelRun()
			r.logResult(d.res)
			r.publish(d.res)
			if r.cfg.Mode == ModeOn {
				if period == nil {
					period = time.NewTimer(r.cfg.Interval)
				} else {
					period.Reset(r.cfg.Interval)
				}
				periodC = period.C
			}
		case <-periodC:
			periodC = nil
			start(false)
		}
	}
}

func (r *Runner) logResult(res Result) {
	if r.log == nil {
		return
	}
	for _, c := range res.Checks {
		if !c.OK() {
			r.log.Warn("heuristics check failed", "check", c.Name, "err", c.Err, "duration", c.Duration)
		}
	}
	r.log.Debug("heuristics run done", "result", res.String(), "sync", res.Sync, "duration", res.Duration)
}
