package cpg

import (
	"cmp"
	"log/slog"
	"slices"
	"strings"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// Name is the engine's descriptive name, as corosync logs it.
const Name = "corosync cluster closed process group service v1.01"

// Defaults of Options.
const (
	// DefaultMaxMessage is the default payload cap of one ReqMcast: 1 MiB,
	// corosync's IPC_REQUEST_SIZE, so that any message a libcpg client can
	// send atomically fits.
	DefaultMaxMessage = 1 << 20
)

// Options configure an Engine. The zero value selects the defaults.
type Options struct {
	// MaxMessage is the largest payload of one ReqMcast, in bytes
	// (default DefaultMaxMessage). A message whose MCAST would exceed
	// API.MaxMessage is sent as PARTIAL_MCAST fragments; a payload larger
	// than MaxMessage is refused with ErrMsgTooBig. ReqMaxAtomic returns it.
	MaxMessage int
	// MaxReassembly is the largest PARTIAL_MCAST message reassembled, in
	// bytes (default and minimum MaxMessage). Larger ones are dropped and
	// counted: other nodes' libcpg clients can send messages of any size
	// in fragments, but a delivery must fit in one IPC frame, whose payload
	// must hold MaxDeliverHeader + MaxReassembly bytes (the daemon's 1 MiB
	// + 4 KiB does for the defaults).
	MaxReassembly int
	// Logger overrides API.Logger.
	Logger *slog.Logger
}

// Stats are the engine's counters.
type Stats struct {
	// Delivered counts messages (MCAST, or reassembled PARTIAL_MCAST)
	// delivered to at least one local connection; Copies the events that
	// carried them.
	Delivered, Copies uint64
	// DroppedUnknown counts messages not delivered because no process of
	// the sending node is known in the group ("Unknown node -> we will not
	// deliver message").
	DroppedUnknown uint64
	// Malformed counts exec messages dropped as malformed (short, bad
	// sizes, name longer than 128 bytes, unknown fn) and PARTIAL_MCAST
	// fragments that do not fit the message being reassembled.
	Malformed uint64
	// PartialReassembled counts PARTIAL_MCAST messages reassembled;
	// PartialDropped those thrown away (missed first fragment, too large,
	// restarted, or their sender left).
	PartialReassembled, PartialDropped uint64
	// FlowHolds counts the times a connection became held (flow control
	// on); Held is the number of messages held right now.
	FlowHolds uint64
	Held      int
}

// GroupInfo is one group of a Groups snapshot.
type GroupInfo struct {
	Name    string
	Members []Member // ascending (NodeID, PID)
}

// joinState is corosync's cpd_state for one (connection, group).
type joinState uint8

const (
	joinStarted  joinState = iota + 1 // PROCJOIN sent, not yet delivered
	joined                            // PROCJOIN delivered
	leaveStarted                      // PROCLEAVE sent, not yet delivered
)

// join is a local connection's membership of a group.
type join struct {
	c     *conn
	g     *group
	pid   uint32
	state joinState
}

// receives reports whether the join gets deliveries and confchgs.
func (j *join) receives() bool { return j.state == joined || j.state == leaveStarted }

// group is one process group.
type group struct {
	name    string
	key     []byte   // name, as bytes for the encoders
	members []Member // ascending (NodeID, PID), as corosync keeps process_info
	local   []*join  // local joins in any state, in the order they were requested
	// partial holds PARTIAL_MCAST reassemblies by sending process.
	partial map[Member]*assembly
}

// assembly is one PARTIAL_MCAST message being reassembled.
type assembly struct {
	buf    []byte
	msgLen int
	// skip: the message is being ignored (no local receiver when it
	// started, or too large) until its last fragment.
	skip bool
}

func memberCmp(a, b Member) int {
	return cmp.Or(cmp.Compare(a.NodeID, b.NodeID), cmp.Compare(a.PID, b.PID))
}

func (g *group) find(m Member) (int, bool) {
	return slices.BinarySearchFunc(g.members, m, memberCmp)
}

// hasNode reports whether some process of node is a member.
func (g *group) hasNode(node uint32) bool {
	i, _ := slices.BinarySearchFunc(g.members, Member{NodeID: node}, memberCmp)
	return i < len(g.members) && g.members[i].NodeID == node
}

func (g *group) receivers() bool {
	for _, j := range g.local {
		if j.receives() {
			return true
		}
	}
	return false
}

// Engine is corosync 3.1's CPG service (service id 2) as a pure engine.
// It is not safe for concurrent use: the daemon calls it from its service
// goroutine only.
type Engine struct {
	api  service.API
	log  *slog.Logger
	opts Options

	groups map[string]*group
	conns  map[uint64]*conn
	// held are the connections (live or gone) with messages waiting for
	// room in the send queue, in the order they became held.
	held []*conn

	sync syncData

	// ring is the last regular configuration (ConfChange).
	ring        service.RingID
	ringMembers []service.NodeID
	// totemRing and totemMembers are the ring and members of the last
	// sync activated: what EvTotemConfChg reports.
	totemRing    service.RingID
	totemMembers []service.NodeID
	totemKnown   bool

	stats Stats

	// Scratch space, reused so that the hot paths do not allocate.
	hdr   [PartialMcastHeaderSize]byte
	parts [2][]byte
	ev    []byte
	buf   []byte
	addrs []Address
}

var (
	_ service.LibEngine = (*Engine)(nil)
	_ service.Syncer    = (*Engine)(nil)
	_ service.Flow      = (*Engine)(nil)
)

// New returns an engine that reaches the daemon through api.
func New(api service.API, opts Options) *Engine {
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = DefaultMaxMessage
	}
	opts.MaxReassembly = max(opts.MaxReassembly, opts.MaxMessage)
	log := opts.Logger
	if log == nil {
		log = api.Logger()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		api:    api,
		log:    log,
		opts:   opts,
		groups: make(map[string]*group),
		conns:  make(map[uint64]*conn),
	}
}

