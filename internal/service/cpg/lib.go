package cpg

import (
	"cmp"
	"errors"
	"slices"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// pending is a message held for a connection until the send queue has
// room: a whole exec message, header included.
type pending struct {
	msg []byte
	g   totem.Guarantee
}

// conn is a local client connection (corosync's cpg_pd). Unlike libcpg's
// one group per handle, a connection may join several groups, each once.
type conn struct {
	sc    service.Conn
	id    uint64
	joins []*join // in the order of the join requests
	track bool    // wants EvTotemConfChg
	// fifo[head:] are the held messages, in order; held is set while
	// there are any (the connection is then in Engine.held).
	fifo []pending
	head int
	held bool
	// gone is set once the client disconnected; its held messages (and
	// the PROCLEAVEs of its groups) are still sent, in order.
	gone bool
}

func (c *conn) find(group []byte) *join {
	for _, j := range c.joins {
		if j.g.name == string(group) {
			return j
		}
	}
	return nil
}

// sortedConns returns the live connections in id order.
func (e *Engine) sortedConns() []*conn {
	out := make([]*conn, 0, len(e.conns))
	for _, c := range e.conns {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	return out
}

// Connect admits a client.
func (e *Engine) Connect(c service.Conn) service.Status {
	if _, dup := e.conns[c.ID()]; dup {
		return service.ErrExist
	}
	e.conns[c.ID()] = &conn{sc: c, id: c.ID()}
	return service.OK
}

// Disconnect forgets a client. For each group it joined (or was joining)
// and has not started to leave, a PROCLEAVE with reason PROCDOWN is sent
// (corosync's cpg_lib_exit_fn), after the client's held messages if it
// has any. The connection gets no more events.
func (e *Engine) Disconnect(c service.Conn) {
	cn := e.conns[c.ID()]
	if cn == nil {
		return
	}
	delete(e.conns, cn.id)
	cn.gone = true
	e.log.Debug("exit_fn for conn", "conn", cn.id, "groups", len(cn.joins))
	// During a sync the PROCLEAVEs are held until it completes, as
	// messages are: this node's JOINLIST of this sync may already list the
	// process, and a PROCLEAVE delivered before the activation would be
	// undone by it on the other nodes (the process would come back as a
	// zombie there).
	hold := cn.held || e.api.Syncing()
	for _, j := range cn.joins {
		if j.state == joinStarted || j.state == joined {
			e.buf, _ = AppendProcJoin(e.buf[:0], ProcJoin{Leave: true, Group: j.g.key, PID: j.pid, Reason: ReasonProcDown})
			if st := e.sendParts(cn, totem.Agreed, e.buf, nil, hold, true); st != service.OK {
				e.log.Warn("cpg: cannot send procleave for a closed connection", "conn", cn.id, "group", j.g.name, "pid", j.pid, "status", st)
			}
		}
		j.g.local = slices.DeleteFunc(j.g.local, func(x *join) bool { return x == j })
		e.maybeDrop(j.g)
	}
	cn.joins = nil
}

// Request handles one client request. Requests that send (JOIN, LEAVE,
// MCAST) get ErrTryAgain while a sync is in progress, as corosync's IPC
// layer answers flow-controlled CPG requests, except a MCAST that wants
// no reply (id 0): that one is held (see Held) and sent after the sync.
func (e *Engine) Request(c service.Conn, r service.Request) {
	cn := e.conns[c.ID()]
	if cn == nil {
		e.reply(c, r, service.ErrBadHandle, nil)
		return
	}
	switch r.Fn {
	case ReqMcast:
		e.reqMcast(cn, r)
	case ReqJoin:
		e.reqJoin(cn, r)
	case ReqLeave:
		e.reqLeave(cn, r)
	case ReqMembership:
		e.reqMembership(cn, r)
	case ReqLocalGet:
		if len(r.Payload) != 0 {
			e.reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		e.reply(c, r, service.OK, AppendLocalGetReply(nil, e.api.NodeID()))
	case ReqIterate:
		e.reqIterate(cn, r)
	case ReqTrackTotem:
		e.reqTrackTotem(cn, r)
	case ReqFlowState:
		if len(r.Payload) != 0 {
			e.reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		e.reply(c, r, service.OK, AppendFlowStateReply(nil, cn.held))
	case ReqMaxAtomic:
		if len(r.Payload) != 0 {
			e.reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		e.reply(c, r, service.OK, AppendMaxAtomicReply(nil, uint32(e.opts.MaxMessage)))
	default:
		e.reply(c, r, service.ErrNotSupport, nil)
	}
}

// reply answers r; a request with id 0 gets no reply, and a failure is
// reported by an EvError event instead.
func (e *Engine) reply(c service.Conn, r service.Request, st service.Status, payload []byte) {
	if r.ID != 0 {
		c.Reply(r.ID, st, payload)
		return
	}
	if st != service.OK {
		var b [8]byte
		c.Event(EvError, AppendErrorEvent(b[:0], ErrorEvent{Fn: r.Fn, Status: st}), nil)
	}
}

// checkName validates a group name from a request.
func checkName(name []byte) service.Status {
	switch {
	case len(name) == 0:
		return service.ErrInvalidArg
	case len(name) > MaxNameLen:
		return service.ErrNameTooLon
	}
	return service.OK
}

// statusOf maps a send error to the status clients see.
func statusOf(err error) service.Status {
	switch {
	case err == nil:
		return service.OK
	case errors.Is(err, totem.ErrTryAgain):
		return service.ErrTryAgain
	case errors.Is(err, totem.ErrMessageTooBig):
		return service.ErrMsgTooBig
	}
	return service.ErrLibrary
}

func (e *Engine) reqJoin(c *conn, r service.Request) {
	m, err := DecodeJoinRequest(r.Payload)
	if err != nil {
		e.reply(c.sc, r, service.ErrInvalidArg, nil)
		return
	}
	if st := checkName(m.Group); st != service.OK {
		e.reply(c.sc, r, st, nil)
		return
	}
	pid := m.PID
	if pid == 0 {
		p := c.sc.Cred().PID
		if p <= 0 {
			e.reply(c.sc, r, service.ErrInvalidArg, nil)
			return
		}
		pid = uint32(p)
	}
	if e.api.Syncing() || c.held {
		e.reply(c.sc, r, service.ErrTryAgain, nil)
		return
	}
	if c.find(m.Group) != nil {
		e.reply(c.sc, r, service.ErrExist, nil)
		return
	}
	if g := e.groups[string(m.Group)]; g != nil {
		for _, j := range g.local {
			if j.pid == pid {
				// Same pid and group joined by another connection.
				e.reply(c.sc, r, service.ErrExist, nil)
				return
			}
		}
		if _, found := g.find(Member{NodeID: e.api.NodeID(), PID: pid}); found {
			// The process's PROCLEAVE has not been delivered yet.
			e.reply(c.sc, r, service.ErrTryAgain, nil)
			return
		}
	}
	e.buf, _ = AppendProcJoin(e.buf[:0], ProcJoin{Group: m.Group, PID: pid, Reason: ReasonJoin})
	if err := e.api.Send(e.buf, totem.Agreed); err != nil {
		e.reply(c.sc, r, statusOf(err), nil)
		return
	}
	g := e.groupFor(m.Group)
	j := &join{c: c, g: g, pid: pid, state: joinStarted}
	g.local = append(g.local, j)
	c.joins = append(c.joins, j)
	e.log.Debug("cpg: join sent", "conn", c.id, "group", g.name, "pid", pid)
	e.reply(c.sc, r, service.OK, nil)
}

func (e *Engine) reqLeave(c *conn, r service.Request) {
	m, err := DecodeLeaveRequest(r.Payload)
	if err != nil {
		e.reply(c.sc, r, service.ErrInvalidArg, nil)
		return
	}
	if st := checkName(m.Group); st != service.OK {
		e.reply(c.sc, r, st, nil)
		return
	}
	if e.api.Syncing() || c.held {
		e.reply(c.sc, r, service.ErrTryAgain, nil)
		return
	}
	j := c.find(m.Group)
	switch {
	case j == nil || j.state == leaveStarted:
		e.reply(c.sc, r, service.ErrNotExist, nil)
		return
	case j.state == joinStarted:
		// Corosync answers CS_ERR_BUSY, which service.Status lacks.
		e.reply(c.sc, r, service.ErrTryAgain, nil)
		return
	}
	e.buf, _ = AppendProcJoin(e.buf[:0], ProcJoin{Leave: true, Group: j.g.key, PID: j.pid, Reason: ReasonLeave})
	if err := e.api.Send(e.buf, totem.Agreed); err != nil {
		e.reply(c.sc, r, statusOf(err), nil)
		return
	}
	j.state = leaveStarted
	e.log.Debug("cpg: leave sent", "conn", c.id, "group", j.g.name, "pid", j.pid)
	e.reply(c.sc, r, service.OK, nil)
}

// reqMcast is the hot path: it does not allocate unless the message must
// be held or fragmented.
func (e *Engine) reqMcast(c *conn, r service.Request) {
	m, err := DecodeMcastRequest(r.Payload)
	if err != nil || m.Guarantee > totem.Safe {
		e.reply(c.sc, r, service.ErrInvalidArg, nil)
		return
	}
	if st := checkName(m.Group); st != service.OK {
		e.reply(c.sc, r, st, nil)
		return
	}
	if len(m.Data) > e.opts.MaxMessage {
		e.reply(c.sc, r, service.ErrMsgTooBig, nil)
		return
	}
	j := c.find(m.Group)
	if j == nil || j.state == leaveStarted {
		e.reply(c.sc, r, service.ErrNotExist, nil)
		return
	}
	hold := e.api.Syncing() || c.held
	if hold && r.ID != 0 {
		e.reply(c.sc, r, service.ErrTryAgain, nil)
		return
	}
	e.reply(c.sc, r, e.sendMcast(c, j, m.Guarantee, m.Data, hold, r.ID == 0), nil)
}

// sendMcast sends (or holds) one application message as an MCAST, or as
// PARTIAL_MCAST fragments when the MCAST would exceed API.MaxMessage. All
// the fragments are handed to the API one after the other; once one is
// held, the rest follow it in the FIFO. mayHold allows holding the message
// (or its first fragment) when the queue is full instead of failing with
// ErrTryAgain.
func (e *Engine) sendMcast(c *conn, j *join, g totem.Guarantee, data []byte, hold, mayHold bool) service.Status {
	src := Source{NodeID: e.api.NodeID(), Conn: c.id}
	limit := e.api.MaxMessage()
	if McastHeaderSize+len(data) <= limit {
		hdr := e.hdr[:McastHeaderSize]
		PutMcastHeader(hdr, j.g.key, j.pid, src, len(data))
		return e.sendParts(c, g, hdr, data, hold, mayHold)
	}
	frag := limit - PartialMcastHeaderSize
	if frag <= 0 {
		return service.ErrMsgTooBig
	}
	for off := 0; off < len(data); off += frag {
		end := min(off+frag, len(data))
		t := PartialContinued
		switch {
		case off == 0:
			t = PartialFirst
		case end == len(data):
			t = PartialLast
		}
		hdr := e.hdr[:PartialMcastHeaderSize]
		PutPartialMcastHeader(hdr, j.g.key, len(data), j.pid, t, src, end-off)
		if st := e.sendParts(c, g, hdr, data[off:end], hold || c.held, mayHold || off > 0); st != service.OK {
			return st
		}
	}
	return service.OK
}

// sendParts sends hdr+body, or appends a copy to c's FIFO when hold is
// set or when the queue is full and mayHold is set.
func (e *Engine) sendParts(c *conn, g totem.Guarantee, hdr, body []byte, hold, mayHold bool) service.Status {
	if !hold {
		var err error
		if len(body) == 0 {
			err = e.api.Send(hdr, g)
		} else {
			e.parts[0], e.parts[1] = hdr, body
			err = e.api.SendVec(g, e.parts[:]...)
			e.parts = [2][]byte{}
		}
		if err == nil {
			return service.OK
		}
		if !mayHold || !errors.Is(err, totem.ErrTryAgain) {
			return statusOf(err)
		}
	}
	msg := make([]byte, len(hdr)+len(body))
	copy(msg[copy(msg, hdr):], body)
	e.enqueue(c, pending{msg: msg, g: g})
	return service.OK
}

// enqueue holds a message for c; the first one turns flow control on.
func (e *Engine) enqueue(c *conn, p pending) {
	c.fifo = append(c.fifo, p)
	if c.held {
		return
	}
	c.held = true
	e.held = append(e.held, c)
	e.stats.FlowHolds++
	if !c.gone {
		c.sc.Event(EvFlowControl, AppendFlowControlEvent(nil, true), nil)
	}
}

// Held reports whether c has messages the engine holds because the send
// queue was full or a sync was in progress.
//
// The contract with the daemon: while Held(c) is true the daemon stops
// reading c's requests, so that a connection holds at most the messages it
// had pipelined before its EvFlowControl{on} event was queued, plus the
// fragments of one message. The daemon calls Resume when the send queue
// has room again and when a sync completes.
func (e *Engine) Held(c service.Conn) bool {
	cn := e.conns[c.ID()]
	return cn != nil && cn.held
}

// Resume sends held messages, connection by connection in the order they
// became held, each connection's in order, until the queue is full again.
// A connection whose FIFO empties gets EvFlowControl{off}. Nothing is sent
// while a sync is in progress.
func (e *Engine) Resume() {
	if e.api.Syncing() {
		return
	}
	for len(e.held) > 0 {
		c := e.held[0]
		for c.head < len(c.fifo) {
			p := c.fifo[c.head]
			err := e.api.Send(p.msg, p.g)
			if errors.Is(err, totem.ErrTryAgain) {
				return
			}
			if err != nil {
				e.log.Warn("cpg: dropping a held message", "conn", c.id, "size", len(p.msg), "err", err)
				if !c.gone {
					e.reply(c.sc, service.Request{Fn: ReqMcast}, statusOf(err), nil)
				}
			}
			c.fifo[c.head] = pending{}
			c.head++
		}
		c.fifo, c.head, c.held = c.fifo[:0], 0, false
		e.held = slices.Delete(e.held, 0, 1)
		if !c.gone {
			c.sc.Event(EvFlowControl, AppendFlowControlEvent(nil, false), nil)
		}
	}
}

func (e *Engine) reqMembership(c *conn, r service.Request) {
	m, err := DecodeMembershipRequest(r.Payload)
	if err != nil {
		e.reply(c.sc, r, service.ErrInvalidArg, nil)
		return
	}
	if st := checkName(m.Group); st != service.OK {
		e.reply(c.sc, r, st, nil)
		return
	}
	var members []Member
	if g := e.groups[string(m.Group)]; g != nil {
		members = g.members
	}
	e.reply(c.sc, r, service.OK, AppendMembershipReply(nil, members))
}

func (e *Engine) reqIterate(c *conn, r service.Request) {
	m, err := DecodeIterateRequest(r.Payload)
	if err != nil {
		e.reply(c.sc, r, service.ErrInvalidArg, nil)
		return
	}
	var out []IterEntry
	switch m.Mode {
	case IterNameOnly, IterAll:
		if len(m.Group) != 0 {
			e.reply(c.sc, r, service.ErrInvalidArg, nil)
			return
		}
		for _, g := range e.sortedGroups() {
			if len(g.members) == 0 {
				continue
			}
			if m.Mode == IterNameOnly {
				out = append(out, IterEntry{Group: g.key})
				continue
			}
			for _, mb := range g.members {
				out = append(out, IterEntry{Group: g.key, NodeID: mb.NodeID, PID: mb.PID})
			}
		}
	case IterOneGroup:
		if st := checkName(m.Group); st != service.OK {
			e.reply(c.sc, r, st, nil)
			return
		}
		if g := e.groups[string(m.Group)]; g != nil {
			for _, mb := range g.members {
				out = append(out, IterEntry{Group: g.key, NodeID: mb.NodeID, PID: mb.PID})
			}
		}
	default:
		e.reply(c.sc, r, service.ErrInvalidArg, nil)
		return
	}
	e.reply(c.sc, r, service.OK, AppendIterateReply(nil, out))
}

func (e *Engine) reqTrackTotem(c *conn, r service.Request) {
	m, err := DecodeTrackTotemRequest(r.Payload)
	if err != nil {
		e.reply(c.sc, r, service.ErrInvalidArg, nil)
		return
	}
	c.track = m.On
	e.reply(c.sc, r, service.OK, nil)
	if m.On && m.Initial && e.totemKnown {
		e.ev = AppendTotemConfChgEvent(e.ev[:0], TotemConfChgEvent{Ring: e.totemRing, Members: e.totemMembers})
		c.sc.Event(EvTotemConfChg, e.ev, nil)
	}
}
