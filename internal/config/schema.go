package config

import (
	"slices"
	"strings"
)

// kind is how corosync reads a key's value.
type kind uint8

const (
	kStr        kind = iota // any string
	kU8                     // stored as u8 by corosync's parser
	kU16                    // u16
	kU32                    // u32
	kU64                    // u64
	kI32                    // i32
	kYesNo                  // "yes" or "no"
	kOnOff                  // "on" or "off"
	kYesNoOnOff             // "yes", "no", "on" or "off" (logging destinations)
	kEnum                   // one of keySpec.values
)

// keySpec describes a known key.
type keySpec struct {
	kind   kind
	values []string // kEnum
	// note, when set, is a warning printed whenever the key is used
	// (obsolete keys, knet-only keys, keys this implementation ignores).
	note string
	// zeroDefault: corosync replaces 0 by the default.
	zeroDefault bool
}

// boolText is how a TOML boolean is written for this key in corosync.conf.
func (s *keySpec) boolText(b bool) string {
	yes, no := "yes", "no"
	switch s.kind {
	case kOnOff:
		yes, no = "on", "off"
	case kU8, kU16, kU32, kU64, kI32:
		yes, no = "1", "0"
	case kEnum:
		if slices.Contains(s.values, "on") && !slices.Contains(s.values, "yes") {
			yes, no = "on", "off"
		}
	}
	if b {
		return yes
	}
	return no
}

const (
	noteObsolete2x = "is a corosync 2.x option that corosync 3.1 no longer reads; ignored"
	noteKnetOnly   = "is only used by the knet transport; ignored"
)

var (
	ipVersions      = []string{"ipv4", "ipv6", "ipv4-6", "ipv6-4"}
	cryptoCiphers   = []string{"none", "aes256", "aes192", "aes128"}
	cryptoHashes    = []string{"none", "md5", "sha1", "sha256", "sha384", "sha512"}
	logPriorities   = []string{"alert", "crit", "debug", "emerg", "err", "error", "info", "notice", "warning"}
	syslogFacilites = []string{
		"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user", "uucp",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
	}
)

// logKeys are valid both in logging and in logging.logger_subsys.
var logKeys = map[string]*keySpec{
	"to_stderr":        {kind: kYesNoOnOff},
	"to_logfile":       {kind: kYesNoOnOff},
	"to_syslog":        {kind: kYesNoOnOff},
	"to_file":          {kind: kYesNoOnOff, note: "is obsolete; use to_logfile"},
	"logfile":          {kind: kStr},
	"logfile_priority": {kind: kEnum, values: logPriorities},
	"syslog_facility":  {kind: kEnum, values: syslogFacilites},
	"syslog_priority":  {kind: kEnum, values: logPriorities},
	"syslog_level":     {kind: kEnum, values: logPriorities, note: "is obsolete; use syslog_priority"},
	"debug":            {kind: kEnum, values: []string{"on", "off", "trace"}},
}

