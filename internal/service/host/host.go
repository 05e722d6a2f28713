// Package host runs the service engines of one node: it dispatches the
// ring's deliveries (group "a" by service id, group "sync" to the sync
// protocol), configuration changes, and local client connections to the
// engines, and gives each engine its service.API. Like the engines it is a
// pure state machine driven from one goroutine: the daemon's runner calls
// Event for every totem event, Poll after every batch, and the Lib*
// methods for client traffic.
package host

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/syncproto"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/pg"
)

// Options configure a Host.
type Options struct {
	// NodeID is this node's id.
	NodeID service.NodeID
	// Send hands one totempg item (group header included) to the ring.
	Send func(g totem.Guarantee, parts ...[]byte) error
	// MaxItem is the largest item Send accepts (totem's MaxMessageSize).
	MaxItem int
	// Logger is the daemon's logger; each service logs with its subsystem.
	Logger *slog.Logger
	// OnSyncComplete is called when a sync completes.
	OnSyncComplete func(ring service.RingID)
}

// Stats are the host's counters, per service where it matters.
type Stats struct {
	// Exec counts the exec messages delivered per service id.
	Exec map[service.ID]uint64
	// Unknown counts messages for services not loaded here (dropped
	// silently, as corosync does).
	Unknown uint64
	// Malformed counts items with a bad group or service header.
	Malformed uint64
	// Sync is the sync protocol's counters.
	Sync syncproto.Stats
}

// Host owns the engines.
type Host struct {
	opts    Options
	log     *slog.Logger
	engines [service.MaxID]service.Engine
	order   []service.ID // loaded ids, ascending
	sync    *syncproto.Engine
	timed   []service.Timed // the engines with timers, by id
	started bool

	ring    service.RingID
	members []service.NodeID

	hdrA    []byte
	hdrSync []byte
	parts   [][]byte
	exec    [service.MaxID]uint64
	unknown uint64
	bad     uint64
}

// New returns a Host with no engines.
func New(opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Host{
		opts:    opts,
		log:     opts.Logger,
		hdrA:    []byte(pg.GroupHeaderA),
		hdrSync: []byte(pg.GroupHeaderSync),
	}
}

// apiFor is the service.API an engine gets.
type apiFor struct {
	h   *Host
	log *slog.Logger
}

func (a *apiFor) NodeID() service.NodeID { return a.h.opts.NodeID }
func (a *apiFor) Send(msg []byte, g totem.Guarantee) error {
	return a.h.opts.Send(g, a.h.hdrA, msg)
}
func (a *apiFor) SendVec(g totem.Guarantee, parts ...[]byte) error {
	h := a.h
	h.parts = append(h.parts[:0], h.hdrA)
	h.parts = append(h.parts, parts...)
	err := h.opts.Send(g, h.parts...)
	clear(h.parts)
	return err
}
func (a *apiFor) MaxMessage() int { return a.h.opts.MaxItem - len(pg.GroupHeaderA) }
func (a *apiFor) Ring() (service.RingID, []service.NodeID) {
	return a.h.ring, a.h.members
}
func (a *apiFor) Syncing() bool        { return a.h.sync != nil && a.h.sync.Syncing() }
func (a *apiFor) Logger() *slog.Logger { return a.log }

// API returns the service.API for an engine of service id whose log lines
// carry subsystem subsys (corosync's "CPG", "QUORUM", ...). Engines are
// built with it and then given to Register.
func (h *Host) API(subsys string) service.API {
	return &apiFor{h: h, log: h.log.With("subsys", subsys)}
}

// Register loads an engine. It must be called before Start.
func (h *Host) Register(e service.Engine) error {
	id := e.ID()
	if id >= service.MaxID {
		return fmt.Errorf("host: service id %d out of range", id)
	}
	if h.engines[id] != nil {
		return fmt.Errorf("host: service %d registered twice", id)
	}
	if h.started {
		return fmt.Errorf("host: register %v after start", id)
	}
	h.engines[id] = e
	h.order = append(h.order, id)
	slices.Sort(h.order)
	return nil
}

// Start builds the sync protocol over the registered engines and logs the
// loaded services, as corosync does at start.
func (h *Host) Start() {
	var ps []syncproto.Participant
	mainLog := h.log.With("subsys", "SERV")
	for _, id := range h.order {
		e := h.engines[id]
		mainLog.Info(fmt.Sprintf("Service engine loaded: %s [%d]", e.Name(), id))
		if t, ok := e.(service.Timed); ok {
			h.timed = append(h.timed, t)
		}
		if s, ok := e.(service.Syncer); ok {
			ps = append(ps, syncproto.Participant{ID: id, Name: e.Name(), Syncer: s})
		}
	}
	h.sync = syncproto.New(syncproto.Options{
		Participants: ps,
		Send: func(msg []byte) error {
			return h.opts.Send(totem.Agreed, h.hdrSync, msg)
		},
		Logger:     h.log.With("subsys", "MAIN"),
		OnComplete: h.opts.OnSyncComplete,
	})
	h.started = true
}

