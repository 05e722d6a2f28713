package quorum

import (
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
)

// Connection errors: Dial's, and those of requests once the connection
// has ended.
var (
	// ErrNotRunning: there is no daemon socket, or nothing listens on it.
	ErrNotRunning = ipc.ErrNotRunning
	// ErrAccessDenied: the socket's permissions or the daemon's access
	// list refuse this process; also matches a *StatusError with the
	// access status.
	ErrAccessDenied = ipc.ErrAccessDenied
	// ErrNoService: the daemon does not provide the quorum service.
	ErrNoService = ipc.ErrNoService
	// ErrDisconnected: the daemon closed the connection.
	ErrDisconnected = ipc.ErrDisconnected
	// ErrClosed: the Client was closed.
	ErrClosed = ipc.ErrClosed
	// ErrMalformed: the daemon sent a reply or event this client cannot
	// decode (a daemon of an incompatible version, or a bug).
	ErrMalformed = errors.New("quorum: malformed message from corosyncd")
)

// Request errors: sentinels a *StatusError matches.
var (
	// ErrTryAgain: the daemon cannot serve the request now (during a
	// membership change, for instance); retry later.
	ErrTryAgain = errors.New("quorum: try again")
	// ErrInvalidArg: the daemon refused the request's arguments.
	ErrInvalidArg = errors.New("quorum: invalid argument")
	// ErrExist: Track while already tracking.
	ErrExist = errors.New("quorum: already tracking")
	// ErrNotExist: StopTracking while not tracking.
	ErrNotExist = errors.New("quorum: not tracking")
	// ErrNotSupported: the daemon does not know the request.
	ErrNotSupported = errors.New("quorum: not supported by corosyncd")
	// ErrFailed: any other status.
	ErrFailed = errors.New("quorum: request failed")
)

// Status is the status of a refused request, in corosync's cs_error_t
// numbering (CS_ERR_TRY_AGAIN is 6, ...), as corosync's tools print it.
type Status uint32

// String names the status.
func (s Status) String() string { return service.Status(s).String() }

// StatusError is a request the daemon answered with a status other than
// OK. errors.Is matches it with the sentinel of its status: ErrTryAgain,
// ErrInvalidArg, ErrExist, ErrNotExist, ErrAccessDenied, ErrNotSupported,
// or ErrFailed for the others.
type StatusError struct {
	// Op is the request: "get quorate", "track start", ...
	Op string
	// Status is the daemon's answer.
	Status Status
}

// Error describes the refused request.
func (e *StatusError) Error() string {
	return fmt.Sprintf("quorum: %s: %v (status %d)", e.Op, e.Status, uint32(e.Status))
}

// Is reports whether target is the sentinel of e's status.
func (e *StatusError) Is(target error) bool {
	switch service.Status(e.Status) {
	case service.ErrTryAgain, service.ErrBusy:
		return target == ErrTryAgain
	case service.ErrInvalidArg:
		return target == ErrInvalidArg
	case service.ErrExist:
		return target == ErrExist
	case service.ErrNotExist:
		return target == ErrNotExist
	case service.ErrAccess:
		return target == ErrAccessDenied
	case service.ErrNotSupport:
		return target == ErrNotSupported
	}
	return target == ErrFailed
}