// ID returns service.CPG.
func (e *Engine) ID() service.ID { return service.CPG }

// Name returns corosync's name for the service.
func (e *Engine) Name() string { return Name }

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	for _, c := range e.held {
		s.Held += len(c.fifo) - c.head
	}
	return s
}

// Groups returns a snapshot of every group with members, sorted by name.
func (e *Engine) Groups() []GroupInfo {
	var out []GroupInfo
	for _, g := range e.sortedGroups() {
		if len(g.members) > 0 {
			out = append(out, GroupInfo{Name: g.name, Members: slices.Clone(g.members)})
		}
	}
	return out
}

// sortedGroups returns the groups in name order.
func (e *Engine) sortedGroups() []*group {
	out := make([]*group, 0, len(e.groups))
	for _, g := range e.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *group) int { return strings.Compare(a.name, b.name) })
	return out
}

// groupFor returns the group named name, creating it.
func (e *Engine) groupFor(name []byte) *group {
	if g := e.groups[string(name)]; g != nil {
		return g
	}
	g := &group{name: string(name), key: slices.Clone(name)}
	e.groups[g.name] = g
	return g
}

// maybeDrop forgets a group without members or local joins.
func (e *Engine) maybeDrop(g *group) {
	if len(g.members) == 0 && len(g.local) == 0 {
		delete(e.groups, g.name)
	}
}

// Ring returns the last regular configuration given to ConfChange.
func (e *Engine) Ring() (service.RingID, []service.NodeID) {
	return e.ring, slices.Clone(e.ringMembers)
}

// ConfChange keeps the last regular configuration. Corosync's CPG does its
// membership work in sync (SyncInit, SyncActivate), not here.
func (e *Engine) ConfChange(c *totem.ConfChange) {
	if c.Transitional {
		return
	}
	e.ring = c.RingID
	e.ringMembers = append(e.ringMembers[:0], c.Members...)
}

