package ipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/corogo/corogo/internal/service"
)

// Client errors.
var (
	// ErrNotRunning: there is no socket, or nothing listens on it.
	ErrNotRunning = errors.New("corosyncd is not running")
	// ErrAccessDenied: the socket's permissions or the daemon's access
	// list refuse this process.
	ErrAccessDenied = errors.New("ipc: access to corosyncd denied")
	// ErrVersion: the daemon speaks another protocol version.
	ErrVersion = errors.New("ipc: protocol version mismatch")
	// ErrNoService: the daemon does not provide the service.
	ErrNoService = errors.New("ipc: service not provided by corosyncd")
	// ErrDisconnected: the daemon closed the connection.
	ErrDisconnected = errors.New("ipc: connection closed by corosyncd")
)

// Client-side sizes.
const (
	// sendBuffer bounds the bytes of frames queued by Send and Call and
	// not yet taken by the writer; beyond it they wait (one frame of any
	// size is always accepted into an empty queue).
	sendBuffer = 256 << 10
	// eventBuffer is the capacity of the Events channel.
	eventBuffer = 1024
)

// RefusedError is a WELCOME with an error status. It matches
// ErrAccessDenied, ErrVersion or ErrNoService with errors.Is, according to
// its status.
type RefusedError struct {
	// Path is the socket path.
	Path string
	// Service is the service id asked for.
	Service uint16
	// Status is the WELCOME's status.
	Status service.Status
	// Version is the server's protocol version.
	Version uint16
}

// Error describes the refusal.
func (e *RefusedError) Error() string {
	msg := fmt.Sprintf("ipc: corosyncd at %s refused %v: %v", e.Path, service.ID(e.Service), e.Status)
	if e.Status == service.ErrNotSupport {
		msg += fmt.Sprintf(" (protocol version %d, corosyncd speaks %d)", Version, e.Version)
	}
	return msg
}

// Is matches the sentinel of the status.
func (e *RefusedError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Status == service.ErrAccess
	case ErrVersion:
		return e.Status == service.ErrNotSupport
	case ErrNoService:
		return e.Status == service.ErrNotExist
	}
	return false
}

// Event is one EVENT frame received from the daemon.
type Event struct {
	// Fn is the event kind, numbered by the service.
	Fn uint16
	// Payload is the event's payload; it belongs to the receiver.
	Payload []byte
}

type callResult struct {
	status  service.Status
	payload []byte
}

// Client is a connection to one service of the daemon. Its methods are
// safe for concurrent use.
//
// Goroutines: a reader (replies to Call, events), a writer (Send and Call
// output, several frames per write) and an event dispatcher. Events go to
// a buffered channel of 1024; beyond that they wait in an unbounded
// internal queue, so an application that does not read Events never
// blocks Call, at the price of memory. Close stops them all.
type Client struct {
	nc       net.Conn
	path     string
	svc      uint16
	nodeID   uint32
	maxFrame int
	fr       *frameReader // reader goroutine only
	events   chan Event

	wake      chan struct{} // output queued
	dead      chan struct{} // closed by fail
	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup

	// mu guards the output queue, the calls and the error.
	mu       sync.Mutex
	out      []byte        // frames not yet taken by the writer
	appended uint64        // bytes ever queued
	written  uint64        // bytes ever written
	progress chan struct{} // closed when the writer takes out or writes; nil when nobody waits
	nextID   uint32
	calls    map[uint32]chan callResult
	err      error // why the connection ended
	noted    error // an error the daemon reported before closing

	// emu guards the event queue.
	emu        sync.Mutex
	equeue     []Event
	readerDone bool
	dropping   bool // Close was called: drop events
	ewake      chan struct{}
}

