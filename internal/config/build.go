package config

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Totem defaults of corosync 3.1 (exec/totemconfig.c; token raised from
// 1000 to 3000 ms in 3.1.0).
var totemDefaults = map[string]uint32{
	"token":                               3000,
	"token_coefficient":                   650,
	"token_retransmits_before_loss_const": 4,
	"token_warning":                       75,
	"join":                                50,
	"send_join":                           0,
	"merge":                               200,
	"downcheck":                           1000,
	"fail_recv_const":                     2500,
	"seqno_unchanged_const":               30,
	"heartbeat_failures_allowed":          0,
	"max_network_delay":                   50,
	"window_size":                         50,
	"max_messages":                        17,
	"miss_count_const":                    5,
}

// builder reads a Map into a Config, as corosync's totemconfig, votequorum
// and logconfig read cmap.
type builder struct {
	c    *Config
	m    Map
	d    *diags
	f    *flattener
	file string
}

// keyPos is the position of a key, else of the section that should hold
// it, else of the file.
func (b *builder) keyPos(key string) Pos {
	if v, ok := b.m[key]; ok {
		return v.Pos
	}
	if rest, ok := strings.CutPrefix(key, "nodelist.node."); ok {
		num, _, _ := strings.Cut(rest, ".")
		if i, err := strconv.Atoi(num); err == nil && i >= 0 && i < len(b.f.nodes) {
			return b.f.nodes[i].entry.Pos
		}
	}
	section := key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		section = key[:i]
	}
	if e, ok := b.f.sections[section]; ok {
		return e.Pos
	}
	return Pos{File: b.file}
}

func (c *Config) build(ctx context.Context, f *flattener, opts *Options, d *diags, checks bool) {
	b := &builder{c: c, m: f.m, d: d, f: f, file: c.File}
	b.totem()
	b.interfaces()
	b.nodes(ctx, opts.resolver())
	b.quorum()
	b.logging()
	b.system(opts)
	b.uidgid()
	c.Resources = f.sections["resources"]
	c.Nozzle = f.sections["nozzle"]
	if checks {
		b.checkTransport()
		b.checkTimers()
		b.checkQuorum()
	}
}

// u32 returns a totem-style uint32: the configured value, else def; a
// configured 0 means def for zeroDefault keys, as in corosync.
func (b *builder) u32(key string, def uint32) uint32 {
	n, pos, ok := b.m.uint(key)
	if !ok {
		return def
	}
	if n == 0 && def != 0 {
		if s := keySpecs[key]; s != nil && s.zeroDefault {
			b.d.warnf(pos, key, "%s is 0, which corosync replaces by the default %d", key, def)
			return def
		}
	}
	return uint32(n)
}

func ms(n uint32) time.Duration { return time.Duration(n) * time.Millisecond }

// yes reads a yes/no or on/off key.
func (b *builder) yes(key string, def bool) bool {
	s, _, ok := b.m.str(key)
	if !ok {
		return def
	}
	return s == "yes" || s == "on"
}

func (b *builder) strDefault(key, def string) string {
	if s, _, ok := b.m.str(key); ok {
		return s
	}
	return def
}

