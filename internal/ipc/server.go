package ipc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/corogo/corogo/internal/service"
)

// Server defaults and limits.
const (
	// DefaultMode is the socket file's default mode: owner and group may
	// connect (access is then decided by ServerOptions.Allow).
	DefaultMode os.FileMode = 0o660
	// DefaultMaxBacklog is the default bound on a connection's queued
	// output: 32 MiB, 31 maximum-size frames.
	DefaultMaxBacklog = 32 << 20

	// maxSocketPath is the longest path a sockaddr_un holds (108 bytes,
	// NUL included).
	maxSocketPath = 107
	// probeTimeout bounds the connect that tells a live socket from a
	// stale one.
	probeTimeout = time.Second
	// handshakeTimeout bounds the wait for a new connection's HELLO.
	handshakeTimeout = 10 * time.Second
	// closeFlushTimeout bounds the flush of queued output when a
	// connection is closed with Close.
	closeFlushTimeout = 2 * time.Second
	// helloMaxFrame bounds frames before the HELLO has been accepted, so
	// that a peer that is not admitted cannot make the server buffer a
	// large frame.
	helloMaxFrame = 1024
	// handshakeBuffer and readBuffer are the read buffer sizes before and
	// after the HELLO; the buffer grows to hold one frame of up to
	// MaxFrame and shrinks back when it runs empty.
	handshakeBuffer = 1024
	readBuffer      = 64 << 10
	// maxBatchFrames and maxBatchBytes bound one Handler.Requests batch.
	maxBatchFrames = 256
	maxBatchBytes  = 4 << 20
	// An output buffer larger than outShrink is dropped, rather than kept
	// for reuse, after outShrinkAfter writes in a row that used less than
	// a quarter of it.
	outShrink      = 4 << 20
	outShrinkAfter = 64
)

// Errors the server reports to Handler.Closed and from Listen.
var (
	// ErrServerClosed: the server stopped (Serve's context ended or Close
	// was called).
	ErrServerClosed = errors.New("ipc: server stopped")
	// ErrBacklog: the connection's queued output exceeded MaxBacklog.
	ErrBacklog = errors.New("ipc: client does not read its output")
	// ErrProtocol: the client broke the protocol (the wrapped error tells
	// how).
	ErrProtocol = errors.New("ipc: protocol error")
	// ErrClosed: a connection closed with Close(nil), or a Client used
	// after Close.
	ErrClosed = errors.New("ipc: connection closed")
	// ErrInUse: Listen found another daemon listening on the socket.
	ErrInUse = errors.New("another daemon is listening")
)

// ServerOptions configure a Server. The zero value of each field selects
// its default.
type ServerOptions struct {
	// Path is the socket path; "" means SocketPath().
	Path string
	// Mode is the socket file's permission bits; 0 means DefaultMode
	// (0660). The socket is created with the process umask and then
	// chmod-ed, so Allow, not the mode, is the access decision.
	Mode os.FileMode
	// Allow decides from a peer's SO_PEERCRED credentials whether it may
	// connect; nil allows every peer. Root (uid 0) is always allowed.
	// Refused peers get a WELCOME with ErrAccess. See AllowUIDGID.
	Allow func(service.Cred) bool
	// NodeID is the local node id reported in WELCOME.
	NodeID uint32
	// MaxFrame is the largest frame in either direction, header included;
	// 0 means DefaultMaxFrame. Between MinMaxFrame and MaxMaxFrame.
	MaxFrame int
	// MaxBacklog bounds a connection's queued output in bytes; a
	// connection whose Reply or Event would exceed it is cut off. 0 means
	// DefaultMaxBacklog. At least MaxFrame.
	MaxBacklog int
	// Logger receives connection-level logs (never per-frame ones); nil
	// discards them.
	Logger *slog.Logger
}

