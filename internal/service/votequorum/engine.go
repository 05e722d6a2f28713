package votequorum

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// Options configure an Engine.
type Options struct {
	// Settings is the resolved configuration (SettingsFrom).
	Settings Settings
	// EVStore keeps the expected votes tracking barrier; nil keeps it in
	// memory only.
	EVStore EVStore
	// OnQuorum receives every quorum decision this engine publishes, with
	// the ring and members it belongs to (votequorum's last sync): at each
	// sync activation and whenever the quorate state changes outside a
	// sync. The daemon passes it to the quorum service's Set, as corosync
	// calls quorum_callback.
	OnQuorum func(quorate bool, ring service.RingID, members []uint32)
}

// Stats are the engine's counters.
type Stats struct {
	// Malformed counts exec messages that failed to decode; Dropped
	// those that were well formed but could not be applied (a device
	// NODEINFO from a node whose own NODEINFO never arrived).
	Malformed, Dropped uint64
	// Recalculations counts quorum recalculations.
	Recalculations uint64
	// SendRetries counts messages queued because the ring refused them.
	SendRetries uint64
}

type node struct {
	id       uint32
	state    NodeState
	votes    uint32
	expected uint32
	flags    uint32
}

type tracker struct {
	conn    service.Conn
	context uint64
}

// Engine is the votequorum service: a pure state machine. The daemon (or
// a simulator) calls it from one goroutine: Exec and the sync callbacks
// through the service host, Tick with the time, and the LibEngine methods
// for clients.
type Engine struct {
	api  service.API
	log  *slog.Logger
	opts Options
	s    Settings

	nodes []*node // ascending node id; includes us
	us    *node
	qdev  node // the quorum device (node id 0)

	qdevName   string
	qdevReg    service.Conn // registration awaiting its QDEVICE_REG
	qdevRegReq uint32
	masterWins bool

	wfaStatus  bool
	initialATB ATB
	lowest     int64
	highest    int64
	evBarrier  uint32
	evTracking uint32 // the tracking barrier

	quorum  uint32
	quorate bool

	members     []uint32 // ring members of the last sync
	prevMembers []uint32
	lastQuorate []uint32 // ring members when this node was last quorate
	ring        service.RingID

	trackers []*tracker

	now         time.Duration
	lmsAt       time.Duration // 0: not armed
	qdevAt      time.Duration
	syncing     bool
	sentInfo    bool
	waitForPoll bool

	pending [][]byte // messages the ring refused, in order
	stats   Stats
	buf     []byte
}

var (
	_ service.LibEngine = (*Engine)(nil)
	_ service.Syncer    = (*Engine)(nil)
	_ service.Flow      = (*Engine)(nil)
)

// New returns the votequorum engine for this node and queues its first
// NODEINFO (with the FIRST flag), as corosync does at start.
func New(api service.API, opts Options) (*Engine, error) {
	e := &Engine{api: api, log: api.Logger(), opts: opts, lowest: -1, highest: -1}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.opts.EVStore == nil {
		e.opts.EVStore = &MemStore{}
	}
	e.qdev = node{id: 0, state: StateMember}
	e.us = &node{id: api.NodeID(), state: StateMember, votes: 1, flags: FlagFirst}
	e.nodes = []*node{e.us}
	s := opts.Settings
	e.s = s
	e.initialATB = s.ATB
	if s.EVTracking {
		v, err := e.opts.EVStore.Load()
		if err != nil {
			return nil, fmt.Errorf("votequorum: unable to load ev_tracking file: %w", err)
		}
		e.evTracking = v
	}
	e.applySettings(s, true)
	e.recalculate(false, false)
	// Queued, not sent: the ring may not exist yet. The first Tick,
	// Resume or SyncProcess sends it.
	e.pending = append(e.pending, AppendNodeInfo(nil, NodeInfo{NodeID: e.us.id, Votes: e.us.votes, Expected: e.us.expected, Flags: e.us.flags}))
	return e, nil
}

// applySettings is the part of votequorum_readconfig that sets votes.
// At run time corosync also sets the wait-for-all status again; we do
// not, so that a reload never takes quorum away from a quorate cluster.
func (e *Engine) applySettings(s Settings, startup bool) {
	// With expected votes tracking corosync replaces quorum.expected_votes
	// by the stored barrier; a barrier of 0 leaves the nodelist's sum.
	expected := s.Expected
	if s.EVTracking {
		expected = s.NodelistExpected
		if e.evTracking != 0 {
			expected = e.evTracking
		}
	}
	e.us.votes = s.Votes
	if expected != 0 {
		e.us.expected = expected
	}
	if !s.Qdevice {
		e.qdev.votes = 0
	} else {
		e.qdev.votes = s.QdeviceVotes
	}
	e.evBarrier = e.us.expected
	if s.WaitForAll && startup {
		e.setWFA(true)
	}
}

// ID is service.Votequorum.
func (e *Engine) ID() service.ID { return service.Votequorum }

// Name is corosync's name of the service.
func (e *Engine) Name() string { return ServiceName }

