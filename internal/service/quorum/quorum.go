package quorum

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// Name is the service's name, as corosync logs it.
const Name = "corosync cluster quorum service v0.1"

// Provider decides whether this node is quorate (votequorum). Its methods
// are called from the engine's callbacks only (the daemon's service
// goroutine).
type Provider interface {
	// Quorate reports the provider's current decision.
	Quorate() bool
	// Name is the provider's name, "corosync_votequorum".
	Name() string
}

// Options configure an Engine.
type Options struct {
	// Provider decides quorum; nil means always quorate (no
	// quorum.provider).
	Provider Provider
}

// Stats are the engine's counters.
type Stats struct {
	// Published counts published views (Members[N] log lines).
	Published uint64
	// Notifications counts NOTIFY and NODELIST events queued to clients.
	Notifications uint64
	// Held counts provider decisions held during a sync.
	Held uint64
}

type client struct {
	conn     service.Conn
	tracking bool
	flags    TrackFlags
}

// Engine is the quorum service. It is not safe for concurrent use: the
// daemon calls it from its service goroutine.
type Engine struct {
	api      service.API
	log      *slog.Logger
	provider Provider

	// The published view.
	quorate bool
	ring    service.RingID
	members []service.NodeID

	// The sync in progress (corosync's my_member_list and friends).
	syncRing    service.RingID
	syncMembers []service.NodeID
	joined      []service.NodeID
	left        []service.NodeID
	oldMembers  []service.NodeID // members of the last activated sync
	oldRing     service.RingID   // its ring
	activated   bool             // SyncActivate ran for the current sync
	viewPending bool             // a new view awaits the provider's decision
	held        bool             // heldQuorate is a decision held during sync
	heldQuorate bool

	clients []*client // by connection id, ascending
	stats   Stats
	buf     []byte
}

var (
	_ service.LibEngine = (*Engine)(nil)
	_ service.Syncer    = (*Engine)(nil)
)

// New returns the quorum service. Without a provider the node is quorate.
func New(api service.API, opts Options) *Engine {
	e := &Engine{api: api, log: api.Logger(), provider: opts.Provider, activated: true}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.quorate = e.provider == nil
	return e
}

// ID is service.Quorum.
func (e *Engine) ID() service.ID { return service.Quorum }

// Name is corosync's name of the service.
func (e *Engine) Name() string { return Name }

// Exec drops the message: the quorum service has no exec handlers.
func (e *Engine) Exec(m service.Exec) {
	e.log.Debug(fmt.Sprintf("quorum: dropping exec message fn %d from node %d: no exec handlers", m.Fn, m.From))
}

// ConfChange does nothing: the service works from its sync callbacks.
func (e *Engine) ConfChange(*totem.ConfChange) {}

// SetProvider sets (or, with nil, removes) the quorum provider. Removing
// it makes the node quorate at once, as corosync is without a provider;
// a new provider's decisions arrive through Update.
func (e *Engine) SetProvider(p Provider) {
	e.provider = p
	if p == nil {
		e.held = false
		if !e.quorate || e.viewPending {
			e.publish(true)
		}
	}
}

// Provider returns the current provider (nil: none).
func (e *Engine) Provider() Provider { return e.provider }

// Quorate reports the published quorate state.
func (e *Engine) Quorate() bool { return e.quorate }

// View returns the published view. Members is a copy.
func (e *Engine) View() View {
	return View{Quorate: e.quorate, Ring: e.ring, Members: slices.Clone(e.members)}
}

// Type is the provider type clients see.
func (e *Engine) Type() Type {
	if e.provider == nil {
		return TypeNone
	}
	return TypeVotequorum
}

// Stats returns the counters.
func (e *Engine) Stats() Stats { return e.stats }

// Update takes the provider's decision. During a sync, before this
// service's SyncActivate, it is held and applied at SyncActivate
// (corosync holds quorum notifications during sync). Otherwise it is
// published at once when it changes the quorate state or a new ring's
// view is waiting for it.
func (e *Engine) Update(quorate bool) {
	if e.provider == nil {
		e.log.Debug("quorum: update without a provider ignored")
		return
	}
	if !e.activated && e.api.Syncing() {
		e.held, e.heldQuorate = true, quorate
		e.stats.Held++
		return
	}
	if quorate != e.quorate || e.viewPending {
		e.publish(quorate)
	}
}

