package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/payload"
)

// Client request types (service.Request.Fn). The numbering is append-only.
const (
	// FnGetQuorate asks whether the node is quorate; the reply payload is
	// AppendQuorate's single byte.
	FnGetQuorate uint16 = 1
	// FnGetType asks for the quorum provider type; the reply is
	// AppendType's u32.
	FnGetType uint16 = 2
	// FnTrackStart starts tracking; the request payload is AppendTrackStart's
	// flags, the reply is empty. CS_TRACK_CURRENT (and, as in corosync,
	// CS_TRACK_CHANGES) sends the current view at once.
	FnTrackStart uint16 = 3
	// FnTrackStop stops tracking; empty request and reply. ErrNotExist when
	// the client was not tracking.
	FnTrackStop uint16 = 4
	// FnGetView asks for the current view; the reply is AppendView's
	// encoding.
	FnGetView uint16 = 5
)

// Event kinds (service.Conn.Event). The numbering is append-only.
const (
	// EventNotify carries a View: the quorum notification (libquorum's
	// quorum_notify_fn; model v0 uses only Quorate, the ring seq and the
	// members).
	EventNotify uint16 = 1
	// EventNodeList carries a NodeList: libquorum v1's nodelist_notify_fn,
	// sent when a sync activates.
	EventNodeList uint16 = 2
)

// Type is the quorum provider type reported by FnGetType (corosync's
// quorum_type).
type Type uint32

// Provider types.
const (
	// TypeNone: no provider; corosync-quorumtool prints "Not configured".
	TypeNone Type = 0
	// TypeVotequorum: a provider (corosync_votequorum) decides.
	TypeVotequorum Type = 1
)

// TrackFlags select what FnTrackStart tracks: corosync's CS_TRACK_* bits.
type TrackFlags uint32

// Tracking flags.
const (
	TrackCurrent     TrackFlags = 1
	TrackChanges     TrackFlags = 2
	TrackChangesOnly TrackFlags = 4
	trackAll                    = TrackCurrent | TrackChanges | TrackChangesOnly
)

// View is the published quorum view: the GETVIEW reply and the NOTIFY
// event.
type View struct {
	Quorate bool
	// Ring is the ring the view belongs to (libquorum v1's quorum_ring_id
	// {nodeid, seq}).
	Ring service.RingID
	// Members are the ring's members, ascending.
	Members []service.NodeID
}

// NodeList is the NODELIST event: the members of the ring a sync
// activated, and who joined and left since the previous activated sync.
type NodeList struct {
	Ring    service.RingID
	Members []service.NodeID
	Joined  []service.NodeID
	Left    []service.NodeID
}

// Decoding errors. Decoders wrap them with the payload that failed; test
// with errors.Is.
var (
	// ErrShort means the payload ends before a field.
	ErrShort = errors.New("quorum: payload too short")
	// ErrBadValue means a field holds a value the protocol does not allow.
	ErrBadValue = errors.New("quorum: bad field value")
)

// Payload layouts, all little-endian. A decoder accepts a longer payload
// and ignores the extra bytes, so a later version may append fields.
//
//	quorate     u8 (0 or 1)
//	type        u32
//	trackstart  flags u32
//	view        quorate u8 | ring nodeid u32 | ring seq u64 | n u32 | n × nodeid u32
//	nodelist    ring nodeid u32 | ring seq u64 | n u32 | members | k u32 | joined | l u32 | left

// AppendQuorate appends the FnGetQuorate reply.
func AppendQuorate(dst []byte, quorate bool) []byte { return append(dst, b2u(quorate)) }

// DecodeQuorate decodes the FnGetQuorate reply.
func DecodeQuorate(b []byte) (bool, error) {
	if len(b) < 1 {
		return false, fmt.Errorf("%w: quorate reply of %d bytes", ErrShort, len(b))
	}
	return u2b(b[0])
}

// AppendType appends the FnGetType reply.
func AppendType(dst []byte, t Type) []byte { return binary.LittleEndian.AppendUint32(dst, uint32(t)) }

// DecodeType decodes the FnGetType reply.
func DecodeType(b []byte) (Type, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%w: type reply of %d bytes", ErrShort, len(b))
	}
	return Type(binary.LittleEndian.Uint32(b)), nil
}

// AppendTrackStart appends the FnTrackStart request.
func AppendTrackStart(dst []byte, f TrackFlags) []byte {
	return binary.LittleEndian.AppendUint32(dst, uint32(f))
}

// DecodeTrackStart decodes the FnTrackStart request. Bits other than the
// three CS_TRACK_* flags are refused.
func DecodeTrackStart(b []byte) (TrackFlags, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%w: trackstart request of %d bytes", ErrShort, len(b))
	}
	f := TrackFlags(binary.LittleEndian.Uint32(b))
	if f&^trackAll != 0 {
		return 0, fmt.Errorf("%w: track flags %#x", ErrBadValue, uint32(f))
	}
	return f, nil
}

// AppendView appends a View (GETVIEW reply, NOTIFY event).
func AppendView(dst []byte, v View) []byte {
	dst = append(dst, b2u(v.Quorate))
	dst = appendRing(dst, v.Ring)
	return appendIDs(dst, v.Members)
}

// DecodeView decodes a View.
func DecodeView(b []byte) (View, error) {
	var v View
	if len(b) < 1 {
		return v, fmt.Errorf("%w: view of %d bytes", ErrShort, len(b))
	}
	q, err := u2b(b[0])
	if err != nil {
		return v, err
	}
	v.Quorate = q
	r := newReader(b[1:])
	v.Ring = r.ring()
	v.Members = r.ids()
	return v, r.err("view")
}

// AppendNodeList appends a NodeList (NODELIST event).
func AppendNodeList(dst []byte, n NodeList) []byte {
	dst = appendRing(dst, n.Ring)
	dst = appendIDs(dst, n.Members)
	dst = appendIDs(dst, n.Joined)
	return appendIDs(dst, n.Left)
}

// DecodeNodeList decodes a NodeList.
func DecodeNodeList(b []byte) (NodeList, error) {
	r := newReader(b)
	var n NodeList
	n.Ring = r.ring()
	n.Members = r.ids()
	n.Joined = r.ids()
	n.Left = r.ids()
	return n, r.err("nodelist")
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func u2b(v byte) (bool, error) {
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("%w: quorate byte %d", ErrBadValue, v)
}

func appendRing(dst []byte, r service.RingID) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, r.Rep)
	return binary.LittleEndian.AppendUint64(dst, r.Seq)
}

func appendIDs(dst []byte, ids []service.NodeID) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ids)))
	for _, id := range ids {
		dst = binary.LittleEndian.AppendUint32(dst, id)
	}
	return dst
}

// reader is the quorum protocol's payload.Reader.
type reader struct{ payload.Reader }

func newReader(b []byte) *reader { return &reader{payload.NewReader(b, ErrShort)} }

func (r *reader) ring() service.RingID {
	return service.RingID{Rep: r.U32("ring nodeid"), Seq: r.U64("ring seq")}
}

func (r *reader) ids() []service.NodeID {
	n := r.Count(4, "node ids")
	if r.Failed() != nil {
		return nil
	}
	ids := make([]service.NodeID, n)
	for i := range ids {
		ids[i] = r.U32("node id")
	}
	return ids
}

func (r *reader) err(what string) error { return r.Err("quorum", what) }
