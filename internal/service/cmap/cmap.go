package cmap

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// Name is the service's name, as corosync logs it.
const Name = "corosync configuration map access"

// DefaultMaxReply is the default bound on an ITER reply's payload: the
// IPC layer's default 1 MiB payload.
const DefaultMaxReply = 1 << 20

// Options configure an Engine.
type Options struct {
	// Snapshot returns the runtime keys clients may read, in any order.
	// nil serves an empty store.
	Snapshot func() []KV
	// ConfigVersion returns this node's totem.config_version (0: unset).
	// nil reads the key from Snapshot (any unsigned integer type).
	ConfigVersion func() uint64
	// OnConfigVersionMismatch is called at the first sync with other nodes
	// when this node's config_version is not 0 and the highest one the
	// others sent differs: corosync shuts itself down then, and the daemon
	// should log and exit.
	OnConfigVersionMismatch func(local, remote uint64)
	// MaxReply bounds an ITER reply's payload in bytes (default
	// DefaultMaxReply): a page stops before the entry that would exceed
	// it.
	MaxReply int
}

// Stats are the engine's counters.
type Stats struct {
	// Received counts MCAST messages handled; Malformed those dropped.
	Received, Malformed uint64
	// UnknownFn counts exec messages with an unknown fn, UnknownReason
	// MCASTs with an unknown reason (both dropped).
	UnknownFn, UnknownReason uint64
	// Sent counts MCASTs this node sent.
	Sent uint64
}

// MemberConfigVersion is the config_version a node last sent (corosync's
// runtime.totem.pg.mrp.srp.members.<nodeid>.config_version).
type MemberConfigVersion struct {
	NodeID  service.NodeID
	Version uint64
}

// Engine is the cmap service. It is not safe for concurrent use: the
// daemon calls it from its service goroutine.
type Engine struct {
	api  service.API
	log  *slog.Logger
	opts Options

	transEntries int
	myVersion    uint64
	highest      uint64
	firstSync    bool
	versions     []MemberConfigVersion // by node id

	stats Stats
	buf   []byte
}

var (
	_ service.LibEngine = (*Engine)(nil)
	_ service.Syncer    = (*Engine)(nil)
)

