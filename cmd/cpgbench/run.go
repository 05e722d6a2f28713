package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corogo/corogo/cpg"
)

// Exit codes, cpgload's.
const (
	exitOK         = 0
	exitError      = 2 // usage, connection or send errors
	exitNoMembers  = 3 // the group never had -members members
	exitIncomplete = 4 // END markers of -senders senders not all delivered
)

// Dial retries while the daemon is not up yet: cpgload's 100 tries.
const (
	dialTries = 100
	dialPause = 100 * time.Millisecond
)

// codeError is an error with the exit code it means.
type codeError struct {
	code int
	err  error
	// quiet: the message was printed already (flag errors).
	quiet bool
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// exitCode maps run's error to the process's exit code.
func exitCode(err error) int {
	var ce *codeError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	}
	return exitError
}

// config is the command line.
type config struct {
	group    string
	members  int
	senders  int
	send     bool
	size     int
	duration time.Duration
	rate     float64
	timeout  time.Duration
	label    string
	safe     bool
	socket   string
	count    uint64
	pid      uint
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("cpgbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cpgbench [flags]\n\n"+
			"CPG throughput, latency and ordering benchmark, one process per node;\n"+
			"payload, hash chain and RESULT fields are cpgload's (the corosync baseline).\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.group, "group", "cbbench", "CPG group `name`")
	fs.IntVar(&c.members, "members", 3, "wait until the group has `N` members before sending")
	fs.IntVar(&c.senders, "senders", 1, "stop once END markers of `N` senders were delivered")
	fs.BoolVar(&c.send, "send", false, "this process sends")
	fs.IntVar(&c.size, "size", 64, "message size in `bytes` (at least the 32-byte header)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to send")
	fs.Float64Var(&c.rate, "rate", 0, "messages per second `N`; 0: as fast as flow control allows")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up after this long (default duration+90s)")
	fs.StringVar(&c.label, "label", "", "label copied into the RESULT line")
	fs.BoolVar(&c.safe, "safe", false, "send with safe delivery instead of agreed")
	fs.StringVar(&c.socket, "socket", "", "corosyncd's socket `path` (default $COROSYNCD_SOCKET, else /run/corosyncd/corosyncd.sock)")
	fs.Uint64Var(&c.count, "count", 0, "send at most `N` data messages (0: no limit; -duration still applies)")
	fs.UintVar(&c.pid, "pid", 0, "join as this `pid` instead of the process's own (several instances in one process)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, &codeError{code: exitError, err: err, quiet: true}
	}
	if fs.NArg() > 0 {
		return c, &codeError{code: exitError, err: fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	switch {
	case c.members < 1:
		return c, &codeError{code: exitError, err: errors.New("-members must be at least 1")}
	case c.senders < 0:
		return c, &codeError{code: exitError, err: errors.New("-senders must not be negative")}
	case c.duration <= 0:
		return c, &codeError{code: exitError, err: errors.New("-duration must be positive")}
	case c.rate < 0:
		return c, &codeError{code: exitError, err: errors.New("-rate must not be negative")}
	case c.pid > 1<<32-1:
		return c, &codeError{code: exitError, err: errors.New("-pid out of range")}
	}
	c.size = max(c.size, headerSize)
	if c.timeout <= 0 {
		c.timeout = c.duration + 90*time.Second
	}
	return c, nil
}

// monoNow is CLOCK_MONOTONIC in nanoseconds: the clock of the timestamps
// in the payload, shared by every process of the machine (and cpgload).
// clock_gettime through x/sys/unix is a real system call, too slow to make
// twice per message; Go's monotonic clock is CLOCK_MONOTONIC read through
// the vDSO, so one system call at start gives the offset and time.Since
// the rest.
func monoNow() int64 {
	monoOnce.Do(func() {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			panic(fmt.Sprintf("clock_gettime(CLOCK_MONOTONIC): %v", err))
		}
		monoBase, monoStart = ts.Nano(), time.Now()
	})
	return monoBase + int64(time.Since(monoStart))
}

var (
	monoOnce  sync.Once
	monoBase  int64
	monoStart time.Time
)

// cpuSeconds is the process's user and system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// run is the benchmark: join, wait for the members, send (-send), count
// deliveries until the END markers arrived, print the RESULT line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	c, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if cfg.send {
		limit, err := c.MaxAtomic(ctx)
		if err != nil {
			return fmt.Errorf("asking the maximum message size: %w", err)
		}
		if cfg.size > limit {
			return fmt.Errorf("-size %d is larger than the daemon's maximum of %d bytes", cfg.size, limit)
		}
	}
	if err := c.Join(ctx, cfg.group); err != nil {
		return fmt.Errorf("joining %q: %w", cfg.group, err)
	}
	defer func() {
		lctx, lcancel := context.WithTimeout(context.Background(), time.Second)
		c.Leave(lctx, cfg.group)
		lcancel()
	}()

	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	r := newReceiver(c, cfg)
	go r.loop(rctx)

	select {
	case <-r.membersOK:
	case <-r.done:
		// Every END marker came before the members did (a late start), or
		// the connection ended.
		if r.lost != nil {
			return fmt.Errorf("waiting for %d members: connection to corosyncd lost: %w", cfg.members, r.lost)
		}
	case <-ctx.Done():
		return &codeError{code: exitNoMembers, err: fmt.Errorf("timeout waiting for %d members (have %d)", cfg.members, r.members.Load())}
	}

	sm := summary{label: cfg.label, node: c.LocalNodeID(), send: cfg.send, safe: cfg.safe, size: cfg.size}
	var sendErr error
	if cfg.send {
		sendErr = send(ctx, c, cfg, &sm)
	}
	if sendErr == nil && cfg.senders > 0 {
		select {
		case <-r.done:
		case <-ctx.Done():
		}
	}
	rcancel()
	<-r.done

	st := r.st
	sm.members = int(r.members.Load())
	sm.incomplete = st.ends < uint64(cfg.senders)
	sm.cpuSeconds = cpuSeconds()
	if err := writeResult(stdout, st, sm); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	switch {
	case sendErr != nil:
		return sendErr
	case r.lost != nil && sm.incomplete:
		return fmt.Errorf("connection to corosyncd lost: %w", r.lost)
	case sm.incomplete:
		return &codeError{code: exitIncomplete, err: fmt.Errorf("END markers of %d of %d senders delivered", st.ends, cfg.senders)}
	}
	return nil
}

