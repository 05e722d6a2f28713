package netns

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Spec describes a program to run on a host.
type Spec struct {
	// Args is the program (looked up in PATH) and its arguments.
	Args []string
	// Env is added to the environment of the test process.
	Env []string
	// Dir is the working directory; empty means the host's directory.
	Dir string
	// PrivateRun runs the program in a mount namespace of its own (private
	// propagation) where the host's RunDir is bind-mounted over /run (so
	// also over /var/run, a link to it on Debian) and a sysfs of the host's
	// network namespace over /sys. Real corosync 3.1.7 needs this: it
	// hard-codes /var/run/corosync.pid. Files the program writes to /run
	// appear in Host.RunDir. Needs /bin/sh and mount.
	PrivateRun bool
	// Stdin, if not nil, feeds the program's standard input; otherwise it
	// reads /dev/null.
	Stdin io.Reader
}

// proc is one started program.
type proc struct {
	cmd  *exec.Cmd
	args []string
	done chan struct{} // closed once the process is reaped
	err  error         // Wait's result, valid once done is closed
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process by PID. os.Process uses a pidfd where the
// kernel has them, so a reaped PID that was reused is never signalled.
func (p *proc) signal(sig os.Signal) error {
	if p.exited() {
		return ErrNotRunning
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return ErrNotRunning
		}
		return err
	}
	return nil
}

// wait waits up to d for the process to exit and returns its Wait error.
func (p *proc) wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("%w: pid %d still running after %v", ErrTimeout, p.cmd.Process.Pid, d)
	}
}

// kill sends SIGKILL and waits up to d for the process to be reaped.
func (p *proc) kill(d time.Duration) error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	if err := p.wait(d); errors.Is(err, ErrTimeout) {
		return err
	}
	return nil
}

// privateRunScript binds $1 over /run, mounts a sysfs of the current network
// namespace over /sys, then execs the rest of its arguments.
const privateRunScript = `mount --bind "$1" /run || exit 126
mount -t sysfs sysfs /sys || echo "netns: no private /sys" >&2
shift
exec "$@"`

