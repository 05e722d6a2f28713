package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := mustRead(t, minimal)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings:%s", dump(c.Warnings))
	}
	wantTotem := TotemSection{
		Version: 2, ClusterName: "test", Transport: TransportUDPU, IPVersion: IPv6v4,
		Token: 3000 * time.Millisecond, TokenCoefficient: 650 * time.Millisecond,
		TokenRetransmitsBeforeLossConst: 4, TokenWarning: 75,
		Join: 50 * time.Millisecond, Merge: 200 * time.Millisecond, Downcheck: 1000 * time.Millisecond,
		FailRecvConst: 2500, SeqnoUnchangedConst: 30, MaxNetworkDelay: 50 * time.Millisecond,
		WindowSize: 50, MaxMessages: 17, MissCountConst: 5, NetMTU: 1500,
		BlockUnlistedIPs: true, CryptoCipher: "none", CryptoHash: "none",
	}
	if c.TotemSection != wantTotem {
		t.Errorf("totem:\n got %+v\nwant %+v", c.TotemSection, wantTotem)
	}
	wantQuorum := Quorum{LastManStandingWindow: 10 * time.Second, AutoTieBreakerNode: "lowest"}
	if !reflect.DeepEqual(c.Quorum, wantQuorum) {
		t.Errorf("quorum:\n got %+v\nwant %+v", c.Quorum, wantQuorum)
	}
	wantLogging := Logging{
		LogSettings: LogSettings{ToStderr: true, ToSyslog: true, LogfilePriority: "info",
			SyslogFacility: "daemon", SyslogPriority: "info", Debug: "off"},
		Timestamp: "hires", Blackbox: true,
	}
	if !reflect.DeepEqual(c.Logging, wantLogging) {
		t.Errorf("logging:\n got %+v\nwant %+v", c.Logging, wantLogging)
	}
	wantSystem := System{StateDir: "/var/lib/corosync", SchedRR: true, QBIPCType: "native", MoveToRootCgroup: "auto"}
	if c.System != wantSystem {
		t.Errorf("system:\n got %+v\nwant %+v", c.System, wantSystem)
	}
	wantIfaces := []Interface{{LinkNumber: 0, MCastPort: 5405, TTL: 1}}
	if !reflect.DeepEqual(c.Interfaces, wantIfaces) {
		t.Errorf("interfaces = %+v, want %+v", c.Interfaces, wantIfaces)
	}
	if len(c.Nodes) != 2 || c.Nodes[1].QuorumVotes != 1 || c.Nodes[1].ID != 2 || c.Nodes[1].Index != 1 {
		t.Errorf("nodes = %+v", c.Nodes)
	}
}