// keySpecs maps a generic key path (section names without node or link
// numbers) to its description.
var keySpecs = func() map[string]*keySpec {
	m := map[string]*keySpec{
		// totem
		"totem.version":           {kind: kU32},
		"totem.nodeid":            {kind: kU32, note: "is deprecated; nodelist.node.nodeid is used"},
		"totem.threads":           {kind: kU32, note: "is obsolete and has no effect"},
		"totem.token":             {kind: kU32, zeroDefault: true},
		"totem.token_coefficient": {kind: kU32},
		"totem.token_retransmit":  {kind: kU32, zeroDefault: true},
		"totem.token_warning":     {kind: kU32},
		"totem.hold":              {kind: kU32, zeroDefault: true},
		"totem.token_retransmits_before_loss_const": {kind: kU32, zeroDefault: true},
		"totem.join":                            {kind: kU32, zeroDefault: true},
		"totem.send_join":                       {kind: kU32},
		"totem.consensus":                       {kind: kU32, zeroDefault: true},
		"totem.merge":                           {kind: kU32, zeroDefault: true},
		"totem.downcheck":                       {kind: kU32, zeroDefault: true},
		"totem.fail_recv_const":                 {kind: kU32, zeroDefault: true},
		"totem.seqno_unchanged_const":           {kind: kU32, zeroDefault: true},
		"totem.heartbeat_failures_allowed":      {kind: kU32},
		"totem.max_network_delay":               {kind: kU32, zeroDefault: true},
		"totem.window_size":                     {kind: kU32, zeroDefault: true},
		"totem.max_messages":                    {kind: kU32, zeroDefault: true},
		"totem.miss_count_const":                {kind: kU32, zeroDefault: true},
		"totem.netmtu":                          {kind: kU32},
		"totem.config_version":                  {kind: kU64},
		"totem.ip_version":                      {kind: kEnum, values: ipVersions},
		"totem.crypto_cipher":                   {kind: kEnum, values: cryptoCiphers},
		"totem.crypto_hash":                     {kind: kEnum, values: cryptoHashes},
		"totem.secauth":                         {kind: kOnOff},
		"totem.cluster_name":                    {kind: kStr},
		"totem.transport":                       {kind: kEnum, values: []string{"udpu", "udp", "knet"}},
		"totem.block_unlisted_ips":              {kind: kYesNo},
		"totem.cancel_token_hold_on_retransmit": {kind: kYesNo},
		"totem.clear_node_high_bit":             {kind: kYesNo},
		// An extension: corosync reads the port only from totem.interface.
		"totem.mcastport": {kind: kU16},
		// knet only.
		"totem.crypto_model":               {kind: kStr, note: noteKnetOnly},
		"totem.keyfile":                    {kind: kStr, note: noteKnetOnly},
		"totem.key":                        {kind: kStr, note: noteKnetOnly},
		"totem.link_mode":                  {kind: kEnum, values: []string{"passive", "active", "rr"}, note: noteKnetOnly},
		"totem.knet_pmtud_interval":        {kind: kU32, note: noteKnetOnly},
		"totem.knet_mtu":                   {kind: kU32, note: noteKnetOnly},
		"totem.knet_compression_threshold": {kind: kU32, note: noteKnetOnly},
		"totem.knet_compression_level":     {kind: kI32, note: noteKnetOnly},
		"totem.knet_compression_model":     {kind: kStr, note: noteKnetOnly},
		"totem.ip_dscp":                    {kind: kStr, note: "is not implemented; ignored"},
		// corosync 2.x leftovers.
		"totem.rrp_mode":                            {kind: kStr, note: noteObsolete2x},
		"totem.vsftype":                             {kind: kStr, note: noteObsolete2x},
		"totem.rrp_token_expired_timeout":           {kind: kU32, note: noteObsolete2x},
		"totem.rrp_problem_count_timeout":           {kind: kU32, note: noteObsolete2x},
		"totem.rrp_problem_count_threshold":         {kind: kU32, note: noteObsolete2x},
		"totem.rrp_problem_count_mcast_threshold":   {kind: kU32, note: noteObsolete2x},
		"totem.rrp_autorecovery_check_timeout":      {kind: kU32, note: noteObsolete2x},
		"totem.interface.ringnumber":                {kind: kStr, note: "is the corosync 2.x name of linknumber; corosync 3.1 ignores it"},
		"totem.interface.member.memberaddr":         {kind: kStr, note: noteObsolete2x + " (use nodelist)"},
		"totem.interface.linknumber":                {kind: kU8},
		"totem.interface.bindnetaddr":               {kind: kStr},
		"totem.interface.mcastaddr":                 {kind: kStr},
		"totem.interface.broadcast":                 {kind: kYesNo},
		"totem.interface.mcastport":                 {kind: kU16},
		"totem.interface.ttl":                       {kind: kU8},
		"totem.interface.knet_link_priority":        {kind: kU8, note: noteKnetOnly},
		"totem.interface.knet_ping_interval":        {kind: kU32, note: noteKnetOnly},
		"totem.interface.knet_ping_timeout":         {kind: kU32, note: noteKnetOnly},
		"totem.interface.knet_ping_precision":       {kind: kU32, note: noteKnetOnly},
		"totem.interface.knet_pong_count":           {kind: kU32, note: noteKnetOnly},
		"totem.interface.knet_transport":            {kind: kStr, note: noteKnetOnly},
		"nodelist.node.nodeid":                      {kind: kU32},
		"nodelist.node.quorum_votes":                {kind: kU32},
		"nodelist.node.name":                        {kind: kStr},
		"quorum.provider":                           {kind: kStr},
		"quorum.expected_votes":                     {kind: kU32},
		"quorum.votes":                              {kind: kU32, note: "is deprecated; use nodelist.node.quorum_votes"},
		"quorum.last_man_standing_window":           {kind: kU32},
		"quorum.leaving_timeout":                    {kind: kU32},
		"quorum.two_node":                           {kind: kU8},
		"quorum.expected_votes_tracking":            {kind: kU8},
		"quorum.allow_downscale":                    {kind: kU8, note: "is incomplete and unsupported in corosync"},
		"quorum.wait_for_all":                       {kind: kU8},
		"quorum.auto_tie_breaker":                   {kind: kU8},
		"quorum.last_man_standing":                  {kind: kU8},
		"quorum.auto_tie_breaker_node":              {kind: kStr},
		"quorum.device.timeout":                     {kind: kU32},
		"quorum.device.sync_timeout":                {kind: kU32},
		"quorum.device.votes":                       {kind: kU32},
		"quorum.device.master_wins":                 {kind: kU8},
		"logging.timestamp":                         {kind: kEnum, values: []string{"on", "off", "hires"}},
		"logging.fileline":                          {kind: kOnOff},
		"logging.function_name":                     {kind: kOnOff},
		"logging.blackbox":                          {kind: kOnOff},
		"logging.logger_subsys.subsys":              {kind: kStr},
		"system.qb_ipc_type":                        {kind: kEnum, values: []string{"native", "shm", "socket"}},
		"system.sched_rr":                           {kind: kEnum, values: []string{"yes", "no"}},
		"system.priority":                           {kind: kStr},
		"system.move_to_root_cgroup":                {kind: kEnum, values: []string{"yes", "no", "auto"}},
		"system.allow_knet_handle_fallback":         {kind: kEnum, values: []string{"yes", "no"}, note: noteKnetOnly},
		"system.state_dir":                          {kind: kStr},
		"resources.watchdog_device":                 {kind: kStr},
		"resources.watchdog_timeout":                {kind: kU32},
		"resources.system.memory_used.poll_period":  {kind: kU64},
		"resources.process.memory_used.poll_period": {kind: kU64},
		"resources.system.load_15min.poll_period":   {kind: kU64},
		"nozzle.name":                               {kind: kStr, note: noteKnetOnly},
		"nozzle.ipaddr":                             {kind: kStr, note: noteKnetOnly},
		"nozzle.ipprefix":                           {kind: kStr, note: noteKnetOnly},
		"nozzle.macaddr":                            {kind: kStr, note: noteKnetOnly},
		"uidgid.uid":                                {kind: kStr},
		"uidgid.gid":                                {kind: kStr},
	}
	for k, s := range logKeys {
		m["logging."+k] = s
		m["logging.logger_subsys."+k] = s
	}
	return m
}()

