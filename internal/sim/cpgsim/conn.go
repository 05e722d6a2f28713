package cpgsim

import (
	"errors"
	"slices"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cpg"
)

// conn is a simulated client's connection, the service.Conn the engine
// talks to. Replies are kept for the request in progress; events go to
// the checker as they come, decoded with the CPG protocol's decoders.
type conn struct {
	s  *sim
	p  *proc
	id uint64

	inRequest bool
	gotReply  bool
	replyID   uint32
	status    service.Status
	payload   []byte
	errs      []cpg.ErrorEvent

	buf []byte
}

var _ service.Conn = (*conn)(nil)

// ID returns the connection's id, unique in the run.
func (c *conn) ID() uint64 { return c.id }

// Cred returns the client process's credentials: its pid.
func (c *conn) Cred() service.Cred { return service.Cred{PID: int32(c.p.pid)} }

// Reply records the answer to the request in progress.
func (c *conn) Reply(reqID uint32, st service.Status, payload []byte) {
	if !c.inRequest || c.gotReply {
		c.s.ck.fail(Replies, c.p.String(), "reply %v to request %d outside a request or twice", st, reqID)
		return
	}
	c.gotReply, c.replyID, c.status = true, reqID, st
	c.payload = append(c.payload[:0], payload...)
}

// Event hands an event to the checker.
func (c *conn) Event(kind uint16, hdr, body []byte) {
	c.buf = append(append(c.buf[:0], hdr...), body...)
	c.s.event(c, kind, c.buf)
}

// Close reports that the engine wanted the client cut off, which CPG has
// no reason to do in the simulation.
func (c *conn) Close(reason error) {
	c.s.ck.fail(Replies, c.p.String(), "the engine closed the connection: %v", reason)
}

// begin prepares for a request.
func (c *conn) begin() {
	c.inRequest, c.gotReply, c.errs = true, false, c.errs[:0]
}

func (c *conn) end() { c.inRequest = false }

var errEngine = errors.New("cpgsim: event outside a request")

// event checks one event a client got.
func (s *sim) event(c *conn, kind uint16, payload []byte) {
	p := c.p
	ck := s.ck
	if !p.alive {
		ck.fail(Replies, p.String(), "event %d for a client that disconnected or whose node is down", kind)
		return
	}
	n := s.nodes[p.node-1]
	switch kind {
	case cpg.EvDeliver:
		ev, err := cpg.DecodeDeliverEvent(payload)
		if err != nil {
			ck.fail(Integrity, p.String(), "undecodable EvDeliver: %v", err)
			return
		}
		ck.deliver(p, n, &ev)
	case cpg.EvConfChg:
		ev, err := cpg.DecodeConfChgEvent(payload)
		if err != nil {
			ck.fail(ViewConsistency, p.String(), "undecodable EvConfChg: %v", err)
			return
		}
		n.confchged = true
		ck.confchg(p, n, &ev)
	case cpg.EvTotemConfChg:
		ev, err := cpg.DecodeTotemConfChgEvent(payload)
		if err != nil {
			ck.fail(Replies, p.String(), "undecodable EvTotemConfChg: %v", err)
			return
		}
		ck.totemConfChg(p, n, c.inRequest, &ev)
	case cpg.EvFlowControl:
		on, err := cpg.DecodeFlowControlEvent(payload)
		if err != nil {
			ck.fail(Replies, p.String(), "undecodable EvFlowControl: %v", err)
			return
		}
		text := "off"
		if on {
			text = "on"
			s.stats.flowHolds++
		}
		s.tr.add(entry{time: s.c.Now(), kind: entFlow, p: p, node: p.node, inc: int32(p.inc), text: text})
	case cpg.EvError:
		ev, err := cpg.DecodeErrorEvent(payload)
		if err != nil {
			ck.fail(Replies, p.String(), "undecodable EvError: %v", err)
			return
		}
		if !c.inRequest {
			ck.fail(Replies, p.String(), "%v: request fn %d failed later with %v", errEngine, ev.Fn, ev.Status)
			return
		}
		c.errs = append(c.errs, ev)
	default:
		ck.fail(Replies, p.String(), "unknown event kind %d", kind)
	}
}

// request hands one request to the node's host as the daemon's IPC glue
// would, and returns the reply (ok false if none came) and any EvError
// events it caused.
func (s *sim) request(p *proc, fn uint16, id uint32, payload []byte) (st service.Status, reply []byte, ok bool, errs []cpg.ErrorEvent) {
	c := p.conn
	n := s.nodes[p.node-1]
	c.begin()
	n.h.Request(c, service.CPG, service.Request{ID: id, Fn: fn, Payload: payload})
	c.end()
	return c.status, c.payload, c.gotReply, slices.Clone(c.errs)
}
