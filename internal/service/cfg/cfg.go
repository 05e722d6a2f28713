package cfg

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// Name is the service's name, as corosync logs it.
const Name = "corosync configuration service"

// Options configure an Engine. The callbacks run on the daemon's service
// goroutine, inside the engine's handlers: they must not block for long.
type Options struct {
	// OnShutdown is called when this node must shut down: killed by a
	// KILLNODE, or its own SHUTDOWN delivered. reason says why. It may be
	// called more than once; nil ignores the request (logged).
	OnShutdown func(reason string)
	// OnReload re-reads the configuration file and applies what can change
	// at run time (nodelist, timers). It runs on every node when a
	// RELOAD_CONFIG is delivered; nil makes every reload fail.
	OnReload func() error
	// Status returns the state of this node's links to every node, in any
	// order (one entry per link and node).
	Status func() []LinkStatus
}

// Stats are the engine's counters.
type Stats struct {
	// Received counts exec messages handled; Malformed those dropped;
	// UnknownFn those with an unknown fn (dropped).
	Received, Malformed, UnknownFn uint64
	// Reloads counts reloads run, ReloadFailures the failed ones.
	Reloads, ReloadFailures uint64
}

// pending are a connection's reload requests awaiting their own message,
// in send order (total order delivers them in that order).
type pending struct {
	conn service.Conn
	ids  []uint32
}

// ErrNoReload is OnReload's result when the daemon set none.
var ErrNoReload = errors.New("cfg: configuration reload not supported")

// Engine is the cfg service. It is not safe for concurrent use: the
// daemon calls it from its service goroutine.
type Engine struct {
	api     service.API
	log     *slog.Logger
	opts    Options
	pending map[uint64]*pending // by connection id; looked up, never iterated
	stats   Stats
	buf     []byte
}

var _ service.LibEngine = (*Engine)(nil)

