package votequorumtest

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/corogo/corogo/internal/ipc/ipctest"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cmap"
	squorum "github.com/corogo/corogo/internal/service/quorum"
	svq "github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/votequorum"
)

// Node is a node of the simulated cluster's nodelist.
type Node struct {
	// ID is the node id.
	ID uint32
	// Votes are the node's votes; 0 means 1 (SetVotes can set 0).
	Votes uint32
	// Name is nodelist.node.N.name; "" leaves the key out.
	Name string
	// Addrs are nodelist.node.N.ring0_addr, ring1_addr, ...
	Addrs []string
}

// Options configure a Server. The zero value of each field selects its
// default.
type Options struct {
	// NodeID is this node's id: default the first node's, or 1.
	NodeID uint32
	// Nodes is the nodelist; default this node alone, with one vote.
	// This node is added when missing.
	Nodes []Node
	// Members are the first ring's members; default every node.
	Members []uint32
	// Ring is the first ring's id; default the lowest member as
	// representative and sequence 4.
	Ring votequorum.RingID
	// ExpectedVotes are the expected votes; default the sum of the
	// nodes' votes.
	ExpectedVotes uint32
	// Flags are the options in force: any of TwoNode, WaitForAll,
	// LastManStanding, AutoTieBreaker and AllowDownscale.
	Flags votequorum.InfoFlags
	// QdeviceVotes are the votes of a quorum device; 0 means 1.
	QdeviceVotes uint32
	// DenyQdevice makes quorum device registrations fail with ErrAccess,
	// as when no quorum.device is configured.
	DenyQdevice bool
	// NoProvider runs without votequorum (no quorum.provider).
	NoProvider bool
	// Keys are more cmap keys, beside the generated ones.
	Keys []cmap.KV
	// Logger receives the engines' and the server's logs; nil discards
	// them.
	Logger *slog.Logger
}

// Server is the stand-in daemon. Its methods are safe for concurrent use.
type Server struct {
	srv    *ipctest.Server // the socket and the engines' goroutine
	nodeID uint32

	// The engines' goroutine only.
	api     *api
	quorum  *squorum.Engine
	vq      *engine // nil without a provider
	engines map[service.ID]service.LibEngine

	// mu guards the fields below.
	mu    sync.Mutex
	keys  []cmap.KV
	calls []string
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
		t.Fatalf("votequorumtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("votequorumtest: close: %v", err)
		}
	})
	return s
}

// New starts a Server on a socket in a new temporary directory, with the
// first ring installed. Close stops it and removes the directory.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NodeID == 0 {
		opts.NodeID = 1
		if len(opts.Nodes) > 0 && opts.Nodes[0].ID != 0 {
			opts.NodeID = opts.Nodes[0].ID
		}
	}
	nodes := slices.Clone(opts.Nodes)
	if !slices.ContainsFunc(nodes, func(n Node) bool { return n.ID == opts.NodeID }) {
		nodes = append(nodes, Node{ID: opts.NodeID})
	}
	for i := range nodes {
		if nodes[i].ID == 0 {
			return nil, errors.New("votequorumtest: a node with id 0")
		}
		if nodes[i].Votes == 0 {
			nodes[i].Votes = 1
		}
	}
	members := slices.Clone(opts.Members)
	if members == nil {
		for _, n := range nodes {
			members = append(members, n.ID)
		}
	}
	slices.Sort(members)
	members = slices.Compact(members)
	ring := opts.Ring
	if ring == (votequorum.RingID{}) && len(members) > 0 {
		ring = votequorum.RingID{NodeID: members[0], Seq: 4}
	}

	base, err := ipctest.New("vqtest")
	if err != nil {
		return nil, fmt.Errorf("votequorumtest: %w", err)
	}
	s := &Server{
		srv:    base,
		nodeID: opts.NodeID,
		keys:   cmapKeys(opts, nodes),
	}
	s.api = &api{Membership: ipctest.Membership{Node: opts.NodeID, Log: opts.Logger}}
	cm := cmap.New(s.api, cmap.Options{
		Snapshot: func() []cmap.KV {
			s.mu.Lock()
			defer s.mu.Unlock()
			return slices.Clone(s.keys)
		},
		ConfigVersion: func() uint64 { return 0 },
	})
	s.quorum = squorum.New(s.api, squorum.Options{})
	s.engines = map[service.ID]service.LibEngine{
		service.CMAP:   cm,
		service.Quorum: s.quorum,
	}
	if !opts.NoProvider {
		s.vq = newEngine(s, opts, nodes)
		s.quorum.SetProvider(s.vq)
		s.engines[service.Votequorum] = s.vq
	}
	s.SetMembership(ring, members)

	err = s.srv.Serve(ipctest.Options{NodeID: opts.NodeID, Engines: s.engines, Logger: opts.Logger})
	if err != nil {
		s.srv.Close()
		return nil, fmt.Errorf("votequorumtest: %w", err)
	}
	return s, nil
}

