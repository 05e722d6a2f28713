package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/corogo/corogo/internal/client/cfgclient"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// udpuLinks are node 1's links in a three-node udpu cluster where node 3
// is down.
func udpuLinks(transport string) []cfgclient.LinkStatus {
	l := func(node uint32, addr string, connected bool) cfgclient.LinkStatus {
		return cfgclient.LinkStatus{LinkNo: 0, NodeID: node, Transport: transport, Addr: "10.77.0.1",
			RemoteAddr: addr, Enabled: true, Connected: connected, MTU: 1472}
	}
	return []cfgclient.LinkStatus{
		l(3, "10.77.0.3", false),
		l(1, "10.77.0.1", true),
		l(2, "10.77.0.2", true),
	}
}

// knetLinks are node 2's two knet links to nodes 1, 2 and 10; link 1 to
// node 10 is down.
func knetLinks() []cfgclient.LinkStatus {
	var ls []cfgclient.LinkStatus
	for _, link := range []uint8{0, 1} {
		local := []string{"192.168.1.2", "172.16.0.2"}[link]
		for _, n := range []struct {
			id   uint32
			addr string
		}{{1, "1"}, {2, "2"}, {10, "10"}} {
			remote := []string{"192.168.1.", "172.16.0."}[link] + n.addr
			ls = append(ls, cfgclient.LinkStatus{LinkNo: link, NodeID: n.id, Transport: "knet", Addr: local,
				RemoteAddr: remote, Enabled: true, Connected: !(link == 1 && n.id == 10), MTU: 1397})
		}
	}
	return ls
}

func TestWriteLinkStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local uint32
		links []cfgclient.LinkStatus
		iface string
		brief bool
	}{
		{"status_udpu.golden", 1, udpuLinks("udpu"), "", false},
		{"status_udp_brief.golden", 1, udpuLinks("udp"), "", true},
		{"status_knet.golden", 2, knetLinks(), "", false},
		{"status_knet_brief.golden", 2, knetLinks(), "", true},
		{"status_knet_if_link.golden", 2, knetLinks(), "1", false},
		{"status_knet_if_addr.golden", 2, knetLinks(), "192.168.1.2", true},
		{"status_knet_if_none.golden", 2, knetLinks(), "10.9.9.9", false},
		{"status_alone.golden", 5, []cfgclient.LinkStatus{{NodeID: 5, Transport: "udpu", Addr: "10.0.0.5",
			RemoteAddr: "10.0.0.5", Enabled: true, Connected: true, MTU: 1472}}, "", false},
		{"status_large_ids.golden", 4294967295, []cfgclient.LinkStatus{
			{NodeID: 4294967295, Transport: "udpu", Addr: "10.0.0.9", RemoteAddr: "10.0.0.9", Enabled: true, Connected: true},
			{NodeID: 7, Transport: "udpu", Addr: "10.0.0.9", RemoteAddr: "10.0.0.7", Enabled: true},
		}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeLinkStatus(&b, tc.local, tc.links, tc.iface, tc.brief)
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestWriteNodeStatus(t *testing.T) {
	status := func(local uint32, links []cfgclient.LinkStatus) []cfgclient.NodeStatus {
		var out []cfgclient.NodeStatus
		for _, id := range nodeIDs(local, links) {
			s := cfgclient.NodeStatus{NodeID: id, Reachable: id == local}
			for _, l := range links {
				if l.NodeID == id {
					s.Links = append(s.Links, l)
					s.Reachable = s.Reachable || l.Connected
				}
			}
			out = append(out, s)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		local uint32
		links []cfgclient.LinkStatus
	}{
		{"nodes_udpu.golden", 1, udpuLinks("udpu")},
		{"nodes_knet.golden", 2, knetLinks()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeNodeStatus(&b, tc.local, transportOf(tc.links), status(tc.local, tc.links))
			golden(t, tc.name, b.Bytes())
		})
	}
}
