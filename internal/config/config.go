package config

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Transport kinds (totem.transport).
const (
	TransportUDPU = "udpu" // unicast to every nodelist member
	TransportUDP  = "udp"  // IP multicast (or broadcast)
	TransportKnet = "knet" // corosync 3's default; not supported here
)

// IPVersion is totem.ip_version: which address family names resolve to.
type IPVersion string

// IP versions.
const (
	IPv4   IPVersion = "ipv4"   // IPv4 only
	IPv6   IPVersion = "ipv6"   // IPv6 only
	IPv4v6 IPVersion = "ipv4-6" // first IPv4 address, else first IPv6
	IPv6v4 IPVersion = "ipv6-4" // first IPv6 address, else first IPv4
)

// Defaults of corosync 3.1 (exec/totemconfig.c, exec/main.c, man pages).
const (
	DefaultPort      = 5405
	DefaultStateDir  = "/var/lib/corosync"
	defaultLMSWindow = 10000 * time.Millisecond
	defaultNetMTU    = 1500
)

// Config is a loaded, checked corosync.conf.
type Config struct {
	// File is the file name used in positions.
	File string
	// Format is the syntax the file was written in.
	Format Format

	// TotemSection is the totem section (the Totem method converts it for
	// package totem).
	TotemSection TotemSection
	// Interfaces are the totem.interface sections merged by link number,
	// sorted; link 0 is always present (with defaults if no section).
	Interfaces []Interface
	// Nodes is the nodelist in file order (Node.Index is its position).
	Nodes   []Node
	Quorum  Quorum
	Logging Logging
	System  System
	// UIDs and GIDs are the uidgid entries (users and groups allowed to
	// use the IPC), resolved to numbers, sorted.
	UIDs, GIDs []uint32
	// Resources and Nozzle are those sections as parsed (nil if absent).
	Resources, Nozzle *Entry

	// Warnings are the problems that did not stop the load.
	Warnings []Diagnostic
	// Map is the configuration as corosync's parser stores it in cmap.
	Map Map
	// Tree is the parsed file.
	Tree *Tree
}

// TotemSection holds the totem section. Durations are milliseconds in the file.
type TotemSection struct {
	// Version is totem.version; corosync accepts only 2.
	Version uint32
	// ClusterName is totem.cluster_name; it also derives udp's multicast
	// group.
	ClusterName string
	// Transport is TransportUDPU or TransportUDP (knet is refused).
	Transport string
	// IPVersion selects the family of resolved addresses. Default ipv6-4
	// for udpu, ipv4 for udp.
	IPVersion IPVersion

	// Token is the token timeout before scaling (default 3000 ms).
	Token time.Duration
	// TokenCoefficient is added per node beyond two (default 650 ms; 0
	// disables).
	TokenCoefficient time.Duration
	// TokenRetransmit, Hold and Consensus are 0 when not configured:
	// they are derived from the effective token (see EffectiveTimers).
	TokenRetransmit time.Duration
	Hold            time.Duration
	Consensus       time.Duration
	// TokenRetransmitsBeforeLossConst derives token_retransmit (default 4).
	TokenRetransmitsBeforeLossConst uint32
	// TokenWarning is a percentage of the token timeout (default 75; 0
	// disables).
	TokenWarning uint32
	// Join (default 50 ms), SendJoin (default 0), Merge (default 200 ms),
	// Downcheck (default 1000 ms), MaxNetworkDelay (default 50 ms).
	Join, SendJoin, Merge, Downcheck, MaxNetworkDelay time.Duration
	// FailRecvConst (default 2500), SeqnoUnchangedConst (default 30),
	// HeartbeatFailuresAllowed (default 0: off), WindowSize (default 50),
	// MaxMessages (default 17), MissCountConst (default 5).
	FailRecvConst, SeqnoUnchangedConst, HeartbeatFailuresAllowed uint32
	WindowSize, MaxMessages, MissCountConst                      uint32
	// NetMTU is totem.netmtu (default 1500).
	NetMTU uint32
	// BlockUnlistedIPs drops datagrams from addresses not in the nodelist
	// (default true).
	BlockUnlistedIPs bool
	// CancelTokenHoldOnRetransmit (default false).
	CancelTokenHoldOnRetransmit bool
	// CryptoCipher and CryptoHash are the effective values after secauth;
	// always "none" for udpu and udp.
	CryptoCipher, CryptoHash string
	// ConfigVersion is totem.config_version (default 0).
	ConfigVersion uint64
	// ClearNodeHighBit clears bit 31 of node ids generated from IPv4
	// addresses.
	ClearNodeHighBit bool
	// MCastPort is totem.mcastport, an extension of this implementation
	// (corosync reads the port only from totem.interface); 0 when unset.
	MCastPort uint16
}

