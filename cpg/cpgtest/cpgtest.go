// Package cpgtest runs a fake corosyncd for tests of CPG applications: a
// real IPC server and the daemon's real CPG (and cmap) service engines,
// driven over a fake one-node ring that delivers every message this node
// sends back to it, in order, as Totem would.
//
// Everything the engines do happens on one goroutine, as in the daemon:
// the connections' requests are handed to it, and after each batch it
// delivers what was sent, lets the engines send what they hold and
// releases the connections whose messages are no longer held, which is
// how a full send queue pushes back on a client. The ring can be paused
// (messages queue up to Options.QueueLimit, then the engines hold them
// and turn flow control on) and reconfigured (a new ring id, with the
// sync protocol run as after a membership change).
//
// The fake has no Totem, no network and one node only.
package cpgtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cmap"
	"github.com/corogo/corogo/internal/service/cpg"
	"github.com/corogo/corogo/internal/service/host"
	"github.com/corogo/corogo/totem"
)

// Defaults of Options.
const (
	// DefaultNodeID is the fake node's id.
	DefaultNodeID = 1
	// DefaultQueueLimit is how many messages the fake ring accepts while
	// they wait for delivery: the fake's send queue.
	DefaultQueueLimit = 1024
	// DefaultMaxItem is the largest message the fake ring carries, as
	// Totem's default MaxMessageSize.
	DefaultMaxItem = 1 << 20
)

// Options configure a Server. The zero value of each field selects its
// default.
type Options struct {
	// NodeID is the node's id (DefaultNodeID).
	NodeID uint32
	// Socket is the socket path; "" makes one in a new temporary
	// directory, removed by Close.
	Socket string
	// QueueLimit is how many sent messages the ring holds undelivered
	// before sends fail with "try again" (DefaultQueueLimit). Messages are
	// delivered after every batch of requests unless the ring is paused.
	QueueLimit int
	// MaxItem is the largest message the ring carries (DefaultMaxItem);
	// larger CPG messages are fragmented by the engine.
	MaxItem int
	// MaxMessage is the CPG engine's largest message, what MaxAtomic
	// reports (0: the engine's default, 1 MiB).
	MaxMessage int
	// MemberAddrs fills the cmap keys runtime.members.<id>.ip as the
	// daemon does ("r(0) ip(ADDR) ").
	MemberAddrs map[uint32]string
	// Logger receives the engines' logs; nil discards them.
	Logger *slog.Logger
}

// item is one message in the fake ring's queue.
type item struct {
	g    totem.Guarantee
	data []byte
}

// Server is a running fake daemon.
type Server struct {
	opts   Options
	tmpDir string
	srv    *ipc.Server
	cancel context.CancelFunc
	served chan error // Serve's result

	// mu guards fns and stopped.
	mu      sync.Mutex
	fns     []func()
	stopped bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{} // the loop goroutine ended
	once    sync.Once

	// Loop goroutine only.
	host   *host.Host
	cpg    *cpg.Engine
	queue  []item
	paused bool
	ring   service.RingID
	conns  map[*ipc.Conn]service.ID
	held   map[*ipc.Conn]func()
}

