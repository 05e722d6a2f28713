package votequorumtest

import (
	"fmt"
	"slices"

	"github.com/corogo/corogo/internal/service"
	svq "github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/votequorum"
)

// Flag groups.
const (
	optionFlags = votequorum.TwoNode | votequorum.WaitForAll | votequorum.LastManStanding |
		votequorum.AutoTieBreaker | votequorum.AllowDownscale
	qdeviceFlags = votequorum.QdeviceAlive | votequorum.QdeviceCastVote | votequorum.QdeviceMasterWins
)

// node is one node votequorum knows.
type node struct {
	id     uint32
	votes  uint32
	qflags votequorum.InfoFlags // QdeviceAlive, QdeviceCastVote, QdeviceMasterWins
}

// vqClient is one connection to the votequorum service.
type vqClient struct {
	conn     service.Conn
	tracking bool
	context  uint64
}

// engine is the fake votequorum service: a service.LibEngine and the
// quorum service's provider. The engines' goroutine only.
type engine struct {
	s       *Server
	local   uint32
	nodes   []*node // by id
	members []uint32
	ring    service.RingID
	clients []*vqClient // by connection id

	expected    uint32
	flags       votequorum.InfoFlags // options
	qdevName    string               // "": none registered
	qdevVotes   uint32
	denyQdevice bool
	refuse      map[uint16]service.Status

	// Computed by count.
	total, highest, quorum uint32
	quorate                bool
}

func newEngine(s *Server, opts Options, nodes []Node) *engine {
	e := &engine{
		s:           s,
		local:       opts.NodeID,
		expected:    opts.ExpectedVotes,
		flags:       opts.Flags & optionFlags,
		qdevVotes:   opts.QdeviceVotes,
		denyQdevice: opts.DenyQdevice,
		refuse:      map[uint16]service.Status{},
	}
	if e.qdevVotes == 0 {
		e.qdevVotes = 1
	}
	var sum uint32
	for _, n := range nodes {
		e.nodeFor(n.ID).votes = n.Votes
		sum += n.Votes
	}
	if e.expected == 0 {
		e.expected = sum
	}
	e.count()
	return e
}

// nodeFor returns the node, adding it with one vote when unknown.
func (e *engine) nodeFor(id uint32) *node {
	i, found := slices.BinarySearchFunc(e.nodes, id, func(n *node, id uint32) int { return cmpU32(n.id, id) })
	if !found {
		e.nodes = slices.Insert(e.nodes, i, &node{id: id, votes: 1})
	}
	return e.nodes[i]
}

