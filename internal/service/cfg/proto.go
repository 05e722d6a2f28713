package cfg

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/payload"
)

// Client request types (service.Request.Fn). The numbering is append-only.
const (
	// FnRingStatusGet returns this node's links (corosync-cfgtool -s).
	// Empty request; reply AppendLinks.
	FnRingStatusGet uint16 = 1
	// FnKillNode asks a node to shut down (corosync-cfgtool -k). Request
	// AppendKillNodeRequest; empty reply once the message is queued.
	FnKillNode uint16 = 2
	// FnShutdown shuts this node down (corosync-cfgtool -H). Request
	// AppendShutdownRequest; empty reply once the message is queued.
	FnShutdown uint16 = 3
	// FnReload makes every node reload its configuration file
	// (corosync-cfgtool -R). Empty request; empty reply, with this node's
	// reload status, once this node has reloaded.
	FnReload uint16 = 4
	// FnLocalGet returns this node's id. Empty request; reply u32.
	FnLocalGet uint16 = 5
	// FnNodeStatusGet returns one node's reachability and links
	// (corosync-cfgtool -n). Request u32 nodeid; reply AppendNodeStatus.
	FnNodeStatusGet uint16 = 6
)

// ShutdownFlags are corosync's corosync_cfg_shutdown_flags_t.
type ShutdownFlags uint32

// Shutdown flags. Without shutdown trackers all three shut down at once.
const (
	ShutdownRequest    ShutdownFlags = 0
	ShutdownRegardless ShutdownFlags = 1
	ShutdownImmediate  ShutdownFlags = 2
)

// LinkStatus is the state of one link to one node, as the daemon reports
// it (Options.Status).
type LinkStatus struct {
	// LinkNo is the link (ring) number.
	LinkNo uint8
	// NodeID is the node at the other end; this node's own id for its
	// local end.
	NodeID service.NodeID
	// Transport is "udpu", "udp" or "knet".
	Transport string
	// Addr is this node's address on the link; RemoteAddr the node's.
	Addr, RemoteAddr string
	// Enabled: the link is configured and up; Connected: the node is heard
	// on it.
	Enabled, Connected bool
	// MTU is the link's payload MTU (0: unknown).
	MTU uint32
}

// NodeStatus is a node's reachability (corosync_cfg_node_status_get).
type NodeStatus struct {
	NodeID service.NodeID
	// Reachable: this node itself, or connected on some link.
	Reachable bool
	Links     []LinkStatus
}

// KillNodeRequest is the FnKillNode request.
type KillNodeRequest struct {
	NodeID service.NodeID
	Reason string
}

// Decoding errors; decoders wrap them.
var (
	// ErrShort means the payload ends before a field.
	ErrShort = errors.New("cfg: payload too short")
	// ErrBadValue means a field holds a value the protocol does not allow.
	ErrBadValue = errors.New("cfg: bad field value")
)

// Payload layouts, all little-endian; strings are a u16 length and the
// bytes. A decoder accepts a longer payload and ignores the extra bytes,
// so a later version may append fields.
//
//	link        link u8 | nodeid u32 | flags u8 (1 enabled, 2 connected) | mtu u32 |
//	            transport string | addr string | remote addr string
//	links       n u32 | n × link
//	nodestatus  nodeid u32 | reachable u8 | links
//	killnode    nodeid u32 | reason string
//	shutdown    flags u32
//	nodeid      u32 (LOCAL_GET reply, NODE_STATUS_GET request)

const (
	linkEnabled   = 1
	linkConnected = 2
	// minLink is the smallest encoded link: fixed fields and three empty
	// strings.
	minLink = 1 + 4 + 1 + 4 + 3*2
)

// AppendLink appends one link status.
func AppendLink(dst []byte, l LinkStatus) []byte {
	dst = append(dst, l.LinkNo)
	dst = binary.LittleEndian.AppendUint32(dst, l.NodeID)
	var f byte
	if l.Enabled {
		f |= linkEnabled
	}
	if l.Connected {
		f |= linkConnected
	}
	dst = append(dst, f)
	dst = binary.LittleEndian.AppendUint32(dst, l.MTU)
	dst = appendString(dst, l.Transport)
	dst = appendString(dst, l.Addr)
	return appendString(dst, l.RemoteAddr)
}

// AppendLinks appends the FnRingStatusGet reply.
func AppendLinks(dst []byte, ls []LinkStatus) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ls)))
	for _, l := range ls {
		dst = AppendLink(dst, l)
	}
	return dst
}

// DecodeLinks decodes the FnRingStatusGet reply.
func DecodeLinks(b []byte) ([]LinkStatus, error) {
	r := newReader(b)
	ls := r.links()
	return ls, r.err("links")
}

