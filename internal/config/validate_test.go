package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// config builds a file: a totem section with version and cluster_name
// (lines 1-3) plus totemLines, then a nodelist holding nodes, then extra.
func config(totemLines, nodes, extra string) string {
	return "totem {\n\tversion: 2\n\tcluster_name: test\n" + totemLines + "}\nnodelist {\n" + nodes + "}\n" + extra
}

func node(lines ...string) string {
	return "\tnode {\n\t\t" + strings.Join(lines, "\n\t\t") + "\n\t}\n"
}

var twoNodes = node("ring0_addr: 10.0.0.1", "nodeid: 1") + node("ring0_addr: 10.0.0.2", "nodeid: 2")

func TestCrossChecks(t *testing.T) {
	udpu := "\ttransport: udpu\n"
	for _, tc := range []struct {
		name string
		in   string
		line int
		msg  string
	}{
		{"knet by default", config("", twoNodes, ""), 1, "corosync 3 would use knet"},
		{"knet", config("\ttransport: knet\n", twoNodes, ""), 4, "knet is not supported by this implementation yet"},
		{"crypto with udpu", config(udpu+"\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n", twoNodes, ""), 5,
			"crypto_cipher & crypto_hash are only valid for the Knet transport"},
		{"hash only with udpu", config(udpu+"\tcrypto_hash: sha256\n", twoNodes, ""), 5, "only valid for the Knet transport"},
		{"secauth with udpu", config(udpu+"\tsecauth: on\n", twoNodes, ""), 5, "only valid for the Knet transport"},
		{"cipher without hash", config(udpu+"\tcrypto_cipher: aes128\n", twoNodes, ""), 5, "crypto_cipher requires crypto_hash"},
		{"no nodelist", "totem {\n\tversion: 2\n\ttransport: udpu\n}\n", 0, "no nodelist.node section"},
		{"node without ring0_addr", config(udpu, twoNodes+node("nodeid: 3", "name: n3"), ""), 15, "node section has no ring0_addr"},
		{"duplicate nodeid", config(udpu, twoNodes+node("ring0_addr: 10.0.0.3", "nodeid: 2"), ""), 17, "nodeid 2 appears twice (also the node at line 11)"},
		{"IPv6 without nodeid", config(udpu, node("ring0_addr: 2001:db8::1")+node("ring0_addr: 2001:db8::2", "nodeid: 2"), ""), 8,
			"nodelist.node.0.nodeid is required: a node id can only be generated from an IPv4 ring0_addr"},
		{"mixed families", config(udpu, node("ring0_addr: 10.0.0.1", "nodeid: 1")+node("ring0_addr: 2001:db8::2", "nodeid: 2"), ""), 12,
			"nodes of link 0 have different IP families: 2001:db8::2 here, 10.0.0.1 at line 8"},
		{"duplicate address", config(udpu, twoNodes+node("ring0_addr: 10.0.0.2", "nodeid: 3"), ""), 16, "ring0_addr 10.0.0.2 is also the address of the node at line 11"},
		{"IPv6 literal with ip_version ipv4", config(udpu+"\tip_version: ipv4\n", node("ring0_addr: 2001:db8::1", "nodeid: 1"), ""), 9, "is not an IPv4 address"},
		{"invalid address", config(udpu, node("ring0_addr: 10.0.0.256", "nodeid: 1"), ""), 8, `cannot resolve "10.0.0.256"`},
		{"unknown host", config(udpu, node("ring0_addr: nowhere.example.com", "nodeid: 1"), ""), 8, `cannot resolve "nowhere.example.com"`},
		{"ring1 with udpu", config(udpu, node("ring0_addr: 10.0.0.1", "ring1_addr: 10.1.0.1", "nodeid: 1"), ""), 9,
			"2 links are configured ([0 1]); the udpu transport supports only link 0"},
		{"ring8", config(udpu, node("ring0_addr: 10.0.0.1", "ring8_addr: 10.1.0.1", "nodeid: 1"), ""), 9, "link 8 is above the maximum 7"},
		{"link 1 with udpu", config(udpu+"\tinterface {\n\t\tlinknumber: 1\n\t}\n", twoNodes, ""), 5, "2 links are configured"},
		{"link 9", config("\ttransport: udp\n\tinterface {\n\t\tlinknumber: 9\n\t}\n", twoNodes, ""), 5, "linknumber 9 is above the maximum 7"},
		{"udp without group", "totem {\n\tversion: 2\n\ttransport: udp\n}\nnodelist {\n" + twoNodes + "}\n", 1,
			"no multicast address: the udp transport needs totem.interface.0.mcastaddr or totem.cluster_name"},
		{"udp unicast group", config("\ttransport: udp\n\tinterface {\n\t\tmcastaddr: 10.1.1.1\n\t}\n", twoNodes, ""), 6, "10.1.1.1 is not a multicast address"},
		{"udp group family", config("\ttransport: udp\n\tinterface {\n\t\tmcastaddr: ff15::1\n\t}\n", twoNodes, ""), 6, "is not of the nodes' address family"},
		{"udp bad group", config("\ttransport: udp\n\tinterface {\n\t\tmcastaddr: group\n\t}\n", twoNodes, ""), 6, `"group" is not an IP address`},
		{"consensus below 1.2 token with 3 nodes", config(udpu+"\tconsensus: 3000\n", twoNodes+node("ring0_addr: 10.0.0.3", "nodeid: 3"), ""), 5,
			"a limit of this implementation"},
		{"two_node and qdevice", config(udpu, twoNodes, "quorum {\n\tprovider: corosync_votequorum\n\ttwo_node: 1\n\tdevice {\n\t\tmodel: net\n\t}\n}\n"), 18,
			"two_node and a quorum device cannot be configured together"},
		{"qdevice and lms", config(udpu, twoNodes, "quorum {\n\tprovider: corosync_votequorum\n\tlast_man_standing: 1\n\tdevice {\n\t\tmodel: net\n\t}\n}\n"), 18,
			"quorum.device is not compatible with last_man_standing"},
		{"qdevice and atb", config(udpu, twoNodes, "quorum {\n\tprovider: corosync_votequorum\n\tauto_tie_breaker: 1\n\tdevice {\n\t\tmodel: net\n\t}\n}\n"), 18,
			"quorum.device is not compatible with auto_tie_breaker"},
		{"qdevice and allow_downscale", config(udpu, twoNodes, "quorum {\n\tprovider: corosync_votequorum\n\tallow_downscale: 1\n\tdevice {\n\t\tmodel: net\n\t}\n}\n"), 18,
			"quorum.device is not compatible with allow_downscale"},
		{"qdevice votes needed with expected_votes", config(udpu, twoNodes, "quorum {\n\tprovider: corosync_votequorum\n\texpected_votes: 3\n\tdevice {\n\t\tmodel: net\n\t}\n}\n"), 18,
			"quorum.device.votes must be set when quorum.expected_votes is set"},
		{"qdevice votes needed with uneven votes", config(udpu, node("ring0_addr: 10.0.0.1", "nodeid: 1", "quorum_votes: 2")+node("ring0_addr: 10.0.0.2", "nodeid: 2"),
			"quorum {\n\tprovider: corosync_votequorum\n\tdevice {\n\t\tmodel: net\n\t}\n}\n"), 20, "quorum.device.votes must be set when not every node has 1 vote"},
		{"qdevice votes too high", config(udpu, twoNodes, "quorum {\n\tprovider: corosync_votequorum\n\texpected_votes: 3\n\tdevice {\n\t\tmodel: net\n\t\tvotes: 2\n\t}\n}\n"), 21,
			"quorum.device.votes 2 is too high"},
		{"atb lms odd", config(udpu, twoNodes+node("ring0_addr: 10.0.0.3", "nodeid: 3"), "quorum {\n\tprovider: corosync_votequorum\n\tauto_tie_breaker: 1\n\tlast_man_standing: 1\n}\n"), 22,
			"auto_tie_breaker and last_man_standing are not available in an odd-sized cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, tc.in)
			if err == nil {
				t.Fatalf("no error; want %q", tc.msg)
			}
			ds := diagnostics(t, err)
			d, ok := findDiag(ds, SeverityError, tc.msg)
			if !ok {
				t.Fatalf("no error containing %q:%s", tc.msg, dump(ds))
			}
			if d.Pos.Line != tc.line {
				t.Errorf("%s: at line %d, want %d", d, d.Pos.Line, tc.line)
			}
		})
	}
}