// Start runs a program inside host i's network namespace, with its standard
// output and error appended to Host.Log (after a header line naming it). A
// host runs at most one started program at a time; start another once the
// previous one has exited (a restart). The program is killed if the test
// process dies (parent-death signal), and by Close. It returns the PID.
func (c *Cluster) Start(i int, s Spec) (int, error) {
	h, err := c.host(i)
	if err != nil {
		return 0, err
	}
	if len(s.Args) == 0 {
		return 0, fmt.Errorf("%w: start on host %d: no program", ErrBadHost, i)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	if p := c.procs[i-1]; p != nil && !p.exited() {
		return 0, fmt.Errorf("%w: host %d pid %d", ErrRunning, i, p.cmd.Process.Pid)
	}
	path, err := exec.LookPath(s.Args[0])
	if err != nil {
		return 0, fmt.Errorf("netns: start on host %d: %w", i, err)
	}
	argv := append([]string{path}, s.Args[1:]...)
	if s.PrivateRun {
		sh, err := lookTool("sh")
		if err != nil {
			return 0, fmt.Errorf("netns: start on host %d: %w", i, err)
		}
		if _, err := lookTool("mount"); err != nil {
			return 0, fmt.Errorf("netns: start on host %d: %w", i, err)
		}
		argv = append([]string{sh, "-c", privateRunScript, "netns-run", h.RunDir}, argv...)
	}
	logf, err := os.OpenFile(h.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("netns: start on host %d: %w", i, err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := &exec.Cmd{
		Path:        argv[0],
		Args:        argv,
		Env:         append(os.Environ(), s.Env...),
		Dir:         s.Dir,
		Stdin:       s.Stdin,
		Stdout:      logf,
		Stderr:      logf,
		SysProcAttr: procAttr(s.PrivateRun),
		WaitDelay:   time.Second,
	}
	if cmd.Dir == "" {
		cmd.Dir = h.Dir
	}
	fmt.Fprintf(logf, "=== netns: %s host %d (%s): start %s (private /run: %v)\n",
		time.Now().Format("15:04:05.000"), i, h.NS, strings.Join(s.Args, " "), s.PrivateRun)
	if err := inNetns(nsPath(h.NS), cmd.Start); err != nil {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return 0, fmt.Errorf("netns: start on host %d: %w", i, err)
	}
	p := &proc{cmd: cmd, args: s.Args, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.procs[i-1] = p
	c.log.Info("netns: started", "host", i, "pid", cmd.Process.Pid, "cmd", strings.Join(s.Args, " "))
	return cmd.Process.Pid, nil
}

// proc returns host i's last started process.
func (c *Cluster) proc(i int) (*proc, error) {
	if _, err := c.host(i); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[i-1]
	if p == nil {
		return nil, fmt.Errorf("%w: host %d", ErrNotRunning, i)
	}
	return p, nil
}

// PID returns the PID of host i's running program, 0 if none runs.
func (c *Cluster) PID(i int) int {
	p, err := c.proc(i)
	if err != nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether host i's started program is still running (a
// stopped program is running).
func (c *Cluster) Running(i int) bool { return c.PID(i) != 0 }

// Signal sends sig to host i's program, by PID.
func (c *Cluster) Signal(i int, sig os.Signal) error {
	p, err := c.proc(i)
	if err != nil {
		return err
	}
	if err := p.signal(sig); err != nil {
		return fmt.Errorf("netns: signal %v to host %d: %w", sig, i, err)
	}
	c.log.Info("netns: signal", "host", i, "pid", p.cmd.Process.Pid, "sig", sig)
	return nil
}

// Kill sends SIGKILL to host i's program and waits (at most 10 s) until it
// has been reaped.
func (c *Cluster) Kill(i int) error {
	p, err := c.proc(i)
	if err != nil {
		return err
	}
	if err := p.kill(10 * time.Second); err != nil {
		return fmt.Errorf("netns: kill host %d: %w", i, err)
	}
	c.log.Info("netns: killed", "host", i, "pid", p.cmd.Process.Pid)
	return nil
}

// Stop sends SIGSTOP to host i's program: it freezes, as a long pause would.
func (c *Cluster) Stop(i int) error { return c.Signal(i, syscall.SIGSTOP) }

// Cont sends SIGCONT to host i's program.
func (c *Cluster) Cont(i int) error { return c.Signal(i, syscall.SIGCONT) }

// Terminate sends SIGTERM (and SIGCONT, so a stopped program can act on it)
// to host i's program and waits up to timeout for it to exit; then it sends
// SIGKILL. It returns the program's exit error (nil for status 0), or an
// error wrapping ErrTimeout if SIGKILL was needed.
func (c *Cluster) Terminate(i int, timeout time.Duration) error {
	p, err := c.proc(i)
	if err != nil {
		return err
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("netns: terminate host %d: %w", i, err)
	}
	_ = p.signal(syscall.SIGCONT)
	err = p.wait(timeout)
	if errors.Is(err, ErrTimeout) {
		if kerr := p.kill(10 * time.Second); kerr != nil && !errors.Is(kerr, ErrNotRunning) {
			return errors.Join(err, kerr)
		}
		c.log.Warn("netns: SIGTERM ignored, killed", "host", i, "pid", p.cmd.Process.Pid, "after", timeout)
		return fmt.Errorf("netns: terminate host %d: %w (killed)", i, err)
	}
	c.log.Info("netns: terminated", "host", i, "pid", p.cmd.Process.Pid, "exit", errString(err))
	return err
}

// Wait waits up to timeout for host i's program to exit and returns its
// exit error (nil for status 0), or an error wrapping ErrTimeout.
func (c *Cluster) Wait(i int, timeout time.Duration) error {
	p, err := c.proc(i)
	if err != nil {
		return err
	}
	return p.wait(timeout)
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
