package main

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/internal/qdevice/heuristics"
	"github.com/corogo/corogo/internal/qdevice/qdisk"
)

// Models.
const (
	modelQdisk = "qdisk"
	modelPing  = "ping"
)

// Defaults of quorum.device.heuristics (corosync-qdevice(8)).
const (
	defaultHeuristicsSyncTimeout = 15 * time.Second
	minQdiskInterval             = 100 * time.Millisecond
)

// settings is the quorum.device section, checked, with defaults applied.
type settings struct {
	model       string
	timeout     time.Duration // quorum.device.timeout
	syncTimeout time.Duration // quorum.device.sync_timeout
	votes       uint32        // 0: votequorum's default (nodes - 1)
	masterWins  bool
	heuristics  heuristicsSettings
	ping        pingSettings
	qdisk       qdiskSettings
	clusterName string
	nodes       []uint32 // configured node ids, sorted
	warnings    []config.Diagnostic
}

type heuristicsSettings struct {
	mode                           heuristics.Mode
	timeout, syncTimeout, interval time.Duration
	execs                          []namedCommand
}

type namedCommand struct{ name, command string }

type pingSettings struct {
	targets  []target
	minScore int
}

// target is a ping target: ICMP echo when port is 0, else a TCP connect.
type target struct {
	name string
	addr netip.Addr
	port uint16
}

func (t target) String() string {
	if t.port == 0 {
		return t.addr.String()
	}
	return netip.AddrPortFrom(t.addr, t.port).String()
}

type qdiskSettings struct {
	path     string
	interval time.Duration
	tko      int
	minScore int
}

// checks returns the heuristics' checks (none with mode off).
func (s *settings) checks() []heuristics.Check {
	if s.heuristics.mode == heuristics.ModeOff {
		return nil
	}
	var cs []heuristics.Check
	for _, e := range s.heuristics.execs {
		cs = append(cs, heuristics.Exec(e.name, e.command))
	}
	for _, t := range s.ping.targets {
		if t.port == 0 {
			cs = append(cs, heuristics.ICMP(t.name, t.addr))
		} else {
			cs = append(cs, heuristics.TCP(t.name, netip.AddrPortFrom(t.addr, t.port)))
		}
	}
	return cs
}

// numChecks is the number of checks a run has.
func (s *settings) numChecks() int {
	if s.heuristics.mode == heuristics.ModeOff {
		return 0
	}
	return len(s.heuristics.execs) + len(s.ping.targets)
}

// checker collects diagnostics.
type checker struct {
	diags []config.Diagnostic
}

