// Package syncproto is corosync 3.1's service synchronisation protocol
// (exec/sync.c; corosync-wire.md §5.2), as a pure state machine.
//
// After every regular configuration, every member multicasts one
// SERVICE_BUILD in group "sync" listing the services it synchronises. Once
// every member's SERVICE_BUILD has been delivered, the union of the lists
// (ids this node does not run become no-op "dummy" rounds) is walked in
// ascending id order: for each service, every node runs its sync_init and
// sync_process (which multicast the service's sync data in group "a"),
// then multicasts a BARRIER; when every member's barrier has been
// delivered, every node activates the service and moves to the next one.
// After the last one the node logs "Completed service synchronization,
// ready to provide service." A configuration change during a sync aborts
// the current service and starts over for the new ring.
//
// Total order does the rest: since a node sends its barrier for service k
// only after delivering the barrier that completed k−1, every barrier is
// counted in the right round on every node. Messages are byte-compatible
// with corosync's, so our nodes and real corosync nodes sync together.
package syncproto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// Participant is a local service that takes part in sync.
type Participant struct {
	ID   service.ID
	Name string
	// Syncer is the service's callbacks.
	Syncer service.Syncer
}

// Options configure an Engine.
type Options struct {
	// Send multicasts one item in group "sync"; it returns
	// totem.ErrTryAgain when the send queue is full (the Engine retries on
	// the next Poll).
	Send func(msg []byte) error
	// Participants are the local services with sync callbacks, in any
	// order.
	Participants []Participant
	// Logger receives corosync's SYNC and MAIN log lines.
	Logger *slog.Logger
	// OnComplete is called when a sync completes.
	OnComplete func(ring service.RingID)
}

type phase uint8

const (
	phaseIdle phase = iota
	phaseBuild
	phaseProcess
)

// round is one service in this sync's list.
type round struct {
	id     service.ID
	name   string
	s      service.Syncer // nil for a dummy round
	inited bool
}

// Stats are the Engine's counters.
type Stats struct {
	Started, Completed, Aborted uint64
	// Dropped counts malformed sync messages; OldRing those for another
	// ring.
	Dropped, OldRing uint64
}

// Engine runs the sync protocol of one node. It is not safe for
// concurrent use.
type Engine struct {
	opts  Options
	log   *slog.Logger
	local []Participant

	phase   phase
	ring    service.RingID
	ringRaw [12]byte
	members []service.NodeID
	trans   []service.NodeID
	rounds  []round
	idx     int
	got     []bool // per member: SERVICE_BUILD or BARRIER seen this round

	needBuild   bool
	processing  bool
	needBarrier bool
	buf         []byte
	stats       Stats
}

// New returns an idle Engine.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	local := slices.Clone(opts.Participants)
	slices.SortFunc(local, func(a, b Participant) int { return int(a.ID) - int(b.ID) })
	return &Engine{opts: opts, log: opts.Logger, local: local}
}

// Syncing reports whether a sync is in progress.
func (e *Engine) Syncing() bool { return e.phase != phaseIdle }

// Ring returns the ring being (or last) synchronised.
func (e *Engine) Ring() service.RingID { return e.ring }

// Stats returns the counters.
func (e *Engine) Stats() Stats { return e.stats }

// Current names the service being synchronised ("" when idle or while the
// service lists are exchanged).
func (e *Engine) Current() string {
	if e.phase != phaseProcess || e.idx >= len(e.rounds) {
		return ""
	}
	return e.rounds[e.idx].name
}

// ConfChange takes a configuration change in delivery order: it keeps the
// transitional member list and starts a sync on a regular configuration,
// aborting one in progress.
func (e *Engine) ConfChange(c *totem.ConfChange) {
	if c.Transitional {
		e.trans = append(e.trans[:0], c.Members...)
		return
	}
	if e.phase != phaseIdle {
		e.abort()
	}
	e.ring = c.RingID
	putRing(e.ringRaw[:], c.RingID)
	e.members = append(e.members[:0], c.Members...)
	e.rounds = e.rounds[:0]
	for _, p := range e.local {
		e.rounds = append(e.rounds, round{id: p.ID, name: p.Name, s: p.Syncer})
	}
	e.idx = 0
	e.got = slices.Grow(e.got[:0], len(e.members))[:len(e.members)]
	clear(e.got)
	e.phase = phaseBuild
	e.needBuild, e.processing, e.needBarrier = true, false, false
	e.stats.Started++
	e.Poll()
}