// Set publishes a provider's decision together with the view it belongs
// to, as corosync's quorum_callback(members, quorate, ring) does: a
// provider that takes part in the sync (votequorum) calls it at its own
// sync activation with the new ring, and on a change outside a sync with
// the ring of its last sync. The engine then never labels a decision with
// a ring the provider has not decided for.
func (e *Engine) Set(quorate bool, ring service.RingID, members []service.NodeID) {
	if e.provider == nil {
		e.log.Debug("quorum: decision without a provider ignored")
		return
	}
	e.viewPending = false
	e.held = false
	e.ring = ring
	e.members = append(e.members[:0], members...)
	e.publish(quorate)
}

// SyncInit computes the joined and left lists against the members of the
// last activated sync, as corosync's quorum_sync_init does, and logs them.
func (e *Engine) SyncInit(trans, members []service.NodeID, ring service.RingID) {
	e.syncRing = ring
	e.syncMembers = append(e.syncMembers[:0], members...)
	// A decision held during an aborted sync stays held for this one.
	e.activated = false

	// Left: old members not in the transitional list, or in it but not in
	// the new ring (which should not happen).
	e.left = e.left[:0]
	for _, id := range e.oldMembers {
		if !slices.Contains(trans, id) || !slices.Contains(members, id) {
			e.left = append(e.left, id)
		}
	}
	// Joined: new members not among the old ones, or both old and left (a
	// node that left and came back between two syncs).
	e.joined = e.joined[:0]
	for _, id := range members {
		if !slices.Contains(e.oldMembers, id) || slices.Contains(e.left, id) {
			e.joined = append(e.joined, id)
		}
	}
	e.logList("Sync members", e.syncMembers)
	if len(e.joined) > 0 {
		e.logList("Sync joined", e.joined)
	}
	if len(e.left) > 0 {
		e.logList("Sync left", e.left)
	}
}

// SyncProcess has nothing to send.
func (e *Engine) SyncProcess() bool { return true }

// SyncActivate makes the sync's member list the old one for the next
// sync, sends the node list to tracking clients and publishes the new
// view: at once without a provider or with one that does not sync itself,
// otherwise when the provider's decision arrives (Update).
func (e *Engine) SyncActivate() {
	e.activated = true
	e.oldMembers = append(e.oldMembers[:0], e.syncMembers...)
	e.oldRing = e.syncRing
	e.notifyNodeList(nil, NodeList{Ring: e.syncRing, Members: e.syncMembers, Joined: e.joined, Left: e.left})

	if e.provider != nil && setsViews(e.provider) {
		// The provider publishes the new view itself (Set) when its own
		// sync activates.
		return
	}
	e.viewPending = true
	switch {
	case e.provider == nil:
		e.publish(true)
	case e.held:
		e.held = false
		e.publish(e.heldQuorate)
	case !isSyncer(e.provider):
		e.publish(e.provider.Quorate())
	}
}

// SyncAbort forgets the interrupted sync; the next one (a configuration
// change aborts a sync only to start another) starts over. Provider
// decisions stay held until that one activates.
func (e *Engine) SyncAbort() {}

// setsViews reports whether the provider publishes its decisions with
// their views through Set (votequorum's adapter says so).
func setsViews(p Provider) bool {
	d, ok := p.(interface{ DecidesInSync() bool })
	return ok && d.DecidesInSync()
}

// isSyncer reports whether the provider's decision for a new ring comes
// through Update at its own sync activation: a provider that is a
// service.Syncer, or one that says so (votequorum's adapter).
func isSyncer(p Provider) bool {
	if d, ok := p.(interface{ DecidesInSync() bool }); ok {
		return d.DecidesInSync()
	}
	_, ok := p.(service.Syncer)
	return ok
}

// publish installs the pending view (if any) with quorate, logs it as
// corosync's quorum_api_set_quorum does and notifies tracking clients.
func (e *Engine) publish(quorate bool) {
	old := e.quorate
	e.quorate = quorate
	switch {
	case quorate && !old:
		e.log.Info("This node is within the primary component and will provide service.")
	case !quorate && old:
		e.log.Info("This node is within the non-primary component and will NOT provide any services.")
	}
	if e.viewPending {
		e.viewPending = false
		e.ring = e.syncRing
		e.members = append(e.members[:0], e.syncMembers...)
	}
	e.stats.Published++
	e.logList("Members", e.members)
	e.notifyView(nil)
}

// logList logs "<what>[N]: id id ..." as corosync's log_view_list: the ids
// go through a 64-byte buffer, so a long list is split over several lines,
// each but the last ending with a backslash.
func (e *Engine) logList(what string, ids []service.NodeID) {
	for _, line := range formatList(what, ids) {
		e.log.Info(line)
	}
}