// Interface is one link (totem.interface).
type Interface struct {
	LinkNumber uint8
	// BindNetAddr is as written; with a nodelist corosync binds to the
	// local node's address instead.
	BindNetAddr string
	// MCastAddr is the configured multicast group (udp only; invalid when
	// unset, or with udpu, which ignores it).
	MCastAddr netip.Addr
	// MCastPort is the port: configured, else totem.mcastport, else 5405
	// + link number (5405 + 2 × link number with broadcast).
	MCastPort uint16
	// TTL is the multicast TTL (default 1; udp only).
	TTL uint8
	// Broadcast sends udp traffic to 255.255.255.255.
	Broadcast bool
	// Pos is the section's position (zero when there is no section).
	Pos Pos
}

// Node is one nodelist.node section.
type Node struct {
	// Index is the node's position in the nodelist: the N of
	// nodelist.node.N.* and of nodelist.local_node_pos.
	Index int
	// ID is the node id: nodeid, or generated from an IPv4 ring0_addr.
	ID uint32
	// IDGenerated is true when ID was generated.
	IDGenerated bool
	// Name is the node's name ("" when unset).
	Name string
	// Ring0Addr is ring0_addr as written (an address or a host name);
	// Addr is its resolved address.
	Ring0Addr string
	Addr      netip.Addr
	// QuorumVotes is the node's votes (default 1).
	QuorumVotes uint32
	// Pos is the section's position.
	Pos Pos
}

// Quorum holds the quorum section (votequorum(5)).
type Quorum struct {
	// Provider is "corosync_votequorum", or "" for no quorum.
	Provider string
	// ExpectedVotes overrides the nodelist's sum of votes (0: unset).
	ExpectedVotes uint32
	// Votes is the deprecated quorum.votes (0: unset).
	Votes uint32
	// TwoNode, WaitForAll (defaults to TwoNode), LastManStanding,
	// AutoTieBreaker, AllowDownscale, ExpectedVotesTracking (implied by
	// AllowDownscale).
	TwoNode, WaitForAll, LastManStanding, AutoTieBreaker bool
	AllowDownscale, ExpectedVotesTracking                bool
	// LastManStandingWindow defaults to 10 s.
	LastManStandingWindow time.Duration
	// AutoTieBreakerNode is "lowest" (default), "highest" or a list of
	// node ids, which AutoTieBreakerNodes holds.
	AutoTieBreakerNode  string
	AutoTieBreakerNodes []uint32
	// Device is the quorum.device section as parsed (nil if absent).
	Device *Entry
}

// LogSettings are the options of logging and of each logger_subsys.
type LogSettings struct {
	ToStderr, ToLogfile, ToSyslog bool
	Logfile                       string
	LogfilePriority               string // default "info"
	SyslogFacility                string // default "daemon"
	SyslogPriority                string // default "info"
	Debug                         string // "off" (default), "on" or "trace"
}

// Logging holds the logging section.
type Logging struct {
	LogSettings
	// Timestamp is "hires" (default), "on" or "off".
	Timestamp string
	// Fileline, FunctionName (default off), Blackbox (default on).
	Fileline, FunctionName, Blackbox bool
	// Subsys are the logger_subsys sections; each inherits the top-level
	// settings it does not set.
	Subsys []LoggerSubsys
}

// LoggerSubsys is one logging.logger_subsys section.
type LoggerSubsys struct {
	Subsys string
	LogSettings
}

// System holds the system section.
type System struct {
	// StateDir is system.state_dir, else $STATE_DIRECTORY, else
	// /var/lib/corosync.
	StateDir string
	// SchedRR (default true), Priority ("" unset; a nice value, "max" or
	// "min"), QBIPCType (default "native"), MoveToRootCgroup (default
	// "auto"), AllowKnetHandleFallback (default false).
	SchedRR                 bool
	Priority                string
	QBIPCType               string
	MoveToRootCgroup        string
	AllowKnetHandleFallback bool
}