// dial connects, retrying while the daemon is not running yet.
func dial(ctx context.Context, cfg config) (*cpg.Client, error) {
	opts := []cpg.Option{cpg.WithSocket(cfg.socket), cpg.WithPID(uint32(cfg.pid))}
	for try := 1; ; try++ {
		c, err := cpg.Dial(ctx, opts...)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, cpg.ErrNotRunning) && !errors.Is(err, cpg.ErrTryAgain) || try >= dialTries {
			return nil, err
		}
		select {
		case <-time.After(dialPause):
		case <-ctx.Done():
			return nil, err
		}
	}
}

// send multicasts data messages for -duration (or -count of them), paced
// at -rate or as fast as flow control allows, then the END marker.
func send(ctx context.Context, c *cpg.Client, cfg config, sm *summary) error {
	g := cpg.Agreed
	if cfg.safe {
		g = cpg.Safe
	}
	buf := newPayload(cfg.size)
	var period int64
	if cfg.rate > 0 {
		period = int64(1e9 / cfg.rate)
	}
	sctx, scancel := context.WithTimeout(ctx, cfg.duration)
	defer scancel()
	ts0 := monoNow()
	next, end := ts0, ts0+cfg.duration.Nanoseconds()
	var sent, tryagain uint64
	for cfg.count == 0 || sent < cfg.count {
		t := monoNow()
		if t >= end || sctx.Err() != nil {
			break
		}
		if period > 0 && t < next {
			if !sleep(sctx, time.Duration(next-t)) {
				break
			}
			continue
		}
		h := header{Type: typeData, Seq: sent, TS: monoNow()}
		putHeader(buf, h)
		err := c.TryMcast(cfg.group, g, buf)
		for errors.Is(err, cpg.ErrTryAgain) {
			tryagain++
			if c.FlowControl() {
				if err = c.WaitFlow(sctx); err != nil {
					break
				}
				h.TS = monoNow()
				putHeader(buf, h)
				err = c.TryMcast(cfg.group, g, buf)
				continue
			}
			// The connection's buffers are full: wait for room.
			h.TS = monoNow()
			putHeader(buf, h)
			err = c.Mcast(sctx, cfg.group, g, buf)
		}
		if err != nil {
			if sctx.Err() != nil {
				break // the time is up while waiting
			}
			return fmt.Errorf("sending message %d: %w", sent, err)
		}
		sent++
		next += period
	}
	ts1 := monoNow()
	sm.sent, sm.tryagain = sent, tryagain
	sm.sendSeconds = float64(ts1-ts0) / 1e9

	endMsg := make([]byte, headerSize)
	putHeader(endMsg, header{Type: typeEnd, Seq: sent, TS: monoNow(), Sent: sent})
	var err error
	if ctx.Err() == nil {
		err = c.Mcast(ctx, cfg.group, g, endMsg)
	} else {
		err = c.TryMcast(cfg.group, g, endMsg) // timed out: best effort
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("sending the END marker: %w", err)
	}
	return nil
}

// sleep waits for d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// receiver counts the group's deliveries on its own goroutine.
type receiver struct {
	c       *cpg.Client
	group   string
	want    int
	senders uint64

	members   atomic.Int64
	membersOK chan struct{} // closed once the group had -members members
	okOnce    sync.Once
	done      chan struct{} // closed when loop returns

	// Owned by loop until done is closed.
	st   *stats
	lost error // why the connection ended, if it did
}

func newReceiver(c *cpg.Client, cfg config) *receiver {
	return &receiver{
		c: c, group: cfg.group, want: cfg.members, senders: uint64(cfg.senders),
		membersOK: make(chan struct{}), done: make(chan struct{}), st: newStats(),
	}
}

// loop reads events until the END markers of every sender were delivered
// (after the members arrived), the connection ends or ctx ends.
func (r *receiver) loop(ctx context.Context) {
	defer close(r.done)
	for {
		select {
		case ev, ok := <-r.c.Events():
			if !ok {
				r.lost = r.c.Err()
				if r.lost == nil {
					r.lost = cpg.ErrDisconnected
				}
				return
			}
			switch ev := ev.(type) {
			case *cpg.ConfChange:
				if ev.Group == r.group {
					r.members.Store(int64(len(ev.Members)))
					if len(ev.Members) >= r.want {
						r.okOnce.Do(func() { close(r.membersOK) })
					}
				}
			case *cpg.Message:
				if ev.Group != r.group {
					continue
				}
				r.st.deliver(ev.NodeID, ev.PID, ev.Data, monoNow())
				if r.senders > 0 && r.st.ends >= r.senders {
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}
