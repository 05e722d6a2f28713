package cpgsim

import (
	"math"
	"math/rand/v2"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cpg"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/pg"
)

// slot is one client seat of a node: the process in it connects, joins,
// leaves, multicasts and disconnects; a new process takes the seat after
// a disconnect or a restart of the node.
type slot struct {
	n    *node
	next int64
	p    *proc
}

// workload drives every node's client processes from one random stream.
type workload struct {
	s        *sim
	rng      *rand.Rand
	interval float64
	slots    []*slot
	buf      []byte
	req      []byte
	nextConn uint64
	// partialMin is the smallest payload sent as PARTIAL_MCAST fragments.
	partialMin int
}

func newWorkload(s *sim, rng *rand.Rand) *workload {
	o := s.o
	w := &workload{s: s, rng: rng, interval: float64(o.ActionInterval),
		buf:        make([]byte, o.MaxMessage+1024),
		partialMin: o.MaxItem - len(pg.GroupHeaderA) - cpg.McastHeaderSize + 1}
	for _, n := range s.nodes {
		for range o.Clients {
			w.slots = append(w.slots, &slot{n: n, next: w.gap()})
		}
	}
	return w
}

// gap draws an exponential time between two actions of a client.
func (w *workload) gap() int64 { return 1 + int64(w.rng.ExpFloat64()*w.interval) }

// size draws a message size: 2% tiny (1 B up to the payload header),
// 83% small (up to 1 KiB), 11.5% medium (1–4 KiB), 3% sent as
// PARTIAL_MCAST fragments (over the ring's item limit, up to four items
// or Options.MaxMessage), and 0.5% over Options.MaxMessage, which the
// engine refuses; log-uniform within each class.
func (w *workload) size() int {
	o := w.s.o
	logUniform := func(lo, hi int) int {
		if hi <= lo {
			return lo
		}
		return int(math.Exp(math.Log(float64(lo)) + w.rng.Float64()*(math.Log(float64(hi))-math.Log(float64(lo)))))
	}
	switch p := w.rng.Float64(); {
	case p < 0.02:
		return 1 + w.rng.IntN(HeaderSize-1)
	case p < 0.85:
		return logUniform(HeaderSize, 1024)
	case p < 0.965:
		return logUniform(1024, min(4096, w.partialMin-1))
	case p < 0.995:
		return logUniform(w.partialMin, max(w.partialMin, min(4*(o.MaxItem-len(pg.GroupHeaderA)), o.MaxMessage)))
	}
	return o.MaxMessage + 1 + w.rng.IntN(1024)
}

// nextAt returns the earliest next action.
func (w *workload) nextAt() int64 {
	m := int64(math.MaxInt64)
	for _, sl := range w.slots {
		m = min(m, sl.next)
	}
	return m
}

// nodeDown empties the node's seats.
func (w *workload) nodeDown(n *node) {
	for _, sl := range w.slots {
		if sl.n == n {
			sl.p = nil
		}
	}
}

// step runs the actions due at now (none at or after stop).
func (w *workload) step(now, stop int64) {
	for _, sl := range w.slots {
		for sl.next <= now {
			sl.next += w.gap()
			// The draws happen whatever the state, so that one client's
			// fate shifts the others' actions as little as possible.
			r := w.rng.Float64()
			gi := w.rng.IntN(w.s.o.Groups)
			if now >= stop || !sl.n.up() {
				continue
			}
			w.act(sl, r, gi)
			if w.s.ck.v != nil {
				return
			}
		}
	}
}

func (w *workload) act(sl *slot, r float64, gi int) {
	if sl.p == nil {
		w.connect(sl)
		return
	}
	p, n := sl.p, sl.n
	if n.h.Held(p.conn, service.CPG) {
		// The daemon reads nothing from a held connection.
		return
	}
	switch {
	case r < 0.015:
		w.disconnect(sl)
	case r < 0.10:
		if p.groups[gi].state == notJoined {
			w.join(p, gi)
		} else {
			w.mcastAny(p, gi)
		}
	case r < 0.15:
		if p.groups[gi].state == joined {
			w.leave(p, gi)
		} else {
			w.mcastAny(p, gi)
		}
	case r < 0.17:
		w.query(p, gi)
	default:
		w.mcastAny(p, gi)
	}
}