func (b *builder) totem() {
	t := &b.c.TotemSection
	t.Transport = TransportKnet
	if s, _, ok := b.m.str("totem.transport"); ok {
		t.Transport = s
	}
	if n, _, ok := b.m.uint("totem.version"); ok {
		t.Version = uint32(n)
	}
	t.ClusterName, _, _ = b.m.str("totem.cluster_name")
	t.IPVersion = IPv6v4
	if t.Transport == TransportUDP {
		t.IPVersion = IPv4
	}
	if s, _, ok := b.m.str("totem.ip_version"); ok {
		t.IPVersion = IPVersion(s)
	}
	def := func(k string) uint32 { return b.u32("totem."+k, totemDefaults[k]) }
	t.Token = ms(def("token"))
	t.TokenCoefficient = ms(def("token_coefficient"))
	t.TokenRetransmitsBeforeLossConst = def("token_retransmits_before_loss_const")
	t.TokenWarning = def("token_warning")
	t.TokenRetransmit = ms(b.u32("totem.token_retransmit", 0))
	t.Hold = ms(b.u32("totem.hold", 0))
	t.Consensus = ms(b.u32("totem.consensus", 0))
	t.Join = ms(def("join"))
	t.SendJoin = ms(def("send_join"))
	t.Merge = ms(def("merge"))
	t.Downcheck = ms(def("downcheck"))
	t.FailRecvConst = def("fail_recv_const")
	t.SeqnoUnchangedConst = def("seqno_unchanged_const")
	t.HeartbeatFailuresAllowed = def("heartbeat_failures_allowed")
	t.MaxNetworkDelay = ms(def("max_network_delay"))
	t.WindowSize = def("window_size")
	t.MaxMessages = def("max_messages")
	t.MissCountConst = def("miss_count_const")
	t.NetMTU = b.u32("totem.netmtu", 0)
	if t.NetMTU == 0 {
		t.NetMTU = defaultNetMTU
	}
	t.BlockUnlistedIPs = b.yes("totem.block_unlisted_ips", true)
	t.CancelTokenHoldOnRetransmit = b.yes("totem.cancel_token_hold_on_retransmit", false)
	t.ClearNodeHighBit = b.yes("totem.clear_node_high_bit", false)
	if n, _, ok := b.m.uint("totem.config_version"); ok {
		t.ConfigVersion = n
	}
	if n, _, ok := b.m.uint("totem.mcastport"); ok {
		t.MCastPort = uint16(n)
	}
	if t.HeartbeatFailuresAllowed > 0 {
		b.d.warnf(b.keyPos("totem.heartbeat_failures_allowed"), "totem.heartbeat_failures_allowed",
			"totem.heartbeat_failures_allowed: the heartbeat failure detector is not implemented; ignored")
	}

	// Crypto, as corosync's totem_get_crypto: secauth: on implies
	// aes256/sha256 unless crypto_cipher/crypto_hash say otherwise.
	t.CryptoCipher, t.CryptoHash = "none", "none"
	if s, _, _ := b.m.str("totem.secauth"); s == "on" {
		t.CryptoCipher, t.CryptoHash = "aes256", "sha256"
	}
	if s, _, ok := b.m.str("totem.crypto_cipher"); ok {
		t.CryptoCipher = s
	}
	if s, _, ok := b.m.str("totem.crypto_hash"); ok {
		t.CryptoHash = s
	}
}

func (b *builder) interfaces() {
	c := b.c
	links := map[uint8]*Interface{}
	for _, s := range b.f.ifaces {
		if _, ok := links[s.link]; !ok {
			links[s.link] = &Interface{LinkNumber: s.link, Pos: s.entry.Pos}
		} else {
			b.d.warnf(s.entry.Pos, "totem.interface", "a second interface section for link %d; its keys are merged with the first (line %d)", s.link, links[s.link].Pos.Line)
		}
	}
	if _, ok := links[0]; !ok {
		links[0] = &Interface{}
	}
	for link, i := range links {
		p := "totem.interface." + strconv.Itoa(int(link)) + "."
		i.BindNetAddr, _, _ = b.m.str(p + "bindnetaddr")
		i.Broadcast = b.yes(p+"broadcast", false)
		i.TTL = 1
		if n, _, ok := b.m.uint(p + "ttl"); ok {
			i.TTL = uint8(n)
		}
		switch n, _, ok := b.m.uint(p + "mcastport"); {
		case ok:
			i.MCastPort = uint16(n)
		case c.TotemSection.MCastPort != 0:
			i.MCastPort = c.TotemSection.MCastPort + uint16(link)
		case i.Broadcast:
			i.MCastPort = DefaultPort + 2*uint16(link)
		default:
			i.MCastPort = DefaultPort + uint16(link)
		}
		c.Interfaces = append(c.Interfaces, *i)
	}
	slices.SortFunc(c.Interfaces, func(a, b Interface) int { return int(a.LinkNumber) - int(b.LinkNumber) })
	if _, ok := b.m["totem.mcastport"]; ok {
		b.d.warnf(b.keyPos("totem.mcastport"), "totem.mcastport",
			"totem.mcastport is an extension of this implementation: corosync ignores it and reads the port from totem.interface { mcastport }")
	}
}