// Dial connects to the daemon's socket at path (SocketPath() when "") and
// opens service svc. ctx bounds the connection and the handshake (10 s
// when it has no deadline). Errors match ErrNotRunning (no socket, or
// nothing listening), ErrAccessDenied, ErrVersion or ErrNoService.
func Dial(ctx context.Context, path string, svc uint16) (*Client, error) {
	if path == "" {
		path = SocketPath()
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		var errno syscall.Errno
		errors.As(err, &errno)
		switch {
		case errno == syscall.ENOENT:
			return nil, fmt.Errorf("%w (no socket at %s): %w", ErrNotRunning, path, errno)
		case errno == syscall.ECONNREFUSED:
			return nil, fmt.Errorf("%w (nothing listens on %s): %w", ErrNotRunning, path, errno)
		case errno == syscall.EACCES || errno == syscall.EPERM:
			return nil, fmt.Errorf("%w: cannot connect to %s (check the socket's owner, group and mode): %w", ErrAccessDenied, path, errno)
		}
		return nil, fmt.Errorf("ipc: connecting to %s: %w", path, err)
	}
	c, err := newClient(ctx, nc, path, svc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// newClient runs the handshake on nc and starts the client's goroutines.
func newClient(ctx context.Context, nc net.Conn, path string, svc uint16) (*Client, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(handshakeTimeout)
	}
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	handshakeErr := func(op string, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("ipc: %s corosyncd at %s: %w", op, path, ctx.Err())
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("ipc: %s corosyncd at %s: no answer in time: %w", op, path, err)
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("ipc: %s corosyncd at %s: %w", op, path, ErrDisconnected)
		}
		return fmt.Errorf("ipc: %s corosyncd at %s: %w", op, path, err)
	}

	if _, err := nc.Write(AppendHello(nil, Hello{Version: Version, Service: svc})); err != nil {
		return nil, handshakeErr("greeting", err)
	}
	fr := newFrameReader(nc, readBuffer, helloMaxFrame)
	var hd Header
	var frame []byte
	for {
		var err error
		hd, frame, err = fr.next()
		if err == nil {
			break
		}
		if err != errNeedMore {
			return nil, fmt.Errorf("%w: corosyncd at %s: %w", ErrProtocol, path, err)
		}
		if err := fr.fill(); err != nil {
			return nil, handshakeErr("waiting for", err)
		}
	}
	if hd.Kind == KindReply && hd.Status != service.OK {
		return nil, fmt.Errorf("%w: corosyncd at %s rejected the HELLO: %v", ErrProtocol, path, hd.Status)
	}
	if hd.Kind != KindWelcome {
		return nil, fmt.Errorf("%w: corosyncd at %s answered HELLO with %s", ErrProtocol, path, hd.Kind)
	}
	w, err := ParseWelcome(frame[HeaderSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: corosyncd at %s: %w", ErrProtocol, path, err)
	}
	if hd.Status != service.OK {
		return nil, &RefusedError{Path: path, Service: svc, Status: hd.Status, Version: w.Version}
	}
	if w.MaxFrame < MinMaxFrame || w.MaxFrame > MaxMaxFrame {
		return nil, fmt.Errorf("%w: corosyncd at %s announced a maximum frame of %d bytes", ErrProtocol, path, w.MaxFrame)
	}
	nc.SetDeadline(time.Time{})
	fr.max = int(w.MaxFrame)

	c := &Client{
		nc:       nc,
		path:     path,
		svc:      svc,
		nodeID:   w.NodeID,
		maxFrame: int(w.MaxFrame),
		fr:       fr,
		wake:     make(chan struct{}, 1),
		dead:     make(chan struct{}),
		closed:   make(chan struct{}),
		calls:    make(map[uint32]chan callResult),
		events:   make(chan Event, eventBuffer),
		ewake:    make(chan struct{}, 1),
	}
	c.wg.Add(3)
	go c.readLoop()
	go c.writeLoop()
	go c.dispatch()
	return c, nil
}

// NodeID is the local node's id, from the WELCOME.
func (c *Client) NodeID() uint32 { return c.nodeID }

// MaxFrame is the largest frame, header included, the daemon accepts: a
// payload may have MaxFrame()-HeaderSize bytes.
func (c *Client) MaxFrame() int { return c.maxFrame }

// Service is the service id the client opened.
func (c *Client) Service() uint16 { return c.svc }

// Events returns the channel of events from the daemon, in order. It is
// closed when the connection ends, after the events received before; Err
// then tells why.
func (c *Client) Events() <-chan Event { return c.events }

// Err returns why the connection ended, nil while it is up. After Close it
// is ErrClosed unless the connection had ended before.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Call sends a REQUEST of type fn whose payload is the concatenation of
// payload, with a fresh id, and waits for its REPLY. A non-OK status is not
// an error: the error reports a connection that ended, a payload larger
// than MaxFrame()-HeaderSize (ErrFrameTooBig), or ctx ending (a late reply
// is then dropped).
func (c *Client) Call(ctx context.Context, fn uint16, payload ...[]byte) (service.Status, []byte, error) {
	ch := make(chan callResult, 1)
	id, err := c.enqueue(ctx, fn, ch, payload)
	if err != nil {
		return 0, nil, err
	}
	select {
	case r := <-ch:
		return r.status, r.payload, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.calls, id)
		c.mu.Unlock()
		select {
		case r := <-ch:
			return r.status, r.payload, nil
		default:
		}
		return 0, nil, fmt.Errorf("ipc: request %d: %w", fn, ctx.Err())
	case <-c.dead:
		select {
		case r := <-ch:
			return r.status, r.payload, nil
		default:
		}
		return 0, nil, c.Err()
	}
}