// cmapKeys generates the cmap store: the nodelist, the provider and the
// keys of opts.
func cmapKeys(opts Options, nodes []Node) []cmap.KV {
	var kvs []cmap.KV
	str := func(k, v string) { kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeString, Value: v}) }
	u32 := func(k string, v uint32) { kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeUint32, Value: v}) }
	for i, n := range nodes {
		p := "nodelist.node." + strconv.Itoa(i) + "."
		u32(p+"nodeid", n.ID)
		if n.Name != "" {
			str(p+"name", n.Name)
		}
		for x, a := range n.Addrs {
			str(p+"ring"+strconv.Itoa(x)+"_addr", a)
		}
	}
	if !opts.NoProvider {
		str("quorum.provider", "corosync_votequorum")
		u32("runtime.votequorum.this_node_id", opts.NodeID)
	}
	kvs = append(kvs, opts.Keys...)
	slices.SortStableFunc(kvs, func(a, b cmap.KV) int { return strings.Compare(a.Key, b.Key) })
	return kvs
}

// Path is the server's socket path.
func (s *Server) Path() string { return s.srv.Path() }

// NodeID is this node's id.
func (s *Server) NodeID() uint32 { return s.nodeID }

// Close stops the server: it closes every connection, waits for the
// server's and the engines' goroutines and removes the socket directory.
// It is safe to call more than once.
func (s *Server) Close() error { return s.srv.Close() }

// SetMembership installs a new ring as a membership change and sync
// would: votequorum counts the new members' votes (unknown nodes join
// with one vote), the quorum service publishes its view, and tracking
// votequorum clients get a node list and a quorum notification.
func (s *Server) SetMembership(ring votequorum.RingID, members []uint32) {
	members = slices.Clone(members)
	slices.Sort(members)
	members = slices.Compact(members)
	r := service.RingID{Rep: ring.NodeID, Seq: ring.Seq}
	s.srv.Do(func() {
		if s.vq != nil {
			s.vq.setMembers(r, members)
		}
		s.api.Change(r, members, s.quorum)
		if s.vq != nil {
			s.vq.notifyNodeList(nil)
			s.vq.notifyQuorum(nil)
		}
	})
}

// vqDo runs f on the fake votequorum engine, then recounts and notifies
// as a change does. It does nothing without a provider.
func (s *Server) vqDo(f func(e *engine)) {
	s.srv.Do(func() {
		if s.vq != nil {
			f(s.vq)
			s.vq.update()
		}
	})
}

// SetVotes sets a node's votes, as a change made elsewhere in the
// cluster would; an unknown node is added (not as a member).
func (s *Server) SetVotes(nodeID, votes uint32) {
	s.vqDo(func(e *engine) { e.nodeFor(nodeID).votes = votes })
}

// SetExpected sets the expected votes; tracking clients get an expected
// votes notification.
func (s *Server) SetExpected(expected uint32) {
	s.vqDo(func(e *engine) {
		e.expected = expected
		e.notifyExpected()
	})
}

// SetFlags replaces the options in force (TwoNode, WaitForAll,
// LastManStanding, AutoTieBreaker, AllowDownscale); other bits are
// ignored.
func (s *Server) SetFlags(f votequorum.InfoFlags) {
	s.vqDo(func(e *engine) { e.flags = f & optionFlags })
}

// RegisterQdevice registers a quorum device named name, as a device on
// another node would; "" unregisters it.
func (s *Server) RegisterQdevice(name string) {
	s.vqDo(func(e *engine) { e.setQdevice(name) })
}

// SetQdeviceState sets a node's quorum device flags: any of
// QdeviceAlive, QdeviceCastVote and QdeviceMasterWins (other bits are
// ignored). This node's device counts its votes when alive and casting.
func (s *Server) SetQdeviceState(nodeID uint32, f votequorum.InfoFlags) {
	s.vqDo(func(e *engine) { e.nodeFor(nodeID).qflags = f & qdeviceFlags })
}

// Refuse makes the votequorum service answer every request of type fn
// (internal/service/votequorum's Fn constants) with st and no effect;
// service.OK serves them again.
func (s *Server) Refuse(fn uint16, st service.Status) {
	s.srv.Do(func() {
		if s.vq == nil {
			return
		}
		if st == service.OK {
			delete(s.vq.refuse, fn)
		} else {
			s.vq.refuse[fn] = st
		}
	})
}

// Info returns what GetInfo answers for a node (0: this node); false for
// an unknown node or without a provider.
func (s *Server) Info(nodeID uint32) (votequorum.Info, bool) {
	var in votequorum.Info
	var ok bool
	s.srv.Do(func() {
		if s.vq == nil {
			return
		}
		var vi svq.Info
		if vi, ok = s.vq.info(nodeID); ok {
			in = public(vi)
		}
	})
	return in, ok
}

// Quorate reports the quorum service's published state.
func (s *Server) Quorate() bool {
	var q bool
	s.srv.Do(func() { q = s.quorum.Quorate() })
	return q
}

// Calls returns the votequorum requests received, except get info, in
// order, one line each: "setexpected 3", "setvotes 2 0",
// "trackstart 2 0x5", "trackstop", "qdevice register NAME",
// "qdevice unregister NAME", "qdevice update OLD NEW",
// "qdevice poll NAME true 1.4", "qdevice masterwins NAME false",
// "cancel waitforall"; a request that could not be decoded is
// "fn N malformed".
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *Server) logCall(line string) {
	s.mu.Lock()
	s.calls = append(s.calls, line)
	s.mu.Unlock()
}

// api is the engines' service.API: cluster messages are dropped (the
// engines used here send none that matter).
type api struct{ ipctest.Membership }

func (a *api) Send([]byte, totem.Guarantee) error       { return nil }
func (a *api) SendVec(totem.Guarantee, ...[]byte) error { return nil }