func (b *builder) nodes(ctx context.Context, r Resolver) {
	c := b.c
	for _, s := range b.f.nodes {
		p := fmt.Sprintf("nodelist.node.%d.", s.index)
		n := Node{Index: s.index, Pos: s.entry.Pos, QuorumVotes: 1}
		n.Name, _, _ = b.m.str(p + "name")
		if v, _, ok := b.m.uint(p + "nodeid"); ok {
			n.ID = uint32(v)
		}
		if v, _, ok := b.m.uint(p + "quorum_votes"); ok {
			n.QuorumVotes = uint32(v)
		}
		addr, pos, ok := b.m.str(p + "ring0_addr")
		if !ok || addr == "" {
			b.d.errorf(s.entry.Pos, strings.TrimSuffix(p, "."), "node section has no ring0_addr")
		} else {
			n.Ring0Addr = addr
			a, err := resolve(ctx, r, addr, c.TotemSection.IPVersion)
			if err != nil {
				b.d.errorf(pos, p+"ring0_addr", "%sring0_addr: %v", p, err)
			}
			n.Addr = a
		}
		b.nodeID(&n, p)
		c.Nodes = append(c.Nodes, n)
	}
}

// nodeID generates the id of a node without nodeid as corosync does for
// udp and udpu: the IPv4 address as a big-endian number, bit 31 cleared
// with clear_node_high_bit. A nodeid of 0 counts as missing.
func (b *builder) nodeID(n *Node, prefix string) {
	if n.ID != 0 {
		return
	}
	if v, pos, ok := b.m.uint(prefix + "nodeid"); ok && v == 0 {
		b.d.warnf(pos, prefix+"nodeid", "%snodeid is 0, which corosync treats as not set", prefix)
	}
	if !n.Addr.IsValid() {
		return
	}
	if !n.Addr.Is4() {
		b.d.errorf(b.keyPos(prefix+"ring0_addr"), prefix+"nodeid",
			"%snodeid is required: a node id can only be generated from an IPv4 ring0_addr, and %s is IPv6", prefix, n.Addr)
		return
	}
	a := n.Addr.As4()
	n.ID = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if b.c.TotemSection.ClearNodeHighBit {
		n.ID &= 0x7fffffff
	}
	n.IDGenerated = true
	if n.ID == 0 {
		b.d.errorf(b.keyPos(prefix+"ring0_addr"), prefix+"nodeid", "%snodeid is required: %s gives node id 0", prefix, n.Addr)
	}
}

func (b *builder) quorum() {
	q := &b.c.Quorum
	q.Provider, _, _ = b.m.str("quorum.provider")
	flag := func(k string) (bool, bool) {
		n, _, ok := b.m.uint("quorum." + k)
		return n != 0, ok
	}
	if n, _, ok := b.m.uint("quorum.expected_votes"); ok {
		q.ExpectedVotes = uint32(n)
	}
	if n, _, ok := b.m.uint("quorum.votes"); ok {
		q.Votes = uint32(n)
	}
	q.TwoNode, _ = flag("two_node")
	q.WaitForAll = q.TwoNode
	if v, ok := flag("wait_for_all"); ok {
		q.WaitForAll = v
	}
	q.LastManStanding, _ = flag("last_man_standing")
	q.AutoTieBreaker, _ = flag("auto_tie_breaker")
	q.AllowDownscale, _ = flag("allow_downscale")
	q.ExpectedVotesTracking, _ = flag("expected_votes_tracking")
	if q.AllowDownscale {
		q.ExpectedVotesTracking = true
	}
	q.LastManStandingWindow = defaultLMSWindow
	if n, _, ok := b.m.uint("quorum.last_man_standing_window"); ok {
		q.LastManStandingWindow = ms(uint32(n))
	}
	q.AutoTieBreakerNode = "lowest"
	if s, pos, ok := b.m.str("quorum.auto_tie_breaker_node"); ok {
		q.AutoTieBreakerNode = s
		if s != "lowest" && s != "highest" {
			fields := strings.Fields(s)
			if len(fields) == 0 {
				b.d.errorf(pos, "quorum.auto_tie_breaker_node", "quorum.auto_tie_breaker_node is empty")
			}
			for _, f := range fields {
				id, err := strconv.ParseUint(f, 10, 32)
				if err != nil || id == 0 {
					b.d.errorf(pos, "quorum.auto_tie_breaker_node", "quorum.auto_tie_breaker_node: %q is not lowest, highest or a list of node ids", s)
					q.AutoTieBreakerNodes = nil
					break
				}
				q.AutoTieBreakerNodes = append(q.AutoTieBreakerNodes, uint32(id))
			}
		}
		if !q.AutoTieBreaker {
			b.d.warnf(pos, "quorum.auto_tie_breaker_node", "quorum.auto_tie_breaker_node has no effect while auto_tie_breaker is 0")
		}
	}
	q.Device = b.f.sections["quorum.device"]
}

