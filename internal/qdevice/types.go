package qdevice

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RingID identifies a membership: the representative's node id and the
// ring sequence number, as votequorum's node list notifications carry it.
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// String formats the ring id as corosync does ("1.2c", hexadecimal).
func (r RingID) String() string { return fmt.Sprintf("%x.%x", r.NodeID, r.Seq) }

// IsZero reports whether no ring is known.
func (r RingID) IsZero() bool { return r == RingID{} }

// Membership is one ring: its id and member node ids, sorted.
type Membership struct {
	Ring    RingID
	Members []uint32
}

// Contains reports whether node id is a member.
func (m Membership) Contains(id uint32) bool {
	_, ok := slices.BinarySearch(m.Members, id)
	return ok
}

// NewMembership returns a Membership with the members sorted and
// deduplicated (the input is not modified).
func NewMembership(ring RingID, members []uint32) Membership {
	ms := slices.Clone(members)
	slices.Sort(ms)
	return Membership{Ring: ring, Members: slices.Compact(ms)}
}

// FormatIDs formats node ids as a space-separated list.
func FormatIDs(ids []uint32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(parts, " ")
}

// ErrStaleRing is returned by Votequorum.Poll when the ring id is not the
// current one (votequorum's CS_ERR_MESSAGE_ERROR): a new membership is on
// its way.
var ErrStaleRing = errors.New("qdevice: poll for a ring that is not current")

// Votequorum is the part of the votequorum client a device uses. The
// adapter to *votequorum.Client is in cmd/qdevice; tests use a fake. Its
// methods may be called from one goroutine at a time.
type Votequorum interface {
	// LocalNodeID is this node's id.
	LocalNodeID() uint32
	// Track starts tracking the node list (TrackCurrent|TrackChanges):
	// the current membership and then every new one arrive on the
	// channel, which is closed when the connection ends.
	Track(ctx context.Context) (<-chan Membership, error)
	// Register registers the quorum device called name.
	Register(ctx context.Context, name string) error
	// Unregister unregisters it.
	Unregister(ctx context.Context, name string) error
	// Poll is the device's heartbeat: it tells whether the device casts
	// its vote for ring. It fails with ErrStaleRing when ring is not the
	// current ring.
	Poll(ctx context.Context, name string, cast bool, ring RingID) error
	// MasterWins sets votequorum's master_wins for the device.
	MasterWins(ctx context.Context, name string, allow bool) error
	// Close closes the connection.
	Close() error
}

// Dialer connects to votequorum.
type Dialer func(ctx context.Context) (Votequorum, error)

// Vote is a model's decision.
type Vote struct {
	// Ring is the membership the vote was decided for; the device polls
	// with it only while it is the current ring.
	Ring RingID
	// Cast tells whether the device's votes go to this node's partition.
	Cast bool
	// Expires, when not zero, is when the decision stops being valid
	// (the model's evidence is too old): from then on the device polls
	// with cast_vote false until a newer vote arrives.
	Expires time.Time
	// Reason explains the decision (logs and status).
	Reason string
}

// castAt reports whether the vote casts at instant now for ring.
func (v Vote) castAt(now time.Time, ring RingID) bool {
	return v.Cast && v.Ring == ring && (v.Expires.IsZero() || now.Before(v.Expires))
}

// Update is what the device tells its model: the connection to
// votequorum and the current membership.
type Update struct {
	// Connected is false when the device lost (or has not yet made) its
	// connection to corosyncd; Membership is then empty.
	Connected bool
	// NodeID is this node's id (known after the first connection; it
	// stays set while disconnected).
	NodeID uint32
	Membership
}

// Field is one line of a status report.
type Field struct {
	Name, Value string
}

// Model decides the vote. Run is called once, from its own goroutine.
type Model interface {
	// Name is the device name registered with votequorum ("Qdisk",
	// "Ping"), which corosync-quorumtool prints.
	Name() string
	// Run runs the model until ctx ends. It reads updates (only the
	// latest is kept when it falls behind) and reports each decision
	// with report, which never blocks. It returns nil when ctx ends, or
	// an error when the model cannot work at all.
	Run(ctx context.Context, updates <-chan Update, report func(Vote)) error
	// Status describes the model's state. It is called from other
	// goroutines.
	Status() []Field
}

// putLatest sends v on a channel of capacity 1, replacing a value not yet
// received. Only one goroutine may send on ch.
func putLatest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