// Send queues a REQUEST of type fn with id 0 (no reply) whose payload is
// the concatenation of payload. It returns once the frame is queued; the
// writer goroutine writes queued frames together, many per system call.
// When the queue is full (the daemon does not keep up and the socket is
// full) Send waits, until ctx ends.
func (c *Client) Send(ctx context.Context, fn uint16, payload ...[]byte) error {
	_, err := c.enqueue(ctx, fn, nil, payload)
	return err
}

// enqueue queues one REQUEST, registering ch for its reply when not nil.
func (c *Client) enqueue(ctx context.Context, fn uint16, ch chan callResult, payload [][]byte) (uint32, error) {
	n := HeaderSize
	for _, p := range payload {
		n += len(p)
	}
	if n > c.maxFrame {
		return 0, fmt.Errorf("ipc: request %d with a payload of %d bytes: %w (%d)", fn, n-HeaderSize, ErrFrameTooBig, c.maxFrame-HeaderSize)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("ipc: request %d: %w", fn, err)
	}
	c.mu.Lock()
	for {
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return 0, err
		}
		if len(c.out) == 0 || len(c.out)+n <= sendBuffer {
			break
		}
		p := c.waitLocked()
		c.mu.Unlock()
		select {
		case <-p:
		case <-ctx.Done():
			return 0, fmt.Errorf("ipc: request %d: %w", fn, ctx.Err())
		}
		c.mu.Lock()
	}
	var id uint32
	if ch != nil {
		for {
			c.nextID++
			if c.nextID == 0 {
				c.nextID = 1
			}
			if _, busy := c.calls[c.nextID]; !busy {
				break
			}
		}
		id = c.nextID
		c.calls[id] = ch
	}
	wake := len(c.out) == 0
	c.out = AppendHeader(c.out, Header{Length: uint32(n), Kind: KindRequest, Fn: fn, ID: id})
	for _, p := range payload {
		c.out = append(c.out, p...)
	}
	c.appended += uint64(n)
	c.mu.Unlock()
	if wake {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return id, nil
}

// waitLocked returns a channel closed at the writer's next progress or
// when the connection ends. c.mu must be held.
func (c *Client) waitLocked() chan struct{} {
	if c.progress == nil {
		c.progress = make(chan struct{})
	}
	return c.progress
}

// progressLocked wakes the goroutines waiting for the writer. c.mu must be
// held.
func (c *Client) progressLocked() {
	if c.progress != nil {
		close(c.progress)
		c.progress = nil
	}
}

// Flush waits until every frame queued before the call has been written to
// the socket, the connection ends (its error) or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	target := c.appended
	for c.written < target {
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return err
		}
		p := c.waitLocked()
		c.mu.Unlock()
		select {
		case <-p:
		case <-ctx.Done():
			return fmt.Errorf("ipc: flush: %w", ctx.Err())
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	return nil
}

// Close flushes queued frames (for up to 2 s), closes the connection and
// waits for the client's goroutines. Events not yet received from the
// channel are dropped, and the channel is closed. Close always returns
// nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeFlushTimeout)
		c.Flush(ctx)
		cancel()
		c.fail(ErrClosed)
		close(c.closed)
	})
	c.wg.Wait()
	return nil
}

// fail ends the connection with err, the first time.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	c.progressLocked()
	c.mu.Unlock()
	c.nc.Close()
	close(c.dead)
}