func (b *builder) logSettings(prefix string, parent LogSettings) LogSettings {
	s := parent
	s.ToStderr = b.yes(prefix+"to_stderr", s.ToStderr)
	s.ToSyslog = b.yes(prefix+"to_syslog", s.ToSyslog)
	s.ToLogfile = b.yes(prefix+"to_file", s.ToLogfile)
	s.ToLogfile = b.yes(prefix+"to_logfile", s.ToLogfile)
	s.Logfile = b.strDefault(prefix+"logfile", s.Logfile)
	s.LogfilePriority = b.strDefault(prefix+"logfile_priority", s.LogfilePriority)
	s.SyslogFacility = b.strDefault(prefix+"syslog_facility", s.SyslogFacility)
	s.SyslogPriority = b.strDefault(prefix+"syslog_level", s.SyslogPriority)
	s.SyslogPriority = b.strDefault(prefix+"syslog_priority", s.SyslogPriority)
	s.Debug = b.strDefault(prefix+"debug", s.Debug)
	if _, set := b.m[prefix+"to_logfile"]; set && s.ToLogfile && s.Logfile == "" {
		b.d.warnf(b.keyPos(prefix+"to_logfile"), prefix+"to_logfile", "%sto_logfile is set but no logfile is configured", prefix)
	}
	return s
}

func (b *builder) logging() {
	l := &b.c.Logging
	l.LogSettings = b.logSettings("logging.", LogSettings{
		ToStderr: true, ToSyslog: true,
		LogfilePriority: "info", SyslogFacility: "daemon", SyslogPriority: "info", Debug: "off",
	})
	l.Timestamp = b.strDefault("logging.timestamp", "hires")
	l.Fileline = b.yes("logging.fileline", false)
	l.FunctionName = b.yes("logging.function_name", false)
	l.Blackbox = b.yes("logging.blackbox", true)
	var names []string
	for name := range b.f.subsystem {
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int {
		if c := b.f.subsystem[x].Line - b.f.subsystem[y].Line; c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	for _, name := range names {
		l.Subsys = append(l.Subsys, LoggerSubsys{
			Subsys:      name,
			LogSettings: b.logSettings("logging.logger_subsys."+name+".", l.LogSettings),
		})
	}
}

func (b *builder) system(opts *Options) {
	s := &b.c.System
	s.StateDir = DefaultStateDir
	if env := opts.getenv("STATE_DIRECTORY"); env != "" {
		// systemd separates several directories with ':'.
		s.StateDir, _, _ = strings.Cut(env, ":")
	}
	s.StateDir = b.strDefault("system.state_dir", s.StateDir)
	s.SchedRR = b.yes("system.sched_rr", true)
	s.QBIPCType = b.strDefault("system.qb_ipc_type", "native")
	s.MoveToRootCgroup = b.strDefault("system.move_to_root_cgroup", "auto")
	s.AllowKnetHandleFallback = b.yes("system.allow_knet_handle_fallback", false)
	if p, pos, ok := b.m.str("system.priority"); ok {
		s.Priority = p
		if n, err := strconv.Atoi(p); p != "max" && p != "min" && (err != nil || n < -20 || n > 19) {
			b.d.errorf(pos, "system.priority", "system.priority: %q is not a nice value (-20..19), max or min", p)
		} else if s.SchedRR {
			b.d.warnf(pos, "system.priority", "system.priority is only used when system.sched_rr is no")
		}
	}
}

func (b *builder) uidgid() {
	for _, k := range b.m.Keys() {
		rest, ok := strings.CutPrefix(k, "uidgid.config.")
		if !ok {
			continue
		}
		kind, num, _ := strings.Cut(rest, ".")
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			continue
		}
		if kind == "uid" {
			b.c.UIDs = append(b.c.UIDs, uint32(n))
		} else {
			b.c.GIDs = append(b.c.GIDs, uint32(n))
		}
	}
	slices.Sort(b.c.UIDs)
	slices.Sort(b.c.GIDs)
}
