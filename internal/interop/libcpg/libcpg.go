package libcpg

import (
	"bufio"
	"context"
	_ "embed" // client.c
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

//go:embed client.c
var clientSource []byte

// Source returns the C source of the client (client.c).
func Source() []byte { return append([]byte(nil), clientSource...) }

// CPGHeader is the header whose absence makes Build report ErrUnavailable.
const CPGHeader = "/usr/include/corosync/cpg.h"

// BinaryName is the file name Build gives the compiled client.
const BinaryName = "cpgclient"

// ErrUnavailable is wrapped by Build's error when the client cannot be
// built on this machine (no gcc, no libcpg/libqb headers or libraries), so
// that a test can t.Skip with the message.
var ErrUnavailable = errors.New("libcpg client unavailable")

// ErrExited is wrapped by Client methods called after the client process
// has exited, or waiting when it does.
var ErrExited = errors.New("libcpg client exited")

const installHint = "apt-get install -y gcc libcpg-dev libqb-dev libcorosync-common-dev"

// Build writes client.c into dir and compiles it with
// "gcc -O2 -Wall -o dir/cpgclient dir/client.c -lcpg -lqb", returning the
// path of the binary. A missing gcc, CPGHeader or library gives an error
// wrapping ErrUnavailable; a compiler error on a complete toolchain does
// not.
func Build(dir string) (string, error) {
	if _, err := os.Stat(CPGHeader); err != nil {
		return "", fmt.Errorf("%w: %s missing (%s): %v", ErrUnavailable, CPGHeader, installHint, err)
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", fmt.Errorf("%w: gcc not found (%s): %v", ErrUnavailable, installHint, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("libcpg: build dir: %w", err)
	}
	src := filepath.Join(dir, "client.c")
	if err := os.WriteFile(src, clientSource, 0o644); err != nil {
		return "", fmt.Errorf("libcpg: write client source: %w", err)
	}
	bin := filepath.Join(dir, BinaryName)
	out, err := exec.Command(gcc, "-O2", "-Wall", "-o", bin, src, "-lcpg", "-lqb").CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "cannot find -l") || strings.Contains(msg, "No such file or directory") {
			return "", fmt.Errorf("%w: gcc cannot find libcpg/libqb (%s): %s", ErrUnavailable, installHint, msg)
		}
		return "", fmt.Errorf("libcpg: gcc client.c: %w: %s", err, msg)
	}
	return bin, nil
}

// CmdError is the error of a command the client answered with
// "ERR cmd code".
type CmdError struct {
	// Cmd is the command ("join", "sendhex", ...).
	Cmd string
	// Code is the cs_error_t libcpg returned, or -1 when the client
	// rejected the command line itself.
	Code int
}

// Error names the command and the cs_error_t ("libcpg: join failed:
// CS_ERR_EXIST (14)").
func (e *CmdError) Error() string {
	return fmt.Sprintf("libcpg: %s failed: %s (%d)", e.Cmd, CSErrorName(e.Code), e.Code)
}

var csErrorNames = map[int]string{
	-1: "bad command", 1: "CS_OK", 2: "CS_ERR_LIBRARY", 3: "CS_ERR_VERSION",
	4: "CS_ERR_INIT", 5: "CS_ERR_TIMEOUT", 6: "CS_ERR_TRY_AGAIN",
	7: "CS_ERR_INVALID_PARAM", 8: "CS_ERR_NO_MEMORY", 9: "CS_ERR_BAD_HANDLE",
	10: "CS_ERR_BUSY", 11: "CS_ERR_ACCESS", 12: "CS_ERR_NOT_EXIST",
	13: "CS_ERR_NAME_TOO_LONG", 14: "CS_ERR_EXIST", 15: "CS_ERR_NO_SPACE",
	16: "CS_ERR_INTERRUPT", 17: "CS_ERR_NAME_NOT_FOUND",
	18: "CS_ERR_NO_RESOURCES", 19: "CS_ERR_NOT_SUPPORTED",
	20: "CS_ERR_BAD_OPERATION", 21: "CS_ERR_FAILED_OPERATION",
	22: "CS_ERR_MESSAGE_ERROR", 23: "CS_ERR_QUEUE_FULL",
	24: "CS_ERR_QUEUE_NOT_AVAILABLE", 25: "CS_ERR_BAD_FLAGS",
	26: "CS_ERR_TOO_BIG", 27: "CS_ERR_NO_SECTIONS",
	28: "CS_ERR_CONTEXT_NOT_FOUND", 30: "CS_ERR_TOO_MANY_GROUPS",
	100: "CS_ERR_SECURITY",
}

