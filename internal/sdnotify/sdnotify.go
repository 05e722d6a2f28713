// Package sdnotify tells systemd about the daemon's state (sd_notify(3)):
// one datagram to the Unix socket named by $NOTIFY_SOCKET, as a
// Type=notify unit expects. Without $NOTIFY_SOCKET it does nothing.
package sdnotify

import (
	"fmt"
	"net"
	"os"
)

// Ready is the state string of a daemon that has started.
const Ready = "READY=1"

// Stopping is the state string of a daemon shutting down.
const Stopping = "STOPPING=1"

// Notify sends state to systemd. It reports whether a socket was set.
func Notify(state string) (bool, error) {
	return NotifySocket(os.Getenv("NOTIFY_SOCKET"), state)
}

// NotifySocket sends state to the socket at path (a leading '@' names an
// abstract socket). An empty path does nothing.
func NotifySocket(path, state string) (bool, error) {
	if path == "" {
		return false, nil
	}
	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	if path[0] == '@' {
		addr.Name = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return true, fmt.Errorf("sdnotify: dial %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return true, fmt.Errorf("sdnotify: write %s: %w", path, err)
	}
	return true, nil
}
