package clienttest

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/corogo/corogo/internal/ipc/ipctest"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cfg"
	"github.com/corogo/corogo/internal/service/cmap"
	"github.com/corogo/corogo/internal/service/quorum"
	"github.com/corogo/corogo/totem"
)

// Options configure a Server.
type Options struct {
	// NodeID is the local node's id; 0 means 1.
	NodeID uint32
	// Links are the link states cfg reports (Server.SetLinks changes
	// them).
	Links []cfg.LinkStatus
	// Keys are the keys cmap serves (Server.SetKeys changes them).
	Keys []cmap.KV
	// Reload is cfg's reload; nil succeeds. It runs on the engines'
	// goroutine.
	Reload func() error
	// MaxReply bounds a cmap ITER page (bytes); 0 means the engine's
	// default. Small values make clients page.
	MaxReply int
	// Logger receives the engines' and the server's logs; nil discards
	// them.
	Logger *slog.Logger
}

// Server is the stand-in daemon. Its methods are safe for concurrent use.
type Server struct {
	srv    *ipctest.Server // the socket and the engines' goroutine
	nodeID uint32

	// Engine state: the engines' goroutine only.
	api     *api
	cfg     *cfg.Engine
	cmap    *cmap.Engine
	quorum  *quorum.Engine
	engines map[service.ID]service.LibEngine

	// mu guards the fields below, which tests read and set.
	mu        sync.Mutex
	links     []cfg.LinkStatus
	keys      []cmap.KV
	reload    func() error
	reloads   int
	shutdowns []string
	kills     []cfg.KillNode
	full      int // sends refused with totem.ErrTryAgain
}

// New starts a Server on a socket in a new temporary directory. Close
// stops it and removes the directory.
func New(opts Options) (*Server, error) {
	if opts.NodeID == 0 {
		opts.NodeID = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	base, err := ipctest.New("cgtest")
	if err != nil {
		return nil, fmt.Errorf("clienttest: %w", err)
	}
	s := &Server{
		srv:    base,
		nodeID: opts.NodeID,
		links:  slices.Clone(opts.Links),
		keys:   slices.Clone(opts.Keys),
		reload: opts.Reload,
	}
	s.api = &api{s: s, Membership: ipctest.Membership{Node: opts.NodeID, Log: opts.Logger}}
	s.cfg = cfg.New(s.api, cfg.Options{
		OnShutdown: s.onShutdown,
		OnReload:   s.onReload,
		Status: func() []cfg.LinkStatus {
			s.mu.Lock()
			defer s.mu.Unlock()
			return slices.Clone(s.links)
		},
	})
	s.cmap = cmap.New(s.api, cmap.Options{
		Snapshot: func() []cmap.KV {
			s.mu.Lock()
			defer s.mu.Unlock()
			return slices.Clone(s.keys)
		},
		ConfigVersion: func() uint64 { return 0 },
		MaxReply:      opts.MaxReply,
	})
	s.quorum = quorum.New(s.api, quorum.Options{})
	s.engines = map[service.ID]service.LibEngine{
		service.CMAP:   s.cmap,
		service.CFG:    s.cfg,
		service.Quorum: s.quorum,
	}
	err = s.srv.Serve(ipctest.Options{
		NodeID:       opts.NodeID,
		Engines:      s.engines,
		AfterRequest: s.deliver,
		Logger:       opts.Logger,
	})
	if err != nil {
		s.srv.Close()
		return nil, fmt.Errorf("clienttest: %w", err)
	}
	return s, nil
}

// TB is the part of testing.TB Start needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// Start is New for tests: it fails the test on error and closes the
// Server when the test ends.
func Start(t TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("clienttest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("clienttest: close: %v", err)
		}
	})
	return s
}

// Path is the server's socket path.
func (s *Server) Path() string { return s.srv.Path() }

// NodeID is the local node's id.
func (s *Server) NodeID() uint32 { return s.nodeID }

// Close stops the server: it closes every connection, waits for the
// server's and the engines' goroutines and removes the socket directory.
func (s *Server) Close() error { return s.srv.Close() }

// SetLinks replaces the link states cfg reports.
func (s *Server) SetLinks(ls []cfg.LinkStatus) {
	s.mu.Lock()
	s.links = slices.Clone(ls)
	s.mu.Unlock()
}