func formatList(what string, ids []service.NodeID) []string {
	const bufSize = 64
	var lines []string
	i := 0
	for {
		var sb strings.Builder
		for ; i < len(ids); i++ {
			s := " " + strconv.FormatUint(uint64(ids[i]), 10)
			if sb.Len()+len(s) >= bufSize {
				break
			}
			sb.WriteString(s)
		}
		cont := ""
		if i < len(ids) {
			cont = "\\"
		}
		lines = append(lines, fmt.Sprintf("%s[%d]:%s%s", what, len(ids), sb.String(), cont))
		if i >= len(ids) {
			return lines
		}
	}
}

// notifyView sends the published view to c, or to every tracking client
// when c is nil.
func (e *Engine) notifyView(c *client) {
	e.buf = AppendView(e.buf[:0], View{Quorate: e.quorate, Ring: e.ring, Members: e.members})
	e.send(c, EventNotify)
}

func (e *Engine) notifyNodeList(c *client, n NodeList) {
	e.buf = AppendNodeList(e.buf[:0], n)
	e.send(c, EventNodeList)
}

func (e *Engine) send(c *client, kind uint16) {
	if c != nil {
		c.conn.Event(kind, e.buf, nil)
		e.stats.Notifications++
		return
	}
	for _, c := range e.clients {
		if c.tracking {
			c.conn.Event(kind, e.buf, nil)
			e.stats.Notifications++
		}
	}
}

// Connect admits a client.
func (e *Engine) Connect(c service.Conn) service.Status {
	i, found := e.find(c.ID())
	if found {
		return service.ErrExist
	}
	e.clients = slices.Insert(e.clients, i, &client{conn: c})
	e.log.Debug(fmt.Sprintf("lib_init_fn: conn=%d", c.ID()))
	return service.OK
}

// Disconnect forgets a client.
func (e *Engine) Disconnect(c service.Conn) {
	if i, found := e.find(c.ID()); found {
		e.clients = slices.Delete(e.clients, i, i+1)
		e.log.Debug(fmt.Sprintf("lib_exit_fn: conn=%d", c.ID()))
	}
}

func (e *Engine) find(id uint64) (int, bool) {
	return slices.BinarySearchFunc(e.clients, id, func(c *client, id uint64) int {
		switch {
		case c.conn.ID() < id:
			return -1
		case c.conn.ID() > id:
			return 1
		}
		return 0
	})
}

// Request serves one client request (see the Fn constants).
func (e *Engine) Request(c service.Conn, r service.Request) {
	i, found := e.find(c.ID())
	if !found {
		reply(c, r, service.ErrBadHandle, nil)
		return
	}
	cl := e.clients[i]
	switch r.Fn {
	case FnGetQuorate:
		reply(c, r, service.OK, AppendQuorate(nil, e.quorate))
	case FnGetType:
		reply(c, r, service.OK, AppendType(nil, e.Type()))
	case FnGetView:
		reply(c, r, service.OK, AppendView(nil, View{Quorate: e.quorate, Ring: e.ring, Members: e.members}))
	case FnTrackStart:
		f, err := DecodeTrackStart(r.Payload)
		if err != nil {
			e.log.Debug(fmt.Sprintf("quorum: conn %d: %v", c.ID(), err))
			reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		e.trackStart(cl, r, f)
	case FnTrackStop:
		if !cl.tracking {
			reply(c, r, service.ErrNotExist, nil)
			return
		}
		cl.tracking, cl.flags = false, 0
		reply(c, r, service.OK, nil)
	default:
		reply(c, r, service.ErrNotSupport, nil)
	}
}

// trackStart follows corosync's message_handler_req_lib_quorum_trackstart:
// CURRENT or CHANGES send the current state now; CHANGES or CHANGES_ONLY
// start tracking, refused with ErrExist when already tracking.
func (e *Engine) trackStart(cl *client, r service.Request, f TrackFlags) {
	if f&(TrackChanges|TrackChangesOnly) != 0 {
		if cl.tracking {
			reply(cl.conn, r, service.ErrExist, nil)
			return
		}
	}
	// The reply goes first, so that a client sees its request answered
	// before the events it asked for.
	reply(cl.conn, r, service.OK, nil)
	if f&(TrackCurrent|TrackChanges) != 0 {
		e.notifyView(cl)
		e.notifyNodeList(cl, NodeList{Ring: e.oldRing, Members: e.oldMembers})
	}
	if f&(TrackChanges|TrackChangesOnly) != 0 {
		cl.tracking, cl.flags = true, f
	}
}

func reply(c service.Conn, r service.Request, st service.Status, payload []byte) {
	if r.ID != 0 {
		c.Reply(r.ID, st, payload)
	}
}
