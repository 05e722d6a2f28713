package votequorumtest

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// ExpectedVotes are the expected votes (quorum.expected_votes);
	// default the sum of the nodes' votes and QdeviceVotes.
	ExpectedVotes uint32
	// Flags are the options in force: any of TwoNode, WaitForAll,
	// LastManStanding, AutoTieBreaker and AllowDownscale.
	Flags votequorum.InfoFlags
	// QdeviceVotes configure a quorum device (quorum.device) with these
	// votes; its votes then add to the default expected votes, as in
	// corosync. With 0 no device is configured: one can still register,
	// with no votes.
	QdeviceVotes uint32
	// DenyQdevice makes quorum device registrations fail with ErrAccess,
	// as when the configuration forbids a device.
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
	vq      *svq.Engine // nil without a provider
	lib     *lib
	engines map[service.ID]service.LibEngine
	peers   map[uint32]*peer // the other nodes, by id
	now     time.Duration    // the engine's clock (Advance)
	self    *selfConn
	qdev    string // the device RegisterQdevice registered, "" none
	syncing bool   // a votequorum sync waits for the device's poll

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
		peers:  map[uint32]*peer{},
		self:   &selfConn{},
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
	s.engines = map[service.ID]service.LibEngine{service.CMAP: cm}
	if opts.NoProvider {
		s.quorum = squorum.New(s.api, squorum.Options{})
	} else {
		for _, n := range nodes {
			if n.ID != opts.NodeID {
				s.peers[n.ID] = &peer{votes: n.Votes}
			}
		}
		s.vq, err = svq.New(s.api, svq.Options{
			Settings: settings(opts, nodes),
			OnQuorum: func(q bool, ring service.RingID, members []uint32) {
				if s.quorum != nil { // nil while New decides for a node alone
					s.quorum.Set(q, ring, members)
				}
			},
		})
		if err != nil {
			s.srv.Close()
			return nil, fmt.Errorf("votequorumtest: %w", err)
		}
		s.quorum = squorum.New(s.api, squorum.Options{Provider: s.vq.Provider()})
		s.lib = &lib{s: s, vq: s.vq, refuse: map[uint16]service.Status{}}
		s.engines[service.Votequorum] = s.lib
		s.srv.Do(func() { s.vq.Tick(s.now) })
	}
	s.engines[service.Quorum] = s.quorum
	s.SetMembership(ring, members)

	err = s.srv.Serve(ipctest.Options{NodeID: opts.NodeID, Engines: s.engines, AfterRequest: s.settle, Logger: opts.Logger})
	if err != nil {
		s.srv.Close()
		return nil, fmt.Errorf("votequorumtest: %w", err)
	}
	return s, nil
}