// Stats returns the counters.
func (e *Engine) Stats() Stats { return e.stats }

// Quorate reports the current decision (quorum.Provider).
func (e *Engine) Quorate() bool { return e.quorate }

// Provider returns the engine as the quorum service's provider.
func (e *Engine) Provider() Provider { return Provider{e} }

// Provider adapts an Engine to the quorum service's provider interface.
// Its decision for a new ring arrives at votequorum's own sync activation
// (OnQuorum), after the quorum service's: DecidesInSync says so, and the
// quorum service waits for it instead of publishing the previous ring's
// answer.
type Provider struct{ e *Engine }

// DecidesInSync reports true: see Provider.
func (p Provider) DecidesInSync() bool { return true }

// Quorate reports the engine's decision.
func (p Provider) Quorate() bool { return p.e.quorate }

// Name is "corosync_votequorum".
func (p Provider) Name() string { return Name }

// Settings returns the settings in force.
func (e *Engine) Settings() Settings { return e.s }

// ConfChange does nothing: votequorum works from its sync callbacks.
func (e *Engine) ConfChange(*totem.ConfChange) {}

// Reload applies a new configuration at run time, as corosync's
// votequorum_refresh_config does: only votes, expected votes, two_node
// and the device's votes change; then this node's NODEINFO, the
// device's, and RECONFIGURE messages for changed votes or expected votes
// go to the ring.
func (e *Engine) Reload(s Settings) {
	oldVotes, oldExpected := e.us.votes, e.us.expected
	n := e.s
	n.TwoNode, n.Votes, n.Expected = s.TwoNode, s.Votes, s.Expected
	n.Qdevice, n.QdeviceVotes, n.QdeviceCanOperate = s.Qdevice, s.QdeviceVotes, s.QdeviceCanOperate
	n.QdeviceTimeout, n.QdeviceSyncTimeout = s.QdeviceTimeout, s.QdeviceSyncTimeout
	n.ATB = e.initialATB
	if n.TwoNode && n.Qdevice {
		if e.us.flags&FlagQdeviceRegistered != 0 {
			e.log.Error("two_node and quorum device cannot be configured at the same time; quorum device is registered, disabling two_node")
			n.TwoNode = false
		} else {
			e.log.Error("two_node and quorum device cannot be configured at the same time; quorum device is not registered, allowing two_node")
			n.QdeviceCanOperate = false
		}
	}
	if n.TwoNode && n.ATB != ATBNone {
		n.TwoNode = false
	}
	e.s = n
	e.applySettings(n, false)
	e.sendNodeInfo(e.us.id)
	e.sendNodeInfo(0)
	if e.us.votes != oldVotes {
		e.send(AppendReconfigure(e.buf[:0], Reconfigure{NodeID: e.us.id, Value: e.us.votes, Param: ParamNodeVotes}))
	}
	if e.us.expected != oldExpected {
		e.send(AppendReconfigure(e.buf[:0], Reconfigure{NodeID: e.us.id, Value: e.us.expected, Param: ParamExpectedVotes}))
	}
}

// CancelWaitForAll asks every node to stop waiting for all (corosync's
// quorum.cancel_wait_for_all key).
func (e *Engine) CancelWaitForAll() {
	e.send(AppendReconfigure(e.buf[:0], Reconfigure{NodeID: e.us.id, Param: ParamCancelWFA}))
}

// Leave announces a clean shutdown: with allow_downscale this node's
// NODEINFO goes out with LEAVING, so the others lower expected votes
// instead of counting a death (corosync's votequorum_exec_exit_fn).
func (e *Engine) Leave() {
	if e.s.AllowDownscale {
		e.us.flags |= FlagLeaving
		e.sendNodeInfo(e.us.id)
	}
}

// ---- sending ----

func (e *Engine) send(msg []byte) {
	if len(e.pending) == 0 {
		if err := e.api.Send(msg, totem.Agreed); err == nil {
			return
		}
	}
	e.stats.SendRetries++
	e.pending = append(e.pending, slices.Clone(msg))
}

func (e *Engine) flush() bool {
	for len(e.pending) > 0 {
		if err := e.api.Send(e.pending[0], totem.Agreed); err != nil {
			return false
		}
		e.pending[0] = nil
		e.pending = e.pending[1:]
	}
	return true
}

// Held reports false: votequorum never holds a client.
func (e *Engine) Held(service.Conn) bool { return false }

// Resume sends the messages the ring refused earlier.
func (e *Engine) Resume() { e.flush() }

func (e *Engine) sendNodeInfo(id uint32) {
	n := e.find(id)
	if n == nil {
		return
	}
	e.buf = AppendNodeInfo(e.buf[:0], NodeInfo{NodeID: id, Votes: n.votes, Expected: n.expected, Flags: n.flags})
	e.send(e.buf)
}

func (e *Engine) sendQdeviceReg(op uint32, name string) {
	e.buf = AppendQdeviceReg(e.buf[:0], QdeviceReg{Op: op, Name: name})
	e.send(e.buf)
}