// validate applies the defaults and checks the values.
func (o *ServerOptions) validate() error {
	if o.Path == "" {
		o.Path = SocketPath()
	}
	if len(o.Path) > maxSocketPath {
		return fmt.Errorf("ipc: socket path %q is %d bytes long, more than a Unix socket address holds (%d)", o.Path, len(o.Path), maxSocketPath)
	}
	if o.Mode == 0 {
		o.Mode = DefaultMode
	}
	if o.Mode&^os.ModePerm != 0 {
		return fmt.Errorf("ipc: socket mode %v has bits other than permissions", o.Mode)
	}
	if o.MaxFrame == 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.MaxFrame < MinMaxFrame || o.MaxFrame > MaxMaxFrame {
		return fmt.Errorf("ipc: MaxFrame %d out of range [%d, %d]", o.MaxFrame, MinMaxFrame, MaxMaxFrame)
	}
	if o.MaxBacklog == 0 {
		o.MaxBacklog = DefaultMaxBacklog
	}
	if o.MaxBacklog < o.MaxFrame {
		return fmt.Errorf("ipc: MaxBacklog %d is less than MaxFrame %d", o.MaxBacklog, o.MaxFrame)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Handler is the daemon side of the server. Its methods are called from
// the connections' goroutines: concurrently for different connections,
// and for one connection in order: Open, then Requests calls one at a
// time, then Closed. They must return; Serve waits for them when it
// stops.
type Handler interface {
	// Open is called after a valid HELLO from an admitted peer; a non-OK
	// status (ErrNotExist for an unknown service, say) is sent in WELCOME
	// and the connection closed, without a Closed call.
	Open(c *Conn, svc uint16) service.Status
	// Requests hands over a batch of REQUEST frames read from c, in order.
	// The server does not read more from c until done is called (the
	// daemon calls it when it has consumed the batch; this is how
	// backpressure reaches a client: its socket fills up). The batch and
	// its payload slices stay valid until done; the server reuses them
	// after. done may be called from any goroutine, also
	// before Requests returns, and must be called once per batch; calling
	// it after Closed is harmless.
	Requests(c *Conn, batch []service.Request, done func())
	// Closed is called once when c is gone, after c's last Requests call
	// has returned (its done may still be outstanding). err tells why:
	// nil when the client closed the connection, the reason given to
	// Close, or an error wrapping ErrProtocol, ErrBacklog or
	// ErrServerClosed, or the socket's error.
	Closed(c *Conn, err error)
}

// ServerStats are a server's counters.
type ServerStats struct {
	// Open is the number of client connections now open (handshake
	// included); Total counts every connection accepted.
	Open  int64
	Total uint64
	// Refused counts peers refused by Allow.
	Refused uint64
	// Rejected counts handshakes refused for a version mismatch or by
	// Handler.Open.
	Rejected uint64
	// ProtocolErrors counts connections closed for a malformed frame or a
	// handshake timeout.
	ProtocolErrors uint64
	// BacklogCutoffs counts connections cut off for exceeding MaxBacklog.
	BacklogCutoffs uint64
	// FramesIn and BytesIn count frames and bytes received (REQUESTs and
	// HELLOs); FramesOut and BytesOut those written.
	FramesIn, FramesOut uint64
	BytesIn, BytesOut   uint64
}

// Server serves local clients on a Unix stream socket.
type Server struct {
	opts ServerOptions
	log  *slog.Logger
	ln   net.Listener
	// sock is the socket file as created, to remove only that file.
	sock fs.FileInfo
	// credOf reads a new connection's credentials (peerCred; tests with
	// in-memory connections replace it).
	credOf func(net.Conn) (service.Cred, error)

	nextID atomic.Uint64

	// mu guards the fields below.
	mu      sync.Mutex
	conns   map[*Conn]struct{}
	serving bool // Serve was called
	stopped bool // no new connections are registered
	closing chan struct{}
	closed  bool // closing is closed

	wg sync.WaitGroup // connection goroutines

	connsOpen                              atomic.Int64
	connsTotal, refused, rejected          atomic.Uint64
	protoErrs, cutoffs                     atomic.Uint64
	framesIn, framesOut, bytesIn, bytesOut atomic.Uint64
}

// Listen creates the socket described by opts. When a socket file already
// exists at the path, Listen connects to it: if a daemon answers, Listen
// fails with an error wrapping ErrInUse; if the connection is refused the
// file is stale and is removed. A path that exists and is not a socket is
// never removed. The parent directory is created (0755) if missing, and
// the socket chmod-ed to opts.Mode.
func Listen(opts ServerOptions) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	path := opts.Path
	switch fi, err := os.Lstat(path); {
	case err == nil:
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("ipc: %s exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, probeTimeout)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("ipc: %w on %s", ErrInUse, path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("ipc: probing existing socket %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ipc: removing stale socket: %w", err)
		}
		opts.Logger.Info("removed stale socket", "path", path)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("ipc: creating socket directory: %w", err)
		}
	default:
		return nil, fmt.Errorf("ipc: checking socket path: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ipc: listening: %w", err)
	}
	// Serve removes the file itself, and only if it is still ours.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*Server, error) {
		ln.Close()
		os.Remove(path)
		return nil, err
	}
	if err := os.Chmod(path, opts.Mode); err != nil {
		return fail(fmt.Errorf("ipc: setting socket mode: %w", err))
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(fmt.Errorf("ipc: socket: %w", err))
	}
	s := newServer(opts, ln)
	s.sock = fi
	return s, nil
}

