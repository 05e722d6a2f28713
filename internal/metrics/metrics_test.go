package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	var s Set
	s.Add("ha_cluster_corosync_quorate", "Whether or not the cluster is quorate", Gauge, 1)
	s.Add("ha_cluster_corosync_quorum_votes", "Cluster quorum votes; one line per type", Gauge, 3, "type", "expected_votes")
	s.Add("ha_cluster_corosync_quorum_votes", "", Gauge, 2, "type", "quorum")
	s.Add("corosyncd_srp_mcast_tx_total", "MCAST messages sent", Counter, 12345678901, "node", `a"b`)
	var sb strings.Builder
	if err := Write(&sb, s.Families()); err != nil {
		t.Fatal(err)
	}
	want := `# HELP corosyncd_srp_mcast_tx_total MCAST messages sent
# TYPE corosyncd_srp_mcast_tx_total counter
corosyncd_srp_mcast_tx_total{node="a\"b"} 12345678901
# HELP ha_cluster_corosync_quorate Whether or not the cluster is quorate
# TYPE ha_cluster_corosync_quorate gauge
ha_cluster_corosync_quorate 1
# HELP ha_cluster_corosync_quorum_votes Cluster quorum votes; one line per type
# TYPE ha_cluster_corosync_quorum_votes gauge
ha_cluster_corosync_quorum_votes{type="expected_votes"} 3
ha_cluster_corosync_quorum_votes{type="quorum"} 2
`
	if sb.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", sb.String(), want)
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeListener(ctx, ln, func() []*Family {
			var s Set
			s.Add("x", "", Gauge, 0.5)
			return s.Families()
		}, nil)
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "x 0.5\n") {
		t.Fatalf("body %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