// sectionSpec describes a known section.
type sectionSpec struct {
	// open: keys and subsections inside are not checked (kept for other
	// consumers, such as quorum.device for qdevice).
	open bool
	// note is a warning printed when the section is used.
	note string
}

var sectionSpecs = map[string]sectionSpec{
	"totem":                  {},
	"totem.interface":        {},
	"totem.interface.member": {note: noteObsolete2x + " (use nodelist)"},
	"nodelist":               {},
	"nodelist.node":          {},
	"quorum":                 {},
	"quorum.device":          {open: true},
	"logging":                {},
	"logging.logger_subsys":  {},
	"logging.logging_daemon": {open: true, note: "is obsolete; use logger_subsys"},
	"system":                 {},
	"resources":              {},
	"resources.system":       {open: true},
	"resources.process":      {open: true},
	"nozzle":                 {note: noteKnetOnly},
	"uidgid":                 {},
	"qb":                     {open: true, note: noteObsolete2x + " (use system.qb_ipc_type)"},
	"pload":                  {open: true, note: "configures corosync's load-test service, which is not implemented; ignored"},
}

// lookupKey returns the spec of a key given its generic path, and whether
// the key is inside an open section (where unknown keys are fine).
func lookupKey(generic string) (spec *keySpec, open bool) {
	if s, ok := keySpecs[generic]; ok {
		return s, false
	}
	if strings.HasPrefix(generic, "nodelist.node.ring") && strings.HasSuffix(generic, "_addr") {
		if isRingKey(strings.TrimPrefix(generic, "nodelist.node.")) >= 0 {
			return &keySpec{kind: kStr}, false
		}
	}
	return nil, inOpenSection(generic)
}

// inOpenSection reports whether a generic key or section path lies inside
// a section whose content is not checked.
func inOpenSection(generic string) bool {
	for p := generic; ; {
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
		if s, ok := sectionSpecs[p]; ok && s.open {
			return true
		}
	}
}

// isRingKey returns X for "ringX_addr" (X a decimal number), else -1.
func isRingKey(key string) int {
	rest, ok := strings.CutPrefix(key, "ring")
	if !ok {
		return -1
	}
	num, ok := strings.CutSuffix(rest, "_addr")
	if !ok || num == "" || len(num) > 3 {
		return -1
	}
	n := 0
	for _, c := range num {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