func TestKnetSentinel(t *testing.T) {
	_, err := read(t, config("", twoNodes, ""))
	if !errors.Is(err, ErrKnetUnsupported) || !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrKnetUnsupported/ErrInvalid) = false", err)
	}
	_, err = read(t, config("\ttransport: udpu\n\ttoken: x\n", twoNodes, ""))
	if errors.Is(err, ErrKnetUnsupported) || !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is for a non-knet error wrong: %v", err)
	}
}

func TestQuorumWarnings(t *testing.T) {
	three := twoNodes + node("ring0_addr: 10.0.0.3", "nodeid: 3")
	for _, tc := range []struct {
		nodes, quorum, msg string
	}{
		{three, "\ttwo_node: 1\n", "the nodelist has 3 nodes; corosync disables two_node"},
		{three, "\tauto_tie_breaker: 1\n", "needs wait_for_all in an odd-sized cluster; corosync disables auto_tie_breaker"},
		{twoNodes, "\ttwo_node: 1\n\tauto_tie_breaker: 1\n", "two_node and auto_tie_breaker are not compatible"},
		{twoNodes, "\tauto_tie_breaker_node: highest\n", "no effect while auto_tie_breaker is 0"},
		{node("ring0_addr: 10.0.0.1", "nodeid: 1", "quorum_votes: 2") + node("ring0_addr: 10.0.0.2", "nodeid: 2"), "\tlast_man_standing: 1\n", "unless every node has 1 vote"},
	} {
		c := mustRead(t, config("\ttransport: udpu\n", tc.nodes, "quorum {\n\tprovider: corosync_votequorum\n"+tc.quorum+"}\n"))
		if _, ok := findDiag(c.Warnings, SeverityWarning, tc.msg); !ok {
			t.Errorf("%q: no warning %q:%s", tc.quorum, tc.msg, dump(c.Warnings))
		}
	}
}