// CSErrorName names a cs_error_t code ("CS_ERR_TRY_AGAIN").
func CSErrorName(code int) string {
	if n, ok := csErrorNames[code]; ok {
		return n
	}
	return fmt.Sprintf("cs_error_t(%d)", code)
}

// Client drives one running client process. Its methods may be called from
// several goroutines; commands are answered in the order they were sent.
type Client struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer // nil when the caller set cmd.Stderr
	ready  Event

	writeMu sync.Mutex // orders a command's pending entry with its write

	mu         sync.Mutex
	pending    []*call
	seen       []Event
	queue      []Event // events not yet handed to the events channel
	readerDone bool
	fatal      string
	waitErr    error

	notify  chan struct{} // queue or readerDone changed (capacity 1)
	readyCh chan struct{} // closed at READY
	done    chan struct{} // closed once the process has exited
	stop    chan struct{} // closed by Close: forwarder gives up
	events  chan Event

	closeOnce sync.Once
	closeErr  error
}

type call struct {
	cmd     string
	replies []Event // MEMBERS / LOCAL before the final line
	final   Event   // OK or ERR
	err     error   // set instead of final when the client exited
	done    chan struct{}
}

// defaultReadyTimeout bounds Start when ctx has no deadline.
const defaultReadyTimeout = 30 * time.Second

// Start runs cmd, a prepared but not started command running the client
// (for instance exec.Command("ip", "netns", "exec", ns, path)), and waits
// until it prints READY, for at most ctx's deadline (30 s when ctx has
// none); give the client "-w SECONDS" to bound its own wait for the daemon.
// Start sets cmd's Stdin and Stdout, which must be nil; when
// cmd.Stderr is nil the last few KiB of it are kept for error messages. On
// failure the process has been stopped.
func Start(ctx context.Context, cmd *exec.Cmd) (*Client, error) {
	if cmd.Stdin != nil || cmd.Stdout != nil {
		return nil, errors.New("libcpg: Start: cmd.Stdin and cmd.Stdout must be nil")
	}
	c := &Client{
		cmd:     cmd,
		notify:  make(chan struct{}, 1),
		readyCh: make(chan struct{}),
		done:    make(chan struct{}),
		stop:    make(chan struct{}),
		events:  make(chan Event, 64),
	}
	if cmd.Stderr == nil {
		c.stderr = &tailBuffer{max: 8 << 10}
		cmd.Stderr = c.stderr
	}
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("libcpg: stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("libcpg: stdout pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("libcpg: start %s: %w", cmd.Path, err)
	}
	go c.read(stdout)
	go c.forward()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultReadyTimeout)
		defer cancel()
	}
	select {
	case <-c.readyCh:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("libcpg: client exited before READY: %w", c.exitError())
	case <-ctx.Done():
		_ = cmd.Process.Kill() // by PID
		<-c.done
		close(c.stop)
		msg := ""
		if s := c.Stderr(); s != "" {
			msg = "; stderr: " + s
		}
		return nil, fmt.Errorf("libcpg: waiting for READY from pid %d: %w%s", cmd.Process.Pid, ctx.Err(), msg)
	}
}

// read parses the client's stdout until EOF, then reaps the process.
func (c *Client) read(stdout io.Reader) {
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			c.handle(strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			break
		}
	}
	waitErr := c.cmd.Wait()
	c.mu.Lock()
	c.waitErr = waitErr
	c.readerDone = true
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	exitErr := c.exitError()
	for _, p := range pending {
		p.err = fmt.Errorf("libcpg: waiting for reply to %s: %w", p.cmd, exitErr)
		close(p.done)
	}
	close(c.done)
	c.signal()
}

func (c *Client) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// handle routes one output line.
func (c *Client) handle(line string) {
	ev, err := ParseLine(line)
	if err != nil {
		ev = Event{Raw: line, Text: err.Error()}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, ev)
	switch ev.Kind {
	case Ready:
		select {
		case <-c.readyCh:
		default:
			c.ready = ev
			close(c.readyCh)
		}
	case Deliver, ConfChg, Totem:
		c.queue = append(c.queue, ev)
		c.signal()
	case Members, Local:
		if len(c.pending) > 0 {
			c.pending[0].replies = append(c.pending[0].replies, ev)
		}
	case OK, Err:
		if len(c.pending) > 0 {
			p := c.pending[0]
			c.pending = c.pending[1:]
			p.final = ev
			close(p.done)
		}
	case Fatal:
		c.fatal = ev.Text
	}
}

