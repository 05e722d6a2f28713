package config

import (
	"github.com/corogo/corogo/internal/spectest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func specPath(tb testing.TB, name string) string { return spectest.Path(tb, name) }

func loadReal(t *testing.T) *Config {
	t.Helper()
	c, err := Load(t.Context(), specPath(t, "corosync-udpu-test.conf"), testOptions())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// TestRealConfig loads the configuration used for the wire capture.
func TestRealConfig(t *testing.T) {
	c := loadReal(t)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings:%s", dump(c.Warnings))
	}
	if c.Format != FormatCorosync {
		t.Errorf("format %v", c.Format)
	}
	ts := c.TotemSection
	if ts.Transport != TransportUDPU || ts.ClusterName != "wbtest" || ts.Version != 2 || ts.CryptoCipher != "none" {
		t.Errorf("totem = %+v", ts)
	}
	wantNodes := []Node{
		{Index: 0, ID: 1, Name: "n1", Ring0Addr: "10.77.0.1", Addr: netip.MustParseAddr("10.77.0.1"), QuorumVotes: 1, Pos: Pos{File: c.File, Line: 14}},
		{Index: 1, ID: 2, Name: "n2", Ring0Addr: "10.77.0.2", Addr: netip.MustParseAddr("10.77.0.2"), QuorumVotes: 1, Pos: Pos{File: c.File, Line: 19}},
		{Index: 2, ID: 3, Name: "n3", Ring0Addr: "10.77.0.3", Addr: netip.MustParseAddr("10.77.0.3"), QuorumVotes: 1, Pos: Pos{File: c.File, Line: 24}},
	}
	if !reflect.DeepEqual(c.Nodes, wantNodes) {
		t.Errorf("nodes:\n got %+v\nwant %+v", c.Nodes, wantNodes)
	}
	if c.Quorum.Provider != "corosync_votequorum" || c.System.StateDir != "run/state1" {
		t.Errorf("quorum %+v system %+v", c.Quorum, c.System)
	}
	l := c.Logging
	if l.ToStderr || l.ToSyslog || !l.ToLogfile || l.Logfile != "run/n1.log" || l.Timestamp != "hires" || l.Debug != "on" {
		t.Errorf("logging = %+v", l)
	}
	tm := c.EffectiveTimers()
	if tm.Token != 3650*time.Millisecond || tm.Consensus != 4380*time.Millisecond || tm.TokenRetransmit != 869*time.Millisecond || tm.Hold != 685*time.Millisecond {
		t.Errorf("timers = %+v", tm)
	}
	spec, err := c.Transport(1)
	if err != nil {
		t.Fatal(err)
	}
	want := TransportSpec{
		Kind: TransportUDPU, LocalNodeID: 1, Local: netip.MustParseAddrPort("10.77.0.1:5405"),
		Members: []Member{
			{NodeID: 1, Addr: netip.MustParseAddr("10.77.0.1"), Name: "n1"},
			{NodeID: 2, Addr: netip.MustParseAddr("10.77.0.2"), Name: "n2"},
			{NodeID: 3, Addr: netip.MustParseAddr("10.77.0.3"), Name: "n3"},
		},
		TTL: 1, BlockUnlistedIPs: true, NetMTU: 1500,
	}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("transport:\n got %+v\nwant %+v", spec, want)
	}
}

// normalized strips what legitimately differs between two syntaxes of one
// configuration: positions, the file, the format and the tree.
func normalized(c *Config) Config {
	n := *c
	n.File, n.Format, n.Tree, n.Warnings = "", 0, nil, nil
	n.Map = Map{}
	for k, v := range c.Map {
		v.Pos = Pos{}
		n.Map[k] = v
	}
	n.Nodes = nil
	for _, x := range c.Nodes {
		x.Pos = Pos{}
		n.Nodes = append(n.Nodes, x)
	}
	n.Interfaces = nil
	for _, x := range c.Interfaces {
		x.Pos = Pos{}
		n.Interfaces = append(n.Interfaces, x)
	}
	return n
}

func TestTOMLEquivalent(t *testing.T) {
	conf := loadReal(t)
	toml, err := Load(t.Context(), "testdata/corosync-udpu-test.toml", testOptions())
	if err != nil {
		t.Fatalf("Load TOML: %v", err)
	}
	if toml.Format != FormatTOML || len(toml.Warnings) != 0 {
		t.Errorf("format %v warnings:%s", toml.Format, dump(toml.Warnings))
	}
	a, b := normalized(conf), normalized(toml)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("configs differ:\nconf %+v\ntoml %+v", a, b)
		for k, v := range a.Map {
			if b.Map[k] != v {
				t.Errorf("%s: conf %+v toml %+v", k, v, b.Map[k])
			}
		}
	}
	// Node positions come from the TOML headers.
	if got := toml.Nodes[1].Pos.Line; got != 14 {
		t.Errorf("second node at line %d, want 14", got)
	}
}

