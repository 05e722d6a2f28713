// Package service is the boundary between the daemon and its services
// (corosync's "service engines"): CPG, the quorum API, cmap, cfg and, later,
// votequorum.
//
// A service is an Engine. It receives, all on one goroutine and in the
// agreed total order of the ring:
//
//   - exec messages: cluster messages of its service id, sent by any node
//     (corosync's exec handlers);
//   - configuration changes (transitional, then regular);
//   - the sync protocol's callbacks, if it takes part in sync (Syncer);
//   - local client connections and their requests (corosync's lib
//     handlers).
//
// An Engine reaches the daemon only through the API it is given, so each
// one is tested alone with a fake API. Engines are pure
// state machines in the sense of the project: no goroutines, sockets or
// clocks of their own.
package service

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/corogo/corogo/totem"
)

// NodeID is a node's 32-bit identity.
type NodeID = totem.NodeID

// RingID identifies a ring.
type RingID = totem.RingID

// ID is a corosync service id (corosync-wire.md §5.1).
type ID uint16

// Corosync 3.1's service ids.
const (
	CMAP       ID = 0
	CFG        ID = 1
	CPG        ID = 2
	Quorum     ID = 3
	PLoad      ID = 4
	Votequorum ID = 5
	// MaxID bounds service ids: corosync's SERVICES_COUNT_MAX.
	MaxID ID = 128
)

// String names the service as corosync's logs do.
func (id ID) String() string {
	switch id {
	case CMAP:
		return "cmap"
	case CFG:
		return "cfg"
	case CPG:
		return "cpg"
	case Quorum:
		return "quorum"
	case PLoad:
		return "pload"
	case Votequorum:
		return "votequorum"
	}
	return fmt.Sprintf("service(%d)", uint16(id))
}

// HeaderSize is the size of the header that starts every service message
// on the wire: libqb's qb_ipc_request_header, id and size in 8-byte slots.
const HeaderSize = 16

// Header is a decoded service message header.
type Header struct {
	Service ID
	Fn      uint16
	// Size is the total message length the header declares, header
	// included.
	Size int
}

// PutHeader writes a service header for (svc, fn) declaring size bytes
// into b[:HeaderSize], little-endian, padding zeroed.
func PutHeader(b []byte, svc ID, fn uint16, size int) {
	_ = b[HeaderSize-1]
	binary.LittleEndian.PutUint32(b[0:], uint32(svc)<<16|uint32(fn))
	binary.LittleEndian.PutUint32(b[4:], 0)
	binary.LittleEndian.PutUint32(b[8:], uint32(size))
	binary.LittleEndian.PutUint32(b[12:], 0)
}

// AppendHeader appends a service header to dst.
func AppendHeader(dst []byte, svc ID, fn uint16, size int) []byte {
	var h [HeaderSize]byte
	PutHeader(h[:], svc, fn, size)
	return append(dst, h[:]...)
}

// ErrShortHeader is returned by ParseHeader for a message shorter than a
// header.
var ErrShortHeader = errors.New("service: message shorter than its 16-byte header")

// ParseHeader decodes the header at the start of msg. swapped reports that
// the message came in the other byte order. The declared size is not
// checked against len(msg): corosync does not either; handlers check the
// lengths they need.
func ParseHeader(msg []byte, swapped bool) (Header, error) {
	if len(msg) < HeaderSize {
		return Header{}, ErrShortHeader
	}
	id := binary.LittleEndian.Uint32(msg[0:])
	size := binary.LittleEndian.Uint32(msg[8:])
	if swapped {
		id = swap32(id)
		size = swap32(size)
	}
	return Header{Service: ID(id >> 16), Fn: uint16(id), Size: int(int32(size))}, nil
}

func swap32(v uint32) uint32 { return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24 }

// Exec is one cluster message for a service, in agreed order.
type Exec struct {
	// From is the originating node (the MCAST header's nodeid).
	From NodeID
	// Fn is the exec handler number from the header.
	Fn uint16
	// Data is the whole message, header included. It is valid only during
	// the call.
	Data []byte
	// Swapped reports that the sender used the other byte order.
	Swapped bool
	// Guarantee is the delivery guarantee the sender asked for.
	Guarantee totem.Guarantee
}

// Engine is one service.
type Engine interface {
	// ID is the service id: the high half of every exec message's id.
	ID() ID
	// Name is the service's descriptive name, logged as corosync logs
	// "Service engine loaded: <Name> [<id>]".
	Name() string
	// Exec handles one cluster message of this service.
	Exec(m Exec)
	// ConfChange handles a configuration change: the transitional one and
	// then the regular one, in the order of the messages around them.
	ConfChange(c *totem.ConfChange)
}

// Syncer is implemented by engines that take part in the sync protocol
// (corosync's sync_init / sync_process / sync_activate / sync_abort).
type Syncer interface {
	// SyncInit starts a sync for the new ring: trans is the transitional
	// member list (the members that came from this node's previous ring),
	// members the new ring's.
	SyncInit(trans, members []NodeID, ring RingID)
	// SyncProcess sends the service's sync data. It returns false to be
	// called again (for example when the send queue is full), true when
	// done; then the sync protocol sends this node's barrier.
	SyncProcess() bool
	// SyncActivate is called once every member's barrier for this service
	// has been delivered: the service applies what it learnt.
	SyncActivate()
	// SyncAbort is called when a configuration change interrupts the sync
	// of this service.
	SyncAbort()
}