// forward moves queued events to the events channel, which it closes after
// the process has exited and the queue is drained, or at Close.
func (c *Client) forward() {
	defer close(c.events)
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			ev := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			select {
			case c.events <- ev:
			case <-c.stop:
				return
			}
			continue
		}
		finished := c.readerDone
		c.mu.Unlock()
		if finished {
			return
		}
		select {
		case <-c.notify:
		case <-c.stop:
			return
		}
	}
}

// exitError describes how the process ended; nil for exit code 0 without
// FATAL. Only meaningful after done is closed.
func (c *Client) exitError() error {
	c.mu.Lock()
	waitErr, fatal := c.waitErr, c.fatal
	c.mu.Unlock()
	var parts []string
	if fatal != "" {
		parts = append(parts, "FATAL "+fatal)
	}
	if waitErr != nil {
		parts = append(parts, waitErr.Error())
	}
	if len(parts) == 0 {
		return nil
	}
	if s := c.Stderr(); s != "" {
		parts = append(parts, "stderr: "+s)
	}
	return fmt.Errorf("%w (pid %d): %s", ErrExited, c.cmd.Process.Pid, strings.Join(parts, "; "))
}

// ExitError returns nil while the client runs or when it exited with code
// 0, and otherwise an error wrapping ErrExited with the FATAL message, the
// exit status and the tail of stderr.
func (c *Client) ExitError() error {
	select {
	case <-c.done:
		return c.exitError()
	default:
		return nil
	}
}

// Done is closed when the client process has exited.
func (c *Client) Done() <-chan struct{} { return c.done }

// Stderr returns the last few KiB the client wrote on stderr ("" when the
// caller supplied cmd.Stderr).
func (c *Client) Stderr() string {
	if c.stderr == nil {
		return ""
	}
	return strings.TrimSpace(c.stderr.String())
}

// PID returns the process ID of the started command.
func (c *Client) PID() int { return c.cmd.Process.Pid }

// Ready returns the client's READY event: NodeID is the local node and PID
// the process ID that CPG reports for this client.
func (c *Client) Ready() Event { return c.ready }