// New starts a server for a test and closes it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("cpgtest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Start starts a server: the engines, their first ring (synchronised
// before Start returns) and the IPC server on the socket.
func Start(opts Options) (*Server, error) {
	if opts.NodeID == 0 {
		opts.NodeID = DefaultNodeID
	}
	if opts.QueueLimit <= 0 {
		opts.QueueLimit = DefaultQueueLimit
	}
	if opts.MaxItem <= 0 {
		opts.MaxItem = DefaultMaxItem
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:   opts,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		served: make(chan error, 1),
		conns:  map[*ipc.Conn]service.ID{},
		held:   map[*ipc.Conn]func(){},
	}
	if opts.Socket == "" {
		dir, err := os.MkdirTemp("", "cpgtest")
		if err != nil {
			return nil, fmt.Errorf("cpgtest: %w", err)
		}
		s.tmpDir = dir
		s.opts.Socket = filepath.Join(dir, "corosyncd.sock")
	}
	s.host = host.New(host.Options{NodeID: opts.NodeID, Send: s.send, MaxItem: opts.MaxItem, Logger: opts.Logger})
	s.cpg = cpg.New(s.host.API("CPG"), cpg.Options{MaxMessage: opts.MaxMessage})
	cm := cmap.New(s.host.API("CMAP"), cmap.Options{Snapshot: s.cmapKeys})
	for _, e := range []service.Engine{cm, s.cpg} {
		if err := s.host.Register(e); err != nil {
			s.cleanup()
			return nil, fmt.Errorf("cpgtest: %w", err)
		}
	}
	s.host.Start()
	go s.loop()
	s.call(func() { s.newRing() })

	srv, err := ipc.Listen(ipc.ServerOptions{Path: s.opts.Socket, NodeID: opts.NodeID, Logger: opts.Logger})
	if err != nil {
		s.stopLoop()
		s.cleanup()
		return nil, fmt.Errorf("cpgtest: %w", err)
	}
	s.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.served <- srv.Serve(ctx, handler{s}) }()
	return s, nil
}

// Socket is the socket path, for cpg.WithSocket.
func (s *Server) Socket() string { return s.opts.Socket }

// NodeID is the node's id.
func (s *Server) NodeID() uint32 { return s.opts.NodeID }

// Pause stops deliveries: messages sent from now on wait in the ring's
// queue, and once QueueLimit of them wait, the engines hold further
// messages and turn flow control on for their senders.
func (s *Server) Pause() { s.call(func() { s.paused = true }) }

// Unpause delivers the queued messages and resumes normal operation.
func (s *Server) Unpause() { s.call(func() { s.paused = false }) }

// Queued returns the number of messages waiting in the ring's queue.
func (s *Server) Queued() int {
	var n int
	s.call(func() { n = len(s.queue) })
	return n
}

// Reconfigure installs a new ring of this node alone, with a higher ring
// sequence number, as after a membership change: the sync protocol runs,
// and clients that track Totem changes get the new ring.
func (s *Server) Reconfigure() { s.call(func() { s.newRing() }) }

// Member is a process in a group.
type Member struct{ NodeID, PID uint32 }

// Group is a group as the CPG engine knows it.
type Group struct {
	Name    string
	Members []Member // ascending
}

// Groups returns the CPG engine's groups with members, sorted by name.
func (s *Server) Groups() []Group {
	var out []Group
	s.call(func() {
		for _, g := range s.cpg.Groups() {
			ms := make([]Member, len(g.Members))
			for i, m := range g.Members {
				ms[i] = Member(m)
			}
			out = append(out, Group{Name: g.Name, Members: ms})
		}
	})
	return out
}

// Close stops the server as a daemon that exits: every connection is
// closed and the socket removed. It is safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
			err = <-s.served
		}
		s.stopLoop()
		s.cleanup()
	})
	return err
}

func (s *Server) cleanup() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

