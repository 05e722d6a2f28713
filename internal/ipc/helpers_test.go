package ipc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/service"
)

// Request types of the test handler.
const (
	fnEcho   = 1 // reply with the payload
	fnEvent  = 2 // send the payload back as an event of kind 7
	fnCount  = 3 // count only (for Send)
	fnNoDone = 4 // hold the batch until release is closed
)

type closedConn struct {
	c   *Conn
	err error
}

// testHandler serves the test service (any id but 99, which does not
// exist).
type testHandler struct {
	open    func(c *Conn, svc uint16) service.Status
	release chan struct{}

	mu     sync.Mutex
	conns  map[uint64]*Conn
	count  int
	closed chan closedConn
	opened chan *Conn
}

func newTestHandler() *testHandler {
	return &testHandler{
		conns:   make(map[uint64]*Conn),
		closed:  make(chan closedConn, 1000),
		opened:  make(chan *Conn, 1000),
		release: make(chan struct{}),
	}
}

func (h *testHandler) Open(c *Conn, svc uint16) service.Status {
	if svc == 99 {
		return service.ErrNotExist
	}
	if h.open != nil {
		if st := h.open(c, svc); st != service.OK {
			return st
		}
	}
	h.mu.Lock()
	h.conns[c.ID()] = c
	h.mu.Unlock()
	h.opened <- c
	return service.OK
}

func (h *testHandler) Requests(c *Conn, batch []service.Request, done func()) {
	hold := false
	for _, r := range batch {
		switch r.Fn {
		case fnEcho:
			c.Reply(r.ID, service.OK, r.Payload)
		case fnEvent:
			c.Event(7, r.Payload[:len(r.Payload)/2], r.Payload[len(r.Payload)/2:])
			if r.ID != 0 {
				c.Reply(r.ID, service.OK, nil)
			}
		case fnCount:
			h.mu.Lock()
			h.count++
			h.mu.Unlock()
		case fnNoDone:
			hold = true
		default:
			c.Reply(r.ID, service.ErrInvalidArg, nil)
		}
	}
	if hold {
		go func() {
			<-h.release
			done()
		}()
		return
	}
	done()
}

func (h *testHandler) Closed(c *Conn, err error) {
	h.mu.Lock()
	delete(h.conns, c.ID())
	h.mu.Unlock()
	h.closed <- closedConn{c, err}
}

func (h *testHandler) counted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// waitClosed waits for the next Closed report.
func (h *testHandler) waitClosed(t *testing.T) closedConn {
	t.Helper()
	select {
	case cc := <-h.closed:
		return cc
	case <-time.After(10 * time.Second):
		t.Fatal("no Closed report")
		return closedConn{}
	}
}

func (h *testHandler) waitOpened(t *testing.T) *Conn {
	t.Helper()
	select {
	case c := <-h.opened:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no Open")
		return nil
	}
}

// sockPath returns a short socket path in a fresh temporary directory.
func sockPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "s")
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type testServer struct {
	*Server
	cancel context.CancelFunc
	done   chan error
}

// stop cancels Serve and returns its result.
func (ts *testServer) stop(t testing.TB) error {
	t.Helper()
	ts.cancel()
	select {
	case err := <-ts.done:
		ts.done <- err
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// startServer listens on a fresh path and serves h until the test ends.
func startServer(t testing.TB, opts ServerOptions, h Handler) *testServer {
	t.Helper()
	if opts.Path == "" {
		opts.Path = sockPath(t)
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	return serveServer(t, s, h)
}

func serveServer(t testing.TB, s *Server, h Handler) *testServer {
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(ctx, h) }()
	t.Cleanup(func() {
		if err := ts.stop(t); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

func dial(t testing.TB, path string, svc uint16) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path, svc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a hand-driven client.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	fr *frameReader
}

func dialRaw(t testing.TB, path string) *rawConn {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, fr: newFrameReader(nc, 4096, MaxMaxFrame)}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next frame, or an error (io.EOF when the server
// closed).
func (r *rawConn) read() (Header, []byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		h, f, err := r.fr.next()
		if err == errNeedMore {
			if err := r.fr.fill(); err != nil {
				return Header{}, nil, err
			}
			continue
		}
		if err != nil {
			return h, nil, err
		}
		return h, append([]byte(nil), f...), nil
	}
}

func (r *rawConn) mustRead() (Header, []byte) {
	r.t.Helper()
	h, f, err := r.read()
	if err != nil {
		r.t.Fatal(err)
	}
	return h, f
}

// hello sends a HELLO and checks for a WELCOME(OK).
func (r *rawConn) hello(svc uint16) {
	r.t.Helper()
	r.write(AppendHello(nil, Hello{Version: Version, Service: svc}))
	h, _ := r.mustRead()
	if h.Kind != KindWelcome || h.Status != service.OK {
		r.t.Fatalf("handshake: %+v", h)
	}
}

// expectEOF reads until the server closes the connection.
func (r *rawConn) expectEOF() {
	r.t.Helper()
	for {
		_, _, err := r.read()
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			r.t.Fatalf("want the server to close, got %v", err)
		}
		return
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func request(fn uint16, id uint32, payload []byte) []byte {
	b := AppendHeader(nil, Header{Length: uint32(HeaderSize + len(payload)), Kind: KindRequest, Fn: fn, ID: id})
	return append(b, payload...)
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