// New returns the cfg service.
func New(api service.API, opts Options) *Engine {
	e := &Engine{api: api, log: api.Logger(), opts: opts, pending: map[uint64]*pending{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

// ID is service.CFG.
func (e *Engine) ID() service.ID { return service.CFG }

// Name is corosync's name of the service.
func (e *Engine) Name() string { return Name }

// ConfChange does nothing, as corosync's cfg_confchg_fn.
func (e *Engine) ConfChange(*totem.ConfChange) {}

// Stats returns the counters.
func (e *Engine) Stats() Stats { return e.stats }

// Exec handles cfg's cluster messages.
func (e *Engine) Exec(m service.Exec) {
	self := e.api.NodeID()
	var err error
	switch m.Fn {
	case ExecKillNode:
		var k KillNode
		if k, err = DecodeKillNode(m.Data, m.Swapped); err == nil {
			e.log.Debug(fmt.Sprintf("request to kill node %d(us=%d)", k.NodeID, self))
			if k.NodeID == self {
				e.log.Info(fmt.Sprintf("Killed by node %d: %s", m.From, k.Reason))
				e.shutdown(fmt.Sprintf("killed by node %d: %s", m.From, k.Reason))
			}
		}
	case ExecShutdown:
		if err = DecodeShutdown(m.Data, m.Swapped); err == nil {
			e.log.Info(fmt.Sprintf("Node %d was shut down by sysadmin", m.From))
			if m.From == self {
				e.shutdown("shut down by sysadmin")
			}
		}
	case ExecReloadConfig:
		var src Source
		if src, err = DecodeReloadConfig(m.Data, m.Swapped); err == nil {
			e.reload(m.From, src)
		}
	case ExecRingReenable:
		if _, err = DecodeRingReenable(m.Data, m.Swapped); err == nil {
			e.log.Debug(fmt.Sprintf("cfg: ring re-enable requested by node %d: nothing to do", m.From))
		}
	case ExecCryptoReconfig:
		var phase uint32
		if phase, err = DecodeCryptoReconfig(m.Data, m.Swapped); err == nil {
			e.log.Debug(fmt.Sprintf("cfg: crypto reconfiguration phase %d from node %d ignored", phase, m.From))
		}
	default:
		e.stats.UnknownFn++
		e.log.Debug(fmt.Sprintf("cfg: dropping exec message fn %d from node %d", m.Fn, m.From))
		return
	}
	if err != nil {
		e.stats.Malformed++
		e.log.Debug(fmt.Sprintf("cfg: dropping message from node %d: %v", m.From, err))
		return
	}
	e.stats.Received++
}

func (e *Engine) shutdown(reason string) {
	if e.opts.OnShutdown == nil {
		e.log.Warn("cfg: shutdown requested (" + reason + ") but the daemon handles none")
		return
	}
	e.opts.OnShutdown(reason)
}

// reload runs the reload on this node and, for our own request, answers
// the client that asked.
func (e *Engine) reload(from service.NodeID, src Source) {
	e.log.Info(fmt.Sprintf("Config reload requested by node %d", from))
	e.stats.Reloads++
	err := ErrNoReload
	if e.opts.OnReload != nil {
		err = e.opts.OnReload()
	}
	st := service.OK
	if err != nil {
		e.stats.ReloadFailures++
		e.log.Error(fmt.Sprintf("Unable to reload config file: %v", err))
		st = service.ErrLibrary
	}
	self := e.api.NodeID()
	if from != self || src.NodeID != self {
		return
	}
	p := e.pending[src.Conn]
	if p == nil {
		return // the client left, or asked for no reply
	}
	id := p.ids[0]
	p.ids = p.ids[1:]
	if len(p.ids) == 0 {
		delete(e.pending, src.Conn)
	}
	p.conn.Reply(id, st, nil)
}

// Connect admits a client.
func (e *Engine) Connect(service.Conn) service.Status { return service.OK }

// Disconnect forgets the client's pending reloads (the reloads still run).
func (e *Engine) Disconnect(c service.Conn) { delete(e.pending, c.ID()) }

// Request serves one client request (see the Fn constants).
func (e *Engine) Request(c service.Conn, r service.Request) {
	switch r.Fn {
	case FnRingStatusGet:
		reply(c, r, service.OK, AppendLinks(nil, e.links()))
	case FnLocalGet:
		reply(c, r, service.OK, AppendNodeID(nil, e.api.NodeID()))
	case FnNodeStatusGet:
		id, err := DecodeNodeID(r.Payload)
		if err != nil {
			reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		s := NodeStatus{NodeID: id, Reachable: id == e.api.NodeID()}
		for _, l := range e.links() {
			if l.NodeID == id {
				s.Links = append(s.Links, l)
				s.Reachable = s.Reachable || l.Connected
			}
		}
		if len(s.Links) == 0 && !s.Reachable {
			reply(c, r, service.ErrNotExist, nil)
			return
		}
		reply(c, r, service.OK, AppendNodeStatus(nil, s))
	case FnKillNode:
		k, err := DecodeKillNodeRequest(r.Payload)
		switch {
		case errors.Is(err, ErrReasonTooLong):
			reply(c, r, service.ErrNameTooLon, nil)
			return
		case err != nil:
			reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		e.buf, _ = AppendKillNode(e.buf[:0], KillNode(k))
		reply(c, r, e.send("kill node", e.buf), nil)
	case FnShutdown:
		if _, err := DecodeShutdownRequest(r.Payload); err != nil {
			reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		st := e.send("shutdown", AppendShutdown(e.buf[:0]))
		if st == service.ErrLibrary {
			// The ring cannot carry it: shut down anyway, as asked.
			st = service.OK
			e.shutdown("shut down by sysadmin (not announced: the ring is down)")
		}
		reply(c, r, st, nil)
	case FnReload:
		src := Source{NodeID: e.api.NodeID(), Conn: c.ID()}
		st := e.send("reload", AppendReloadConfig(e.buf[:0], src))
		if st != service.OK || r.ID == 0 {
			reply(c, r, st, nil)
			return
		}
		p := e.pending[c.ID()]
		if p == nil {
			p = &pending{conn: c}
			e.pending[c.ID()] = p
		}
		p.ids = append(p.ids, r.ID)
	default:
		reply(c, r, service.ErrNotSupport, nil)
	}
}

// send multicasts a cfg message with corosync's TOTEM_SAFE guarantee and
// maps the outcome to a client status.
func (e *Engine) send(what string, msg []byte) service.Status {
	err := e.api.Send(msg, totem.Safe)
	switch {
	case err == nil:
		return service.OK
	case errors.Is(err, totem.ErrTryAgain):
		return service.ErrTryAgain
	default:
		e.log.Warn(fmt.Sprintf("cfg: cannot send %s message: %v", what, err))
		return service.ErrLibrary
	}
}

// links returns the daemon's link status sorted by link and node.
func (e *Engine) links() []LinkStatus {
	if e.opts.Status == nil {
		return nil
	}
	ls := slices.Clone(e.opts.Status())
	slices.SortStableFunc(ls, func(a, b LinkStatus) int {
		return cmp.Or(cmp.Compare(a.LinkNo, b.LinkNo), cmp.Compare(a.NodeID, b.NodeID))
	})
	return ls
}

func reply(c service.Conn, r service.Request, st service.Status, payload []byte) {
	if r.ID != 0 {
		c.Reply(r.ID, st, payload)
	}
}