func (p *proc) nextReq() uint32 {
	p.reqs++
	return p.reqs
}

func (w *workload) connect(sl *slot) {
	s, n := w.s, sl.n
	n.nextPID++
	w.nextConn++
	groups := s.o.Groups
	p := &proc{node: n.id, inc: n.inc, pid: 1000*n.id + n.nextPID, alive: true,
		groups: make([]membership, groups), subs: make([]uint16, groups)}
	p.conn = &conn{s: s, p: p, id: w.nextConn}
	st := n.h.Open(p.conn, service.CPG)
	s.tr.add(entry{time: s.c.Now(), kind: entConnect, p: p, node: n.id, inc: int32(n.inc), st: st, size: int32(w.nextConn)})
	if st != service.OK {
		s.ck.fail(Replies, p.String(), "connect refused: %v", st)
		return
	}
	s.stats.procs++
	s.ck.newProc(p)
	n.procs = append(n.procs, p)
	sl.p = p
	if w.rng.IntN(3) == 0 {
		p.track = true
		payload := cpg.AppendTrackTotemRequest(nil, cpg.TrackTotemRequest{On: true, Initial: true})
		if st, _, ok, _ := s.request(p, cpg.ReqTrackTotem, p.nextReq(), payload); !ok || st != service.OK {
			s.ck.fail(Replies, p.String(), "track totem: %v (reply %v)", st, ok)
		}
	}
}

func (w *workload) disconnect(sl *slot) {
	s, n, p := w.s, sl.n, sl.p
	n.h.Close(p.conn, service.CPG)
	s.tr.add(entry{time: s.c.Now(), kind: entDisconnect, p: p, node: n.id, inc: int32(n.inc)})
	s.stats.disconnects++
	s.ck.procDown(p)
	for i, q := range n.procs {
		if q == p {
			n.procs = append(n.procs[:i], n.procs[i+1:]...)
			break
		}
	}
	sl.p = nil
}

func (w *workload) join(p *proc, gi int) {
	s := w.s
	pid := p.pid
	if w.rng.IntN(2) == 0 {
		pid = 0 // the engine takes the connection's pid
	}
	payload := cpg.AppendJoinRequest(nil, cpg.JoinRequest{PID: pid, Group: []byte(groupName(gi))})
	st, _, ok, errs := s.request(p, cpg.ReqJoin, p.nextReq(), payload)
	s.tr.add(entry{time: s.c.Now(), kind: entJoin, p: p, node: p.node, inc: int32(p.inc), group: int8(gi), st: st})
	switch {
	case !ok || len(errs) > 0:
		s.ck.fail(Replies, p.String(), "join %s: no reply (%v)", groupLabel(gi), errs)
	case st == service.OK:
		mb := &p.groups[gi]
		mb.state = joining
		mb.episode++
		s.stats.joins++
	case st == service.ErrTryAgain:
		s.stats.refused++
	default:
		s.ck.fail(Replies, p.String(), "join %s while %v: %v", groupLabel(gi), p.groups[gi].state, st)
	}
}

func (w *workload) leave(p *proc, gi int) {
	s := w.s
	payload := cpg.AppendLeaveRequest(nil, cpg.LeaveRequest{Group: []byte(groupName(gi))})
	st, _, ok, errs := s.request(p, cpg.ReqLeave, p.nextReq(), payload)
	s.tr.add(entry{time: s.c.Now(), kind: entLeave, p: p, node: p.node, inc: int32(p.inc), group: int8(gi), st: st})
	switch {
	case !ok || len(errs) > 0:
		s.ck.fail(Replies, p.String(), "leave %s: no reply (%v)", groupLabel(gi), errs)
	case st == service.OK:
		p.groups[gi].state = leaving
		s.stats.leaves++
	case st == service.ErrTryAgain:
		s.stats.refused++
	default:
		s.ck.fail(Replies, p.String(), "leave %s while %v: %v", groupLabel(gi), p.groups[gi].state, st)
	}
}