// Exec handles one CPG exec message in agreed order.
func (e *Engine) Exec(m service.Exec) {
	switch m.Fn {
	case FnMcast:
		mc, err := DecodeMcast(m.Data, m.Swapped)
		if err != nil {
			e.malformed(m, err)
			return
		}
		if g := e.groups[string(mc.Group)]; g != nil {
			e.deliver(g, m.From, mc.PID, m.Guarantee, mc.Data)
		}
	case FnPartialMcast:
		pm, err := DecodePartialMcast(m.Data, m.Swapped)
		if err != nil {
			e.malformed(m, err)
			return
		}
		e.execPartial(m.From, m.Guarantee, pm)
	case FnProcJoin, FnProcLeave:
		pj, err := DecodeProcJoin(m.Data, m.Swapped)
		if err != nil || pj.Leave != (m.Fn == FnProcLeave) {
			e.malformed(m, err)
			return
		}
		if pj.Leave {
			e.execProcLeave(m.From, pj)
		} else {
			e.execProcJoin(m.From, pj)
		}
	case FnJoinList:
		jl, err := DecodeJoinList(m.Data, m.Swapped)
		if err != nil {
			e.malformed(m, err)
			return
		}
		e.execJoinList(m.From, jl)
	case FnDownList:
		dl, err := DecodeDownList(m.Data, m.Swapped)
		if err != nil {
			e.malformed(m, err)
			return
		}
		// Corosync 3.1 only logs it: every node uses its own downlist.
		e.log.Debug("downlist left_list received", "node", m.From, "left", len(dl.Left), "old_members", dl.OldMembers)
	case FnDownListOld:
		// Ignored, as by corosync 3.1.
	default:
		e.malformed(m, nil)
	}
}

func (e *Engine) malformed(m service.Exec, err error) {
	e.stats.Malformed++
	if err == nil {
		e.log.Debug("cpg: dropping exec message with unknown fn", "node", m.From, "fn", m.Fn, "size", len(m.Data))
		return
	}
	e.log.Debug("cpg: dropping malformed exec message", "node", m.From, "fn", m.Fn, "size", len(m.Data), "err", err)
}

// execProcJoin adds a process (do_proc_join): a duplicate is ignored.
func (e *Engine) execProcJoin(from uint32, pj ProcJoin) {
	e.log.Debug("got procjoin message from cluster node", "node", from, "pid", pj.PID, "group", string(pj.Group))
	g := e.groupFor(pj.Group)
	m := Member{NodeID: from, PID: pj.PID}
	i, found := g.find(m)
	if found {
		return
	}
	g.members = slices.Insert(g.members, i, m)
	e.addrs = append(e.addrs[:0], Address{NodeID: from, PID: pj.PID, Reason: ReasonJoin})
	e.notify(g, e.addrs, nil)
}

// execProcLeave removes a process. Like corosync, it notifies the group's
// local members even when the process was not known (a late PROCLEAVE
// after zombie cleanup), so that clients here see what clients of real
// corosync nodes see.
func (e *Engine) execProcLeave(from uint32, pj ProcJoin) {
	e.log.Debug("got procleave message from cluster node", "node", from, "pid", pj.PID, "group", string(pj.Group), "reason", pj.Reason)
	g := e.groups[string(pj.Group)]
	if g == nil {
		return
	}
	m := Member{NodeID: from, PID: pj.PID}
	e.addrs = append(e.addrs[:0], Address{NodeID: from, PID: pj.PID, Reason: pj.Reason})
	e.notify(g, nil, e.addrs)
	if i, found := g.find(m); found {
		g.members = slices.Delete(g.members, i, i+1)
	}
	e.dropPartial(g, m)
	e.maybeDrop(g)
}

// notify sends a confchg for g to its local members (corosync's
// notify_lib_joinlist): the members are g's minus left. Our own process's
// PROCJOIN completes its join; our own PROCLEAVE with reason LEAVE ends
// it.
func (e *Engine) notify(g *group, joinedList, leftList []Address) {
	self := e.api.NodeID()
	if len(joinedList) > 0 && joinedList[0].NodeID == self {
		for _, j := range g.local {
			if j.pid == joinedList[0].PID && j.state == joinStarted {
				j.state = joined
			}
		}
	}
	if g.receivers() {
		listed := func(m Member) bool {
			return slices.ContainsFunc(leftList, func(a Address) bool { return a.NodeID == m.NodeID && a.PID == m.PID })
		}
		e.ev = appendName(e.ev[:0], g.key)
		nm := 0
		for _, m := range g.members {
			if !listed(m) {
				nm++
			}
		}
		e.ev = appendU32(e.ev, uint32(nm))
		e.ev = appendU32(e.ev, uint32(len(leftList)))
		e.ev = appendU32(e.ev, uint32(len(joinedList)))
		for _, m := range g.members {
			if !listed(m) {
				e.ev = appendU32(e.ev, m.NodeID)
				e.ev = appendU32(e.ev, m.PID)
				e.ev = appendU32(e.ev, uint32(ReasonUndefined))
			}
		}
		e.ev = appendAddrs(e.ev, leftList)
		e.ev = appendAddrs(e.ev, joinedList)
		for _, j := range g.local {
			if j.receives() {
				j.c.sc.Event(EvConfChg, e.ev, nil)
			}
		}
	}
	if len(leftList) > 0 && leftList[0].NodeID == self && leftList[0].Reason == ReasonLeave {
		for _, j := range slices.Clone(g.local) {
			if j.pid == leftList[0].PID && j.state == leaveStarted {
				e.unjoin(j)
			}
		}
	}
}

