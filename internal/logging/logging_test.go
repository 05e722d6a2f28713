package logging

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestCorosyncLineFormat(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, Options{Timestamp: TimestampHires, Host: "n1"})
	log := slog.New(h).With("subsys", "TOTEM")
	log.Info("A new membership (1.d) was formed. Members joined: 2 3", "ring", "1.d")
	log.Debug("hidden")
	slog.New(h).Warn("Corosync main process was not scheduled for 4987.3057 ms")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	if !regexp.MustCompile(`^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{3} \[\d+\] `).MatchString(lines[0]) ||
		!strings.HasSuffix(lines[0], "] n1 corosync notice  [TOTEM ] A new membership (1.d) was formed. Members joined: 2 3") {
		t.Errorf("line %q", lines[0])
	}
	if !strings.HasSuffix(lines[1], "corosync warning [MAIN  ] Corosync main process was not scheduled for 4987.3057 ms") {
		t.Errorf("line %q", lines[1])
	}
	var plain bytes.Buffer
	slog.New(NewHandler(&plain, Options{})).With("subsys", "QUORUM").Info("Members[3]: 1 2 3")
	if got := plain.String(); got != "[QUORUM] Members[3]: 1 2 3\n" {
		t.Errorf("syslog-style line %q", got)
	}
}
