package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/qdevice/heuristics"
)

// confHead is a valid configuration up to the inside of quorum.device;
// device lines start at line 16.
const confHead = `totem {
	version: 2
	cluster_name: test
	transport: udpu
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
	}
	node {
		ring0_addr: 127.0.0.2
		nodeid: 2
	}
}
quorum {
	provider: corosync_votequorum
	device {
`

const confTail = `	}
}
`

// deviceLine is the line of the first device line in confHead + body.
const deviceLine = 19

// writeConf writes confHead + device + confTail and returns its path.
func writeConf(t *testing.T, device string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(path, []byte(confHead+device+confTail), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, device, override string) (*settings, error) {
	t.Helper()
	cfg, err := config.Load(context.Background(), writeConf(t, device), nil)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return loadSettings(cfg, override)
}

// diagLines formats the errors of err as "line: msg".
func diagLines(err error) []string {
	var ce *config.Error
	if !errors.As(err, &ce) {
		return []string{err.Error()}
	}
	var out []string
	for _, d := range ce.Errors() {
		out = append(out, fmt.Sprintf("%d: %s", d.Pos.Line, d.Msg))
	}
	return out
}

func TestSettingsQdiskDefaults(t *testing.T) {
	s, err := load(t, `
		model: qdisk
		qdisk {
			path: /dev/disk/by-id/shared
		}
`, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.model != modelQdisk || s.qdisk.path != "/dev/disk/by-id/shared" || s.qdisk.interval != time.Second ||
		s.qdisk.tko != 10 || s.qdisk.minScore != 0 || s.heuristics.mode != heuristics.ModeOff ||
		s.timeout != 10*time.Second || s.syncTimeout != 30*time.Second || s.masterWins {
		t.Fatalf("settings %+v", s)
	}
	if s.heuristics.timeout != 5*time.Second || s.heuristics.syncTimeout != 15*time.Second || s.heuristics.interval != 30*time.Second {
		t.Fatalf("heuristics %+v", s.heuristics)
	}
	if len(s.warnings) != 0 {
		t.Fatalf("warnings %v", s.warnings)
	}
}

func TestSettingsQdiskTKORaised(t *testing.T) {
	s, err := load(t, `
		model: qdisk
		timeout: 20000
		qdisk {
			path: /q
			interval: 500
		}
`, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.qdisk.tko != 40 {
		t.Fatalf("tko %d, want 40 (timeout / interval)", s.qdisk.tko)
	}
}

func TestSettingsQdiskHeuristics(t *testing.T) {
	s, err := load(t, `
		model: qdisk
		master_wins: 1
		heuristics {
			mode: on
			exec_gw: ping -c1 -w1 10.0.0.254
			exec_fs: test -d /srv
			exec_san: true
		}
		qdisk {
			path: /q
		}
`, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := config.Load(context.Background(), writeConf(t, "model: qdisk\nheuristics {\nmode: on\nexec_a: true\n}\nqdisk {\npath: /q\ntko: 12\nmin_score: 1\nmaster_wins: 1\n}\nping {\nhosts: 10.0.0.1\ntarget_b: 10.0.0.2:22\nmin_score: 1\n}\n"), nil); err != nil || len(cfg.Warnings) != 0 {
		t.Fatalf("config.Load warns about the device keys: %v %v", err, cfg.Warnings)
	}
	if s.qdisk.minScore != 2 || len(s.checks()) != 3 || !s.masterWins {
		t.Fatalf("min_score %d (want floor((3+1)/2) = 2), %d checks, master_wins %v", s.qdisk.minScore, len(s.checks()), s.masterWins)
	}
}

func TestSettingsPing(t *testing.T) {
	s, err := load(t, `
		model: ping
		votes: 1
		ping {
			hosts: 10.0.0.254, 10.0.1.254:443
			target_v6: [2001:db8::1]:22
		}
`, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ping_10.0.0.254 10.0.0.254:0", "ping_10.0.1.254:443 10.0.1.254:443", "ping_v6 [2001:db8::1]:22"}
	var got []string
	for _, tg := range s.ping.targets {
		got = append(got, fmt.Sprintf("%s %s:%d", tg.name, tg.addr, tg.port))
		if tg.addr.Is6() {
			got[len(got)-1] = fmt.Sprintf("%s [%s]:%d", tg.name, tg.addr, tg.port)
		}
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("targets %q\nwant %q", got, want)
	}
	if s.heuristics.mode != heuristics.ModeOn || s.ping.minScore != 3 || s.votes != 1 {
		t.Fatalf("mode %v min_score %d votes %d", s.heuristics.mode, s.ping.minScore, s.votes)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, device string
		want         []string
	}{
		{"no model", `
		timeout: 1000
`, []string{"18: quorum.device.model is not set (qdisk or ping)"}},
		{"net", `
		model: net
`, []string{"20: quorum.device.model net needs corosync-qdevice and corosync-qnetd; this daemon implements the models qdisk and ping"}},
		{"no qdisk section", `
		model: qdisk
`, []string{"18: model qdisk needs a quorum.device.qdisk section with path"}},
		{"no path", `
		model: qdisk
		qdisk {
			interval: 50
		}
`, []string{
			"21: quorum.device.qdisk.path is not set (the shared file or block device)",
			"22: quorum.device.qdisk.interval 50ms is below 100ms",
		}},
		{"tko too small", `
		model: qdisk
		qdisk {
			path: /q
			tko: 5
		}
`, []string{"23: quorum.device.qdisk.tko 5 × interval 1s is less than quorum.device.timeout 10s: after a split a hung master's vote could outlive the takeover; use tko ≥ 10"}},
		{"min_score too high", `
		model: qdisk
		heuristics {
			mode: sync
			exec_a: true
		}
		qdisk {
			path: /q
			min_score: 2
		}
`, []string{"27: quorum.device.qdisk.min_score 2 is more than the 1 heuristics checks: no node could be master"}},
		{"ping without checks", `
		model: ping
`, []string{"18: model ping needs at least one check: quorum.device.ping.hosts, target_NAME or heuristics exec_NAME"}},
		{"ping mode off", `
		model: ping
		master_wins: 1
		heuristics {
			mode: off
		}
		ping {
			hosts: 10.0.0.1
			target_x: gateway.example.com
		}
`, []string{
			"21: master_wins is not available with model ping: both halves of a split may cast the vote",
			"23: model ping needs heuristics: mode must be sync or on",
			"27: quorum.device.ping.target_x: \"gateway.example.com\" is not an IP address or IP:PORT (host names are not resolved)",
		}},
		{"bad numbers", `
		model: ping
		heuristics {
			mode: maybe
			exec_: true
			exec_b:
		}
		ping {
			hosts: 10.0.0.1
			min_score: 3
		}
`, []string{
			"22: quorum.device.heuristics.mode \"maybe\" is not off, sync or on",
			"23: quorum.device.heuristics.exec_: exec_ needs a name (exec_NAME: COMMAND)",
			"24: quorum.device.heuristics.exec_b: empty command",
			"28: quorum.device.ping.min_score 3 is more than the 1 checks",
		}},
		{"contradiction", `
		model: qdisk
		master_wins: 0
		qdisk {
			path: /q
			master_wins: 1
		}
`, []string{"24: quorum.device.qdisk.master_wins contradicts quorum.device.master_wins (line 21)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.device, "")
			if err == nil {
				t.Fatal("no error")
			}
			got := diagLines(err)
			// Errors come sorted by line; compare as sets in that order.
			wantSorted := append([]string(nil), tc.want...)
			sortByLine(wantSorted)
			if strings.Join(got, "\n") != strings.Join(wantSorted, "\n") {
				t.Fatalf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSorted, "\n"))
			}
		})
	}
}

func sortByLine(lines []string) {
	n := func(s string) int {
		var x int
		fmt.Sscanf(s, "%d:", &x)
		return x
	}
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && n(lines[j]) < n(lines[j-1]); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}

func TestSettingsNodeIDTooHigh(t *testing.T) {
	conf := strings.Replace(confHead, "nodeid: 2", "nodeid: 300", 1) + `
		model: qdisk
		qdisk {
			path: /q
		}
` + confTail
	path := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadSettings(cfg, "")
	if got := diagLines(err); len(got) != 1 || got[0] != "11: node id 300: model qdisk supports node ids 1..255 (set nodeid)" {
		t.Fatalf("errors %q", got)
	}
}

func TestSettingsWarnings(t *testing.T) {
	s, err := load(t, `
		model: ping
		net {
			host: qnetd
		}
		heuristics {
			mode: sync
			exec_x: true
			colour: blue
		}
		ping {
			hosts: 127.0.0.1
		}
		qdisk {
			path: /q
		}
		frobnicate: 1
`, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range s.warnings {
		got = append(got, fmt.Sprintf("%d: %s", w.Pos.Line, w.Msg))
	}
	want := []string{
		"21: section quorum.device.net is for model net (corosync-qdevice); ignored",
		"27: unknown key quorum.device.heuristics.colour; ignored",
		"32: section quorum.device.qdisk is only used with model qdisk; ignored",
		"35: unknown key quorum.device.frobnicate; ignored",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSettingsModelOverride(t *testing.T) {
	s, err := load(t, `
		model: qdisk
		ping {
			hosts: 127.0.0.1
		}
`, "ping")
	if err != nil {
		t.Fatal(err)
	}
	if s.model != modelPing {
		t.Fatalf("model %q", s.model)
	}
}

func TestRunCheckConfig(t *testing.T) {
	path := writeConf(t, `
		model: qdisk
		heuristics {
			mode: sync
			exec_gw: true
		}
		qdisk {
			path: /q
		}
`)
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"-t", "-c", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := `quorum.device.model: qdisk
quorum.device.votes: default (nodes - 1)
quorum.device.timeout: 10000
quorum.device.sync_timeout: 30000
quorum.device.master_wins: 0
quorum.device.heuristics.mode: sync
quorum.device.heuristics.timeout: 5000
quorum.device.heuristics.sync_timeout: 15000
quorum.device.heuristics.interval: 30000
quorum.device.heuristics.exec_gw: true
quorum.device.qdisk.path: /q
quorum.device.qdisk.interval: 1000
quorum.device.qdisk.tko: 10
quorum.device.qdisk.min_score: 1
nodelist: 1 2
`
	if out.String() != want {
		t.Fatalf("output\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	errb.Reset()
	bad := writeConf(t, "\t\tmodel: qdisk\n\t\tqdisk {\n\t\t\ttko: x\n\t\t}\n")
	if code := run(context.Background(), []string{"-t", "-c", bad}, &out, &errb); code != 1 {
		t.Fatalf("exit %d for a bad file", code)
	}
	for _, want := range []string{bad + ":20: quorum.device.qdisk.path is not set", bad + ":21: quorum.device.qdisk.tko: \"x\" is not a number"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr %q lacks %q", errb.String(), want)
		}
	}
}