func TestTOML(t *testing.T) {
	src := `[totem]
version = 2
transport = "udp"
cluster_name = "toml"
block_unlisted_ips = false
bogus = 1

[[totem.interface]]
linknumber = 0
mcastaddr = "239.1.1.1"
ttl = 4

[[nodelist.node]]
ring0_addr = "10.0.0.1"
nodeid = 1

[[nodelist.node]]
ring0_addr = "10.0.0.2"
nodeid = 2

[quorum]
provider = "corosync_votequorum"
two_node = true
auto_tie_breaker_node = [1, 2]

[quorum.device]
model = "net"
votes = 1

[quorum.device.net]
host = "qnetd.example.com"

[logging]
fileline = true
[[logging.logger_subsys]]
subsys = "QUORUM"
debug = "on"

[[uidgid]]
uid = ["hacluster", "0"]
gid = "haclient"
`
	_, err := Read(t.Context(), []byte(src), "corosync.toml", testOptions())
	if err == nil {
		t.Fatal("two_node with a quorum device was accepted")
	}
	ds := diagnostics(t, err)
	if d, ok := findDiag(ds, SeverityError, "two_node and a quorum device"); !ok || d.Pos.Line != 23 {
		t.Errorf("two_node error: %v %v%s", d, ok, dump(ds))
	}
	if d, ok := findDiag(ds, SeverityWarning, `unknown key "totem.bogus"`); !ok || d.Pos.Line != 6 {
		t.Errorf("unknown key warning: %v %v", d, ok)
	}
	// Without the device the file is valid.
	valid := strings.Replace(src, "[quorum.device]\nmodel = \"net\"\nvotes = 1\n\n[quorum.device.net]\nhost = \"qnetd.example.com\"\n\n", "", 1)
	c, err := Read(t.Context(), []byte(valid), "corosync.toml", testOptions())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if c.TotemSection.BlockUnlistedIPs || c.TotemSection.Transport != TransportUDP {
		t.Errorf("totem = %+v", c.TotemSection)
	}
	if i, _ := c.Interface(0); i.TTL != 4 || i.MCastAddr != netip.MustParseAddr("239.1.1.1") || i.Pos.Line != 8 {
		t.Errorf("interface = %+v", i)
	}
	if !c.Quorum.TwoNode || !reflect.DeepEqual(c.Quorum.AutoTieBreakerNodes, []uint32{1, 2}) {
		t.Errorf("quorum = %+v", c.Quorum)
	}
	if v := c.Map["quorum.two_node"]; v.Type != TypeU8 || v.Str != "1" || v.Pos.Line != 23 {
		t.Errorf("two_node in cmap = %+v", v)
	}
	if !c.Logging.Fileline || len(c.Logging.Subsys) != 1 || c.Logging.Subsys[0].Debug != "on" {
		t.Errorf("logging = %+v", c.Logging)
	}
	if !reflect.DeepEqual(c.UIDs, []uint32{0, 189}) || !reflect.DeepEqual(c.GIDs, []uint32{189}) {
		t.Errorf("uids %v gids %v", c.UIDs, c.GIDs)
	}
}

func TestTOMLErrors(t *testing.T) {
	for _, tc := range []struct {
		src  string
		line int
		msg  string
	}{
		{"[totem]\nversion = 2\ntoken = \n", 3, "expected value"},
		{"[totem]\nversion = 2\ntoken = 1.5\n", 3, "a float64 is not a valid value"},
		{"[totem]\nversion = 2\ntoken = \"abc\"\n", 3, `"abc" is not an integer`},
		{"[totem]\nversion = 2\ntoken = -5\n", 3, "is not an integer in 0..4294967295"},
		{"[totem]\nversion = 2\n[quorum]\ntwo_node = \"yes\"\n", 4, "is not an integer in 0..255"},
		{"[totem]\nversion = 2\ninterface = [1, 2]\n", 3, "an array is only allowed"},
	} {
		_, err := Read(t.Context(), []byte(tc.src), "c.toml", testOptions())
		if err == nil {
			t.Errorf("%q: no error", tc.src)
			continue
		}
		ds := diagnostics(t, err)
		d, ok := findDiag(ds, SeverityError, tc.msg)
		if !ok || d.Pos.Line != tc.line || d.Pos.File != "c.toml" {
			t.Errorf("%q: want %q at line %d:%s", tc.src, tc.msg, tc.line, dump(ds))
		}
	}
}