// New returns the cmap service.
func New(api service.API, opts Options) *Engine {
	if opts.MaxReply <= 0 {
		opts.MaxReply = DefaultMaxReply
	}
	e := &Engine{api: api, log: api.Logger(), opts: opts, firstSync: true}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

// ID is service.CMAP.
func (e *Engine) ID() service.ID { return service.CMAP }

// Name is corosync's name of the service.
func (e *Engine) Name() string { return Name }

// ConfChange does nothing: cmap works from its sync callbacks.
func (e *Engine) ConfChange(*totem.ConfChange) {}

// Stats returns the counters.
func (e *Engine) Stats() Stats { return e.stats }

// MemberConfigVersions returns the config_version each node last sent,
// by node id.
func (e *Engine) MemberConfigVersions() []MemberConfigVersion { return slices.Clone(e.versions) }

// configVersion is this node's totem.config_version now.
func (e *Engine) configVersion() uint64 {
	if e.opts.ConfigVersion != nil {
		return e.opts.ConfigVersion()
	}
	kv, ok := e.lookup(ConfigVersionKey)
	if !ok {
		return 0
	}
	switch v := kv.Value.(type) {
	case uint8:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint32:
		return uint64(v)
	case uint64:
		return v
	case uint:
		return uint64(v)
	}
	return 0
}

// SyncInit reads this node's config_version, which is also the starting
// point of the highest version seen in this sync.
func (e *Engine) SyncInit(trans, members []service.NodeID, ring service.RingID) {
	e.transEntries = len(trans)
	e.myVersion = e.configVersion()
	e.highest = e.myVersion
}

// SyncProcess multicasts this node's config_version (reason SYNC). It
// returns false to be called again when the send queue is full.
func (e *Engine) SyncProcess() bool {
	err := e.sendVersion(ReasonSync, e.myVersion)
	switch {
	case err == nil:
		return true
	case errors.Is(err, totem.ErrTryAgain):
		return false
	default:
		e.log.Warn(fmt.Sprintf("cmap: cannot send sync message: %v", err))
		return true
	}
}

func (e *Engine) sendVersion(r Reason, v uint64) error {
	var err error
	e.buf, err = AppendMcast(e.buf[:0], ConfigVersionMcast(r, v))
	if err != nil {
		return fmt.Errorf("cmap: encode mcast: %w", err)
	}
	if err := e.api.Send(e.buf, totem.Agreed); err != nil {
		return fmt.Errorf("cmap: send mcast: %w", err)
	}
	e.stats.Sent++
	return nil
}

// SyncActivate applies corosync's config_version check: at the first sync
// with other nodes, a node whose own version is set must agree with the
// highest version the others sent.
func (e *Engine) SyncActivate() {
	if e.transEntries == 0 {
		e.log.Debug("Single node sync -> no action")
		return
	}
	if !e.firstSync {
		e.log.Debug("Not first sync -> no action")
		return
	}
	e.firstSync = false
	if e.myVersion == 0 {
		e.log.Debug("My config version is 0 -> no action")
		return
	}
	if e.highest != e.myVersion {
		e.log.Error(fmt.Sprintf("Received config version (%d) is different than my config version (%d)! Exiting",
			e.highest, e.myVersion))
		if e.opts.OnConfigVersionMismatch != nil {
			e.opts.OnConfigVersionMismatch(e.myVersion, e.highest)
		}
	}
}

// SyncAbort does nothing, as in corosync: the next SyncInit starts over.
func (e *Engine) SyncAbort() {}

// ConfigVersionChanged tells the other nodes this node's new
// config_version (reason NEW_CONFIG_VERSION), as corosync does when a
// reload changes totem.config_version. An error is logged as corosync
// logs it and returned.
func (e *Engine) ConfigVersionChanged() error {
	e.myVersion = e.configVersion()
	if err := e.sendVersion(ReasonNewConfigVersion, e.myVersion); err != nil {
		e.log.Error("Can't inform other nodes about new config version")
		return err
	}
	return nil
}

// Exec handles an MCAST from any node (this one included).
func (e *Engine) Exec(m service.Exec) {
	if m.Fn != ExecMcast {
		e.stats.UnknownFn++
		e.log.Debug(fmt.Sprintf("cmap: dropping exec message fn %d from node %d", m.Fn, m.From))
		return
	}
	msg, err := DecodeMcast(m.Data, m.Swapped)
	if err != nil {
		e.stats.Malformed++
		e.log.Debug(fmt.Sprintf("cmap: dropping message from node %d: %v", m.From, err))
		return
	}
	e.stats.Received++
	switch msg.Reason {
	case ReasonSync, ReasonNewConfigVersion:
	default:
		e.stats.UnknownReason++
		e.log.Debug(fmt.Sprintf("Received mcast with unknown reason %d", msg.Reason))
		return
	}
	v, ok := msg.ConfigVersion()
	if !ok {
		e.stats.Malformed++
		e.log.Debug(fmt.Sprintf("cmap: node %d sent totem.config_version of another type", m.From))
	}
	e.log.Debug(fmt.Sprintf("Received config version %d from node %x", v, m.From))
	if m.From != e.api.NodeID() && v > e.highest {
		e.highest = v
	}
	i, found := slices.BinarySearchFunc(e.versions, m.From, func(x MemberConfigVersion, id service.NodeID) int {
		return cmp.Compare(x.NodeID, id)
	})
	if found {
		e.versions[i].Version = v
	} else {
		e.versions = slices.Insert(e.versions, i, MemberConfigVersion{NodeID: m.From, Version: v})
	}
}

// Connect admits a client: the store needs no per-client state.
func (e *Engine) Connect(service.Conn) service.Status { return service.OK }

// Disconnect does nothing.
func (e *Engine) Disconnect(service.Conn) {}

// Request serves GET and ITER.
func (e *Engine) Request(c service.Conn, r service.Request) {
	switch r.Fn {
	case FnGet:
		key, err := DecodeGet(r.Payload)
		if err != nil {
			reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		kv, ok := e.lookup(key)
		if !ok {
			reply(c, r, service.ErrNotExist, nil)
			return
		}
		b, err := AppendValue(nil, kv)
		if err != nil {
			e.log.Warn(fmt.Sprintf("cmap: key %q: %v", key, err))
			reply(c, r, service.ErrLibrary, nil)
			return
		}
		reply(c, r, service.OK, b)
	case FnIter:
		req, err := DecodeIter(r.Payload)
		if err != nil {
			reply(c, r, service.ErrInvalidArg, nil)
			return
		}
		st, b := e.iter(req)
		reply(c, r, st, b)
	default:
		reply(c, r, service.ErrNotSupport, nil)
	}
}

func (e *Engine) snapshot() []KV {
	if e.opts.Snapshot == nil {
		return nil
	}
	return e.opts.Snapshot()
}

func (e *Engine) lookup(key string) (KV, bool) {
	for _, kv := range e.snapshot() {
		if kv.Key == key {
			return kv, true
		}
	}
	return KV{}, false
}

// iter builds one ITER page: keys with the prefix, after req.After, in
// byte order, up to req.Max entries and MaxReply bytes.
func (e *Engine) iter(req IterRequest) (service.Status, []byte) {
	var keys []KV
	for _, kv := range e.snapshot() {
		if strings.HasPrefix(kv.Key, req.Prefix) && kv.Key > req.After {
			keys = append(keys, kv)
		}
	}
	// Stable, so that of duplicate keys the snapshot's first one wins.
	slices.SortStableFunc(keys, func(a, b KV) int { return strings.Compare(a.Key, b.Key) })
	keys = slices.CompactFunc(keys, func(a, b KV) bool { return a.Key == b.Key })

	out := make([]byte, iterReplyHeader, 256)
	n := 0
	for _, kv := range keys {
		if req.Max != 0 && uint32(n) == req.Max {
			break
		}
		next, err := AppendEntry(out, kv)
		if err != nil {
			e.log.Warn(fmt.Sprintf("cmap: key %q: %v", kv.Key, err))
			return service.ErrLibrary, nil
		}
		if len(next) > e.opts.MaxReply {
			if n == 0 {
				return service.ErrMsgTooBig, nil
			}
			break
		}
		out = next
		n++
	}
	out[0], out[1], out[2], out[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	out[4] = b2u(n < len(keys))
	return service.OK, out
}

func reply(c service.Conn, r service.Request, st service.Status, payload []byte) {
	if r.ID != 0 {
		c.Reply(r.ID, st, payload)
	}
}