// ---- nodes ----

func (e *Engine) find(id uint32) *node {
	if id == e.us.id {
		return e.us
	}
	if id == 0 {
		return &e.qdev
	}
	i, ok := slices.BinarySearchFunc(e.nodes, id, func(n *node, id uint32) int { return cmp.Compare(n.id, id) })
	if !ok {
		return nil
	}
	return e.nodes[i]
}

func (e *Engine) add(id uint32) *node {
	n := &node{id: id}
	i, _ := slices.BinarySearchFunc(e.nodes, id, func(n *node, id uint32) int { return cmp.Compare(n.id, id) })
	e.nodes = slices.Insert(e.nodes, i, n)
	return n
}

func (e *Engine) live() []uint32 {
	var ids []uint32
	for _, n := range e.nodes {
		if n.state == StateMember {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// ---- quorum ----

func (e *Engine) setWFA(v bool) {
	e.wfaStatus = v
	if v {
		e.us.flags |= FlagWFAStatus
	} else {
		e.us.flags &^= FlagWFAStatus
	}
}

func (e *Engine) calcInput(allowDecrease bool, maxExpected uint32) CalcInput {
	in := CalcInput{
		Nodes:           make([]NodeVotes, 0, len(e.nodes)),
		QdeviceVotes:    e.qdev.votes,
		QdeviceCastVote: e.us.flags&FlagQdeviceCastVote != 0,
		MaxExpected:     maxExpected,
		AllowDecrease:   allowDecrease,
		PrevQuorum:      e.quorum,
		TwoNode:         e.s.TwoNode,
		AllowDownscale:  e.s.AllowDownscale,
		EVBarrier:       e.evBarrier,
	}
	for _, n := range e.nodes {
		in.Nodes = append(in.Nodes, NodeVotes{ID: n.id, State: n.state, Votes: n.votes, Expected: n.expected})
	}
	return in
}

// recalculate is corosync's recalculate_quorum.
func (e *Engine) recalculate(allowDecrease, byCurrentNodes bool) {
	e.stats.Recalculations++
	var total, members uint32
	for _, n := range e.nodes {
		if n.state == StateMember {
			members++
			total += n.votes
		}
	}
	if e.qdev.votes != 0 {
		total += e.qdev.votes
		members++
	}
	if !byCurrentNodes {
		members = 0
	}
	if total > e.us.expected {
		e.us.expected = total
		e.notifyExpected()
	}
	if e.s.EVTracking && e.us.expected > e.evTracking {
		e.evTracking = e.us.expected
		if err := e.opts.EVStore.Save(e.evTracking); err != nil {
			e.log.Warn(fmt.Sprintf("Unable to update ev_tracking_barrier on disk data: %v", err))
		}
	}
	r := Calculate(e.calcInput(allowDecrease, members))
	e.quorum = r.Quorum
	if members != 0 {
		for _, n := range e.nodes {
			if n.state == StateMember {
				n.expected = members
			}
		}
	}
	e.decide(r.TotalVotes)
}

// decide is corosync's are_we_quorate.
func (e *Engine) decide(total uint32) {
	// The tie breaker looks back at the membership a split came from.
	// corosync uses the previous ring; after successive membership
	// changes (a transient ring in between) that ring may already lack
	// the other half, and the simulator found both halves quorate. We
	// also look at the ring in which this node was last quorate, and take
	// the stricter answer.
	prevSize := max(len(e.prevMembers), len(e.lastQuorate))
	in := DecideInput{
		TotalVotes: total, Quorum: e.quorum, OwnExpected: e.us.expected,
		WaitForAll: e.s.WaitForAll, WFAStatus: e.wfaStatus,
		ATB: e.s.ATB, Members: len(e.members), PrevMembers: prevSize,
		MasterWins: e.masterWins,
	}
	if e.quorum <= total && !(e.s.WaitForAll && e.wfaStatus && total != e.us.expected) && !e.syncing {
		// corosync refreshes the lowest and highest node ids whenever the
		// votes reach quorum, before the tie breaker looks at them, also
		// in the middle of a sync. A sync cut short by a partition then
		// leaves some nodes with the new ring's ids and others with the
		// old ones, and both halves of the next split can hold the tie
		// breaker (the simulator found it). We refresh them outside a
		// sync and when a sync activates (SyncActivate).
		e.refreshLowHigh()
	}
	live := e.live()
	if in.ATB != ATBNone {
		in.ATBWins = TieBreakerWins(e.s.ATB, live, e.members, e.prevMembers, e.lowest, e.highest, e.s.ATBNodes) &&
			(e.s.ATB != ATBList || TieBreakerWins(e.s.ATB, live, e.members, e.lastQuorate, e.lowest, e.highest, e.s.ATBNodes))
	}
	if e.masterWins {
		for _, n := range e.nodes {
			if n.state == StateMember && n.flags&FlagQdeviceMasterWins != 0 && n.flags&FlagQdeviceCastVote != 0 {
				in.MasterPresent = true
			}
		}
	}
	d := Decide(in)
	if d.Waiting {
		e.log.Info(fmt.Sprintf("Waiting for all cluster members. Current votes: %d expected_votes: %d", total, e.us.expected))
		e.quorate = false
		e.us.flags &^= FlagQuorate
		return
	}
	changed := d.Quorate != e.quorate
	if changed {
		if d.Quorate {
			e.log.Debug("quorum regained, resuming activity")
		} else {
			e.log.Debug("quorum lost, blocking activity")
		}
	}
	e.quorate = d.Quorate
	if e.quorate {
		e.us.flags |= FlagQuorate
		if !e.syncing {
			e.lastQuorate = append(e.lastQuorate[:0], e.members...)
		}
	} else {
		e.us.flags &^= FlagQuorate
	}
	if e.s.WaitForAll {
		e.setWFA(d.WFAStatus)
	} else if e.wfaStatus && !d.WFAStatus {
		e.setWFA(false)
	}
	if changed && !e.syncing {
		e.publish()
		e.notifyQuorum(nil, 0)
	}
}

// refreshLowHigh records the lowest and highest node ids of the quorate
// membership. corosync takes them from the nodes whose NODEINFO arrived,
// which in the middle of a sync may be part of the ring only (the
// simulator found splits where both halves then held the tie breaker);
// we take the ring's members, which are all on this side.
func (e *Engine) refreshLowHigh() {
	lo, hi := int64(e.us.id), int64(e.us.id)
	for _, n := range e.nodes {
		if n.state == StateMember {
			lo = min(lo, int64(n.id))
			hi = max(hi, int64(n.id))
		}
	}
	for _, id := range e.members {
		lo = min(lo, int64(id))
		hi = max(hi, int64(id))
	}
	e.lowest, e.highest = lo, hi
}

func (e *Engine) publish() {
	if e.opts.OnQuorum != nil {
		e.opts.OnQuorum(e.quorate, e.ring, e.members)
	}
}

// ---- exec messages ----

// Exec handles one votequorum message from the ring.
func (e *Engine) Exec(m service.Exec) {
	var err error
	switch m.Fn {
	case FnExecNodeInfo:
		var ni NodeInfo
		if ni, err = DecodeNodeInfo(m.Data, m.Swapped); err == nil {
			e.execNodeInfo(m.From, ni)
		}
	case FnExecReconfigure:
		var rc Reconfigure
		if rc, err = DecodeReconfigure(m.Data, m.Swapped); err == nil {
			e.execReconfigure(m.From, rc)
		}
	case FnExecQdeviceReg:
		var qr QdeviceReg
		if qr, err = DecodeQdeviceReg(m.Data, m.Swapped); err == nil {
			e.execQdeviceReg(m.From, qr)
		}
	case FnExecQdeviceReconfigure:
		var qr QdeviceReconfigure
		if qr, err = DecodeQdeviceReconfigure(m.Data); err == nil {
			e.log.Debug(fmt.Sprintf("Received qdevice name change req from node %d [from: %s to: %s]", m.From, qr.OldName, qr.NewName))
			if qr.OldName == e.qdevName {
				e.qdevName = qr.NewName
			}
		}
	default:
		err = fmt.Errorf("votequorum: unknown exec function %d", m.Fn)
	}
	if err != nil {
		e.stats.Malformed++
		e.log.Debug(fmt.Sprintf("dropping votequorum message from node %d: %v", m.From, err))
	}
}

func (e *Engine) execNodeInfo(sender uint32, ni NodeInfo) {
	e.log.Debug(fmt.Sprintf("got nodeinfo message from cluster node %d", sender))
	e.log.Debug(fmt.Sprintf("nodeinfo message[%d]: votes: %d, expected: %d flags: %d", ni.NodeID, ni.Votes, ni.Expected, ni.Flags))
	if ni.NodeID == 0 {
		s := e.find(sender)
		if s == nil || sender == 0 {
			// corosync asserts here; we drop and count.
			e.stats.Dropped++
			e.log.Warn(fmt.Sprintf("quorum device NODEINFO from node %d before its own NODEINFO: dropped", sender))
			return
		}
		if !e.quorate && s.flags&FlagQuorate != 0 {
			e.qdev.votes = ni.Votes
		} else {
			e.qdev.votes = max(e.qdev.votes, ni.Votes)
		}
		e.recalculate(false, false)
		return
	}
	n := e.find(ni.NodeID)
	isNew := n == nil
	if isNew {
		n = e.add(ni.NodeID)
	}
	old := *n
	if isNew {
		old = node{state: StateDead}
	}
	n.flags = ni.Flags
	n.votes = ni.Votes
	n.state = StateMember
	allowDecrease, byNode := false, false
	if n.flags&FlagLeaving != 0 {
		n.state = StateLeaving
		allowDecrease, byNode = true, true
	}
	if !e.quorate && n.flags&FlagQuorate != 0 {
		allowDecrease = true
		e.us.expected = ni.Expected
	}
	if n.flags&FlagQuorate != 0 || e.s.EVTracking {
		n.expected = ni.Expected
	} else {
		n.expected = e.us.expected
	}
	if e.s.LastManStanding && n.votes > 1 {
		e.log.Warn("Last Man Standing feature is supported only when all cluster nodes votes are set to 1. Disabling LMS.")
		e.s.LastManStanding = false
		e.lmsAt = 0
	}
	if isNew || n.id == e.us.id || n.flags&FlagFirst != 0 || old.votes != n.votes ||
		old.expected != n.expected || old.flags != n.flags || old.state != n.state {
		e.recalculate(allowDecrease, byNode)
	}
	if e.s.WaitForAll && n.flags&FlagWFAStatus == 0 && n.flags&FlagQuorate != 0 {
		e.setWFA(false)
	}
}

func (e *Engine) execReconfigure(sender uint32, rc Reconfigure) {
	e.log.Debug(fmt.Sprintf("got reconfigure message from cluster node %d for %d", sender, rc.NodeID))
	switch rc.Param {
	case ParamExpectedVotes:
		e.setMembersExpected(rc.Value)
		e.notifyExpected()
		e.evBarrier = rc.Value
		if e.s.EVTracking {
			e.us.expected = max(e.us.expected, e.evTracking)
		}
		e.recalculate(true, false)
	case ParamNodeVotes:
		n := e.find(rc.NodeID)
		if n == nil {
			return
		}
		n.votes = rc.Value
		e.recalculate(true, false)
	case ParamCancelWFA:
		e.setWFA(false)
		e.log.Info(fmt.Sprintf("wait_for_all_status reset by user on node %d.", rc.NodeID))
		e.recalculate(false, false)
	default:
		e.stats.Malformed++
	}
}

func (e *Engine) setMembersExpected(v uint32) {
	if v == 0 {
		return
	}
	for _, n := range e.nodes {
		if n.state == StateMember {
			n.expected = v
		}
	}
}

func (e *Engine) execQdeviceReg(sender uint32, qr QdeviceReg) {
	e.log.Debug(fmt.Sprintf("Received qdevice op %d req from node %d [%s]", qr.Op, sender, qr.Name))
	switch qr.Op {
	case OpRegister:
		if sender != e.us.id {
			if e.qdevName == "" {
				e.qdevName = qr.Name
			}
			return
		}
		if e.us.flags&FlagQdeviceRegistered != 0 {
			return
		}
		if e.qdevReg == nil {
			e.log.Warn("Unable to determine origin of the qdevice register call!")
			return
		}
		if e.qdevName == "" {
			e.qdevName = qr.Name
		}
		status := service.OK
		if qr.Name == e.qdevName {
			e.us.flags |= FlagQdeviceRegistered
			e.sendNodeInfo(e.us.id)
			e.sendNodeInfo(0)
		} else {
			e.log.Warn(fmt.Sprintf("A new qdevice with different name (new: %s old: %s) is trying to register!", qr.Name, e.qdevName))
			status = service.ErrExist
		}
		e.qdevReg.Reply(e.qdevRegReq, status, nil)
		e.qdevReg = nil
	case OpUnregister:
		wipe := true
		for _, n := range e.nodes {
			if n.state == StateMember && n.flags&FlagQdeviceRegistered != 0 {
				wipe = false
			}
		}
		if wipe {
			e.qdevName = ""
		}
	}
}

// ---- sync ----

// SyncInit starts a sync for a new ring: nodes that left are dead, the
// last man standing window starts when nodes left, and a registered,
// alive device gets sync_timeout to poll with the new ring id.
func (e *Engine) SyncInit(trans, members []service.NodeID, ring service.RingID) {
	e.syncing = true
	e.sentInfo = false
	e.waitForPoll = false
	if len(members) > 1 {
		e.us.flags &^= FlagFirst
	}
	left := false
	for _, id := range e.members {
		if !slices.Contains(members, id) {
			left = true
		}
	}
	// corosync marks dead only the previous sync's members that are not in
	// the new ring; a node learnt of in a ring whose sync was aborted
	// before votequorum's turn would keep its votes after it is gone (two
	// disjoint rings could both count it: the simulator found such split
	// brains). Every node outside the new ring is dead here.
	for _, n := range e.nodes {
		if n != e.us && !slices.Contains(members, n.id) {
			n.state = StateDead
		}
	}
	if e.s.LastManStanding {
		lowIn := e.lowest >= 0 && slices.Contains(e.live(), uint32(e.lowest))
		if (uint32(len(members)) >= e.quorum && left) ||
			(uint32(len(members)) <= e.quorum && e.s.ATB != ATBNone && lowIn) {
			e.lmsAt = e.now + e.s.LMSWindow
			if e.lmsAt == 0 {
				e.lmsAt = 1
			}
		}
	}
	e.prevMembers = append(e.prevMembers[:0], e.members...)
	e.members = append(e.members[:0], members...)
	e.ring = ring
	if e.us.flags&FlagQdeviceRegistered != 0 && e.us.flags&FlagQdeviceAlive != 0 {
		e.qdevAt = e.now + e.s.QdeviceSyncTimeout
		e.waitForPoll = true
		e.log.Info(fmt.Sprintf("waiting for quorum device %s poll (but maximum for %d ms)", e.qdevName, e.s.QdeviceSyncTimeout.Milliseconds()))
	}
}

// SyncProcess sends this node's NODEINFO, then the device's (never the
// other way round: corosync asserts a sender's own record exists), the
// device registration, and the node list to trackers. It is done once
// they are sent and, with a registered device, once the device polled
// with the new ring id or sync_timeout passed.
func (e *Engine) SyncProcess() bool {
	if !e.sentInfo {
		e.sendNodeInfo(e.us.id)
		e.sendNodeInfo(0)
		if e.qdevName != "" {
			e.sendQdeviceReg(OpRegister, e.qdevName)
		}
		e.notifyNodeList(nil, 0)
		e.sentInfo = true
	}
	if !e.flush() {
		return false
	}
	if e.us.flags&FlagQdeviceRegistered != 0 && e.waitForPoll {
		return false
	}
	return true
}

// SyncActivate recalculates and publishes the decision for the new ring.
func (e *Engine) SyncActivate() {
	e.recalculate(false, false)
	if e.quorate {
		e.refreshLowHigh()
		e.lastQuorate = append(e.lastQuorate[:0], e.members...)
	}
	e.publish()
	e.notifyQuorum(nil, 0)
	e.syncing = false
}

// SyncAbort does nothing, as in corosync: the next SyncInit starts over.
func (e *Engine) SyncAbort() {}

// Ring returns the ring id and members of the last sync.
func (e *Engine) Ring() (service.RingID, []uint32) { return e.ring, slices.Clone(e.members) }

// ---- time ----

// Tick advances the engine's clock to now (any monotonic origin) and
// fires due timers: the last man standing window and the device's poll
// timeout.
func (e *Engine) Tick(now time.Duration) {
	e.now = now
	if e.lmsAt != 0 && now >= e.lmsAt {
		e.lmsAt = 0
		if e.quorate {
			e.recalculate(true, true)
		}
	}
	if e.qdevAt != 0 && now >= e.qdevAt {
		e.qdevAt = 0
		e.waitForPoll = false
		if e.us.flags&FlagQdeviceAlive != 0 {
			e.us.flags &^= FlagQdeviceAlive | FlagQdeviceCastVote
			e.log.Info(fmt.Sprintf("lost contact with quorum device %s", e.qdevName))
			e.sendNodeInfo(e.us.id)
		}
	}
	e.flush()
}

// NextTimer returns when Tick must next be called, if a timer is armed.
func (e *Engine) NextTimer() (time.Duration, bool) {
	var at time.Duration
	for _, t := range [...]time.Duration{e.lmsAt, e.qdevAt} {
		if t != 0 && (at == 0 || t < at) {
			at = t
		}
	}
	return at, at != 0
}

// ---- introspection ----

// NodeView is one node as this engine knows it.
type NodeView struct {
	ID       uint32
	State    NodeState
	Votes    uint32
	Expected uint32
	Flags    uint32
}

// Nodes returns every node this engine knows, ascending.
func (e *Engine) Nodes() []NodeView {
	out := make([]NodeView, 0, len(e.nodes))
	for _, n := range e.nodes {
		out = append(out, NodeView{ID: n.id, State: n.state, Votes: n.votes, Expected: n.expected, Flags: n.flags})
	}
	return out
}

// Info is what FnGetInfo returns for node id (0: this node); false when
// the node is unknown.
func (e *Engine) Info(id uint32) (Info, bool) {
	if id == 0 {
		id = e.us.id
	}
	n := e.find(id)
	if n == nil {
		return Info{}, false
	}
	var highest, total uint32
	for _, x := range e.nodes {
		if x.state == StateMember {
			highest = max(highest, x.expected)
			total += x.votes
		}
	}
	if n.flags&FlagQdeviceCastVote != 0 {
		total += e.qdev.votes
	}
	in := Info{
		NodeID: n.id, State: n.state, Votes: n.votes, ExpectedVotes: n.expected,
		HighestExpected: highest, TotalVotes: total, Quorum: e.quorum,
		QdeviceVotes: e.qdev.votes, QdeviceName: e.qdevName,
	}
	f := &in.Flags
	set := func(c bool, v InfoFlags) {
		if c {
			*f |= v
		}
	}
	set(e.s.TwoNode, InfoTwoNode)
	set(e.quorate, InfoQuorate)
	set(e.s.WaitForAll, InfoWaitForAll)
	set(e.s.LastManStanding, InfoLastManStanding)
	set(e.s.ATB != ATBNone, InfoAutoTieBreaker)
	set(e.s.AllowDownscale, InfoAllowDownscale)
	set(n.flags&FlagQdeviceRegistered != 0, InfoQdeviceRegistered)
	set(n.flags&FlagQdeviceAlive != 0, InfoQdeviceAlive)
	set(n.flags&FlagQdeviceCastVote != 0, InfoQdeviceCastVote)
	set(n.flags&FlagQdeviceMasterWins != 0, InfoQdeviceMasterWins)
	return in, true
}

// Runtime returns the runtime.votequorum.* cmap keys and their values.
func (e *Engine) Runtime() []RuntimeKey {
	return []RuntimeKey{
		{"runtime.votequorum.this_node_id", e.us.id},
		{"runtime.votequorum.two_node", b8(e.s.TwoNode)},
		{"runtime.votequorum.wait_for_all_status", b8(e.wfaStatus)},
		{"runtime.votequorum.atb_type", uint32(e.s.ATB)},
		{"runtime.votequorum.lowest_node_id", uint32(e.lowest)},
		{"runtime.votequorum.highest_node_id", uint32(e.highest)},
		{"runtime.votequorum.ev_barrier", e.evBarrier},
		{"runtime.votequorum.ev_tracking_barrier", e.evTracking},
		{"runtime.votequorum.qdevice_can_operate", b8(e.s.QdeviceCanOperate)},
		{"runtime.votequorum.qdevice_master_wins", b8(e.masterWins)},
	}
}

// RuntimeKey is one runtime.votequorum key: Value is a uint8 or uint32.
type RuntimeKey struct {
	Key   string
	Value any
}

func b8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// ---- clients ----

// Connect accepts every client.
func (e *Engine) Connect(service.Conn) service.Status { return service.OK }

// Disconnect forgets the client's tracking and a registration it started.
func (e *Engine) Disconnect(c service.Conn) {
	e.trackers = slices.DeleteFunc(e.trackers, func(t *tracker) bool { return t.conn.ID() == c.ID() })
	if e.qdevReg != nil && e.qdevReg.ID() == c.ID() {
		e.qdevReg = nil
	}
}

// Request handles one client request.
func (e *Engine) Request(c service.Conn, r service.Request) {
	st, reply := e.request(c, r)
	if st == 0 {
		return // the reply comes later (qdevice registration)
	}
	c.Reply(r.ID, st, reply)
}

func (e *Engine) request(c service.Conn, r service.Request) (service.Status, []byte) {
	switch r.Fn {
	case FnGetInfo:
		id, err := DecodeGetInfo(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		in, ok := e.Info(id)
		if !ok {
			return service.ErrNotExist, nil
		}
		return service.OK, AppendInfo(nil, in)
	case FnSetExpected:
		v, err := DecodeSetExpected(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		in := e.calcInput(true, v)
		in.AllowDownscale = false
		res := Calculate(in)
		if res.Quorum < res.TotalVotes/2 || res.Quorum > res.TotalVotes {
			return service.ErrInvalidArg, nil
		}
		e.setMembersExpected(v)
		e.send(AppendReconfigure(e.buf[:0], Reconfigure{NodeID: e.us.id, Value: v, Param: ParamExpectedVotes}))
		return service.OK, nil
	case FnSetVotes:
		id, votes, err := DecodeSetVotes(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		n := e.find(id)
		if n == nil {
			return service.ErrNameNotFound, nil
		}
		// As corosync, the new votes stay in place locally until the
		// RECONFIGURE arrives; only a refused value is restored.
		saved := n.votes
		n.votes = votes
		res := Calculate(e.calcInput(true, 0))
		if res.Quorum < res.TotalVotes/2 || res.Quorum > res.TotalVotes {
			n.votes = saved
			return service.ErrInvalidArg, nil
		}
		e.send(AppendReconfigure(e.buf[:0], Reconfigure{NodeID: id, Value: votes, Param: ParamNodeVotes}))
		return service.OK, nil
	case FnTrackStart:
		f, ctx, err := DecodeTrackStart(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		if f&(TrackCurrent|TrackChanges) != 0 {
			e.notifyNodeList(c, ctx)
			e.notifyQuorum(c, ctx)
		}
		if slices.ContainsFunc(e.trackers, func(t *tracker) bool { return t.conn.ID() == c.ID() }) {
			return service.ErrExist, nil
		}
		if f&(TrackChanges|TrackChangesOnly) != 0 {
			e.trackers = append(e.trackers, &tracker{conn: c, context: ctx})
		}
		return service.OK, nil
	case FnTrackStop:
		i := slices.IndexFunc(e.trackers, func(t *tracker) bool { return t.conn.ID() == c.ID() })
		if i < 0 {
			return service.ErrNotExist, nil
		}
		e.trackers = slices.Delete(e.trackers, i, i+1)
		return service.OK, nil
	case FnQdeviceRegister:
		name, err := DecodeName(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		if !e.s.QdeviceCanOperate {
			e.log.Info("Registration of quorum device is disabled by incorrect corosync.conf. See logs for more information")
			return service.ErrAccess, nil
		}
		if e.us.flags&FlagQdeviceRegistered != 0 {
			if name == e.qdevName {
				return service.OK, nil
			}
			e.log.Warn(fmt.Sprintf("A new qdevice with different name (new: %s old: %s) is trying to re-register!", name, e.qdevName))
			return service.ErrExist, nil
		}
		if e.qdevReg != nil {
			e.log.Warn("Registration request already in progress")
			return service.ErrTryAgain, nil
		}
		e.qdevReg, e.qdevRegReq = c, r.ID
		e.sendQdeviceReg(OpRegister, name)
		return 0, nil
	case FnQdeviceUnregister:
		name, err := DecodeName(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		if e.us.flags&FlagQdeviceRegistered == 0 {
			return service.ErrNotExist, nil
		}
		if name != e.qdevName {
			return service.ErrInvalidArg, nil
		}
		e.qdevAt = 0
		e.waitForPoll = false
		e.us.flags &^= FlagQdeviceRegistered | FlagQdeviceAlive | FlagQdeviceCastVote | FlagQdeviceMasterWins
		e.sendNodeInfo(e.us.id)
		e.sendQdeviceReg(OpUnregister, name)
		return service.OK, nil
	case FnQdeviceUpdate:
		oldName, newName, err := DecodeNames(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		if e.us.flags&FlagQdeviceRegistered == 0 {
			return service.ErrNotExist, nil
		}
		if oldName != e.qdevName {
			return service.ErrInvalidArg, nil
		}
		e.buf = AppendQdeviceReconfigure(e.buf[:0], QdeviceReconfigure{OldName: oldName, NewName: newName})
		e.send(e.buf)
		return service.OK, nil
	case FnQdevicePoll:
		p, err := DecodePoll(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		if !e.s.QdeviceCanOperate {
			return service.ErrAccess, nil
		}
		if e.us.flags&FlagQdeviceRegistered == 0 {
			return service.ErrNotExist, nil
		}
		if p.Ring != e.ring {
			e.log.Debug(fmt.Sprintf("Received poll ring id (%d.%d) != last sync ring id (%d.%d). Ignoring poll call.",
				p.Ring.Rep, p.Ring.Seq, e.ring.Rep, e.ring.Seq))
			return ErrMessage, nil
		}
		if p.Name != e.qdevName {
			return service.ErrInvalidArg, nil
		}
		old := e.us.flags
		e.us.flags |= FlagQdeviceAlive
		if p.CastVote {
			e.us.flags |= FlagQdeviceCastVote
		} else {
			e.us.flags &^= FlagQdeviceCastVote
		}
		if e.us.flags != old {
			e.sendNodeInfo(e.us.id)
		}
		e.qdevAt = e.now + e.s.QdeviceTimeout
		e.waitForPoll = false
		return service.OK, nil
	case FnQdeviceMasterWins:
		name, allow, err := DecodeMasterWins(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		if !e.s.QdeviceCanOperate {
			return service.ErrAccess, nil
		}
		if e.us.flags&FlagQdeviceRegistered == 0 {
			return service.ErrNotExist, nil
		}
		if name != e.qdevName {
			return service.ErrInvalidArg, nil
		}
		old := e.us.flags
		if allow {
			e.us.flags |= FlagQdeviceMasterWins
		} else {
			e.us.flags &^= FlagQdeviceMasterWins
		}
		if e.us.flags != old {
			e.sendNodeInfo(e.us.id)
		}
		e.masterWins = allow
		return service.OK, nil
	case FnCancelWaitForAll:
		e.CancelWaitForAll()
		return service.OK, nil
	}
	return service.ErrNotSupport, nil
}

// ---- notifications ----

func (e *Engine) notifyQuorum(c service.Conn, ctx uint64) {
	if c == nil && len(e.trackers) == 0 {
		return
	}
	ev := QuorumEvent{Quorate: e.quorate, Context: ctx}
	for _, n := range e.nodes {
		ev.Nodes = append(ev.Nodes, NodeStatus{NodeID: n.id, State: n.state})
	}
	if e.us.flags&FlagQdeviceRegistered != 0 {
		ev.Nodes = append(ev.Nodes, NodeStatus{NodeID: 0, State: e.qdev.state})
	}
	if c != nil {
		c.Event(EventQuorum, nil, AppendQuorumEvent(nil, ev))
		return
	}
	for _, t := range e.trackers {
		ev.Context = t.context
		t.conn.Event(EventQuorum, nil, AppendQuorumEvent(nil, ev))
	}
}

func (e *Engine) notifyNodeList(c service.Conn, ctx uint64) {
	if c == nil && len(e.trackers) == 0 {
		return
	}
	ev := NodeListEvent{Context: ctx, Ring: e.ring, Members: e.members}
	if c != nil {
		c.Event(EventNodeList, nil, AppendNodeListEvent(nil, ev))
		return
	}
	for _, t := range e.trackers {
		ev.Context = t.context
		t.conn.Event(EventNodeList, nil, AppendNodeListEvent(nil, ev))
	}
}

func (e *Engine) notifyExpected() {
	for _, t := range e.trackers {
		t.conn.Event(EventExpectedVotes, nil, AppendExpectedVotesEvent(nil, ExpectedVotesEvent{Context: t.context, ExpectedVotes: e.us.expected}))
	}
}