// unjoin forgets a local join (the group is dropped by the caller if
// empty).
func (e *Engine) unjoin(j *join) {
	j.g.local = slices.DeleteFunc(j.g.local, func(x *join) bool { return x == j })
	j.c.joins = slices.DeleteFunc(j.c.joins, func(x *join) bool { return x == j })
}

// deliver hands one message from (node, pid) to g's local members: each
// gets its own copy, the sender included. It does not allocate.
func (e *Engine) deliver(g *group, node, pid uint32, guarantee totem.Guarantee, data []byte) {
	if !g.receivers() {
		return
	}
	if !g.hasNode(node) {
		e.stats.DroppedUnknown++
		// Corosync logs every one; we log the 1st, 2nd, 4th, 8th, ...
		if n := e.stats.DroppedUnknown; n&(n-1) == 0 {
			e.log.Warn("Unknown node -> we will not deliver message", "node", node, "pid", pid, "group", g.name, "dropped", n)
		}
		return
	}
	e.ev = AppendDeliverHeader(e.ev[:0], node, pid, guarantee, g.key)
	e.stats.Delivered++
	for _, j := range g.local {
		if j.receives() {
			j.c.sc.Event(EvDeliver, e.ev, data)
			e.stats.Copies++
		}
	}
}

// execPartial reassembles PARTIAL_MCAST fragments per (node, pid, group)
// and delivers the whole message. Corosync forwards the fragments to
// libcpg, which reassembles them; our clients get whole messages.
func (e *Engine) execPartial(from uint32, guarantee totem.Guarantee, pm PartialMcast) {
	g := e.groups[string(pm.Group)]
	if g == nil {
		return // nobody here knows the group: nothing to deliver, ever
	}
	key := Member{NodeID: from, PID: pm.PID}
	a := g.partial[key]
	if pm.Type == PartialFirst {
		if a != nil {
			if !a.skip {
				e.stats.PartialDropped++
			}
			delete(g.partial, key)
		}
		// Reassembled even when no local process is in the group yet: one
		// may join before the last fragment, and it must then deliver the
		// message as the processes of the other nodes do.
		a = &assembly{msgLen: int(pm.MsgLen)}
		if int64(pm.MsgLen) > int64(e.opts.MaxReassembly) {
			a.skip = true
			e.stats.PartialDropped++
			e.log.Debug("cpg: partial message too large, dropping it", "node", from, "pid", pm.PID, "group", g.name, "size", pm.MsgLen)
		}
		if g.partial == nil {
			g.partial = make(map[Member]*assembly)
		}
		g.partial[key] = a
	}
	if a == nil {
		// The first fragment was not seen (we joined, or the group
		// appeared, mid-message).
		if g.receivers() {
			e.stats.PartialDropped++
		}
		return
	}
	if !a.skip {
		if int(pm.MsgLen) != a.msgLen || len(a.buf)+len(pm.Data) > a.msgLen ||
			pm.Type == PartialLast && len(a.buf)+len(pm.Data) != a.msgLen {
			e.stats.Malformed++
			e.stats.PartialDropped++
			e.log.Debug("cpg: partial message fragments do not add up, dropping it", "node", from, "pid", pm.PID,
				"group", g.name, "size", a.msgLen, "have", len(a.buf), "fragment", len(pm.Data), "declared", pm.MsgLen)
			a.skip, a.buf = true, nil
		} else {
			a.buf = append(a.buf, pm.Data...)
		}
	}
	if pm.Type != PartialLast {
		return
	}
	delete(g.partial, key)
	if a.skip {
		return
	}
	e.stats.PartialReassembled++
	e.deliver(g, from, pm.PID, guarantee, a.buf)
}

// dropPartial forgets a process's reassembly in g.
func (e *Engine) dropPartial(g *group, m Member) {
	if a, ok := g.partial[m]; ok {
		if !a.skip {
			e.stats.PartialDropped++
		}
		delete(g.partial, m)
	}
}
