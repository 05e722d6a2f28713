package votequorum

import (
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	svq "github.com/corogo/corogo/internal/service/votequorum"
)

// Connection errors: Dial's, and those of requests once the connection
// has ended.
var (
	// ErrNotRunning: there is no daemon socket, or nothing listens on it.
	ErrNotRunning = ipc.ErrNotRunning
	// ErrNoService: the daemon does not provide the votequorum service
	// (votequorum is not the quorum provider).
	ErrNoService = ipc.ErrNoService
	// ErrDisconnected: the daemon closed the connection.
	ErrDisconnected = ipc.ErrDisconnected
	// ErrClosed: the Client was closed.
	ErrClosed = ipc.ErrClosed
	// ErrMalformed: the daemon sent a reply or event this client cannot
	// decode (a daemon of an incompatible version, or a bug).
	ErrMalformed = errors.New("votequorum: malformed message from corosyncd")
)

// Request errors: sentinels a *StatusError matches.
var (
	// ErrTryAgain: the daemon cannot serve the request now (a sync is in
	// progress, its send queue is full, another quorum device
	// registration is under way); retry later (CS_ERR_TRY_AGAIN).
	ErrTryAgain = errors.New("votequorum: try again")
	// ErrInvalidArg: the daemon refused the request's arguments: expected
	// votes or votes that would make the cluster lose quorum at once, a
	// quorum device name other than the registered one
	// (CS_ERR_INVALID_PARAM). Names the client refuses itself (empty, too
	// long, holding a NUL byte) match it too.
	ErrInvalidArg = errors.New("votequorum: invalid argument")
	// ErrNotExist: an unknown node, TrackStop when not tracking, no quorum
	// device registered (CS_ERR_NOT_EXIST).
	ErrNotExist = errors.New("votequorum: does not exist")
	// ErrExist: TrackStart while tracking, or another quorum device is
	// registered (CS_ERR_EXIST).
	ErrExist = errors.New("votequorum: already exists")
	// ErrAccess: the daemon refuses this process, or its configuration
	// does not allow a quorum device (CS_ERR_ACCESS). Dial's errors
	// match it when the socket's permissions or the daemon's access list
	// refuse this process.
	ErrAccess = ipc.ErrAccessDenied
	// ErrMessage: a quorum device poll named a ring that is not the last
	// synced one; the poll was ignored (CS_ERR_MESSAGE_ERROR).
	ErrMessage = errors.New("votequorum: message error (stale ring id)")
	// ErrNotSupported: the daemon does not know the request
	// (CS_ERR_NOT_SUPPORTED).
	ErrNotSupported = errors.New("votequorum: not supported by corosyncd")
	// ErrFailed: any other status.
	ErrFailed = errors.New("votequorum: request failed")
)

// Status is the status of a refused request, in corosync's cs_error_t
// numbering (CS_ERR_TRY_AGAIN is 6, ...), except for the stale poll
// status, which corosyncd's protocol numbers 30.
type Status uint32

// String names the status.
func (s Status) String() string {
	if service.Status(s) == svq.ErrMessage {
		return "message error"
	}
	return service.Status(s).String()
}

// StatusError is a request the daemon answered with a status other than
// OK. errors.Is matches it with the sentinel of its status: ErrTryAgain,
// ErrInvalidArg, ErrNotExist, ErrExist, ErrAccess, ErrMessage,
// ErrNotSupported, or ErrFailed for the others.
type StatusError struct {
	// Op is the request: "get info", "set expected", "qdevice poll", ...
	Op string
	// Status is the daemon's answer.
	Status Status
}

// Error describes the refused request.
func (e *StatusError) Error() string {
	return fmt.Sprintf("votequorum: %s: %v (status %d)", e.Op, e.Status, uint32(e.Status))
}

// Is reports whether target is the sentinel of e's status.
func (e *StatusError) Is(target error) bool {
	switch service.Status(e.Status) {
	case service.ErrTryAgain, service.ErrBusy:
		return target == ErrTryAgain
	case service.ErrInvalidArg:
		return target == ErrInvalidArg
	case service.ErrNotExist, service.ErrNameNotFound:
		return target == ErrNotExist
	case service.ErrExist:
		return target == ErrExist
	case service.ErrAccess:
		return target == ErrAccess
	case svq.ErrMessage:
		return target == ErrMessage
	case service.ErrNotSupport:
		return target == ErrNotSupported
	}
	return target == ErrFailed
}
