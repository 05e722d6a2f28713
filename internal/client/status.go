package client

import (
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/service"
)

// Sentinels a StatusError matches with errors.Is, one per status a client
// can act on.
var (
	// ErrTryAgain: the daemon is busy (a sync in progress, a full send
	// queue); the same request may succeed later.
	ErrTryAgain = errors.New("client: try again")
	// ErrInvalidArg: the daemon refused the request's arguments.
	ErrInvalidArg = errors.New("client: invalid argument")
	// ErrNotExist: the key, node or subscription does not exist.
	ErrNotExist = errors.New("client: does not exist")
	// ErrExist: the thing asked for already exists.
	ErrExist = errors.New("client: already exists")
	// ErrAccess: the daemon refused the request to this process.
	ErrAccess = errors.New("client: access denied")
	// ErrNotSupported: the daemon does not implement the request.
	ErrNotSupported = errors.New("client: not supported")
	// ErrTooBig: the request or its answer exceeds a size limit.
	ErrTooBig = errors.New("client: too big")
	// ErrFailed: the daemon tried and failed (CS_ERR_LIBRARY and any
	// other status).
	ErrFailed = errors.New("client: operation failed")
)

// StatusError is a request answered with a status other than OK.
type StatusError struct {
	// Op names the request ("cfg reload", "cmap get totem.token", ...).
	Op string
	// Status is the daemon's answer, in cs_error_t numbering.
	Status service.Status
}

// Error describes the failed request.
func (e *StatusError) Error() string { return fmt.Sprintf("%s: %v", e.Op, e.Status) }

// Is matches the sentinel of the status: ErrTryAgain, ErrInvalidArg,
// ErrNotExist, ErrExist, ErrAccess, ErrNotSupported, ErrTooBig, or
// ErrFailed for the rest.
func (e *StatusError) Is(target error) bool { return sentinel(e.Status) == target }

// CSName is corosync's cs_strerror name of the status, which its tools
// print: "CS_ERR_TRY_AGAIN", "CS_ERR_NOT_EXIST", ...
func (e *StatusError) CSName() string { return CSName(e.Status) }

func sentinel(st service.Status) error {
	switch st {
	case service.ErrTryAgain, service.ErrBusy:
		return ErrTryAgain
	case service.ErrInvalidArg:
		return ErrInvalidArg
	case service.ErrNotExist:
		return ErrNotExist
	case service.ErrExist:
		return ErrExist
	case service.ErrAccess:
		return ErrAccess
	case service.ErrNotSupport:
		return ErrNotSupported
	case service.ErrMsgTooBig, service.ErrNameTooLon, service.ErrNoSpace:
		return ErrTooBig
	}
	return ErrFailed
}

// Check returns nil for service.OK and a *StatusError for op otherwise.
func Check(op string, st service.Status) error {
	if st == service.OK {
		return nil
	}
	return &StatusError{Op: op, Status: st}
}

// CSName returns corosync's cs_strerror name of st ("CS_ERR_LIBRARY",
// ...; "success" for OK), by meaning rather than by number.
func CSName(st service.Status) string {
	switch st {
	case service.OK:
		return "success"
	case service.ErrLibrary:
		return "CS_ERR_LIBRARY"
	case service.ErrTimeout:
		return "CS_ERR_TIMEOUT"
	case service.ErrTryAgain:
		return "CS_ERR_TRY_AGAIN"
	case service.ErrInvalidArg:
		return "CS_ERR_INVALID_PARAM"
	case service.ErrNoMemory:
		return "CS_ERR_NO_MEMORY"
	case service.ErrBadHandle:
		return "CS_ERR_BAD_HANDLE"
	case service.ErrBusy:
		return "CS_ERR_BUSY"
	case service.ErrAccess:
		return "CS_ERR_ACCESS"
	case service.ErrNotExist:
		return "CS_ERR_NOT_EXIST"
	case service.ErrNameNotFound:
		return "CS_ERR_NAME_NOT_FOUND"
	case service.ErrNameTooLon:
		return "CS_ERR_NAME_TOO_LONG"
	case service.ErrExist:
		return "CS_ERR_EXIST"
	case service.ErrNoSpace:
		return "CS_ERR_NO_SPACE"
	case service.ErrNotSupport:
		return "CS_ERR_NOT_SUPPORTED"
	case service.ErrMsgTooBig:
		return "CS_ERR_TOO_BIG"
	}
	return fmt.Sprintf("CS_ERR(%d)", uint32(st))
}