// query asks for a group's members: a process with a view must get its
// view (the engine reports every change of a group to its members).
func (w *workload) query(p *proc, gi int) {
	s := w.s
	payload := cpg.AppendMembershipRequest(nil, cpg.MembershipRequest{Group: []byte(groupName(gi))})
	st, reply, ok, _ := s.request(p, cpg.ReqMembership, p.nextReq(), payload)
	if !ok || st != service.OK {
		s.ck.fail(Replies, p.String(), "membership of %s: %v (reply %v)", groupLabel(gi), st, ok)
		return
	}
	members, err := cpg.DecodeMembershipReply(reply)
	if err != nil {
		s.ck.fail(Replies, p.String(), "membership of %s: %v", groupLabel(gi), err)
		return
	}
	if mb := &p.groups[gi]; mb.hasView && !equalMembers(members, mb.view) {
		s.ck.fail(ViewConsistency, p.String(), "the engine says the members of %s are %s, its last confchg said %s",
			groupLabel(gi), formatMembers(members), formatMembers(mb.view))
	}
}

func equalMembers(a, b []cpg.Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// mcastAny multicasts to group gi if the process may, else to the next
// group it may; with none, it joins gi.
func (w *workload) mcastAny(p *proc, gi int) {
	for k := range len(p.groups) {
		g := (gi + k) % len(p.groups)
		if st := p.groups[g].state; st == joining || st == joined {
			w.mcast(p, g)
			return
		}
	}
	if p.groups[gi].state == notJoined {
		w.join(p, gi)
	}
}

func (w *workload) mcast(p *proc, gi int) {
	s := w.s
	size := w.size()
	g := totem.Agreed
	if w.rng.IntN(10) < 3 {
		g = totem.Safe
	}
	var reqID uint32
	if w.rng.IntN(100) >= 15 {
		reqID = p.nextReq()
	}
	tooBig := size > s.o.MaxMessage
	id := MsgID{Node: p.node, PID: p.pid, Counter: p.counter}
	msg := w.buf[:size]
	s.codec.encode(msg, id, p.inc, gi)
	w.req = cpg.AppendMcastRequest(w.req[:0], cpg.McastRequest{Guarantee: g, Group: []byte(groupName(gi)), Data: msg})
	st, _, ok, errs := s.request(p, cpg.ReqMcast, reqID, w.req)
	accepted := false
	if reqID != 0 {
		switch {
		case !ok || len(errs) > 0:
			s.ck.fail(Replies, p.String(), "mcast %dB: reply %v %v, errors %v", size, ok, st, errs)
		case st == service.OK && !tooBig:
			accepted = true
		case st == service.ErrTryAgain && !tooBig:
			s.stats.refused++
		case st == service.ErrMsgTooBig && tooBig:
			s.stats.tooBig++
		default:
			s.ck.fail(Replies, p.String(), "mcast %dB to %s while %v: %v", size, groupLabel(gi), p.groups[gi].state, st)
		}
	} else {
		st = service.OK
		switch {
		case ok:
			s.ck.fail(Replies, p.String(), "reply %v to an mcast that wanted none", st)
		case tooBig && len(errs) == 1 && errs[0].Fn == cpg.ReqMcast && errs[0].Status == service.ErrMsgTooBig:
			st = service.ErrMsgTooBig
			s.stats.tooBig++
		case !tooBig && len(errs) == 0:
			accepted = true
		default:
			s.ck.fail(Replies, p.String(), "mcast %dB (no reply wanted): errors %v", size, errs)
		}
	}
	e := entry{time: s.c.Now(), kind: entMcast, p: p, node: p.node, inc: int32(p.inc), group: int8(gi), g: g,
		size: int32(size), id: id, st: st}
	if reqID == 0 {
		e.text = "(no reply)"
	}
	s.tr.add(e)
	if !accepted {
		return
	}
	s.ck.sentOK(p, gi, size, g)
	if size >= HeaderSize {
		p.counter++
	}
	s.stats.sent++
	if size >= w.partialMin {
		s.stats.partials++
	}
}