// cmapKeys is the cmap store: the member addresses.
func (s *Server) cmapKeys() []cmap.KV {
	var kvs []cmap.KV
	for id, addr := range s.opts.MemberAddrs {
		p := "runtime.members." + strconv.FormatUint(uint64(id), 10) + "."
		kvs = append(kvs,
			cmap.KV{Key: p + "ip", Type: cmap.TypeString, Value: "r(0) ip(" + addr + ") "},
			cmap.KV{Key: p + "status", Type: cmap.TypeString, Value: "joined"})
	}
	slices.SortFunc(kvs, func(a, b cmap.KV) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return kvs
}

// send is the host's Send: the fake ring's queue.
func (s *Server) send(g totem.Guarantee, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > s.opts.MaxItem {
		return totem.ErrMessageTooBig
	}
	if len(s.queue) >= s.opts.QueueLimit {
		return totem.ErrTryAgain
	}
	s.queue = append(s.queue, item{g: g, data: slices.Concat(parts...)})
	return nil
}

// newRing gives the engines a new ring of this node alone and runs the
// sync to its end (unless paused).
func (s *Server) newRing() {
	s.ring.Seq += 4
	s.ring.Rep = s.opts.NodeID
	members := []service.NodeID{s.opts.NodeID}
	s.host.Event(&totem.Event{Type: totem.EventConfChange, Conf: &totem.ConfChange{Transitional: true, RingID: s.ring, Members: members}})
	s.host.Event(&totem.Event{Type: totem.EventConfChange, Conf: &totem.ConfChange{RingID: s.ring, Members: members}})
}

// pump delivers the queued messages, lets the engines send, and releases
// the connections no longer held, until nothing is left to deliver or the
// ring is paused.
func (s *Server) pump() {
	for {
		if !s.paused && len(s.queue) > 0 {
			q := s.queue
			s.queue = nil
			for _, it := range q {
				s.host.Event(&totem.Event{Type: totem.EventDeliver, From: s.opts.NodeID, Guarantee: it.g, Data: it.data})
			}
		}
		s.host.Poll()
		for c, done := range s.held {
			if !s.host.Held(c, s.conns[c]) {
				delete(s.held, c)
				done()
			}
		}
		if s.paused || len(s.queue) == 0 {
			return
		}
	}
}

// loop is the service goroutine.
func (s *Server) loop() {
	defer close(s.done)
	for {
		s.mu.Lock()
		fns := s.fns
		s.fns = nil
		s.mu.Unlock()
		if len(fns) == 0 {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		for _, f := range fns {
			f()
		}
		s.pump()
	}
}

// submit queues f for the loop goroutine; it never blocks. It reports
// false once the loop has stopped.
func (s *Server) submit(f func()) bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	s.fns = append(s.fns, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// call runs f on the loop goroutine (followed by a pump) and waits.
func (s *Server) call(f func()) bool {
	ran := make(chan struct{})
	if !s.submit(func() { f(); close(ran) }) {
		return false
	}
	select {
	case <-ran:
		<-s.pumped()
		return true
	case <-s.done:
		return false
	}
}

// pumped returns a channel closed once the loop has pumped after what was
// submitted before.
func (s *Server) pumped() <-chan struct{} {
	ch := make(chan struct{})
	if !s.submit(func() { close(ch) }) {
		close(ch)
	}
	return ch
}

func (s *Server) stopLoop() {
	s.mu.Lock()
	already := s.stopped
	s.stopped = true
	s.mu.Unlock()
	if !already {
		close(s.stop)
	}
	<-s.done
}

// handler is the IPC server's Handler: the daemon's glue, on the loop.
type handler struct{ s *Server }

var errStopped = errors.New("cpgtest: server stopped")

func (h handler) Open(c *ipc.Conn, svc uint16) service.Status {
	st := service.ErrLibrary
	if !h.s.call(func() {
		st = h.s.host.Open(c, service.ID(svc))
		if st == service.OK {
			h.s.conns[c] = service.ID(svc)
		}
	}) {
		return service.ErrTryAgain
	}
	return st
}

func (h handler) Requests(c *ipc.Conn, batch []service.Request, done func()) {
	s := h.s
	if !s.submit(func() {
		svc, ok := s.conns[c]
		if !ok {
			done()
			return
		}
		for _, r := range batch {
			s.host.Request(c, svc, r)
		}
		if s.host.Held(c, svc) {
			s.held[c] = done
			return
		}
		done()
	}) {
		c.Close(errStopped)
		done()
	}
}

func (h handler) Closed(c *ipc.Conn, err error) {
	s := h.s
	s.submit(func() {
		svc, ok := s.conns[c]
		if !ok {
			return
		}
		delete(s.conns, c)
		s.host.Close(c, svc)
		if done, ok := s.held[c]; ok {
			delete(s.held, c)
			done()
		}
	})
}