func (c *checker) errf(pos config.Pos, key, format string, args ...any) {
	c.diags = append(c.diags, config.Diagnostic{Pos: pos, Severity: config.SeverityError, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(pos config.Pos, key, format string, args ...any) {
	c.diags = append(c.diags, config.Diagnostic{Pos: pos, Severity: config.SeverityWarning, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// section is one (sub)section of quorum.device being read.
type section struct {
	c    *checker
	e    *config.Entry // nil when absent
	path string        // "quorum.device.qdisk"
	used map[string]bool
}

func (c *checker) section(e *config.Entry, path string) *section {
	return &section{c: c, e: e, path: path, used: map[string]bool{}}
}

// key returns the last key called name (the one corosync keeps).
func (s *section) key(name string) *config.Entry {
	s.used[name] = true
	if s.e == nil {
		return nil
	}
	ks := s.e.Keys(name)
	if len(ks) == 0 {
		return nil
	}
	return ks[len(ks)-1]
}

// sub returns the subsection called name (the first; others are warned
// about).
func (s *section) sub(name string) *config.Entry {
	s.used[name] = true
	if s.e == nil {
		return nil
	}
	subs := s.e.Sections(name)
	for _, x := range subs[min(1, len(subs)):] {
		s.c.warnf(x.Pos, s.path+"."+name, "section %s.%s is repeated; only the first one (line %d) is used", s.path, name, subs[0].Pos.Line)
	}
	if len(subs) == 0 {
		return nil
	}
	return subs[0]
}

// unknown warns about the keys and subsections not read, except those
// accepted by keep.
func (s *section) unknown(keep func(name string) bool) {
	if s.e == nil {
		return
	}
	for _, x := range s.e.Children {
		if s.used[x.Name] || (keep != nil && keep(x.Name)) {
			continue
		}
		what := "key"
		if x.Section {
			what = "section"
		}
		s.c.warnf(x.Pos, s.path+"."+x.Name, "unknown %s %s.%s; ignored", what, s.path, x.Name)
	}
}

// pos returns where a key is, else the section, else fallback.
func (s *section) pos(k *config.Entry, fallback config.Pos) config.Pos {
	switch {
	case k != nil:
		return k.Pos
	case s.e != nil:
		return s.e.Pos
	}
	return fallback
}

// uint reads an unsigned number in [lo, hi]; ok false when absent or bad.
func (s *section) uint(name string, lo, hi uint64) (v uint64, k *config.Entry, ok bool) {
	k = s.key(name)
	if k == nil {
		return 0, nil, false
	}
	n, err := strconv.ParseUint(k.Value, 10, 64)
	if err != nil || n < lo || n > hi {
		s.c.errf(k.Pos, s.path+"."+name, "%s.%s: %q is not a number in %d..%d", s.path, name, k.Value, lo, hi)
		return 0, k, false
	}
	return n, k, true
}

// ms reads milliseconds (at least 1) with a default.
func (s *section) ms(name string, def time.Duration) (time.Duration, *config.Entry) {
	n, k, ok := s.uint(name, 1, 1<<31)
	if !ok {
		return def, k
	}
	return time.Duration(n) * time.Millisecond, k
}

// flag01 reads a 0/1 key; yes/no and on/off are accepted too (TOML
// booleans of keys corosync's schema does not know arrive as yes/no).
func (s *section) flag01(name string) (v bool, k *config.Entry) {
	k = s.key(name)
	if k == nil {
		return false, nil
	}
	switch k.Value {
	case "1", "yes", "on":
		return true, k
	case "0", "no", "off":
		return false, k
	}
	s.c.errf(k.Pos, s.path+"."+name, "%s.%s: %q is not 0 or 1", s.path, name, k.Value)
	return false, k
}

// loadSettings reads and checks quorum.device of a loaded configuration.
// modelOverride, when not empty, replaces quorum.device.model. Errors
// come as a *config.Error with file:line positions; warnings are in
// settings.warnings (and in the error).
func loadSettings(cfg *config.Config, modelOverride string) (*settings, error) {
	c := &checker{}
	filePos := config.Pos{File: cfg.File}
	s := &settings{clusterName: cfg.TotemSection.ClusterName}
	for _, n := range cfg.Nodes {
		s.nodes = append(s.nodes, n.ID)
	}
	slices.Sort(s.nodes)
	if len(cfg.Nodes) == 0 {
		c.errf(filePos, "nodelist", "a quorum device needs a nodelist")
	}
	if cfg.Quorum.Provider != "corosync_votequorum" {
		c.errf(filePos, "quorum.provider", "a quorum device needs quorum.provider: corosync_votequorum")
	}
	dev := c.section(cfg.Quorum.Device, "quorum.device")
	if cfg.Quorum.Device == nil {
		c.errf(filePos, "quorum.device", "no quorum.device section")
	}

	// Model.
	mk := dev.key("model")
	s.model = modelOverride
	if s.model == "" && mk != nil {
		s.model = mk.Value
	}
	switch s.model {
	case modelQdisk, modelPing:
	case "":
		c.errf(dev.pos(nil, filePos), "quorum.device.model", "quorum.device.model is not set (qdisk or ping)")
	case "net":
		c.errf(dev.pos(mk, filePos), "quorum.device.model", "quorum.device.model net needs corosync-qdevice and corosync-qnetd; this daemon implements the models qdisk and ping")
	default:
		c.errf(dev.pos(mk, filePos), "quorum.device.model", "quorum.device.model %q is not qdisk or ping", s.model)
	}

	// votequorum's own keys (corosync's parser checked their types).
	s.timeout, _ = dev.ms("timeout", qdevice.DefaultTimeout)
	s.syncTimeout, _ = dev.ms("sync_timeout", qdevice.DefaultSyncTimeout)
	if v, _, ok := dev.uint("votes", 0, 1<<32-1); ok {
		s.votes = uint32(v)
	}
	mw, mwKey := dev.flag01("master_wins")
	s.masterWins = mw
	if dev.sub("net") != nil {
		c.warnf(dev.e.Sections("net")[0].Pos, "quorum.device.net", "section quorum.device.net is for model net (corosync-qdevice); ignored")
	}

	s.heuristics = readHeuristics(dev, s, filePos)
	s.ping = readPing(dev, s, filePos)
	qs := dev.sub("qdisk")
	qsec := c.section(qs, "quorum.device.qdisk")
	if s.model == modelQdisk {
		s.qdisk = readQdisk(qsec, cfg, s, filePos)
		if qmw, k := qsec.flag01("master_wins"); k != nil {
			if mwKey != nil && qmw != mw {
				c.errf(k.Pos, "quorum.device.qdisk.master_wins", "quorum.device.qdisk.master_wins contradicts quorum.device.master_wins (line %d)", mwKey.Pos.Line)
			}
			s.masterWins = qmw
		}
		if k := qsec.key("votes"); k != nil {
			c.warnf(k.Pos, "quorum.device.qdisk.votes", "quorum.device.qdisk.votes is ignored; votequorum reads quorum.device.votes")
		}
		qsec.unknown(nil)
	} else if qs != nil {
		c.warnf(qs.Pos, "quorum.device.qdisk", "section quorum.device.qdisk is only used with model qdisk; ignored")
	}
	if s.model == modelPing && s.masterWins {
		c.errf(dev.pos(mwKey, filePos), "quorum.device.master_wins", "master_wins is not available with model ping: both halves of a split may cast the vote")
	}
	dev.unknown(nil)

	var errs []config.Diagnostic
	for _, d := range c.diags {
		if d.Severity == config.SeverityWarning {
			s.warnings = append(s.warnings, d)
		} else {
			errs = append(errs, d)
		}
	}
	sortDiags(s.warnings)
	if len(errs) > 0 {
		all := slices.Clone(c.diags)
		sortDiags(all)
		return nil, &config.Error{Diagnostics: all}
	}
	return s, nil
}

func sortDiags(ds []config.Diagnostic) {
	slices.SortStableFunc(ds, func(a, b config.Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
}

func readHeuristics(dev *section, s *settings, filePos config.Pos) heuristicsSettings {
	c := dev.c
	sec := c.section(dev.sub("heuristics"), "quorum.device.heuristics")
	h := heuristicsSettings{mode: heuristics.ModeOff}
	if s.model == modelPing {
		h.mode = heuristics.ModeOn // the ping model's whole point
	}
	mk := sec.key("mode")
	if mk != nil {
		m, err := heuristics.ParseMode(mk.Value)
		if err != nil {
			c.errf(mk.Pos, "quorum.device.heuristics.mode", "quorum.device.heuristics.mode %q is not off, sync or on", mk.Value)
		} else {
			h.mode = m
		}
	}
	h.timeout, _ = sec.ms("timeout", s.timeout/2)
	h.syncTimeout, _ = sec.ms("sync_timeout", defaultHeuristicsSyncTimeout)
	h.interval, _ = sec.ms("interval", 3*s.timeout)
	if e := sec.e; e != nil {
		for _, k := range e.Children {
			name, ok := strings.CutPrefix(k.Name, "exec_")
			if !ok || k.Section {
				continue
			}
			key := "quorum.device.heuristics." + k.Name
			switch {
			case name == "":
				c.errf(k.Pos, key, "%s: exec_ needs a name (exec_NAME: COMMAND)", key)
			case strings.TrimSpace(k.Value) == "":
				c.errf(k.Pos, key, "%s: empty command", key)
			case slices.ContainsFunc(h.execs, func(x namedCommand) bool { return x.name == k.Name }):
				c.warnf(k.Pos, key, "%s is set again; the last one is used", key)
				i := slices.IndexFunc(h.execs, func(x namedCommand) bool { return x.name == k.Name })
				h.execs[i].command = k.Value
			default:
				h.execs = append(h.execs, namedCommand{name: k.Name, command: k.Value})
			}
		}
	}
	if h.syncTimeout >= s.syncTimeout*3/4 {
		k := sec.key("sync_timeout")
		c.warnf(sec.pos(k, dev.pos(nil, filePos)), "quorum.device.heuristics.sync_timeout",
			"quorum.device.heuristics.sync_timeout (%v) should be below 3/4 of quorum.device.sync_timeout (%v): the device stops waiting for the heuristics then", h.syncTimeout, s.syncTimeout)
	}
	if s.model == modelPing && h.mode == heuristics.ModeOff {
		c.errf(sec.pos(mk, dev.pos(nil, filePos)), "quorum.device.heuristics.mode", "model ping needs heuristics: mode must be sync or on")
	}
	sec.unknown(func(name string) bool { return strings.HasPrefix(name, "exec_") })
	return h
}

func readPing(dev *section, s *settings, filePos config.Pos) pingSettings {
	c := dev.c
	sec := c.section(dev.sub("ping"), "quorum.device.ping")
	var p pingSettings
	add := func(k *config.Entry, name, v string) {
		t, err := parseTarget(v)
		if err != nil {
			c.errf(k.Pos, "quorum.device.ping."+k.Name, "quorum.device.ping.%s: %v", k.Name, err)
			return
		}
		t.name = name
		if slices.ContainsFunc(p.targets, func(x target) bool { return x.addr == t.addr && x.port == t.port }) {
			c.warnf(k.Pos, "quorum.device.ping."+k.Name, "ping target %s is listed twice", t)
			return
		}
		p.targets = append(p.targets, t)
	}
	if k := sec.key("hosts"); k != nil {
		for _, v := range strings.FieldsFunc(k.Value, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
			add(k, "ping_"+v, v)
		}
	}
	if e := sec.e; e != nil {
		for _, k := range e.Children {
			if name, ok := strings.CutPrefix(k.Name, "target_"); ok && !k.Section {
				if name == "" {
					c.errf(k.Pos, "quorum.device.ping."+k.Name, "target_ needs a name (target_NAME: ADDRESS[:PORT])")
					continue
				}
				add(k, "ping_"+name, strings.TrimSpace(k.Value))
			}
		}
	}
	if s.heuristics.mode == heuristics.ModeOff && (len(p.targets) > 0 || len(s.heuristics.execs) > 0) {
		c.warnf(dev.pos(nil, filePos), "quorum.device.heuristics.mode", "heuristics mode is off: exec_ commands and ping targets are not run")
	}
	n := len(p.targets) + len(s.heuristics.execs)
	if s.heuristics.mode == heuristics.ModeOff {
		n = 0
	}
	msK := sec.key("min_score")
	if s.model == modelPing {
		if len(p.targets)+len(s.heuristics.execs) == 0 {
			c.errf(sec.pos(nil, dev.pos(nil, filePos)), "quorum.device.ping", "model ping needs at least one check: quorum.device.ping.hosts, target_NAME or heuristics exec_NAME")
		}
		p.minScore = n
		if v, k, ok := sec.uint("min_score", 1, 1<<16); ok {
			if int(v) > n {
				c.errf(k.Pos, "quorum.device.ping.min_score", "quorum.device.ping.min_score %d is more than the %d checks", v, n)
			}
			p.minScore = int(v)
		}
	} else if msK != nil {
		c.warnf(msK.Pos, "quorum.device.ping.min_score", "quorum.device.ping.min_score is only used with model ping (qdisk reads quorum.device.qdisk.min_score)")
	}
	sec.unknown(func(name string) bool { return strings.HasPrefix(name, "target_") })
	return p
}

// parseTarget reads "IP" (ICMP) or "IP:PORT" / "[IPv6]:PORT" (TCP).
func parseTarget(v string) (target, error) {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		if ap.Port() == 0 {
			return target{}, fmt.Errorf("%q: port 0", v)
		}
		return target{addr: ap.Addr().Unmap(), port: ap.Port()}, nil
	}
	a, err := netip.ParseAddr(strings.Trim(v, "[]"))
	if err != nil {
		return target{}, fmt.Errorf("%q is not an IP address or IP:PORT (host names are not resolved)", v)
	}
	return target{addr: a.Unmap()}, nil
}

func readQdisk(sec *section, cfg *config.Config, s *settings, filePos config.Pos) qdiskSettings {
	c := sec.c
	devPos := filePos
	if cfg.Quorum.Device != nil {
		devPos = cfg.Quorum.Device.Pos
	}
	q := qdiskSettings{interval: qdisk.DefaultInterval, tko: qdisk.DefaultTKO}
	if sec.e == nil {
		c.errf(devPos, "quorum.device.qdisk", "model qdisk needs a quorum.device.qdisk section with path")
	}
	if k := sec.key("path"); k != nil && strings.TrimSpace(k.Value) != "" {
		q.path = strings.TrimSpace(k.Value)
	} else if sec.e != nil {
		c.errf(sec.pos(k, devPos), "quorum.device.qdisk.path", "quorum.device.qdisk.path is not set (the shared file or block device)")
	}
	var ik *config.Entry
	q.interval, ik = sec.ms("interval", qdisk.DefaultInterval)
	if q.interval < minQdiskInterval {
		c.errf(ik.Pos, "quorum.device.qdisk.interval", "quorum.device.qdisk.interval %v is below %v", q.interval, minQdiskInterval)
	}
	tko, tk, tkoSet := sec.uint("tko", qdisk.Settle, 1<<16)
	if tkoSet {
		q.tko = int(tko)
	}
	// A hung master keeps its vote for up to 2 intervals plus the
	// device timeout; the others take over tko + Settle - 1 intervals
	// after its last write. tko × interval ≥ timeout keeps an interval of
	// margin.
	if need := int((s.timeout + q.interval - 1) / q.interval); q.tko < need {
		if tkoSet {
			c.errf(tk.Pos, "quorum.device.qdisk.tko", "quorum.device.qdisk.tko %d × interval %v is less than quorum.device.timeout %v: after a split a hung master's vote could outlive the takeover; use tko ≥ %d", q.tko, q.interval, s.timeout, need)
		} else {
			q.tko = need
		}
	}
	n := s.numChecks()
	q.minScore = (n + 1) / 2 // RHCS qdiskd's default
	if v, k, ok := sec.uint("min_score", 0, 1<<16); ok {
		if int(v) > n {
			c.errf(k.Pos, "quorum.device.qdisk.min_score", "quorum.device.qdisk.min_score %d is more than the %d heuristics checks: no node could be master", v, n)
		}
		q.minScore = int(v)
	}
	for _, nd := range cfg.Nodes {
		if nd.ID > qdisk.MaxNodeID {
			c.errf(nd.Pos, "nodelist.node.nodeid", "node id %d: model qdisk supports node ids 1..%d (set nodeid)", nd.ID, qdisk.MaxNodeID)
		}
	}
	if len(s.clusterName) > qdisk.MaxClusterName {
		c.errf(filePos, "totem.cluster_name", "totem.cluster_name is longer than %d bytes, which model qdisk cannot store", qdisk.MaxClusterName)
	}
	return q
}

// describe writes the effective settings, one "key: value" per line (-t).
func (s *settings) describe() []string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	b01 := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	votes := "default (nodes - 1)"
	if s.votes != 0 {
		votes = strconv.FormatUint(uint64(s.votes), 10)
	}
	lines := []string{
		"quorum.device.model: " + s.model,
		"quorum.device.votes: " + votes,
		"quorum.device.timeout: " + ms(s.timeout),
		"quorum.device.sync_timeout: " + ms(s.syncTimeout),
		"quorum.device.master_wins: " + b01(s.masterWins),
		"quorum.device.heuristics.mode: " + s.heuristics.mode.String(),
		"quorum.device.heuristics.timeout: " + ms(s.heuristics.timeout),
		"quorum.device.heuristics.sync_timeout: " + ms(s.heuristics.syncTimeout),
		"quorum.device.heuristics.interval: " + ms(s.heuristics.interval),
	}
	for _, e := range s.heuristics.execs {
		lines = append(lines, "quorum.device.heuristics."+e.name+": "+e.command)
	}
	for _, t := range s.ping.targets {
		kind := "icmp"
		if t.port != 0 {
			kind = "tcp"
		}
		lines = append(lines, fmt.Sprintf("quorum.device.ping.%s: %s (%s)", t.name, t, kind))
	}
	switch s.model {
	case modelPing:
		lines = append(lines, "quorum.device.ping.min_score: "+strconv.Itoa(s.ping.minScore))
	case modelQdisk:
		lines = append(lines,
			"quorum.device.qdisk.path: "+s.qdisk.path,
			"quorum.device.qdisk.interval: "+ms(s.qdisk.interval),
			"quorum.device.qdisk.tko: "+strconv.Itoa(s.qdisk.tko),
			"quorum.device.qdisk.min_score: "+strconv.Itoa(s.qdisk.minScore))
	}
	return append(lines, "nodelist: "+qdevice.FormatIDs(s.nodes))
}