// do sends one command line and waits for its OK or ERR.
func (c *Client) do(ctx context.Context, name, line string) (*call, error) {
	p := &call{cmd: name, done: make(chan struct{})}
	c.writeMu.Lock()
	c.mu.Lock()
	if c.readerDone {
		c.mu.Unlock()
		c.writeMu.Unlock()
		return nil, fmt.Errorf("libcpg: %s: %w", name, c.exitOrClosed())
	}
	c.pending = append(c.pending, p)
	c.mu.Unlock()
	_, err := io.WriteString(c.stdin, line+"\n")
	c.writeMu.Unlock()
	if err != nil {
		// the process is going away: read() fails p when it is reaped
		select {
		case <-p.done:
		case <-ctx.Done():
		}
		return nil, fmt.Errorf("libcpg: %s: write command: %w", name, err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("libcpg: waiting for reply to %s: %w", name, ctx.Err())
	}
	if p.err != nil {
		return nil, p.err
	}
	if p.final.Cmd != name {
		return nil, fmt.Errorf("libcpg: got %q while waiting for the reply to %s", p.final.Raw, name)
	}
	if p.final.Kind == Err {
		return nil, &CmdError{Cmd: name, Code: p.final.Code}
	}
	return p, nil
}

func (c *Client) exitOrClosed() error {
	if err := c.exitError(); err != nil {
		return err
	}
	return fmt.Errorf("%w (pid %d) normally", ErrExited, c.cmd.Process.Pid)
}

// Join joins group (1 to 128 bytes, any bytes) with cpg_join.
func (c *Client) Join(ctx context.Context, group string) error {
	if len(group) == 0 || len(group) > 128 {
		return fmt.Errorf("libcpg: join: group name of %d bytes, want 1..128", len(group))
	}
	_, err := c.do(ctx, "join", "join "+Escape(group))
	return err
}

// Leave leaves the joined group with cpg_leave.
func (c *Client) Leave(ctx context.Context) error {
	_, err := c.do(ctx, "leave", "leave")
	return err
}

// Send multicasts payload (any bytes, possibly empty) to the joined group
// with CPG_TYPE_AGREED, via the "sendhex" command. It returns once
// cpg_mcast_joined succeeded, not when the message is delivered.
func (c *Client) Send(ctx context.Context, payload []byte) error {
	arg := "-"
	if len(payload) > 0 {
		arg = hex.EncodeToString(payload)
	}
	_, err := c.do(ctx, "sendhex", "sendhex "+arg)
	return err
}

// SendText multicasts text like Send but through the "send TEXT" command;
// text must not contain a newline or a NUL byte.
func (c *Client) SendText(ctx context.Context, text string) error {
	if strings.ContainsAny(text, "\n\x00") {
		return errors.New("libcpg: SendText: text contains a newline or NUL; use Send")
	}
	line := "send"
	if text != "" {
		line += " " + text
	}
	_, err := c.do(ctx, "send", line)
	return err
}

// Members returns the joined group's members (cpg_membership_get).
func (c *Client) Members(ctx context.Context) ([]Addr, error) {
	p, err := c.do(ctx, "members", "members")
	if err != nil {
		return nil, err
	}
	for _, ev := range p.replies {
		if ev.Kind == Members {
			return ev.Members, nil
		}
	}
	return nil, errors.New("libcpg: members: OK without a MEMBERS line")
}

// LocalNodeID returns the local node ID (cpg_local_get).
func (c *Client) LocalNodeID(ctx context.Context) (uint32, error) {
	p, err := c.do(ctx, "local", "local")
	if err != nil {
		return 0, err
	}
	for _, ev := range p.replies {
		if ev.Kind == Local {
			return ev.NodeID, nil
		}
	}
	return 0, errors.New("libcpg: local: OK without a LOCAL line")
}

// Events returns the channel of Deliver, ConfChg and Totem events, in the
// order the client printed them. It is closed when the process has exited
// and every event was received, or at Close. Events are queued without
// bound, so not reading them never blocks the client.
func (c *Client) Events() <-chan Event { return c.events }

// NextEvent reads Events until match returns true (nil matches anything)
// and returns that event; the events it skips are dropped, but stay in
// Seen. It fails when ctx ends or the client exits first.
func (c *Client) NextEvent(ctx context.Context, match func(Event) bool) (Event, error) {
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return Event{}, fmt.Errorf("libcpg: no matching event: %w; last lines: %s", c.exitOrClosed(), c.lastLines(8))
			}
			if match == nil || match(ev) {
				return ev, nil
			}
		case <-ctx.Done():
			return Event{}, fmt.Errorf("libcpg: no matching event: %w; last lines: %s", ctx.Err(), c.lastLines(8))
		}
	}
}

func (c *Client) lastLines(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.seen
	if len(s) > n {
		s = s[len(s)-n:]
	}
	if len(s) == 0 {
		return "(none)"
	}
	lines := make([]string, len(s))
	for i, ev := range s {
		lines[i] = truncate(ev.Raw, 200)
	}
	return strings.Join(lines, " | ")
}

// Seen returns every line the client has printed so far, parsed, in order:
// READY, command replies and events alike, whether or not they were read
// from Events. A line that did not parse has Kind 0, Raw set and the parse
// error in Text.
func (c *Client) Seen() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.seen...)
}

// closeWait is how long Close waits for the client to exit after "quit"
// (a variable so that tests can shorten it).
var closeWait = 3 * time.Second

// Close sends "quit" and closes stdin, waits up to 3 s for the client to
// exit and then kills it by its PID. It returns nil when the client exited
// with code 0, and otherwise why not (FATAL, exit status, or that it had to
// be killed). Later calls return the same result.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		go func() {
			// never under a lock: a blocked write ends when the process dies
			c.writeMu.Lock()
			defer c.writeMu.Unlock()
			_, _ = io.WriteString(c.stdin, "quit\n")
			_ = c.stdin.Close()
		}()
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-c.done:
			c.closeErr = c.exitError()
		case <-t.C:
			killErr := c.cmd.Process.Kill() // by PID
			<-c.done
			c.closeErr = fmt.Errorf("libcpg: client pid %d did not exit within %v of quit; killed (kill: %v)",
				c.cmd.Process.Pid, closeWait, killErr)
		}
		close(c.stop)
	})
	return c.closeErr
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
