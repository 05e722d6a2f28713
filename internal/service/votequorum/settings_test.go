package votequorum

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/config"
)

func confWith(t *testing.T, nodes []string, quorum string) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("totem {\n version: 2\n cluster_name: t\n transport: udpu\n}\nnodelist {\n")
	for i, n := range nodes {
		fmt.Fprintf(&b, " node {\n  ring0_addr: 127.0.0.%d\n  nodeid: %d\n%s }\n", i+1, i+1, n)
	}
	b.WriteString("}\nquorum {\n provider: corosync_votequorum\n" + quorum + "}\n")
	c, err := config.Read(context.Background(), []byte(b.String()), "corosync.conf", nil)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, b.String())
	}
	return c
}

func TestSettingsFrom(t *testing.T) {
	three := []string{"", "", ""}
	tests := []struct {
		name   string
		nodes  []string
		quorum string
		check  func(t *testing.T, s Settings, warns []string)
	}{
		{"defaults", three, "", func(t *testing.T, s Settings, _ []string) {
			if s.Votes != 1 || s.Expected != 3 || s.TwoNode || s.WaitForAll || s.ATB != ATBNone || s.LMSWindow != 10*time.Second {
				t.Errorf("%+v", s)
			}
		}},
		{"weighted votes", []string{"  quorum_votes: 3\n", "", ""}, "", func(t *testing.T, s Settings, _ []string) {
			if s.Votes != 3 || s.Expected != 5 {
				t.Errorf("votes %d expected %d, want 3 and 5", s.Votes, s.Expected)
			}
		}},
		{"expected_votes overrides", three, " expected_votes: 7\n", func(t *testing.T, s Settings, _ []string) {
			if s.Expected != 7 {
				t.Errorf("expected %d", s.Expected)
			}
		}},
		{"two_node implies wait_for_all", []string{"", ""}, " two_node: 1\n", func(t *testing.T, s Settings, _ []string) {
			if !s.TwoNode || !s.WaitForAll {
				t.Errorf("%+v", s)
			}
		}},
		{"two_node without wait_for_all", []string{"", ""}, " two_node: 1\n wait_for_all: 0\n", func(t *testing.T, s Settings, _ []string) {
			if !s.TwoNode || s.WaitForAll {
				t.Errorf("%+v", s)
			}
		}},
		{"atb list", []string{"", "", "", ""}, " auto_tie_breaker: 1\n auto_tie_breaker_node: 3 1\n", func(t *testing.T, s Settings, _ []string) {
			if s.ATB != ATBList || fmt.Sprint(s.ATBNodes) != "[3 1]" {
				t.Errorf("%v %v", s.ATB, s.ATBNodes)
			}
		}},
		{"atb disabled in odd cluster without wfa", three, " auto_tie_breaker: 1\n", func(t *testing.T, s Settings, w []string) {
			if s.ATB != ATBNone || len(w) == 0 {
				t.Errorf("%v %v", s.ATB, w)
			}
		}},
		{"atb kept in odd cluster with wfa", three, " auto_tie_breaker: 1\n wait_for_all: 1\n auto_tie_breaker_node: highest\n", func(t *testing.T, s Settings, _ []string) {
			if s.ATB != ATBHighest {
				t.Errorf("%v", s.ATB)
			}
		}},
		{"device votes default to nodes-1", three, " device {\n  model: qdisk\n }\n", func(t *testing.T, s Settings, _ []string) {
			if !s.Qdevice || s.QdeviceVotes != 2 || s.Expected != 5 || s.QdeviceTimeout != 10*time.Second || s.QdeviceSyncTimeout != 30*time.Second {
				t.Errorf("%+v", s)
			}
		}},
		{"device votes explicit", three, " device {\n  model: qdisk\n  votes: 1\n  timeout: 2000\n  sync_timeout: 4000\n }\n", func(t *testing.T, s Settings, _ []string) {
			if s.QdeviceVotes != 1 || s.Expected != 3 || s.QdeviceTimeout != 2*time.Second || s.QdeviceSyncTimeout != 4*time.Second {
				t.Errorf("%+v", s)
			}
		}},
		{"allow_downscale implies tracking", three, " allow_downscale: 1\n", func(t *testing.T, s Settings, _ []string) {
			if !s.AllowDownscale || !s.EVTracking {
				t.Errorf("%+v", s)
			}
		}},
		{"lms window", three, " last_man_standing: 1\n last_man_standing_window: 2500\n", func(t *testing.T, s Settings, _ []string) {
			if !s.LastManStanding || s.LMSWindow != 2500*time.Millisecond {
				t.Errorf("%+v", s)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, w, err := SettingsFrom(confWith(t, tc.nodes, tc.quorum), 1)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s, w)
		})
	}
}

func TestFileStore(t *testing.T) {
	st := NewFileStore(t.TempDir())
	if v, err := st.Load(); err != nil || v != 0 {
		t.Fatalf("fresh: %d %v", v, err)
	}
	if err := st.Save(7); err != nil {
		t.Fatal(err)
	}
	if v, err := (&FileStore{Path: st.Path}).Load(); err != nil || v != 7 {
		t.Fatalf("reload: %d %v", v, err)
	}
	if filepath.Base(st.Path) != "ev_tracking" {
		t.Errorf("path %s", st.Path)
	}
}

// TestEVTrackingSurvivesRestart: with expected_votes_tracking the highest
// expected votes seen are kept, so a restarted node does not accept a
// smaller majority.
func TestEVTrackingSurvivesRestart(t *testing.T) {
	s := settings(3)
	s.EVTracking = true
	tn := cluster(t, s, 1, 2, 3)
	n1 := tn.nodes[1]
	n1.e.Request(n1.conn, serviceReq(FnSetExpected, AppendSetExpected(nil, 5)))
	tn.deliver()
	if n1.ev.V != 5 {
		t.Fatalf("barrier %d, want 5", n1.ev.V)
	}
	// Restart node 1 alone with the same store: expected votes 5.
	tn.kill(1, 2, 3)
	tn.start(1, 0, s)
	tn.form()
	if in, _ := tn.nodes[1].e.Info(0); in.ExpectedVotes != 5 || in.Quorum != 3 {
		t.Fatalf("after restart %+v", in)
	}
}