// Timed is an engine with timers (votequorum's last man standing window
// and quorum device timeouts). The host calls Tick with the current time
// (a monotonic duration from any fixed origin) before it hands the engine
// anything else, and whenever NextTimer's deadline has passed; engines
// read no clock.
type Timed interface {
	// Tick advances the engine's clock to now and fires due timers.
	Tick(now time.Duration)
	// NextTimer returns the earliest armed deadline, if any.
	NextTimer() (time.Duration, bool)
}

// Cred are a local client's credentials, from SO_PEERCRED.
type Cred struct {
	PID int32
	UID uint32
	GID uint32
}

// Conn is a local client connection to one service, as the engine sees
// it. Its methods never block: output is queued, and a client that lets
// its queue exceed the daemon's bound is disconnected (the engine then
// gets Disconnect).
type Conn interface {
	// ID identifies the connection for as long as the daemon runs.
	ID() uint64
	// Cred are the peer's credentials.
	Cred() Cred
	// Reply answers request reqID with a status and a payload, which is
	// copied.
	Reply(reqID uint32, status Status, payload []byte)
	// Event queues an unsolicited message of kind to the client; the
	// payload is hdr followed by body (either may be nil) and is copied.
	Event(kind uint16, hdr, body []byte)
	// Close disconnects the client after the queued output, logging why.
	Close(reason error)
}

// Request is one local client request.
type Request struct {
	// ID is the client's request id, echoed in the reply; 0 for requests
	// that want no reply.
	ID uint32
	// Fn is the request type, numbered by the service.
	Fn uint16
	// Payload is the request body; valid only during the call.
	Payload []byte
}

// Status is the outcome of a request, in corosync's cs_error_t numbering
// so that tools can print the same codes.
type Status uint32

// Statuses (cs_error_t values).
const (
	OK            Status = 1
	ErrLibrary    Status = 2
	ErrTimeout    Status = 5
	ErrTryAgain   Status = 6
	ErrInvalidArg Status = 7
	ErrNoMemory   Status = 8
	ErrBadHandle  Status = 9
	ErrBusy       Status = 10
	ErrAccess     Status = 11
	ErrNotExist   Status = 12
	ErrNameTooLon Status = 13
	ErrExist      Status = 14
	ErrNoSpace    Status = 15
	// ErrNameNotFound is CS_ERR_NAME_NOT_FOUND (votequorum's setvotes for
	// an unknown node).
	ErrNameNotFound Status = 17
	ErrNotSupport   Status = 19
	ErrMsgTooBig    Status = 26
)

// String names the status.
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case ErrLibrary:
		return "library error"
	case ErrTimeout:
		return "timeout"
	case ErrTryAgain:
		return "try again"
	case ErrInvalidArg:
		return "invalid argument"
	case ErrNoMemory:
		return "no memory"
	case ErrBadHandle:
		return "bad handle"
	case ErrBusy:
		return "busy"
	case ErrAccess:
		return "access denied"
	case ErrNotExist:
		return "does not exist"
	case ErrNameTooLon:
		return "name too long"
	case ErrExist:
		return "already exists"
	case ErrNoSpace:
		return "no space"
	case ErrNameNotFound:
		return "name not found"
	case ErrNotSupport:
		return "not supported"
	case ErrMsgTooBig:
		return "message too big"
	}
	return fmt.Sprintf("error %d", uint32(s))
}

// LibEngine is implemented by engines that serve local clients.
type LibEngine interface {
	Engine
	// Connect admits a new client; a non-OK status refuses it.
	Connect(c Conn) Status
	// Request handles one client request. The engine replies through c,
	// now or later.
	Request(c Conn, r Request)
	// Disconnect tells the engine that c is gone (closed by the client,
	// cut off, or the client process died).
	Disconnect(c Conn)
}

// Flow is implemented by engines that hold client messages the ring could
// not take yet: the daemon calls Resume when the send queue may have room
// again (after every batch of ring events, which includes the end of a
// sync), and stops reading from a connection while Held reports it.
type Flow interface {
	// Held reports whether the engine still holds unsent messages of c.
	Held(c Conn) bool
	// Resume retries held messages.
	Resume()
}

// API is what an engine may ask of the daemon. Its methods must be called
// only from the engine's callbacks (the daemon's single service
// goroutine).
type API interface {
	// NodeID is this node's id.
	NodeID() NodeID
	// Send multicasts a service message (header included) to every member,
	// this node included, in group "a". It returns totem.ErrTryAgain when
	// the send queue is full and totem.ErrMessageTooBig for a message
	// larger than MaxMessage. msg is copied.
	Send(msg []byte, g totem.Guarantee) error
	// SendVec is Send for a message given in parts.
	SendVec(g totem.Guarantee, parts ...[]byte) error
	// MaxMessage is the largest message Send accepts.
	MaxMessage() int
	// Ring returns the current ring id and members (the last regular
	// configuration).
	Ring() (RingID, []NodeID)
	// Syncing reports that a sync is in progress: corosync blocks client
	// requests of most services meanwhile.
	Syncing() bool
	// Logger is the service's logger.
	Logger() *slog.Logger
}