// SetKeys replaces the keys cmap serves.
func (s *Server) SetKeys(kvs []cmap.KV) {
	s.mu.Lock()
	s.keys = slices.Clone(kvs)
	s.mu.Unlock()
}

// SetReload replaces cfg's reload function (nil succeeds).
func (s *Server) SetReload(f func() error) {
	s.mu.Lock()
	s.reload = f
	s.mu.Unlock()
}

// Reloads counts the reloads run.
func (s *Server) Reloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloads
}

// Shutdowns returns the reasons of the shutdowns cfg asked for (a SHUTDOWN
// from a client, or a KILLNODE naming this node).
func (s *Server) Shutdowns() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.shutdowns)
}

// Kills returns the KILLNODE messages sent to the ring, in order.
func (s *Server) Kills() []cfg.KillNode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kills)
}

// RefuseSends makes the next n cluster messages the engines send fail
// with totem.ErrTryAgain, as when the ring's send queue is full: requests
// that send (kill node, shutdown, reload) are answered "try again".
func (s *Server) RefuseSends(n int) {
	s.mu.Lock()
	s.full = n
	s.mu.Unlock()
}

// SetMembership installs a new ring as a membership change and sync
// would: the quorum service sends the node list and publishes the view
// to tracking clients. members should include this node.
func (s *Server) SetMembership(ring service.RingID, members []service.NodeID) {
	members = slices.Clone(members)
	slices.Sort(members)
	s.srv.Do(func() { s.api.Change(ring, members, s.quorum) })
}

// SetQuorate installs a quorum provider (the quorum type becomes
// votequorum) and makes it decide q; tracking clients are notified of a
// change.
func (s *Server) SetQuorate(q bool) {
	s.srv.Do(func() {
		p, ok := s.quorum.Provider().(*provider)
		if !ok {
			p = &provider{}
			s.quorum.SetProvider(p)
		}
		p.quorate = q
		s.quorum.Update(q)
	})
}

// RemoveProvider removes the quorum provider: the node is quorate and the
// type is none again.
func (s *Server) RemoveProvider() {
	s.srv.Do(func() { s.quorum.SetProvider(nil) })
}

func (s *Server) onShutdown(reason string) {
	s.mu.Lock()
	s.shutdowns = append(s.shutdowns, reason)
	s.mu.Unlock()
}

func (s *Server) onReload() error {
	s.mu.Lock()
	s.reloads++
	f := s.reload
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

// provider is a votequorum stand-in.
type provider struct{ quorate bool }

func (p *provider) Quorate() bool { return p.quorate }
func (p *provider) Name() string  { return "corosync_votequorum" }

// api is the engines' service.API: a ring of this node alone. Its fields
// belong to the engines' goroutine.
type api struct {
	ipctest.Membership
	s     *Server
	queue [][]byte
}

func (a *api) Send(msg []byte, g totem.Guarantee) error {
	h, err := service.ParseHeader(msg, false)
	if err != nil {
		return fmt.Errorf("clienttest: send: %w", err)
	}
	a.s.mu.Lock()
	full := a.s.full > 0
	if full {
		a.s.full--
	}
	a.s.mu.Unlock()
	if full {
		return totem.ErrTryAgain
	}
	if h.Service == service.CFG && h.Fn == cfg.ExecKillNode {
		if k, err := cfg.DecodeKillNode(msg, false); err == nil {
			a.s.mu.Lock()
			a.s.kills = append(a.s.kills, k)
			a.s.mu.Unlock()
		}
	}
	a.queue = append(a.queue, slices.Clone(msg))
	return nil
}

func (a *api) SendVec(g totem.Guarantee, parts ...[]byte) error {
	return a.Send(slices.Concat(parts...), g)
}

// deliver hands the messages sent so far to their engines' Exec, in
// order, as the ring would deliver them.
func (s *Server) deliver() {
	for len(s.api.queue) > 0 {
		msg := s.api.queue[0]
		s.api.queue = s.api.queue[1:]
		h, err := service.ParseHeader(msg, false)
		if err != nil {
			continue
		}
		if e, ok := s.engines[h.Service]; ok {
			e.Exec(service.Exec{From: s.nodeID, Fn: h.Fn, Data: msg, Guarantee: totem.Safe})
		}
	}
}