// writeLoop is the writer goroutine; like the server's, it swaps the
// queue with the buffer it last wrote, so steady sending allocates
// nothing.
func (c *Client) writeLoop() {
	defer c.wg.Done()
	var spare []byte
	underused := 0
	for {
		select {
		case <-c.wake:
		case <-c.dead:
			return
		}
		for {
			c.mu.Lock()
			buf := c.out
			c.out = spare[:0]
			if len(buf) > 0 {
				c.progressLocked() // room for waiting senders
			}
			c.mu.Unlock()
			if len(buf) == 0 {
				spare = buf
				break
			}
			if _, err := c.nc.Write(buf); err != nil {
				if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
					err = fmt.Errorf("%w: writing: %w", ErrDisconnected, err)
				} else {
					err = fmt.Errorf("ipc: writing to corosyncd: %w", err)
				}
				c.fail(err)
				return
			}
			c.mu.Lock()
			c.written += uint64(len(buf))
			c.progressLocked()
			c.mu.Unlock()
			spare = shrink(buf, &underused)
		}
	}
}

// readLoop is the reader goroutine.
func (c *Client) readLoop() {
	defer c.wg.Done()
	err := c.read()
	c.mu.Lock()
	if c.noted != nil && errors.Is(err, ErrDisconnected) {
		err = fmt.Errorf("%w: %w", ErrDisconnected, c.noted)
	}
	c.mu.Unlock()
	c.fail(err)
	c.emu.Lock()
	c.readerDone = true
	c.emu.Unlock()
	c.ewakeup()
}

// read demultiplexes frames until the connection ends.
func (c *Client) read() error {
	for {
		hd, frame, err := c.fr.next()
		if err == errNeedMore {
			if err := c.fr.fill(); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
					return ErrDisconnected
				}
				return fmt.Errorf("ipc: reading from corosyncd: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: from corosyncd: %w", ErrProtocol, err)
		}
		switch hd.Kind {
		case KindReply:
			c.reply(hd, frame[HeaderSize:])
		case KindEvent:
			c.event(Event{Fn: hd.Fn, Payload: bytes.Clone(frame[HeaderSize:])})
		default:
			return fmt.Errorf("%w: %s from corosyncd", ErrProtocol, hd.Kind)
		}
	}
}

// reply hands a REPLY to its Call. A reply without an id and with an
// error status is the daemon's complaint before it closes the connection:
// it is kept for Err.
func (c *Client) reply(hd Header, p []byte) {
	c.mu.Lock()
	if hd.ID == 0 {
		if hd.Status != service.OK && c.noted == nil {
			c.noted = fmt.Errorf("corosyncd reported %v", hd.Status)
		}
		c.mu.Unlock()
		return
	}
	ch, ok := c.calls[hd.ID]
	delete(c.calls, hd.ID)
	c.mu.Unlock()
	if ok {
		ch <- callResult{status: hd.Status, payload: bytes.Clone(p)}
	}
}

// event passes an event on: straight into the channel when nothing waits
// before it, else through the queue.
func (c *Client) event(ev Event) {
	c.emu.Lock()
	if c.dropping {
		c.emu.Unlock()
		return
	}
	if len(c.equeue) == 0 {
		select {
		case c.events <- ev:
			c.emu.Unlock()
			return
		default:
		}
	}
	c.equeue = append(c.equeue, ev)
	c.emu.Unlock()
	c.ewakeup()
}

func (c *Client) ewakeup() {
	select {
	case c.ewake <- struct{}{}:
	default:
	}
}

// dispatch is the goroutine that moves queued events into the channel and
// closes it once the reader has ended and the queue is empty (or Close
// dropped it).
func (c *Client) dispatch() {
	defer c.wg.Done()
	defer close(c.events)
	for {
		c.emu.Lock()
		if len(c.equeue) == 0 {
			done := c.readerDone
			c.emu.Unlock()
			if done {
				return
			}
			<-c.ewake
			continue
		}
		ev := c.equeue[0]
		c.emu.Unlock()
		select {
		case c.events <- ev:
			c.emu.Lock()
			c.equeue[0] = Event{}
			c.equeue = c.equeue[1:]
			if len(c.equeue) == 0 {
				c.equeue = nil
			}
			c.emu.Unlock()
		case <-c.closed:
			c.emu.Lock()
			c.equeue = nil
			c.dropping = true
			c.emu.Unlock()
		}
	}
}
