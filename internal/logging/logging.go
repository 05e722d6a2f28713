// Package logging writes log/slog records as corosync writes its log
// lines, so that people, scripts and monitoring that grep corosync's logs
// read ours:
//
//	Nov 22 21:41:39.123 [1234] n1 corosync notice  [TOTEM ] A new membership (1.d) was formed. Members joined: 2 3
//
// The subsystem comes from the record's "subsys" attribute (TOTEM, MAIN,
// QUORUM, ...); other attributes are not printed, because corosync's lines
// carry none and tools match whole lines.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Timestamp selects corosync's logging.timestamp.
type Timestamp int

// Timestamp styles.
const (
	TimestampOff   Timestamp = iota // no time
	TimestampOn                     // "Nov 22 21:41:39"
	TimestampHires                  // "Nov 22 21:41:39.123"
)

// Options configure a Handler.
type Options struct {
	// Level is the lowest level written (debug: on → slog.LevelDebug).
	Level slog.Leveler
	// Timestamp style; syslog output passes TimestampOff (syslog stamps).
	Timestamp Timestamp
	// Host is printed after the pid ("" leaves it out).
	Host string
	// Ident is the program name (default "corosync", as tools expect).
	Ident string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Handler is a slog.Handler writing corosync-style lines to one writer.
type Handler struct {
	mu     *sync.Mutex
	w      io.Writer
	opts   Options
	subsys string
}

// NewHandler returns a handler writing to w.
func NewHandler(w io.Writer, opts Options) *Handler {
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	if opts.Ident == "" {
		opts.Ident = "corosync"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{mu: &sync.Mutex{}, w: w, opts: opts, subsys: "MAIN"}
}

// Enabled reports whether the level is logged.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.opts.Level.Level()
}

// Priority returns corosync's (syslog's) name for a level.
func Priority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	case l >= slog.LevelInfo:
		return "notice"
	default:
		return "debug"
	}
}

// Format returns the line (without newline) for a record of subsys.
func (h *Handler) Format(t time.Time, l slog.Level, subsys, msg string) string {
	var sb strings.Builder
	switch h.opts.Timestamp {
	case TimestampOn:
		sb.WriteString(t.Format("Jan 02 15:04:05 "))
	case TimestampHires:
		sb.WriteString(t.Format("Jan 02 15:04:05.000 "))
	}
	if h.opts.Timestamp != TimestampOff {
		fmt.Fprintf(&sb, "[%d] ", os.Getpid())
		if h.opts.Host != "" {
			sb.WriteString(h.opts.Host)
			sb.WriteByte(' ')
		}
		sb.WriteString(h.opts.Ident)
		sb.WriteByte(' ')
		fmt.Fprintf(&sb, "%-8s", Priority(l))
	}
	fmt.Fprintf(&sb, "[%-6s] %s", subsys, msg)
	return sb.String()
}

// Handle writes one record.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	subsys := h.subsys
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "subsys" {
			subsys = a.Value.String()
			return false
		}
		return true
	})
	t := r.Time
	if t.IsZero() {
		t = h.opts.Now()
	}
	line := h.Format(t, r.Level, subsys, r.Message) + "\n"
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, line)
	return err
}

// WithAttrs keeps the subsys attribute; others are dropped.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	for _, a := range attrs {
		if a.Key == "subsys" {
			c.subsys = a.Value.String()
		}
	}
	return &c
}

// WithGroup is a no-op: corosync lines have no groups.
func (h *Handler) WithGroup(string) slog.Handler { return h }

// Multi fans records out to several handlers.
type Multi []slog.Handler

// Enabled reports whether any handler takes the level.
func (m Multi) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range m {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

// Handle passes the record to every handler that takes it.
func (m Multi) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range m {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// WithAttrs applies to every handler.
func (m Multi) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(Multi, len(m))
	for i, h := range m {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

// WithGroup applies to every handler.
func (m Multi) WithGroup(name string) slog.Handler {
	out := make(Multi, len(m))
	for i, h := range m {
		out[i] = h.WithGroup(name)
	}
	return out
}
