//go:build !linux

package ipc

import (
	"fmt"
	"net"
	"runtime"

	"github.com/corogo/corogo/internal/service"
)

// peerCred is not implemented outside Linux: every peer is refused unless
// ServerOptions.Allow is nil.
func peerCred(nc net.Conn) (service.Cred, error) {
	return service.Cred{}, fmt.Errorf("ipc: peer credentials are not supported on %s", runtime.GOOS)
}
