// Package ipctest is the skeleton of the stand-in daemons tests run (the
// servers of internal/client/clienttest and votequorum/votequorumtest):
// lib engines served over an ipc.Server on a socket in a temporary
// directory, every engine call on one goroutine, the engines' goroutine.
package ipctest

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
)

// Server serves lib engines to clients. Its methods are safe for
// concurrent use.
type Server struct {
	dir  string
	path string

	work chan func()
	stop chan struct{}
	done chan struct{}

	cancel context.CancelFunc // nil until Serve succeeds
	served chan error

	// The engines' goroutine only, once Serve has started.
	engines      map[service.ID]service.LibEngine
	afterRequest func()

	closeOnce sync.Once
	closeErr  error
}

// New creates the socket directory, a new temporary directory whose name
// begins with pattern, and starts the engines' goroutine: Do and Post
// work from then on, and Serve starts serving clients. Close stops it
// and removes the directory.
func New(pattern string) (*Server, error) {
	// A short directory: a socket path holds at most 107 bytes.
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	s := &Server{
		dir:    dir,
		path:   filepath.Join(dir, "corosyncd.sock"),
		work:   make(chan func()),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		served: make(chan error, 1),
	}
	go s.loop()
	return s, nil
}

// Options configure Serve.
type Options struct {
	// NodeID is the local node's id, which connections report.
	NodeID uint32
	// Engines are the services clients can open, by id.
	Engines map[service.ID]service.LibEngine
	// AfterRequest, if not nil, runs on the engines' goroutine after
	// each request an engine handled.
	AfterRequest func()
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// Serve listens on the socket and serves clients in the background: the
// opens, requests and disconnections of connections go to opts.Engines
// on the engines' goroutine. It is called at most once.
func (s *Server) Serve(opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := ipc.Listen(ipc.ServerOptions{Path: s.path, NodeID: opts.NodeID, Logger: opts.Logger})
	if err != nil {
		return err
	}
	s.engines, s.afterRequest = opts.Engines, opts.AfterRequest
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.served <- srv.Serve(ctx, handler{s}) }()
	return nil
}

// Path is the server's socket path.
func (s *Server) Path() string { return s.path }

// Close stops the server: it closes every connection, waits for the
// server's and the engines' goroutines and removes the socket directory.
// It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var err error
		if s.cancel != nil {
			s.cancel()
			err = <-s.served
		}
		close(s.stop)
		<-s.done
		s.closeErr = errors.Join(err, os.RemoveAll(s.dir))
	})
	return s.closeErr
}

// loop is the engines' goroutine.
func (s *Server) loop() {
	defer close(s.done)
	for {
		select {
		case f := <-s.work:
			f()
		case <-s.stop:
			return
		}
	}
}

// Post runs f on the engines' goroutine, without waiting; false if the
// server has stopped.
func (s *Server) Post(f func()) bool {
	select {
	case s.work <- f:
		return true
	case <-s.stop:
		return false
	}
}

// Do runs f on the engines' goroutine and waits for it; it does nothing
// once the server has stopped.
func (s *Server) Do(f func()) {
	ch := make(chan struct{})
	if s.Post(func() { f(); close(ch) }) {
		<-ch
	}
}

// handler is the ipc.Handler: it hands everything to the engines'
// goroutine.
type handler struct{ s *Server }

func (h handler) Open(c *ipc.Conn, svc uint16) service.Status {
	st := service.ErrNotExist
	h.s.Do(func() {
		if e, ok := h.s.engines[service.ID(svc)]; ok {
			st = e.Connect(c)
		}
	})
	return st
}

func (h handler) Requests(c *ipc.Conn, batch []service.Request, done func()) {
	if !h.s.Post(func() {
		e := h.s.engines[service.ID(c.Service())]
		for _, r := range batch {
			e.Request(c, r)
			if h.s.afterRequest != nil {
				h.s.afterRequest()
			}
		}
		done()
	}) {
		done()
	}
}

func (h handler) Closed(c *ipc.Conn, err error) {
	h.s.Post(func() {
		if e, ok := h.s.engines[service.ID(c.Service())]; ok {
			e.Disconnect(c)
		}
	})
}

// Membership is a service.API but for Send and SendVec, to embed in a
// stand-in daemon's API: the local node and a ring the test installs
// with Change. Its methods belong to the engines' goroutine.
type Membership struct {
	// Node is the local node's id.
	Node uint32
	// Log is what Logger returns.
	Log *slog.Logger

	ring    service.RingID
	members []service.NodeID
	syncing bool
}

// NodeID is the local node's id.
func (r *Membership) NodeID() service.NodeID { return r.Node }

// MaxMessage is the largest cluster message: 1 MiB.
func (r *Membership) MaxMessage() int { return 1 << 20 }

// Ring returns the current ring and its members.
func (r *Membership) Ring() (service.RingID, []service.NodeID) {
	return r.ring, slices.Clone(r.members)
}

// Syncing reports whether a sync is in progress.
func (r *Membership) Syncing() bool { return r.syncing }

// Logger returns Log.
func (r *Membership) Logger() *slog.Logger { return r.Log }

// Change installs ring with members (sorted) as a membership change
// would, and runs e's sync for it: SyncInit with the members that were
// in the previous ring as the transitional ones, SyncProcess until it is
// done, SyncActivate; Syncing reports true meanwhile.
func (r *Membership) Change(ring service.RingID, members []service.NodeID, e service.Syncer) {
	var trans []service.NodeID
	for _, id := range members {
		if slices.Contains(r.members, id) {
			trans = append(trans, id)
		}
	}
	r.ring, r.members = ring, members
	r.syncing = true
	e.SyncInit(trans, members, ring)
	for !e.SyncProcess() {
	}
	e.SyncActivate()
	r.syncing = false
}