// AppendNodeStatus appends the FnNodeStatusGet reply.
func AppendNodeStatus(dst []byte, s NodeStatus) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, s.NodeID)
	if s.Reachable {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	return AppendLinks(dst, s.Links)
}

// DecodeNodeStatus decodes the FnNodeStatusGet reply.
func DecodeNodeStatus(b []byte) (NodeStatus, error) {
	r := newReader(b)
	s := NodeStatus{NodeID: r.u32("nodeid")}
	switch r.u8("reachable") {
	case 0:
	case 1:
		s.Reachable = true
	default:
		r.Fail(fmt.Errorf("%w: reachable byte", ErrBadValue))
	}
	s.Links = r.links()
	return s, r.err("node status")
}

// AppendKillNodeRequest appends the FnKillNode request.
func AppendKillNodeRequest(dst []byte, k KillNodeRequest) ([]byte, error) {
	if len(k.Reason) > MaxReasonLen {
		return dst, fmt.Errorf("%w: %d bytes", ErrReasonTooLong, len(k.Reason))
	}
	dst = binary.LittleEndian.AppendUint32(dst, k.NodeID)
	return appendString(dst, k.Reason), nil
}

// DecodeKillNodeRequest decodes the FnKillNode request; a reason longer
// than MaxReasonLen is refused with ErrReasonTooLong.
func DecodeKillNodeRequest(b []byte) (KillNodeRequest, error) {
	r := newReader(b)
	k := KillNodeRequest{NodeID: r.u32("nodeid"), Reason: r.str("reason")}
	if err := r.err("killnode request"); err != nil {
		return KillNodeRequest{}, err
	}
	if len(k.Reason) > MaxReasonLen {
		return KillNodeRequest{}, fmt.Errorf("cfg: decode killnode request: %w: %d bytes", ErrReasonTooLong, len(k.Reason))
	}
	return k, nil
}

// AppendShutdownRequest appends the FnShutdown request.
func AppendShutdownRequest(dst []byte, f ShutdownFlags) []byte {
	return binary.LittleEndian.AppendUint32(dst, uint32(f))
}

// DecodeShutdownRequest decodes the FnShutdown request.
func DecodeShutdownRequest(b []byte) (ShutdownFlags, error) {
	r := newReader(b)
	f := ShutdownFlags(r.u32("flags"))
	if err := r.err("shutdown request"); err != nil {
		return 0, err
	}
	if f > ShutdownImmediate {
		return 0, fmt.Errorf("cfg: decode shutdown request: %w: flags %d", ErrBadValue, f)
	}
	return f, nil
}

// AppendNodeID appends a node id (FnLocalGet reply, FnNodeStatusGet
// request).
func AppendNodeID(dst []byte, id service.NodeID) []byte {
	return binary.LittleEndian.AppendUint32(dst, id)
}

// DecodeNodeID decodes a node id.
func DecodeNodeID(b []byte) (service.NodeID, error) {
	r := newReader(b)
	id := r.u32("nodeid")
	return id, r.err("nodeid")
}

// appendString appends a u16-length string; link names and addresses are
// short, so a string beyond 65,535 bytes is cut rather than refused.
func appendString(dst []byte, s string) []byte {
	if len(s) > 1<<16-1 {
		s = s[:1<<16-1]
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// reader is the cfg protocol's payload.Reader.
type reader struct{ payload.Reader }

func newReader(b []byte) *reader { return &reader{payload.NewReader(b, ErrShort)} }

func (r *reader) u8(what string) byte    { return r.U8(what) }
func (r *reader) u32(what string) uint32 { return r.U32(what) }

// str reads a u16-length string.
func (r *reader) str(what string) string {
	return string(r.Bytes(int(r.U16(what)), what))
}

func (r *reader) link() LinkStatus {
	l := LinkStatus{LinkNo: r.u8("link number"), NodeID: r.u32("link nodeid")}
	f := r.u8("link flags")
	if f&^(linkEnabled|linkConnected) != 0 {
		r.Fail(fmt.Errorf("%w: link flags %#x", ErrBadValue, f))
	}
	l.Enabled, l.Connected = f&linkEnabled != 0, f&linkConnected != 0
	l.MTU = r.u32("link mtu")
	l.Transport = r.str("transport")
	l.Addr = r.str("addr")
	l.RemoteAddr = r.str("remote addr")
	return l
}

func (r *reader) links() []LinkStatus {
	n := r.Count(minLink, "links")
	if r.Failed() != nil {
		return nil
	}
	ls := make([]LinkStatus, 0, n)
	for range n {
		l := r.link()
		if r.Failed() != nil {
			return nil
		}
		ls = append(ls, l)
	}
	return ls
}

func (r *reader) err(what string) error { return r.Err("cfg", what) }