// settings are votequorum's settings for opts, as SettingsFrom would
// resolve the corresponding corosync.conf.
func settings(opts Options, nodes []Node) svq.Settings {
	f := opts.Flags
	st := svq.Settings{
		TwoNode:            f&votequorum.TwoNode != 0,
		WaitForAll:         f&votequorum.WaitForAll != 0,
		LastManStanding:    f&votequorum.LastManStanding != 0,
		LMSWindow:          svq.DefaultLMSWindow,
		AllowDownscale:     f&votequorum.AllowDownscale != 0,
		EVTracking:         f&votequorum.AllowDownscale != 0,
		QdeviceTimeout:     svq.DefaultQdeviceTimeout,
		QdeviceSyncTimeout: svq.DefaultQdeviceSyncTimeout,
		QdeviceCanOperate:  !opts.DenyQdevice,
		NodeCount:          len(nodes),
	}
	if f&votequorum.AutoTieBreaker != 0 {
		st.ATB = svq.ATBLowest
	}
	var sum uint32
	for _, n := range nodes {
		sum += n.Votes
		if n.ID == opts.NodeID {
			st.Votes = n.Votes
		}
	}
	if opts.QdeviceVotes != 0 && !opts.DenyQdevice {
		st.Qdevice, st.QdeviceVotes = true, opts.QdeviceVotes
		sum += opts.QdeviceVotes
	}
	st.Expected, st.NodelistExpected = sum, sum
	if opts.ExpectedVotes != 0 {
		st.Expected = opts.ExpectedVotes
	}
	return st
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
// would. The quorum service syncs, then votequorum: this node's engine
// sends its NODEINFO, the other members send theirs (votes as the
// Server's table says, unknown nodes with one vote; quorate when they
// were in the previous ring with this node and it was quorate), and the
// engine activates the ring: the quorum service publishes the decision
// and tracking votequorum clients get a node list and a quorum
// notification. When this node's quorum device is registered and alive,
// votequorum waits for it to poll with the new ring, as corosync does:
// SetMembership then returns before the activation, which comes with
// the poll (or after Advance past the sync timeout). A device that
// RegisterQdevice registered polls by itself.
func (s *Server) SetMembership(ring votequorum.RingID, members []uint32) {
	members = slices.Clone(members)
	slices.Sort(members)
	members = slices.Compact(members)
	r := service.RingID{Rep: ring.NodeID, Seq: ring.Seq}
	s.srv.Do(func() {
		var prev []uint32
		wasQuorate := false
		if s.vq != nil {
			_, prev = s.vq.Ring()
			wasQuorate = s.vq.Quorate()
			if s.syncing {
				s.vq.SyncAbort()
			}
		}
		var trans []uint32
		for _, id := range members {
			if slices.Contains(prev, id) {
				trans = append(trans, id)
			}
		}
		s.api.Change(r, members, s.quorum)
		if s.vq == nil {
			return
		}
		for _, id := range members {
			if id != s.nodeID && s.peers[id] == nil {
				s.peers[id] = &peer{votes: 1}
			}
		}
		s.vq.SyncInit(trans, members, r)
		s.syncing = true
		if s.qdev != "" {
			if in, _ := s.vq.Info(0); in.Flags&svq.InfoQdeviceAlive != 0 {
				s.request(svq.FnQdevicePoll, svq.AppendPoll(nil, svq.Poll{Name: in.QdeviceName, CastVote: in.Flags&svq.InfoQdeviceCastVote != 0, Ring: r}))
			}
		}
		s.vq.SyncProcess()
		s.deliver()
		for _, id := range members {
			if id != s.nodeID {
				s.sendNodeInfo(id, slices.Contains(trans, id) && wasQuorate)
			}
		}
		s.settle()
	})
}

// settle delivers the messages sent so far and, when a sync is waiting,
// completes it once votequorum is done. The engines' goroutine only.
func (s *Server) settle() {
	s.deliver()
	if s.vq == nil || !s.syncing {
		return
	}
	if s.vq.SyncProcess() {
		s.deliver()
		s.syncing = false
		s.vq.SyncActivate()
	}
	s.deliver()
}

// deliver hands the queued messages to votequorum, in order, as the ring
// would. RECONFIGUREs of node votes this node sends update the table of
// the other nodes, as they apply them.
func (s *Server) deliver() {
	for len(s.api.queue) > 0 {
		m := s.api.queue[0]
		s.api.queue = s.api.queue[1:]
		h, err := service.ParseHeader(m.data, false)
		if err != nil || h.Service != service.Votequorum || s.vq == nil {
			continue
		}
		if h.Fn == svq.FnExecReconfigure {
			if rc, err := svq.DecodeReconfigure(m.data, false); err == nil && rc.Param == svq.ParamNodeVotes {
				if p := s.peers[rc.NodeID]; p != nil {
					p.votes = rc.Value
				}
			}
		}
		s.vq.Exec(service.Exec{From: m.from, Fn: h.Fn, Data: m.data, Guarantee: totem.Agreed})
	}
}

// inject queues a message from node from.
func (s *Server) inject(from uint32, msg []byte) {
	s.api.queue = append(s.api.queue, qmsg{from: from, data: msg})
}

// sender is the node that sends a change made elsewhere in the cluster:
// the lowest other member, or this node when alone.
func (s *Server) sender() uint32 {
	_, members := s.vq.Ring()
	for _, id := range members {
		if id != s.nodeID {
			return id
		}
	}
	return s.nodeID
}

// sendNodeInfo queues the NODEINFO the other node id sends: its votes,
// this node's expected votes (the cluster agrees on them), and its flags.
func (s *Server) sendNodeInfo(id uint32, quorate bool) {
	p := s.peers[id]
	in, _ := s.vq.Info(0)
	st := s.vq.Settings()
	var flags uint32
	if quorate {
		flags |= svq.FlagQuorate
	} else if st.WaitForAll {
		flags |= svq.FlagWFAStatus
	}
	if s.qdev != "" {
		flags |= svq.FlagQdeviceRegistered
		if p.qflags&votequorum.QdeviceAlive != 0 {
			flags |= svq.FlagQdeviceAlive
		}
		if p.qflags&votequorum.QdeviceCastVote != 0 {
			flags |= svq.FlagQdeviceCastVote
		}
		if p.qflags&votequorum.QdeviceMasterWins != 0 {
			flags |= svq.FlagQdeviceMasterWins
		}
	}
	s.inject(id, svq.AppendNodeInfo(nil, svq.NodeInfo{NodeID: id, Votes: p.votes, Expected: in.ExpectedVotes, Flags: flags}))
}

// isMember reports whether id is in the last synced ring.
func (s *Server) isMember(id uint32) bool {
	_, members := s.vq.Ring()
	return slices.Contains(members, id)
}

// request sends a request on the server's own connection and returns
// the engine's answer.
func (s *Server) request(fn uint16, payload []byte) service.Status {
	s.self.status = 0
	s.vq.Request(s.self, service.Request{ID: 1, Fn: fn, Payload: payload})
	s.settle()
	return s.self.status
}

// vqDo runs f on the engines' goroutine with votequorum, then delivers
// what it sent. It does nothing without a provider.
func (s *Server) vqDo(f func()) {
	s.srv.Do(func() {
		if s.vq != nil {
			f()
			s.settle()
		}
	})
}

// SetVotes sets a node's votes as a change made elsewhere in the cluster
// would: a RECONFIGURE from another member (this node when alone). An
// unknown node is added to the table (not as a member), which
// votequorum ignores until it joins, as corosync does.
func (s *Server) SetVotes(nodeID, votes uint32) {
	s.vqDo(func() {
		if nodeID != s.nodeID {
			if p := s.peers[nodeID]; p != nil {
				p.votes = votes
			} else {
				s.peers[nodeID] = &peer{votes: votes}
			}
		}
		s.inject(s.sender(), svq.AppendReconfigure(nil, svq.Reconfigure{NodeID: nodeID, Value: votes, Param: svq.ParamNodeVotes}))
	})
}

// SetExpected sets the expected votes as a change made elsewhere in the
// cluster would (a RECONFIGURE from another member, or this node when
// alone, with no check); tracking clients get an expected votes
// notification.
func (s *Server) SetExpected(expected uint32) {
	s.vqDo(func() {
		s.inject(s.sender(), svq.AppendReconfigure(nil, svq.Reconfigure{NodeID: s.sender(), Value: expected, Param: svq.ParamExpectedVotes}))
	})
}

// SetFlags changes the options as a reload of corosync.conf would:
// TwoNode takes effect; WaitForAll, LastManStanding, AutoTieBreaker and
// AllowDownscale are read at start only (Options.Flags), as by corosync,
// and are ignored here, as are other bits.
func (s *Server) SetFlags(f votequorum.InfoFlags) {
	s.vqDo(func() {
		st := s.vq.Settings()
		in, _ := s.vq.Info(0)
		st.TwoNode = f&votequorum.TwoNode != 0
		st.Votes, st.Expected = in.Votes, in.ExpectedVotes
		s.vq.Reload(st)
	})
}

// RegisterQdevice registers a quorum device named name on every node:
// on this node through the server's own connection (as a device daemon
// that is not a client of this server would; the request is not in
// Calls), on the other nodes through their messages. "" unregisters it.
// A device a client registered on this node stays.
func (s *Server) RegisterQdevice(name string) {
	s.vqDo(func() {
		if name == s.qdev {
			return
		}
		if old := s.qdev; old != "" {
			s.request(svq.FnQdeviceUnregister, svq.AppendName(nil, old))
			s.qdev = ""
			for id, p := range s.peers {
				p.qflags = 0
				if s.isMember(id) {
					s.sendNodeInfo(id, s.vq.Quorate())
				}
			}
			s.inject(s.sender(), svq.AppendQdeviceReg(nil, svq.QdeviceReg{Op: svq.OpUnregister, Name: old}))
			s.settle()
		}
		if name == "" {
			return
		}
		s.request(svq.FnQdeviceRegister, svq.AppendName(nil, name))
		s.qdev = name
		if from := s.sender(); from != s.nodeID {
			s.inject(from, svq.AppendQdeviceReg(nil, svq.QdeviceReg{Op: svq.OpRegister, Name: name}))
		}
		for id := range s.peers {
			if s.isMember(id) {
				s.sendNodeInfo(id, s.vq.Quorate())
			}
		}
	})
}

// SetQdeviceState sets a node's quorum device flags: any of
// QdeviceAlive, QdeviceCastVote and QdeviceMasterWins (other bits are
// ignored). Another node sends its NODEINFO with them (with
// QdeviceRegistered while RegisterQdevice's device is registered); for
// this node the server plays the device registered on it (by
// RegisterQdevice or a client): it polls (alive, casting the vote or
// not), or re-registers to lose contact, and sets master wins. Nothing
// happens for this node when no device is registered on it.
func (s *Server) SetQdeviceState(nodeID uint32, f votequorum.InfoFlags) {
	f &= qdeviceFlags
	s.vqDo(func() {
		if nodeID != s.nodeID {
			p := s.peers[nodeID]
			if p == nil {
				p = &peer{votes: 1}
				s.peers[nodeID] = p
			}
			p.qflags = f
			if s.isMember(nodeID) {
				s.sendNodeInfo(nodeID, s.vq.Quorate())
			}
			return
		}
		in, _ := s.vq.Info(0)
		if in.Flags&svq.InfoQdeviceRegistered == 0 {
			return
		}
		name := in.QdeviceName
		switch {
		case f&votequorum.QdeviceAlive != 0:
			ring, _ := s.vq.Ring()
			s.request(svq.FnQdevicePoll, svq.AppendPoll(nil, svq.Poll{Name: name, CastVote: f&votequorum.QdeviceCastVote != 0, Ring: ring}))
		case in.Flags&svq.InfoQdeviceAlive != 0:
			s.request(svq.FnQdeviceUnregister, svq.AppendName(nil, name))
			s.request(svq.FnQdeviceRegister, svq.AppendName(nil, name))
		}
		if mw := f&votequorum.QdeviceMasterWins != 0; mw != (in.Flags&svq.InfoQdeviceMasterWins != 0) {
			s.request(svq.FnQdeviceMasterWins, svq.AppendMasterWins(nil, name, mw))
		}
	})
}

// Advance moves votequorum's clock forward by d and fires its timers:
// the last man standing window, the quorum device's poll timeout and a
// sync's wait for the device's poll. The clock stands still otherwise,
// so these never fire by themselves.
func (s *Server) Advance(d time.Duration) {
	s.vqDo(func() {
		s.now += d
		s.vq.Tick(s.now)
	})
}

// Refuse makes the votequorum service answer every request of type fn
// (internal/service/votequorum's Fn constants) with st and no effect;
// service.OK serves them again.
func (s *Server) Refuse(fn uint16, st service.Status) {
	s.srv.Do(func() {
		if s.lib == nil {
			return
		}
		if st == service.OK {
			delete(s.lib.refuse, fn)
		} else {
			s.lib.refuse[fn] = st
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
		if vi, ok = s.vq.Info(nodeID); ok {
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

// qmsg is a message on the simulated ring.
type qmsg struct {
	from uint32
	data []byte
}

// api is the engines' service.API: the ring of ipctest.Membership and a
// send queue, which deliver hands back to votequorum in order, as the
// ring delivers every message to its sender too (agreed order). Messages
// from the other nodes join the same queue.
type api struct {
	ipctest.Membership
	queue []qmsg
}

func (a *api) Send(msg []byte, _ totem.Guarantee) error {
	a.queue = append(a.queue, qmsg{from: a.Node, data: slices.Clone(msg)})
	return nil
}

func (a *api) SendVec(g totem.Guarantee, parts ...[]byte) error {
	return a.Send(slices.Concat(parts...), g)
}