func (e *Engine) abort() {
	if e.phase == phaseProcess && e.idx < len(e.rounds) {
		r := &e.rounds[e.idx]
		if r.s != nil && r.inited {
			r.s.SyncAbort()
		}
	}
	e.log.Debug("Sync aborted: a new configuration arrived during sync")
	e.phase = phaseIdle
	e.ring = service.RingID{}
	e.ringRaw = [12]byte{}
	e.needBuild, e.processing, e.needBarrier = false, false, false
	e.stats.Aborted++
}

// Deliver takes one item of group "sync" (group header removed) from
// node from, in agreed order.
func (e *Engine) Deliver(from service.NodeID, msg []byte) {
	m, err := Decode(msg)
	if err != nil {
		e.stats.Dropped++
		e.log.Debug(err.Error())
		return
	}
	if e.phase == phaseIdle || m.RawRing != e.ringRaw {
		e.stats.OldRing++
		return
	}
	i, ok := slices.BinarySearch(e.members, from)
	if !ok {
		return
	}
	switch {
	case m.Build != nil:
		for _, id := range m.Build.Services {
			if !slices.ContainsFunc(e.rounds, func(r round) bool { return r.id == id }) {
				e.rounds = append(e.rounds, round{id: id, name: fmt.Sprintf("dummy service %d", id)})
			}
		}
		slices.SortStableFunc(e.rounds[e.idx:], func(a, b round) int { return int(a.id) - int(b.id) })
		e.got[i] = true
		if e.phase == phaseBuild && e.all() {
			if e.log.Enabled(context.Background(), slog.LevelDebug) {
				e.log.Debug("Sync service list: " + e.listString())
			}
			e.enterProcess()
		}
	case m.Barrier != nil:
		e.got[i] = true
		if e.phase == phaseProcess && e.all() {
			r := &e.rounds[e.idx]
			if r.s != nil {
				e.log.Debug("Committing synchronization for " + r.name)
				if !r.inited {
					// A barrier round can complete before our own process
					// step ran only if we sent no barrier: impossible, but
					// keep the callbacks paired.
					r.s.SyncInit(e.trans, e.members, e.ring)
				}
				r.s.SyncActivate()
			}
			e.idx++
			e.enterProcess()
		}
	}
	e.Poll()
}

func (e *Engine) all() bool {
	for _, g := range e.got {
		if !g {
			return false
		}
	}
	return true
}

func (e *Engine) listString() string {
	var sb strings.Builder
	for i, r := range e.rounds {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%d", r.id)
	}
	return sb.String()
}

func (e *Engine) enterProcess() {
	clear(e.got)
	if e.idx >= len(e.rounds) {
		e.complete()
		return
	}
	e.phase = phaseProcess
	e.processing = true
}

func (e *Engine) complete() {
	e.phase = phaseIdle
	e.processing, e.needBarrier = false, false
	e.stats.Completed++
	e.log.Info("Completed service synchronization, ready to provide service.")
	if e.opts.OnComplete != nil {
		e.opts.OnComplete(e.ring)
	}
}

// Poll does the sending that is due: this node's SERVICE_BUILD, the
// current service's sync_process, this node's barrier. The daemon calls it
// after deliveries and whenever the send queue may have room again.
func (e *Engine) Poll() {
	if e.needBuild {
		ids := make([]service.ID, 0, len(e.local))
		for _, p := range e.local {
			ids = append(ids, p.ID)
		}
		e.buf = AppendServiceBuild(e.buf[:0], ServiceBuild{Ring: e.ring, Services: ids})
		if !e.send(e.buf) {
			return
		}
		e.needBuild = false
	}
	if e.phase != phaseProcess {
		return
	}
	if e.processing {
		r := &e.rounds[e.idx]
		if r.s != nil {
			if !r.inited {
				r.inited = true
				r.s.SyncInit(e.trans, e.members, e.ring)
			}
			if !r.s.SyncProcess() {
				return
			}
		}
		e.processing = false
		e.needBarrier = true
	}
	if e.needBarrier {
		e.buf = AppendBarrier(e.buf[:0], Barrier{Ring: e.ring})
		if !e.send(e.buf) {
			return
		}
		e.needBarrier = false
	}
}

// send reports whether msg was queued; a full queue is retried later,
// anything else is logged and treated as sent (the next configuration
// change recovers).
func (e *Engine) send(msg []byte) bool {
	err := e.opts.Send(msg)
	switch {
	case err == nil:
		return true
	case errors.Is(err, totem.ErrTryAgain):
		return false
	default:
		e.log.Warn("sync: cannot send", "err", err)
		return true
	}
}