func TestNodeIDs(t *testing.T) {
	c := mustRead(t, config("\ttransport: udpu\n", node("ring0_addr: 10.77.0.1")+node("ring0_addr: 192.168.1.1")+node("ring0_addr: n2.example.com", "nodeid: 0"), ""))
	want := []uint32{0x0a4d0001, 0xc0a80101, 0x0a000002}
	for i, n := range c.Nodes {
		if n.ID != want[i] || !n.IDGenerated {
			t.Errorf("node %d: id %#x generated %v, want %#x", i, n.ID, n.IDGenerated, want[i])
		}
	}
	if _, ok := findDiag(c.Warnings, SeverityWarning, "nodeid is 0, which corosync treats as not set"); !ok {
		t.Errorf("no warning for nodeid 0:%s", dump(c.Warnings))
	}
	c = mustRead(t, config("\ttransport: udpu\n\tclear_node_high_bit: yes\n", node("ring0_addr: 192.168.1.1"), ""))
	if c.Nodes[0].ID != 0xc0a80101&0x7fffffff {
		t.Errorf("clear_node_high_bit: id %#x", c.Nodes[0].ID)
	}
	// Duplicates between explicit and generated ids are found.
	_, err := read(t, config("\ttransport: udpu\n", node("ring0_addr: 10.0.0.1", "nodeid: 167772162")+node("ring0_addr: 10.0.0.2"), ""))
	if d, ok := findDiag(diagnostics(t, err), SeverityError, "nodeid 167772162 (generated from 10.0.0.2) appears twice"); !ok || d.Pos.Line != 12 {
		t.Errorf("generated duplicate: %v %v", d, ok)
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		ipVersion, host, want string
	}{
		{"", "n1.example.com", "10.0.0.1"},
		{"", "dual.example.com", "2001:db8::1"},
		{"ipv6-4", "dual.example.com", "2001:db8::1"},
		{"ipv4-6", "dual.example.com", "10.0.0.9"},
		{"ipv4", "dual.example.com", "10.0.0.9"},
		{"ipv6", "dual.example.com", "2001:db8::1"},
		{"ipv4-6", "n1.example.com", "10.0.0.1"},
		{"", "::ffff:10.0.0.5", "10.0.0.5"},
		{"", "fe80::1%eth0", "fe80::1%eth0"},
	} {
		lines := "\ttransport: udpu\n"
		if tc.ipVersion != "" {
			lines += "\tip_version: " + tc.ipVersion + "\n"
		}
		c := mustRead(t, config(lines, node("ring0_addr: "+tc.host, "nodeid: 1"), ""))
		if got := c.Nodes[0].Addr; got != netip.MustParseAddr(tc.want) {
			t.Errorf("%s %s: %v, want %s", tc.ipVersion, tc.host, got, tc.want)
		}
		if c.Nodes[0].Ring0Addr != tc.host {
			t.Errorf("Ring0Addr = %q", c.Nodes[0].Ring0Addr)
		}
	}
	_, err := read(t, config("\ttransport: udpu\n\tip_version: ipv6\n", node("ring0_addr: n1.example.com", "nodeid: 1"), ""))
	if _, ok := findDiag(diagnostics(t, err), SeverityError, `cannot resolve "n1.example.com"`); !ok {
		t.Errorf("IPv4-only host with ip_version ipv6: %v", err)
	}
}
