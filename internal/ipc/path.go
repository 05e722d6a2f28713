package ipc

import "os"

// EnvSocket names the environment variable that overrides the socket path
// for the daemon and its clients alike.
const EnvSocket = "COROSYNCD_SOCKET"

// DefaultSocket is the socket path when EnvSocket is unset or empty.
const DefaultSocket = "/run/corosyncd/corosyncd.sock"

// SocketPath returns the socket path: $COROSYNCD_SOCKET when set and not
// empty, DefaultSocket otherwise.
func SocketPath() string {
	if p := os.Getenv(EnvSocket); p != "" {
		return p
	}
	return DefaultSocket
}
