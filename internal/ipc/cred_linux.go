package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/corogo/corogo/internal/service"
)

// peerCred reads the peer's credentials with SO_PEERCRED: the pid, uid and
// gid of the process that connected, as they were at connect time.
func peerCred(nc net.Conn) (service.Cred, error) {
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return service.Cred{}, fmt.Errorf("ipc: peer credentials of a %T", nc)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return service.Cred{}, fmt.Errorf("ipc: peer credentials: %w", err)
	}
	var u *unix.Ucred
	var uerr error
	if err := raw.Control(func(fd uintptr) {
		u, uerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return service.Cred{}, fmt.Errorf("ipc: peer credentials: %w", err)
	}
	if uerr != nil {
		return service.Cred{}, fmt.Errorf("ipc: SO_PEERCRED: %w", uerr)
	}
	return service.Cred{PID: u.Pid, UID: u.Uid, GID: u.Gid}, nil
}