// newServer builds a Server on ln with validated options.
func newServer(opts ServerOptions, ln net.Listener) *Server {
	return &Server{
		opts:    opts,
		log:     opts.Logger,
		ln:      ln,
		credOf:  peerCred,
		conns:   make(map[*Conn]struct{}),
		closing: make(chan struct{}),
	}
}

// Addr returns the socket path.
func (s *Server) Addr() string { return s.opts.Path }

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{
		Open:           s.connsOpen.Load(),
		Total:          s.connsTotal.Load(),
		Refused:        s.refused.Load(),
		Rejected:       s.rejected.Load(),
		ProtocolErrors: s.protoErrs.Load(),
		BacklogCutoffs: s.cutoffs.Load(),
		FramesIn:       s.framesIn.Load(),
		FramesOut:      s.framesOut.Load(),
		BytesIn:        s.bytesIn.Load(),
		BytesOut:       s.bytesOut.Load(),
	}
}

// Close stops the server: like ending Serve's context. Without a running
// Serve it closes the listener and removes the socket file. It is safe to
// call more than once and concurrently with Serve.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	serving := s.serving
	s.serving = true // a later Serve returns at once
	s.mu.Unlock()
	if !serving {
		s.ln.Close()
		s.removeSocket()
	}
	return nil
}

// Serve accepts connections and serves them with h until ctx ends or Close
// is called. Then it closes the listener and every connection (Closed is
// reported with ErrServerClosed), waits for the connections' goroutines,
// handler calls included, removes the socket file and returns nil. It
// returns an error if the listener fails otherwise. Serve may be called
// once.
func (s *Server) Serve(ctx context.Context, h Handler) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("ipc: Serve called twice or after Close")
	}
	s.serving = true
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	go func() {
		<-s.closing
		s.ln.Close()
	}()

	var err error
	var delay time.Duration
	for {
		nc, aerr := s.ln.Accept()
		if aerr != nil {
			select {
			case <-s.closing:
			default:
				if isTemporary(aerr) {
					// Out of file descriptors and the like: back off as
					// net/http does, logging when the trouble starts.
					if delay == 0 {
						s.log.Warn("accepting client connections", "err", aerr)
						delay = 5 * time.Millisecond
					} else {
						delay = min(2*delay, time.Second)
					}
					select {
					case <-time.After(delay):
					case <-s.closing:
					}
					continue
				}
				err = fmt.Errorf("ipc: accepting on %s: %w", s.opts.Path, aerr)
				s.Close()
			}
			break
		}
		delay = 0
		s.accept(nc, h)
	}

	s.mu.Lock()
	s.stopped = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown(ErrServerClosed)
	}
	s.wg.Wait()
	s.removeSocket()
	return err
}

// isTemporary reports accept errors worth retrying: running out of file
// descriptors or memory, or a connection aborted before it was accepted.
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// removeSocket removes the socket file if it is still the one Listen
// created.
func (s *Server) removeSocket() {
	if s.sock == nil {
		return
	}
	fi, err := os.Lstat(s.opts.Path)
	if err != nil || !os.SameFile(fi, s.sock) {
		return
	}
	if err := os.Remove(s.opts.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("removing socket", "path", s.opts.Path, "err", err)
	}
}

// accept registers a new connection and starts its goroutines.
func (s *Server) accept(nc net.Conn, h Handler) {
	cred, cerr := s.credOf(nc)
	c := newConn(s, nc, cred, cerr)
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	s.connsOpen.Add(1)
	s.connsTotal.Add(1)
	go c.writeLoop()
	go c.run(h)
}

// forget unregisters a finished connection.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.connsOpen.Add(-1)
}

// allowed decides whether a peer may connect.
func (s *Server) allowed(c *Conn) bool {
	if c.credErr != nil {
		return s.opts.Allow == nil
	}
	return c.cred.UID == 0 || s.opts.Allow == nil || s.opts.Allow(c.cred)
}

// AllowUIDGID returns an access decision with corosync's uidgid
// semantics: a peer is allowed if its uid is in uids or its gid is in
// gids. As in corosync, uid 0 and gid 0 are always allowed. The slices are
// copied.
func AllowUIDGID(uids, gids []uint32) func(service.Cred) bool {
	u := make(map[uint32]bool, len(uids))
	for _, id := range uids {
		u[id] = true
	}
	g := make(map[uint32]bool, len(gids))
	for _, id := range gids {
		g[id] = true
	}
	return func(c service.Cred) bool {
		return c.UID == 0 || c.GID == 0 || u[c.UID] || g[c.GID]
	}
}