// Resolver resolves host names in ringX_addr. *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options change how a file is loaded. The zero value (or nil) uses the
// real system.
type Options struct {
	// Format forces a syntax; FormatAuto decides from the file.
	Format Format
	// Resolver resolves host names (nil: net.DefaultResolver).
	Resolver Resolver
	// Getenv reads $STATE_DIRECTORY (nil: os.Getenv).
	Getenv func(string) string
	// LookupUser and LookupGroup resolve uidgid names (nil: os/user).
	LookupUser, LookupGroup func(name string) (uint32, error)
}

func (o *Options) resolver() Resolver {
	if o != nil && o.Resolver != nil {
		return o.Resolver
	}
	return defaultResolver{}
}

func (o *Options) getenv(k string) string {
	if o != nil && o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

func (o *Options) lookupUser() func(string) (uint32, error) {
	if o != nil && o.LookupUser != nil {
		return o.LookupUser
	}
	return func(name string) (uint32, error) {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(u.Uid, 10, 32)
		return uint32(n), err
	}
}

func (o *Options) lookupGroup() func(string) (uint32, error) {
	if o != nil && o.LookupGroup != nil {
		return o.LookupGroup
	}
	return func(name string) (uint32, error) {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(g.Gid, 10, 32)
		return uint32(n), err
	}
}

// Load reads and checks a configuration file; see Read.
func Load(ctx context.Context, path string, opts *Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: load: %w", err)
	}
	return Read(ctx, data, path, opts)
}

// Read parses and checks a configuration held in data; filename is used
// in positions and, with FormatAuto, to pick the syntax. Host names in
// ringX_addr are resolved.
//
// On success the Config carries the warnings. Otherwise the error is an
// *Error listing every problem found (errors and warnings), each with its
// file and line.
func Read(ctx context.Context, data []byte, filename string, opts *Options) (*Config, error) {
	format := FormatAuto
	if opts != nil {
		format = opts.Format
	}
	if format == FormatAuto {
		format = DetectFormat(filename, data)
	}
	d := &diags{}
	var t *Tree
	if format == FormatTOML {
		t = parseTOML(data, filename, d)
	} else {
		t, d = parseCorosync(data, filename)
	}
	syntaxOK := !d.hasErrors()
	f := flatten(t, opts, d)
	c := &Config{File: filename, Format: format, Map: f.m, Tree: t}
	c.build(ctx, f, opts, d, syntaxOK)
	if err := d.err(); err != nil {
		return nil, err
	}
	c.Warnings = d.warnings()
	return c, nil
}

// DetectFormat picks the syntax of a file: TOML for a ".toml" name,
// corosync for ".conf"; otherwise TOML when the first significant line is
// a "[table]" header or a "key = value" pair.
func DetectFormat(filename string, data []byte) Format {
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".toml":
		return FormatTOML
	case ".conf":
		return FormatCorosync
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		if s[0] == '[' {
			return FormatTOML
		}
		eq, colon, brace := strings.IndexByte(s, '='), strings.IndexByte(s, ':'), strings.IndexByte(s, '{')
		if eq > 0 && (colon < 0 || eq < colon) && (brace < 0 || eq < brace) {
			return FormatTOML
		}
		return FormatCorosync
	}
	return FormatCorosync
}

// NodeByID returns the nodelist entry with the given id.
func (c *Config) NodeByID(id uint32) (*Node, bool) {
	for i := range c.Nodes {
		if c.Nodes[i].ID == id {
			return &c.Nodes[i], true
		}
	}
	return nil, false
}

// NodeIDs returns the node ids in nodelist order.
func (c *Config) NodeIDs() []uint32 {
	ids := make([]uint32, len(c.Nodes))
	for i, n := range c.Nodes {
		ids[i] = n.ID
	}
	return ids
}

// Interface returns the link's interface settings (link 0 always exists).
func (c *Config) Interface(link uint8) (Interface, bool) {
	for _, i := range c.Interfaces {
		if i.LinkNumber == link {
			return i, true
		}
	}
	return Interface{}, false
}