// Engine returns the engine of service id, or nil.
func (h *Host) Engine(id service.ID) service.Engine {
	if id >= service.MaxID {
		return nil
	}
	return h.engines[id]
}

// Syncing reports whether a sync is in progress.
func (h *Host) Syncing() bool { return h.sync.Syncing() }

// Ring returns the current ring id and members.
func (h *Host) Ring() (service.RingID, []service.NodeID) { return h.ring, h.members }

// Event takes one totem event, in order.
func (h *Host) Event(ev *totem.Event) {
	switch ev.Type {
	case totem.EventDeliver:
		h.deliver(ev)
	case totem.EventConfChange:
		c := ev.Conf
		if !c.Transitional {
			h.ring = c.RingID
			h.members = append(h.members[:0], c.Members...)
		}
		for _, id := range h.order {
			h.engines[id].ConfChange(c)
		}
		h.sync.ConfChange(c)
	}
}

func (h *Host) deliver(ev *totem.Event) {
	g, payload, err := pg.ParseGroups(ev.Data, ev.Swapped)
	if err != nil {
		h.bad++
		return
	}
	switch {
	case g.Has(pg.GroupA):
		hdr, err := service.ParseHeader(payload, ev.Swapped)
		if err != nil {
			h.bad++
			return
		}
		if hdr.Service >= service.MaxID || h.engines[hdr.Service] == nil {
			h.unknown++
			return
		}
		h.exec[hdr.Service]++
		h.engines[hdr.Service].Exec(service.Exec{
			From: ev.From, Fn: hdr.Fn, Data: payload, Swapped: ev.Swapped, Guarantee: ev.Guarantee,
		})
	case g.Has(pg.GroupSync):
		h.sync.Deliver(ev.From, payload)
	}
}

// Poll gives the sync protocol and the engines holding client messages a
// chance to send: the daemon calls it after each batch of events and
// whenever the send queue may have room again.
func (h *Host) Poll() {
	h.sync.Poll()
	for _, id := range h.order {
		if f, ok := h.engines[id].(service.Flow); ok {
			f.Resume()
		}
	}
}

// Tick gives the time to the engines with timers (service.Timed, as
// found by Start); the runner calls it before handing the host anything
// else and whenever NextTimer's deadline passes. now is a monotonic
// duration from a fixed origin.
func (h *Host) Tick(now time.Duration) {
	for _, t := range h.timed {
		t.Tick(now)
	}
}

// NextTimer returns the earliest deadline of the engines' timers.
func (h *Host) NextTimer() (time.Duration, bool) {
	var at time.Duration
	found := false
	for _, t := range h.timed {
		if d, ok := t.NextTimer(); ok && (!found || d < at) {
			at, found = d, true
		}
	}
	return at, found
}

// Stats returns the counters.
func (h *Host) Stats() Stats {
	s := Stats{Exec: map[service.ID]uint64{}, Unknown: h.unknown, Malformed: h.bad, Sync: h.sync.Stats()}
	for _, id := range h.order {
		s.Exec[id] = h.exec[id]
	}
	return s
}

// Open admits a client connection to service svc.
func (h *Host) Open(c service.Conn, svc service.ID) service.Status {
	if svc >= service.MaxID {
		return service.ErrNotExist
	}
	le, ok := h.engines[svc].(service.LibEngine)
	if !ok {
		return service.ErrNotExist
	}
	return le.Connect(c)
}

// Request hands a client request to service svc.
func (h *Host) Request(c service.Conn, svc service.ID, r service.Request) {
	if le, ok := h.engines[svc].(service.LibEngine); ok {
		le.Request(c, r)
		return
	}
	if r.ID != 0 {
		c.Reply(r.ID, service.ErrNotExist, nil)
	}
}

// Held reports whether service svc holds unsent messages of c.
func (h *Host) Held(c service.Conn, svc service.ID) bool {
	if f, ok := h.engines[svc].(service.Flow); ok {
		return f.Held(c)
	}
	return false
}

// Close tells service svc that c is gone.
func (h *Host) Close(c service.Conn, svc service.ID) {
	if le, ok := h.engines[svc].(service.LibEngine); ok {
		le.Disconnect(c)
	}
}
