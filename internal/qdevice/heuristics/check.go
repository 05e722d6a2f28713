package heuristics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrTimeout: the check did not finish before the run's timeout.
	ErrTimeout = errors.New("heuristics: timed out")
	// ErrCancelled: the run was cancelled (a newer run replaced it, or the
	// daemon is stopping).
	ErrCancelled = errors.New("heuristics: cancelled")
	// ErrExitStatus: a command exited with a status other than 0.
	ErrExitStatus = errors.New("heuristics: command failed")
	// ErrICMPNotPermitted: no ICMP socket could be opened.
	ErrICMPNotPermitted = errors.New("heuristics: ICMP echo is not permitted: allow unprivileged ICMP with sysctl net.ipv4.ping_group_range (it must include the daemon's group), run with CAP_NET_RAW, or give the target a port to use a TCP check")
)

// Check is one heuristic. Check returns nil when it passes; it must return
// when ctx ends (the run's timeout or cancellation). Checks are called
// concurrently, each from its own goroutine.
type Check interface {
	// Name identifies the check in results and logs ("exec_ping_gw",
	// "ping_gw").
	Name() string
	// Check runs the check once.
	Check(ctx context.Context) error
}

// shell is the interpreter of exec checks, as corosync-qdevice uses.
const shell = "/bin/sh"

// outputLimit is how much of a command's output is kept for the log.
const outputLimit = 512

// waitDelay bounds how long a killed command may keep its output pipes
// open (a grandchild that left the process group).
const waitDelay = 2 * time.Second

// Exec returns a check running command with /bin/sh -c. The check passes
// when the command exits 0 in time.
func Exec(name, command string) Check { return &execCheck{name: name, command: command} }

type execCheck struct {
	name, command string
}

func (c *execCheck) Name() string { return c.name }

func (c *execCheck) Check(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, shell, "-c", c.command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The whole group: sh and whatever it started.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	out := &limitedBuffer{limit: outputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	if ctxErr := ctxError(ctx); ctxErr != nil {
		return fmt.Errorf("%q: %w", c.command, ctxErr)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := strings.TrimSpace(out.String())
			if msg != "" {
				return fmt.Errorf("%q: %w (%s): %s", c.command, ErrExitStatus, ee.ProcessState, msg)
			}
			return fmt.Errorf("%q: %w (%s)", c.command, ErrExitStatus, ee.ProcessState)
		}
		return fmt.Errorf("%q: %w", c.command, err)
	}
	return nil
}

// TCP returns a check that passes when a TCP connection to addr is
// established in time.
func TCP(name string, addr netip.AddrPort) Check { return &tcpCheck{name: name, addr: addr} }

type tcpCheck struct {
	name string
	addr netip.AddrPort
}

func (c *tcpCheck) Name() string { return c.name }

func (c *tcpCheck) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr.String())
	if err != nil {
		if ctxErr := ctxError(ctx); ctxErr != nil {
			return fmt.Errorf("tcp %s: %w", c.addr, ctxErr)
		}
		return fmt.Errorf("tcp %s: %w", c.addr, err)
	}
	return conn.Close()
}

// ICMP returns a check that passes when addr answers an ICMP echo in time.
// An echo is sent every second until a reply arrives.
func ICMP(name string, addr netip.Addr) Check {
	return &icmpCheck{name: name, addr: addr.Unmap(), every: time.Second}
}

type icmpCheck struct {
	name  string
	addr  netip.Addr
	every time.Duration
	seq   atomic.Uint32 // numbers the runs, so a late reply is not taken for the next run's
}

func (c *icmpCheck) Name() string { return c.name }

func (c *icmpCheck) Check(ctx context.Context) error {
	err := ping(ctx, c.addr, c.every, uint16(c.seq.Add(1)))
	if err != nil {
		if ctxErr := ctxError(ctx); ctxErr != nil && !errors.Is(err, ErrICMPNotPermitted) {
			return fmt.Errorf("icmp %s: %w", c.addr, ctxErr)
		}
		return fmt.Errorf("icmp %s: %w", c.addr, err)
	}
	return nil
}

// ctxError maps the end of a run's context to ErrTimeout or ErrCancelled.
func ctxError(ctx context.Context) error {
	switch ctx.Err() {
	case nil:
		return nil
	case context.DeadlineExceeded:
		return ErrTimeout
	default:
		return ErrCancelled
	}
}

// limitedBuffer keeps the first limit bytes written to it.
type limitedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
