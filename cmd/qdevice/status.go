package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
)

// defaultStatusSocket is where the daemon answers status requests.
const defaultStatusSocket = "/run/corogo-qdevice/qdevice.sock"

// statusTimeout bounds one status exchange.
const statusTimeout = 5 * time.Second

// formatStatus renders fields as corosync-qdevice-tool -s does:
// a title, then "Name:<padding>value" lines.
func formatStatus(fields []qdevice.Field) string {
	width := 0
	for _, f := range fields {
		width = max(width, len(f.Name)+1)
	}
	var b strings.Builder
	b.WriteString("Qdevice information\n-------------------\n")
	for _, f := range fields {
		fmt.Fprintf(&b, "%-*s %s\n", width, f.Name+":", f.Value)
	}
	return b.String()
}

// listenStatus listens on the status socket at path: a socket left by a
// dead daemon is removed, a live one is an error (another daemon runs).
// The socket is only accessible to the daemon's user.
func listenStatus(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("status socket %s: another qdevice daemon is running", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("status socket %s: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("status socket: remove stale %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("status socket: %w", err)
	}
	return ln, nil
}

// serveStatus answers each connection on ln with the device's status
// until ctx ends; then it closes ln and removes the socket.
func serveStatus(ctx context.Context, ln net.Listener, status func() []qdevice.Field) {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				// Unexpected: stop serving; the daemon goes on.
				ln.Close()
			}
			return
		}
		wg.Go(func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(statusTimeout))
			_, _ = io.WriteString(c, formatStatus(status()))
		})
	}
}

// readStatus fetches the status text from a running daemon.
func readStatus(ctx context.Context, path string) (string, error) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return "", fmt.Errorf("the qdevice daemon is not running (no status socket at %s)", path)
		}
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
