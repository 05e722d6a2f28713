package cpg

import (
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
)

// Errors. Those the daemon reports come as a *StatusError, which matches
// the sentinel of its status with errors.Is; connection errors wrap one of
// ErrNotRunning, ErrAccess, ErrNotSupported, ErrDisconnected or ErrClosed.
var (
	// ErrTryAgain: the daemon cannot take the request now (a
	// synchronisation after a membership change is in progress, its send
	// queue is full, or a join is still on its way); retry later
	// (CS_ERR_TRY_AGAIN).
	ErrTryAgain = errors.New("cpg: try again")
	// ErrNotJoined: the client has not joined the group (CS_ERR_NOT_EXIST
	// for a leave or a multicast).
	ErrNotJoined = errors.New("cpg: group not joined")
	// ErrExist: the process has already joined the group
	// (CS_ERR_EXIST).
	ErrExist = errors.New("cpg: already joined")
	// ErrNotExist: the object asked for does not exist
	// (CS_ERR_NOT_EXIST).
	ErrNotExist = errors.New("cpg: does not exist")
	// ErrTooBig: the message is larger than the daemon's maximum, MaxAtomic
	// (CS_ERR_MESSAGE_TOO_BIG).
	ErrTooBig = errors.New("cpg: message too big")
	// ErrInvalidArg: a malformed request, such as an empty group name or
	// an unknown guarantee (CS_ERR_INVALID_PARAM).
	ErrInvalidArg = errors.New("cpg: invalid argument")
	// ErrNameTooLong: a group name longer than MaxNameLen bytes
	// (CS_ERR_NAME_TOO_LONG).
	ErrNameTooLong = errors.New("cpg: group name too long")
	// ErrAccess: the daemon does not admit this process (CS_ERR_ACCESS).
	ErrAccess = errors.New("cpg: access denied")
	// ErrNotSupported: the daemon does not provide the CPG service, speaks
	// another protocol version, or does not know a request
	// (CS_ERR_NOT_SUPPORTED).
	ErrNotSupported = errors.New("cpg: not supported")
	// ErrNotRunning: no daemon listens on the socket.
	ErrNotRunning = errors.New("cpg: corosyncd is not running")
	// ErrDisconnected: the daemon closed the connection (it stopped, or
	// cut the client off).
	ErrDisconnected = errors.New("cpg: connection closed by corosyncd")
	// ErrClosed: the client was closed with Close.
	ErrClosed = errors.New("cpg: client closed")
)

// StatusError is a request the daemon answered with an error status.
type StatusError struct {
	// Op is the request: "join", "leave", "mcast", "membership",
	// "iterate", "max atomic", "track totem", "local get".
	Op string
	// Group is the group the request named, if any.
	Group string
	// Status is the daemon's answer.
	Status Status
}

// Error describes the failure.
func (e *StatusError) Error() string {
	if e.Group != "" {
		return fmt.Sprintf("cpg: %s %q: %v (%d)", e.Op, e.Group, e.Status, uint32(e.Status))
	}
	return fmt.Sprintf("cpg: %s: %v (%d)", e.Op, e.Status, uint32(e.Status))
}

// Is matches the sentinel of the status: ErrTryAgain, ErrExist,
// ErrNotExist (and ErrNotJoined for a leave or a multicast), ErrTooBig,
// ErrInvalidArg, ErrNameTooLong, ErrAccess or ErrNotSupported.
func (e *StatusError) Is(target error) bool {
	switch service.Status(e.Status) {
	case service.ErrTryAgain:
		return target == ErrTryAgain
	case service.ErrExist:
		return target == ErrExist
	case service.ErrNotExist:
		return target == ErrNotExist || target == ErrNotJoined && (e.Op == "leave" || e.Op == "mcast")
	case service.ErrMsgTooBig:
		return target == ErrTooBig
	case service.ErrInvalidArg:
		return target == ErrInvalidArg
	case service.ErrNameTooLon:
		return target == ErrNameTooLong
	case service.ErrAccess:
		return target == ErrAccess
	case service.ErrNotSupport:
		return target == ErrNotSupported
	}
	return false
}

// statusErr returns nil for OK, else a *StatusError.
func statusErr(op, group string, st service.Status) error {
	if st == service.OK {
		return nil
	}
	return &StatusError{Op: op, Group: group, Status: Status(st)}
}

// connError is a transport error with the sentinel it matches: its text
// is the transport's, prefixed with the operation.
type connError struct {
	op       string
	sentinel error
	err      error
}

func (e *connError) Error() string   { return "cpg: " + e.op + ": " + e.err.Error() }
func (e *connError) Unwrap() []error { return []error{e.sentinel, e.err} }

// ipcErr wraps an error of the transport, adding the sentinel it means.
func ipcErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, ipc.ErrClosed):
		sentinel = ErrClosed
	case errors.Is(err, ipc.ErrNotRunning):
		sentinel = ErrNotRunning
	case errors.Is(err, ipc.ErrDisconnected):
		sentinel = ErrDisconnected
	case errors.Is(err, ipc.ErrAccessDenied):
		sentinel = ErrAccess
	case errors.Is(err, ipc.ErrNoService), errors.Is(err, ipc.ErrVersion):
		sentinel = ErrNotSupported
	case errors.Is(err, ipc.ErrFrameTooBig):
		sentinel = ErrTooBig
	default:
		return fmt.Errorf("cpg: %s: %w", op, err)
	}
	return &connError{op: op, sentinel: sentinel, err: err}
}