func TestStateDirectoryEnv(t *testing.T) {
	opts := testOptions()
	opts.Getenv = func(k string) string {
		if k == "STATE_DIRECTORY" {
			return "/run/state/corosync:/other"
		}
		return ""
	}
	c, err := Read(t.Context(), []byte(minimal), "corosync.conf", opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.System.StateDir != "/run/state/corosync" {
		t.Errorf("state_dir = %q", c.System.StateDir)
	}
	c, err = Read(t.Context(), []byte(withSection("system {\n\tstate_dir: /srv/x\n}\n")), "corosync.conf", opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.System.StateDir != "/srv/x" {
		t.Errorf("configured state_dir = %q", c.System.StateDir)
	}
}

// TestOptions sets every option once and checks the typed value.
func TestOptions(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		line  string // inserted into totem
		check func(c *Config) any
		want  any
	}{
		{"token: 5000", func(c *Config) any { return c.TotemSection.Token }, ms(5000)},
		{"token_coefficient: 0", func(c *Config) any { return c.TotemSection.TokenCoefficient }, time.Duration(0)},
		{"token_retransmit: 400", func(c *Config) any { return c.TotemSection.TokenRetransmit }, ms(400)},
		{"token_retransmits_before_loss_const: 10", func(c *Config) any { return c.TotemSection.TokenRetransmitsBeforeLossConst }, uint32(10)},
		{"token_warning: 0", func(c *Config) any { return c.TotemSection.TokenWarning }, uint32(0)},
		{"hold: 100", func(c *Config) any { return c.TotemSection.Hold }, ms(100)},
		{"join: 60", func(c *Config) any { return c.TotemSection.Join }, ms(60)},
		{"send_join: 80", func(c *Config) any { return c.TotemSection.SendJoin }, ms(80)},
		{"consensus: 5000", func(c *Config) any { return c.TotemSection.Consensus }, ms(5000)},
		{"merge: 300", func(c *Config) any { return c.TotemSection.Merge }, ms(300)},
		{"downcheck: 2000", func(c *Config) any { return c.TotemSection.Downcheck }, ms(2000)},
		{"fail_recv_const: 100", func(c *Config) any { return c.TotemSection.FailRecvConst }, uint32(100)},
		{"seqno_unchanged_const: 10", func(c *Config) any { return c.TotemSection.SeqnoUnchangedConst }, uint32(10)},
		{"max_network_delay: 100", func(c *Config) any { return c.TotemSection.MaxNetworkDelay }, ms(100)},
		{"window_size: 100", func(c *Config) any { return c.TotemSection.WindowSize }, uint32(100)},
		{"max_messages: 20", func(c *Config) any { return c.TotemSection.MaxMessages }, uint32(20)},
		{"miss_count_const: 7", func(c *Config) any { return c.TotemSection.MissCountConst }, uint32(7)},
		{"netmtu: 9000", func(c *Config) any { return c.TotemSection.NetMTU }, uint32(9000)},
		{"block_unlisted_ips: no", func(c *Config) any { return c.TotemSection.BlockUnlistedIPs }, false},
		{"cancel_token_hold_on_retransmit: yes", func(c *Config) any { return c.TotemSection.CancelTokenHoldOnRetransmit }, true},
		{"ip_version: ipv4", func(c *Config) any { return c.TotemSection.IPVersion }, IPv4},
		{"config_version: 18446744073709551615", func(c *Config) any { return c.TotemSection.ConfigVersion }, uint64(1<<64 - 1)},
		{"clear_node_high_bit: yes", func(c *Config) any { return c.TotemSection.ClearNodeHighBit }, true},
		{"crypto_cipher: none", func(c *Config) any { return c.TotemSection.CryptoCipher }, "none"},
		{"secauth: off", func(c *Config) any { return c.TotemSection.CryptoHash }, "none"},
		{"token: +4000", func(c *Config) any { return c.TotemSection.Token }, ms(4000)},
	} {
		t.Run(tc.line, func(t *testing.T) {
			c := mustRead(t, withTotem(tc.line))
			if got := tc.check(c); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSectionOptions(t *testing.T) {
	c := mustRead(t, withSection(`quorum {
	provider: corosync_votequorum
	expected_votes: 3
	two_node: 1
	last_man_standing: 1
	last_man_standing_window: 20000
	auto_tie_breaker: 1
	auto_tie_breaker_node: 1 2
	wait_for_all: 1
	allow_downscale: 1
}
logging {
	to_stderr: no
	to_syslog: off
	to_logfile: on
	logfile: /var/log/cluster/corosync.log
	logfile_priority: debug
	syslog_facility: local3
	syslog_priority: warning
	debug: trace
	timestamp: on
	fileline: on
	function_name: on
	blackbox: off
	logger_subsys {
		subsys: QUORUM
		debug: on
	}
	logger_subsys {
		subsys: TOTEM
		to_stderr: yes
	}
}
system {
	sched_rr: no
	priority: -10
	qb_ipc_type: socket
	move_to_root_cgroup: no
}
uidgid {
	uid: hacluster
	gid: 42
}
uidgid {
	gid: haclient
}
`))
	q := c.Quorum
	if q.Provider != "corosync_votequorum" || q.ExpectedVotes != 3 || !q.TwoNode || !q.WaitForAll || !q.LastManStanding ||
		q.LastManStandingWindow != 20*time.Second || !q.AutoTieBreaker || !reflect.DeepEqual(q.AutoTieBreakerNodes, []uint32{1, 2}) ||
		!q.AllowDownscale || !q.ExpectedVotesTracking {
		t.Errorf("quorum = %+v", q)
	}
	l := c.Logging
	top := LogSettings{ToStderr: false, ToSyslog: false, ToLogfile: true, Logfile: "/var/log/cluster/corosync.log",
		LogfilePriority: "debug", SyslogFacility: "local3", SyslogPriority: "warning", Debug: "trace"}
	if l.LogSettings != top || l.Timestamp != "on" || !l.Fileline || !l.FunctionName || l.Blackbox {
		t.Errorf("logging = %+v", l)
	}
	quorumSub, totemSub := top, top
	quorumSub.Debug = "on"
	totemSub.ToStderr = true
	wantSub := []LoggerSubsys{{Subsys: "QUORUM", LogSettings: quorumSub}, {Subsys: "TOTEM", LogSettings: totemSub}}
	if !reflect.DeepEqual(l.Subsys, wantSub) {
		t.Errorf("subsys = %+v, want %+v", l.Subsys, wantSub)
	}
	wantSys := System{StateDir: DefaultStateDir, SchedRR: false, Priority: "-10", QBIPCType: "socket", MoveToRootCgroup: "no"}
	if c.System != wantSys {
		t.Errorf("system = %+v", c.System)
	}
	if !reflect.DeepEqual(c.UIDs, []uint32{189}) || !reflect.DeepEqual(c.GIDs, []uint32{42, 189}) {
		t.Errorf("uids %v gids %v", c.UIDs, c.GIDs)
	}
	if v := c.Map["uidgid.config.gid.42"]; v.Type != TypeU8 || v.Str != "1" {
		t.Errorf("uidgid cmap = %+v", v)
	}
	// two_node implies wait_for_all unless it is set.
	c = mustRead(t, withSection("quorum {\n\tprovider: corosync_votequorum\n\ttwo_node: 1\n}\n"))
	if !c.Quorum.WaitForAll {
		t.Error("two_node did not imply wait_for_all")
	}
	c = mustRead(t, withSection("quorum {\n\tprovider: corosync_votequorum\n\ttwo_node: 1\n\twait_for_all: 0\n}\n"))
	if c.Quorum.WaitForAll {
		t.Error("wait_for_all: 0 did not override two_node")
	}
}

// TestValueErrors checks that each bad value is an error at its line
// (the inserted line is line 2), with the key.
func TestValueErrors(t *testing.T) {
	for _, tc := range []struct {
		line, key, msg string
	}{
		{"token: abc", "totem.token", `"abc" is not an integer in 0..4294967295`},
		{"token: -1", "totem.token", "is not an integer in 0..4294967295"},
		{"token: 4294967296", "totem.token", "is not an integer"},
		{"token: 3000ms", "totem.token", `"3000ms" is not an integer`},
		{"token: 0x10", "totem.token", "is not an integer"},
		{"token: 3000 # comment", "totem.token", `"3000 # comment" is not an integer`},
		{"token_coefficient: x", "totem.token_coefficient", "is not an integer"},
		{"token_retransmit: x", "totem.token_retransmit", "is not an integer"},
		{"token_retransmits_before_loss_const: x", "totem.token_retransmits_before_loss_const", "is not an integer"},
		{"token_warning: x", "totem.token_warning", "is not an integer"},
		{"hold: x", "totem.hold", "is not an integer"},
		{"join: x", "totem.join", "is not an integer"},
		{"send_join: x", "totem.send_join", "is not an integer"},
		{"consensus: x", "totem.consensus", "is not an integer"},
		{"merge: x", "totem.merge", "is not an integer"},
		{"downcheck: x", "totem.downcheck", "is not an integer"},
		{"fail_recv_const: x", "totem.fail_recv_const", "is not an integer"},
		{"seqno_unchanged_const: x", "totem.seqno_unchanged_const", "is not an integer"},
		{"heartbeat_failures_allowed: x", "totem.heartbeat_failures_allowed", "is not an integer"},
		{"max_network_delay: x", "totem.max_network_delay", "is not an integer"},
		{"window_size: x", "totem.window_size", "is not an integer"},
		{"max_messages: x", "totem.max_messages", "is not an integer"},
		{"miss_count_const: x", "totem.miss_count_const", "is not an integer"},
		{"netmtu: x", "totem.netmtu", "is not an integer"},
		{"config_version: -1", "totem.config_version", "is not an unsigned 64-bit integer"},
		{"ip_version: ipv5", "totem.ip_version", `"ipv5" is not one of ipv4, ipv6, ipv4-6, ipv6-4`},
		{"crypto_cipher: aes512", "totem.crypto_cipher", "is not one of none, aes256, aes192, aes128"},
		{"crypto_hash: sha3", "totem.crypto_hash", "is not one of none, md5"},
		{"block_unlisted_ips: on", "totem.block_unlisted_ips", `"on" must be yes or no (corosync ignores "on" here and uses the default)`},
		{"cancel_token_hold_on_retransmit: 1", "totem.cancel_token_hold_on_retransmit", "must be yes or no"},
		{"clear_node_high_bit: true", "totem.clear_node_high_bit", "must be yes or no"},
		{"secauth: yes", "totem.secauth", "must be on or off"},
		{"token: 20", "totem.token", "the token timeout 20 ms is below the minimum 30 ms"},
		{"token_warning: 101", "totem.token_warning", "101% is not in 0..100"},
		{"token_warning: 100", "totem.token_warning", "a limit of this implementation"},
		{"token_retransmit: 20", "totem.token_retransmit", "20 ms is below the minimum 30 ms"},
		{"hold: 10", "totem.hold", "10 ms is below the minimum 14 ms"},
		{"join: 10", "totem.join", "below the minimum 30 ms"},
		{"consensus: 40\n\tjoin: 50", "totem.consensus", "40 ms is below join (50 ms)"},
		{"merge: 10", "totem.merge", "below the minimum"},
		{"downcheck: 10", "totem.downcheck", "below the minimum"},
		{"max_network_delay: 10", "totem.max_network_delay", "below the minimum"},
		{"max_messages: 60", "totem.max_messages", "max_messages (60) must not exceed window_size (50)"},
		{"netmtu: 100", "totem.netmtu", "netmtu 100 is out of range 576..65536"},
		{"transport: tcp", "totem.transport", `"tcp" is not one of udpu, udp, knet`},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, err := read(t, withTotem(tc.line))
			if err == nil {
				t.Fatal("no error")
			}
			ds := diagnostics(t, err)
			d, ok := findDiag(ds, SeverityError, tc.msg)
			if !ok {
				t.Fatalf("no error containing %q:%s", tc.msg, dump(ds))
			}
			if d.Pos.Line != 2 || d.Key != tc.key {
				t.Errorf("%s: key %q line %d, want %q line 2", d, d.Key, d.Pos.Line, tc.key)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, tc := range []struct{ from, to, msg string }{
		{"version: 2", "version: 3", "totem.version is 3; corosync accepts only 2"},
		{"\tversion: 2\n", "", "totem.version is not set; corosync requires version: 2"},
	} {
		_, err := read(t, strings.Replace(minimal, tc.from, tc.to, 1))
		ds := diagnostics(t, err)
		if d, ok := findDiag(ds, SeverityError, tc.msg); !ok || d.Pos.Line != 1 && d.Pos.Line != 2 {
			t.Errorf("%q: want %q at the version or totem line:%s", tc.to, tc.msg, dump(ds))
		}
	}
}

func TestSectionValueErrors(t *testing.T) {
	for _, tc := range []struct {
		section, key, msg string
	}{
		{"quorum {\n\ttwo_node: yes\n}\n", "quorum.two_node", `"yes" is not an integer in 0..255`},
		{"quorum {\n\twait_for_all: 256\n}\n", "quorum.wait_for_all", "is not an integer in 0..255"},
		{"quorum {\n\texpected_votes: many\n}\n", "quorum.expected_votes", "is not an integer"},
		{"quorum {\n\tlast_man_standing_window: -5\n}\n", "quorum.last_man_standing_window", "is not an integer"},
		{"quorum {\n\tauto_tie_breaker_node: middle\n}\n", "quorum.auto_tie_breaker_node", "is not lowest, highest or a list of node ids"},
		{"quorum {\n\tprovider: corosync_quorum\n}\n", "quorum.provider", "is not supported"},
		{"quorum {\n\tdevice {\n\t\tvotes: x\n\t}\n}\n", "quorum.device.votes", "is not an integer"},
		{"logging {\n\tto_stderr: maybe\n}\n", "logging.to_stderr", "must be yes, no, on or off"},
		{"logging {\n\tfileline: yes\n}\n", "logging.fileline", `"yes" must be on or off`},
		{"logging {\n\tdebug: verbose\n}\n", "logging.debug", "is not one of on, off, trace"},
		{"logging {\n\ttimestamp: ms\n}\n", "logging.timestamp", "is not one of on, off, hires"},
		{"logging {\n\tsyslog_facility: local9\n}\n", "logging.syslog_facility", "is not one of"},
		{"logging {\n\tsyslog_priority: loud\n}\n", "logging.syslog_priority", "is not one of"},
		{"logging {\n\tlogfile_priority: loud\n}\n", "logging.logfile_priority", "is not one of"},
		{"logging {\n\tlogger_subsys {\n\t\tdebug: on\n\t}\n}\n", "logging.logger_subsys", "no subsys key"},
		{"logging {\n\tlogger_subsys {\n\t\tsubsys: CPG\n\t\tdebug: x\n\t}\n}\n", "logging.logger_subsys.CPG.debug", "is not one of"},
		{"system {\n\tsched_rr: on\n}\n", "system.sched_rr", "is not one of yes, no"},
		{"system {\n\tqb_ipc_type: pipe\n}\n", "system.qb_ipc_type", "is not one of native, shm, socket"},
		{"system {\n\tmove_to_root_cgroup: maybe\n}\n", "system.move_to_root_cgroup", "is not one of yes, no, auto"},
		{"system {\n\tsched_rr: no\n\tpriority: 50\n}\n", "system.priority", "is not a nice value"},
		{"uidgid {\n\tuid: nobody-here\n}\n", "uidgid.uid", "unknown user"},
		{"uidgid {\n\tuser: x\n}\n", "uidgid.user", "only uid and gid are allowed"},
		{"uidgid {\n\tsub {\n\t}\n}\n", "uidgid", "subsections are not allowed"},
		{"totem {\n\tinterface {\n\t\tmcastport: 70000\n\t}\n}\n", "totem.interface.0.mcastport", "is not an integer in 0..65535"},
		{"totem {\n\tinterface {\n\t\tlinknumber: 300\n\t}\n}\n", "totem.interface.linknumber", "is not an integer in 0..255"},
		{"totem {\n\tinterface {\n\t\tttl: 2\n\t}\n}\n", "totem.interface.0.ttl", "ttl can only be set with the udp transport"},
		{"totem {\n\tinterface {\n\t\tmcastport: 0\n\t}\n}\n", "totem.interface.0.mcastport", "must not be 0"},
		{"totem {\n\tinterface {\n\t\tbroadcast: on\n\t}\n}\n", "totem.interface.0.broadcast", "must be yes or no"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, err := read(t, withSection(tc.section))
			if err == nil {
				t.Fatal("no error")
			}
			ds := diagnostics(t, err)
			d, ok := findDiag(ds, SeverityError, tc.msg)
			if !ok {
				t.Fatalf("no error containing %q:%s", tc.msg, dump(ds))
			}
			// The error is at the line naming the key's last component.
			word := tc.key[strings.LastIndexByte(tc.key, '.')+1:]
			if tc.key == "uidgid" {
				word = "sub"
			}
			wantLine := 0
			for i, l := range strings.Split(tc.section, "\n") {
				l = strings.TrimSpace(l)
				if strings.HasPrefix(l, word+":") || strings.HasPrefix(l, word+" {") {
					wantLine = 16 + i
					break
				}
			}
			if d.Key != tc.key || d.Pos.Line != wantLine {
				t.Errorf("%s: key %q line %d, want %q line %d", d, d.Key, d.Pos.Line, tc.key, wantLine)
			}
		})
	}
}

func TestZeroMeansDefault(t *testing.T) {
	c, err := read(t, withTotem("token: 0", "window_size: 0"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TotemSection.Token != 3*time.Second || c.TotemSection.WindowSize != 50 {
		t.Errorf("token %v window %d", c.TotemSection.Token, c.TotemSection.WindowSize)
	}
	if _, ok := findDiag(c.Warnings, SeverityWarning, "totem.token is 0, which corosync replaces by the default 3000"); !ok {
		t.Errorf("no warning:%s", dump(c.Warnings))
	}
}

func TestWarnings(t *testing.T) {
	c := mustRead(t, withTotem("frobnicate: 1", "rrp_mode: passive", "threads: 4", "vsftype: none", "token: 4000", "token: 5000")+
		"bogus {\n\tx: 1\n}\nlogging {\n\tto_file: yes\n\tlogfile: /x\n}\n")
	for _, w := range []struct {
		line int
		msg  string
	}{
		{2, `unknown key "totem.frobnicate"`},
		{3, "totem.rrp_mode is a corosync 2.x option"},
		{4, "totem.threads is obsolete"},
		{5, "totem.vsftype is a corosync 2.x option"},
		{7, "totem.token is set again; the value from line 6 is replaced"},
		{22, `unknown section "bogus"`},
		{26, "logging.to_file is obsolete"},
	} {
		d, ok := findDiag(c.Warnings, SeverityWarning, w.msg)
		if !ok || d.Pos.Line != w.line {
			t.Errorf("warning %q at line %d: got %v %v", w.msg, w.line, d, ok)
		}
	}
	if c.TotemSection.Token != 5*time.Second {
		t.Errorf("last token did not win: %v", c.TotemSection.Token)
	}
	c = mustRead(t, withSection("logging {\n\tto_logfile: yes\n}\n"))
	if d, ok := findDiag(c.Warnings, SeverityWarning, "to_logfile is set but no logfile is configured"); !ok || d.Pos.Line != 17 {
		t.Errorf("to_logfile without logfile: %v %v", d, ok)
	}
	if _, ok := findDiag(c.Warnings, SeverityWarning, "bogus.x"); ok {
		t.Error("keys of an unknown section are reported one by one")
	}
}

// TestAllProblemsReported checks that one run reports every error.
func TestAllProblemsReported(t *testing.T) {
	_, err := read(t, withTotem("token: x", "netmtu: y", "crypto_cipher: aes256", "crypto_hash: sha1")+
		"quorum {\n\ttwo_node: yes\n}\n")
	ds := diagnostics(t, err)
	var lines []string
	for _, d := range ds {
		if d.Severity == SeverityError {
			lines = append(lines, fmt.Sprint(d.Pos.Line))
		}
	}
	if got := strings.Join(lines, ","); got != "2,3,4,21" {
		t.Errorf("error lines %s, want 2,3,4,21:%s", got, dump(ds))
	}
}