func (e *engine) find(id uint32) *node {
	i, found := slices.BinarySearchFunc(e.nodes, id, func(n *node, id uint32) int { return cmpU32(n.id, id) })
	if !found {
		return nil
	}
	return e.nodes[i]
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// count recomputes the votes and the decision from scratch.
func (e *engine) count() {
	var total uint32
	for _, id := range e.members {
		if n := e.find(id); n != nil {
			total += n.votes
		}
	}
	if e.qdevName != "" {
		if n := e.find(e.local); n != nil && n.qflags&(votequorum.QdeviceAlive|votequorum.QdeviceCastVote) == votequorum.QdeviceAlive|votequorum.QdeviceCastVote {
			total += e.qdevVotes
		}
	}
	e.total = total
	e.highest = max(e.expected, total)
	e.quorum = e.highest/2 + 1
	if e.flags&votequorum.TwoNode != 0 {
		e.quorum = 1
	}
	e.quorate = e.total >= e.quorum
}

// acceptable reports whether corosync would accept expected votes with
// total votes: the quorum they make is not more than the total, nor less
// than half of it.
func acceptable(expected, total uint32) bool {
	q := max(expected, total)/2 + 1
	return q <= total && q >= total/2
}

// update recounts, hands the decision to the quorum service and sends a
// quorum notification to tracking clients, as every recalculation does
// in corosync.
func (e *engine) update() {
	e.count()
	e.s.quorum.Update(e.quorate)
	e.notifyQuorum(nil)
}

// setMembers installs a new ring (SetMembership); the caller notifies.
func (e *engine) setMembers(ring service.RingID, members []uint32) {
	e.ring = ring
	e.members = slices.Clone(members)
	for _, id := range members {
		e.nodeFor(id)
	}
	e.count()
}

func (e *engine) setQdevice(name string) {
	e.qdevName = name
	if name == "" {
		for _, n := range e.nodes {
			n.qflags = 0
		}
	}
}

// Quorate is the provider's decision.
func (e *engine) Quorate() bool { return e.quorate }

// Name is the provider's name.
func (e *engine) Name() string { return "corosync_votequorum" }

// ID is the votequorum service's id.
func (e *engine) ID() service.ID { return service.Votequorum }

// Exec drops cluster messages: the fake has none.
func (e *engine) Exec(service.Exec) {}

// ConfChange does nothing: Server.SetMembership drives the fake.
func (e *engine) ConfChange(*totem.ConfChange) {}

// info is a node's FnGetInfo reply; id 0 is this node.
func (e *engine) info(id uint32) (svq.Info, bool) {
	if id == 0 {
		id = e.local
	}
	n := e.find(id)
	if n == nil {
		return svq.Info{}, false
	}
	state := svq.StateDead
	if slices.Contains(e.members, id) {
		state = svq.StateMember
	}
	flags := e.flags
	if e.quorate {
		flags |= votequorum.Quorate
	}
	if e.qdevName != "" {
		flags |= votequorum.QdeviceRegistered | n.qflags
	}
	in := svq.Info{
		NodeID:          id,
		State:           state,
		Votes:           n.votes,
		ExpectedVotes:   e.expected,
		HighestExpected: e.highest,
		TotalVotes:      e.total,
		Quorum:          e.quorum,
		Flags:           svq.InfoFlags(flags),
		QdeviceName:     e.qdevName,
	}
	if e.qdevName != "" {
		in.QdeviceVotes = e.qdevVotes
	}
	return in, true
}

func public(in svq.Info) votequorum.Info {
	return votequorum.Info{
		NodeID:          in.NodeID,
		State:           votequorum.NodeState(in.State),
		Votes:           in.Votes,
		ExpectedVotes:   in.ExpectedVotes,
		HighestExpected: in.HighestExpected,
		TotalVotes:      in.TotalVotes,
		Quorum:          in.Quorum,
		Flags:           votequorum.InfoFlags(in.Flags),
		QdeviceVotes:    in.QdeviceVotes,
		QdeviceName:     in.QdeviceName,
	}
}

// Connect admits a client.
func (e *engine) Connect(c service.Conn) service.Status {
	i, found := e.findClient(c.ID())
	if found {
		return service.ErrExist
	}
	e.clients = slices.Insert(e.clients, i, &vqClient{conn: c})
	return service.OK
}

// Disconnect forgets a client. A quorum device it registered stays, as
// in corosync.
func (e *engine) Disconnect(c service.Conn) {
	if i, found := e.findClient(c.ID()); found {
		e.clients = slices.Delete(e.clients, i, i+1)
	}
}

func (e *engine) findClient(id uint64) (int, bool) {
	return slices.BinarySearchFunc(e.clients, id, func(c *vqClient, id uint64) int {
		switch {
		case c.conn.ID() < id:
			return -1
		case c.conn.ID() > id:
			return 1
		}
		return 0
	})
}

func reply(c service.Conn, r service.Request, st service.Status, payload []byte) {
	if r.ID != 0 {
		c.Reply(r.ID, st, payload)
	}
}

// Request serves one client request.
func (e *engine) Request(c service.Conn, r service.Request) {
	i, found := e.findClient(c.ID())
	if !found {
		reply(c, r, service.ErrBadHandle, nil)
		return
	}
	cl := e.clients[i]
	if line := describe(r); line != "" {
		e.s.logCall(line)
	}
	if st, ok := e.refuse[r.Fn]; ok {
		reply(c, r, st, nil)
		return
	}
	st, payload := e.serve(cl, r)
	if r.Fn == svq.FnTrackStart {
		return // trackStart replied
	}
	reply(c, r, st, payload)
}

// describe is a request's line in Server.Calls; "" for get info.
func describe(r service.Request) string {
	bad := fmt.Sprintf("fn %d malformed", r.Fn)
	switch r.Fn {
	case svq.FnGetInfo:
		return ""
	case svq.FnSetExpected:
		v, err := svq.DecodeSetExpected(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("setexpected %d", v)
	case svq.FnSetVotes:
		id, v, err := svq.DecodeSetVotes(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("setvotes %d %d", id, v)
	case svq.FnTrackStart:
		f, ctx, err := svq.DecodeTrackStart(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("trackstart %d %#x", f, ctx)
	case svq.FnTrackStop:
		return "trackstop"
	case svq.FnQdeviceRegister, svq.FnQdeviceUnregister:
		name, err := svq.DecodeName(r.Payload)
		if err != nil {
			return bad
		}
		if r.Fn == svq.FnQdeviceRegister {
			return "qdevice register " + name
		}
		return "qdevice unregister " + name
	case svq.FnQdeviceUpdate:
		o, n, err := svq.DecodeNames(r.Payload)
		if err != nil {
			return bad
		}
		return "qdevice update " + o + " " + n
	case svq.FnQdevicePoll:
		p, err := svq.DecodePoll(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("qdevice poll %s %v %x.%x", p.Name, p.CastVote, p.Ring.Rep, p.Ring.Seq)
	case svq.FnQdeviceMasterWins:
		name, allow, err := svq.DecodeMasterWins(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("qdevice masterwins %s %v", name, allow)
	case svq.FnCancelWaitForAll:
		return "cancel waitforall"
	}
	return fmt.Sprintf("fn %d", r.Fn)
}

// serve carries out a request and returns its status and reply payload.
func (e *engine) serve(cl *vqClient, r service.Request) (service.Status, []byte) {
	switch r.Fn {
	case svq.FnGetInfo:
		id, err := svq.DecodeGetInfo(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		in, ok := e.info(id)
		if !ok {
			return service.ErrNotExist, nil
		}
		return service.OK, svq.AppendInfo(nil, in)

	case svq.FnSetExpected:
		v, err := svq.DecodeSetExpected(r.Payload)
		if err != nil || v == 0 || !acceptable(v, e.total) {
			return service.ErrInvalidArg, nil
		}
		e.expected = v
		e.notifyExpected()
		e.update()
		return service.OK, nil

	case svq.FnSetVotes:
		id, v, err := svq.DecodeSetVotes(r.Payload)
		if err != nil {
			return service.ErrInvalidArg, nil
		}
		if id == 0 {
			id = e.local
		}
		n := e.find(id)
		if n == nil {
			return service.ErrNotExist, nil
		}
		total := e.total
		if slices.Contains(e.members, id) {
			total = total - n.votes + v
		}
		if !acceptable(e.expected, total) {
			return service.ErrInvalidArg, nil
		}
		n.votes = v
		e.update()
		return service.OK, nil

	case svq.FnTrackStart:
		f, ctx, err := svq.DecodeTrackStart(r.Payload)
		switch {
		case err != nil:
			reply(cl.conn, r, service.ErrInvalidArg, nil)
		case cl.tracking:
			reply(cl.conn, r, service.ErrExist, nil)
		default:
			// The reply goes first, as the quorum service's does, so that
			// a client sees its request answered before the events.
			reply(cl.conn, r, service.OK, nil)
			cl.context = ctx
			if f&(svq.TrackCurrent|svq.TrackChanges) != 0 {
				e.notifyNodeList(cl)
				e.notifyQuorum(cl)
			}
			cl.tracking = f&(svq.TrackChanges|svq.TrackChangesOnly) != 0
		}
		return service.OK, nil

	case svq.FnTrackStop:
		if !cl.tracking {
			return service.ErrNotExist, nil
		}
		cl.tracking = false
		return service.OK, nil

	case svq.FnQdeviceRegister:
		name, err := svq.DecodeName(r.Payload)
		switch {
		case err != nil:
			return service.ErrInvalidArg, nil
		case e.denyQdevice:
			return service.ErrAccess, nil
		case e.qdevName == name:
			return service.OK, nil
		case e.qdevName != "":
			return service.ErrExist, nil
		}
		e.setQdevice(name)
		e.update()
		return service.OK, nil

	case svq.FnQdeviceUnregister:
		name, err := svq.DecodeName(r.Payload)
		if st := e.checkQdevice(name, err); st != service.OK {
			return st, nil
		}
		e.setQdevice("")
		e.update()
		return service.OK, nil

	case svq.FnQdeviceUpdate:
		oldName, newName, err := svq.DecodeNames(r.Payload)
		if st := e.checkQdevice(oldName, err); st != service.OK {
			return st, nil
		}
		e.qdevName = newName
		e.update()
		return service.OK, nil

	case svq.FnQdevicePoll:
		p, err := svq.DecodePoll(r.Payload)
		if st := e.checkQdevice(p.Name, err); st != service.OK {
			return st, nil
		}
		if p.Ring != e.ring {
			return svq.ErrMessage, nil
		}
		n := e.nodeFor(e.local)
		n.qflags |= votequorum.QdeviceAlive
		if p.CastVote {
			n.qflags |= votequorum.QdeviceCastVote
		} else {
			n.qflags &^= votequorum.QdeviceCastVote
		}
		e.update()
		return service.OK, nil

	case svq.FnQdeviceMasterWins:
		name, allow, err := svq.DecodeMasterWins(r.Payload)
		if st := e.checkQdevice(name, err); st != service.OK {
			return st, nil
		}
		n := e.nodeFor(e.local)
		if allow {
			n.qflags |= votequorum.QdeviceMasterWins
		} else {
			n.qflags &^= votequorum.QdeviceMasterWins
		}
		e.update()
		return service.OK, nil

	case svq.FnCancelWaitForAll:
		e.flags &^= votequorum.WaitForAll
		e.update()
		return service.OK, nil
	}
	return service.ErrNotSupport, nil
}

// checkQdevice checks a request naming the registered device.
func (e *engine) checkQdevice(name string, decodeErr error) service.Status {
	switch {
	case decodeErr != nil:
		return service.ErrInvalidArg
	case e.qdevName == "":
		return service.ErrNotExist
	case name != e.qdevName:
		return service.ErrInvalidArg
	}
	return service.OK
}

// each calls f for cl, or for every tracking client when cl is nil.
func (e *engine) each(cl *vqClient, f func(*vqClient)) {
	if cl != nil {
		f(cl)
		return
	}
	for _, c := range e.clients {
		if c.tracking {
			f(c)
		}
	}
}

func (e *engine) notifyQuorum(cl *vqClient) {
	e.each(cl, func(c *vqClient) {
		ev := svq.QuorumEvent{Quorate: e.quorate, Context: c.context}
		for _, n := range e.nodes {
			st := svq.StateDead
			if slices.Contains(e.members, n.id) {
				st = svq.StateMember
			}
			ev.Nodes = append(ev.Nodes, svq.NodeStatus{NodeID: n.id, State: st})
		}
		if e.qdevName != "" {
			st := svq.StateDead
			if n := e.find(e.local); n != nil && n.qflags&votequorum.QdeviceAlive != 0 {
				st = svq.StateMember
			}
			ev.Nodes = append(ev.Nodes, svq.NodeStatus{NodeID: votequorum.QdeviceNodeID, State: st})
		}
		c.conn.Event(svq.EventQuorum, svq.AppendQuorumEvent(nil, ev), nil)
	})
}

func (e *engine) notifyNodeList(cl *vqClient) {
	e.each(cl, func(c *vqClient) {
		ev := svq.NodeListEvent{Context: c.context, Ring: e.ring, Members: e.members}
		c.conn.Event(svq.EventNodeList, svq.AppendNodeListEvent(nil, ev), nil)
	})
}

func (e *engine) notifyExpected() {
	e.each(nil, func(c *vqClient) {
		ev := svq.ExpectedVotesEvent{Context: c.context, ExpectedVotes: e.expected}
		c.conn.Event(svq.EventExpectedVotes, svq.AppendExpectedVotesEvent(nil, ev), nil)
	})
}
