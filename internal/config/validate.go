package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corogo/corogo/totem"
)

// Corosync's limits (include/corosync/totem/totem.h, exec/totemconfig.c
// with HZ = 100).
const (
	maxNodes       = 384 // PROCESSOR_COUNT_MAX
	maxLinks       = 8   // INTERFACE_MAX
	minTimeout     = 30 * time.Millisecond
	minHoldTimeout = 14 * time.Millisecond
)

func (b *builder) checkTransport() {
	t := b.c.TotemSection
	switch t.Transport {
	case TransportUDPU, TransportUDP:
	default:
		msg := "totem.transport: knet is not supported by this implementation yet; set transport to udpu or udp"
		if _, ok := b.m["totem.transport"]; !ok {
			msg = "totem.transport is not set, so corosync 3 would use knet, which this implementation does not support yet; set transport to udpu or udp"
		}
		b.d.errorf(b.keyPos("totem.transport"), "totem.transport", "%s", msg)
	}
	switch v, _, ok := b.m.uint("totem.version"); {
	case !ok:
		b.d.errorf(b.keyPos("totem.version"), "totem.version", "totem.version is not set; corosync requires version: 2")
	case v != 2:
		b.d.errorf(b.keyPos("totem.version"), "totem.version", "totem.version is %d; corosync accepts only 2", v)
	}
	b.checkCrypto()
	b.checkNodes()
	b.checkLinks()
}

func (b *builder) checkCrypto() {
	t := b.c.TotemSection
	// The key to blame: the one that set the offending value, else secauth.
	blame := func(key string) string {
		if _, ok := b.m[key]; ok {
			return key
		}
		return "totem.secauth"
	}
	if t.CryptoCipher != "none" && t.CryptoHash == "none" {
		key := blame("totem.crypto_cipher")
		b.d.errorf(b.keyPos(key), key, "crypto_cipher requires crypto_hash with value other than none")
		return
	}
	if t.Transport != TransportKnet && (t.CryptoCipher != "none" || t.CryptoHash != "none") {
		key := blame("totem.crypto_hash")
		if t.CryptoCipher != "none" {
			key = blame("totem.crypto_cipher")
		}
		b.d.errorf(b.keyPos(key), key, "crypto_cipher & crypto_hash are only valid for the Knet transport (transport is %s)", t.Transport)
	}
}

func (b *builder) checkNodes() {
	c := b.c
	if len(c.Nodes) == 0 {
		pos := Pos{File: b.file}
		if e, ok := b.f.sections["nodelist"]; ok {
			pos = e.Pos
		}
		b.d.errorf(pos, "nodelist", "no nodelist.node section: corosync needs the nodelist to find the local node")
		return
	}
	if len(c.Nodes) > maxNodes {
		b.d.errorf(c.Nodes[maxNodes].Pos, "nodelist", "the nodelist has %d nodes; at most %d are allowed", len(c.Nodes), maxNodes)
	}
	byID := map[uint32]*Node{}
	byAddr := map[netip.Addr]*Node{}
	byName := map[string]*Node{}
	var first *Node
	for i := range c.Nodes {
		n := &c.Nodes[i]
		p := fmt.Sprintf("nodelist.node.%d.", n.Index)
		if n.ID != 0 {
			if o, dup := byID[n.ID]; dup {
				how, pos := "", b.keyPos(p+"nodeid")
				if n.IDGenerated {
					how, pos = fmt.Sprintf(" (generated from %s)", n.Addr), b.keyPos(p+"ring0_addr")
				}
				b.d.errorf(pos, p+"nodeid", "nodeid %d%s appears twice (also the node at line %d)", n.ID, how, o.Pos.Line)
			} else {
				byID[n.ID] = n
			}
		}
		if !n.Addr.IsValid() {
			continue
		}
		key := n.Addr.WithZone("")
		if o, dup := byAddr[key]; dup {
			b.d.errorf(b.keyPos(p+"ring0_addr"), p+"ring0_addr", "ring0_addr %s is also the address of the node at line %d", n.Addr, o.Pos.Line)
		} else {
			byAddr[key] = n
		}
		if first == nil {
			first = n
		} else if first.Addr.Is4() != n.Addr.Is4() {
			b.d.errorf(b.keyPos(p+"ring0_addr"), p+"ring0_addr",
				"nodes of link 0 have different IP families: %s here, %s at line %d", n.Addr, first.Addr, b.keyPos(fmt.Sprintf("nodelist.node.%d.ring0_addr", first.Index)).Line)
		}
		if n.Name != "" {
			if o, dup := byName[n.Name]; dup {
				b.d.warnf(b.keyPos(p+"name"), p+"name", "name %q is also the name of the node at line %d", n.Name, o.Pos.Line)
			} else {
				byName[n.Name] = n
			}
		}
	}
}

// checkLinks checks the interface sections and ringX_addr keys.
func (b *builder) checkLinks() {
	c, t := b.c, b.c.TotemSection
	links := map[int]Pos{}
	for _, s := range b.f.ifaces {
		if s.link >= maxLinks {
			key := "totem.interface.linknumber"
			b.d.errorf(s.entry.Pos, key, "%s %d is above the maximum %d", key, s.link, maxLinks-1)
		}
		links[int(s.link)] = s.entry.Pos
	}
	for _, k := range b.m.Keys() {
		rest, ok := strings.CutPrefix(k, "nodelist.node.")
		if !ok {
			continue
		}
		_, key, _ := strings.Cut(rest, ".")
		x := isRingKey(key)
		if x < 0 {
			continue
		}
		if x >= maxLinks {
			b.d.errorf(b.m[k].Pos, k, "%s: link %d is above the maximum %d", k, x, maxLinks-1)
			continue
		}
		if _, ok := links[x]; !ok {
			links[x] = b.m[k].Pos
		}
	}
	if _, ok := links[0]; !ok {
		links[0] = Pos{}
	}
	if t.Transport != TransportKnet && len(links) > 1 {
		nums := make([]int, 0, len(links))
		for l := range links {
			nums = append(nums, l)
		}
		slices.Sort(nums)
		last := nums[len(nums)-1]
		b.d.errorf(links[last], "totem.interface", "%d links are configured (%v); the %s transport supports only link 0", len(nums), nums, t.Transport)
	}
	for i := range c.Interfaces {
		iface := &c.Interfaces[i]
		p := "totem.interface." + strconv.Itoa(int(iface.LinkNumber)) + "."
		if iface.TTL != 1 && t.Transport != TransportUDP {
			b.d.errorf(b.keyPos(p+"ttl"), p+"ttl", "%sttl can only be set with the udp transport", p)
		}
		if iface.MCastPort == 0 {
			b.d.errorf(b.keyPos(p+"mcastport"), p+"mcastport", "%smcastport must not be 0", p)
		}
		if iface.BindNetAddr != "" {
			b.d.warnf(b.keyPos(p+"bindnetaddr"), p+"bindnetaddr", "%sbindnetaddr is ignored: with a nodelist corosync binds to the local node's ring0_addr", p)
		}
		if t.Transport == TransportUDP {
			b.checkMulticast(iface, p)
			continue
		}
		for _, k := range []string{"mcastaddr", "broadcast"} {
			if _, ok := b.m[p+k]; ok {
				b.d.warnf(b.keyPos(p+k), p+k, "%s%s is only used by the udp transport; ignored", p, k)
			}
		}
	}
}

// checkMulticast checks a udp link's group: an explicit mcastaddr must be
// a multicast address of the nodes' family; without one, cluster_name
// derives it; broadcast replaces both.
func (b *builder) checkMulticast(iface *Interface, p string) {
	c := b.c
	s, pos, set := b.m.str(p + "mcastaddr")
	if iface.Broadcast {
		if set {
			b.d.warnf(pos, p+"mcastaddr", "%smcastaddr is ignored because broadcast is yes", p)
		}
		if len(c.Nodes) > 0 && c.Nodes[0].Addr.Is6() {
			b.d.errorf(b.keyPos(p+"broadcast"), p+"broadcast", "%sbroadcast needs IPv4 node addresses", p)
		}
		return
	}
	if !set {
		if c.TotemSection.ClusterName == "" {
			b.d.errorf(b.keyPos("totem.cluster_name"), p+"mcastaddr",
				"no multicast address: the udp transport needs %smcastaddr or totem.cluster_name to derive one", p)
		}
		return
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		b.d.errorf(pos, p+"mcastaddr", "%smcastaddr: %q is not an IP address", p, s)
		return
	}
	a = a.Unmap()
	iface.MCastAddr = a
	if !a.IsMulticast() {
		b.d.errorf(pos, p+"mcastaddr", "%smcastaddr: %s is not a multicast address", p, a)
	}
	if len(c.Nodes) > 0 && c.Nodes[0].Addr.IsValid() && c.Nodes[0].Addr.Is4() != a.Is4() {
		b.d.errorf(pos, p+"mcastaddr", "%smcastaddr: %s is not of the nodes' address family", p, a)
	}
}

// checkTimers applies corosync's timer checks, then totem.Config.Validate
// for the limits of this implementation, with each problem at the line of
// its key.
func (b *builder) checkTimers() {
	c := b.c
	tc := c.totemConfig(0)
	tm := tc.EffectiveTimers()
	t := c.TotemSection
	reported := map[string]bool{}
	bad := func(key, format string, args ...any) {
		full := "totem." + key
		reported[key] = true
		b.d.errorf(b.keyPos(full), full, "totem.%s: "+format, append([]any{key}, args...)...)
	}
	if t.MaxNetworkDelay < minTimeout {
		bad("max_network_delay", "%d ms is below the minimum %d ms", t.MaxNetworkDelay.Milliseconds(), minTimeout.Milliseconds())
	}
	if tm.Token < minTimeout {
		bad("token", "the token timeout %d ms is below the minimum %d ms", tm.Token.Milliseconds(), minTimeout.Milliseconds())
	}
	if t.TokenWarning > 100 {
		bad("token_warning", "%d%% is not in 0..100", t.TokenWarning)
	}
	if tm.TokenRetransmit < minTimeout {
		if t.TokenRetransmit > 0 {
			bad("token_retransmit", "%d ms is below the minimum %d ms", tm.TokenRetransmit.Milliseconds(), minTimeout.Milliseconds())
		} else {
			bad("token", "token / (token_retransmits_before_loss_const + 0.2) = %d ms is below the minimum token_retransmit of %d ms",
				tm.TokenRetransmit.Milliseconds(), minTimeout.Milliseconds())
			reported["token_retransmit"] = true
		}
	}
	if tm.Hold < minHoldTimeout && !reported["token_retransmit"] {
		bad("hold", "%d ms is below the minimum %d ms", tm.Hold.Milliseconds(), minHoldTimeout.Milliseconds())
	}
	if tm.Join < minTimeout {
		bad("join", "%d ms is below the minimum %d ms", tm.Join.Milliseconds(), minTimeout.Milliseconds())
	}
	if tm.Consensus < minTimeout {
		bad("consensus", "%d ms is below the minimum %d ms", tm.Consensus.Milliseconds(), minTimeout.Milliseconds())
	} else if tm.Consensus < tm.Join {
		bad("consensus", "%d ms is below join (%d ms)", tm.Consensus.Milliseconds(), tm.Join.Milliseconds())
	}
	if tm.Merge < minTimeout {
		bad("merge", "%d ms is below the minimum %d ms", tm.Merge.Milliseconds(), minTimeout.Milliseconds())
	}
	if tm.Downcheck < minTimeout {
		bad("downcheck", "%d ms is below the minimum %d ms", tm.Downcheck.Milliseconds(), minTimeout.Milliseconds())
	}
	if len(c.Nodes) == 0 || c.Nodes[0].ID == 0 {
		return
	}
	tc.NodeID = c.Nodes[0].ID
	if tc.SendJoin > 0 {
		tc.Rand = func(int) int { return 0 }
	}
	for _, e := range validationErrors(tc.Validate()) {
		key := totemKeyOf(e.Error())
		if key == "" || reported[key] || (len(reported) > 0 && timerKeys[key]) {
			// Timer problems cascade; corosync's own message is enough.
			continue
		}
		full := "totem." + key
		pos := b.keyPos(full)
		if _, set := b.m[full]; !set && key == "token_retransmit" {
			full, pos = "totem.token", b.keyPos("totem.token")
		}
		b.d.errorf(pos, full, "totem: %v (a limit of this implementation)", e)
	}
}

// timerKeys are the timers whose minimums corosync checks itself.
var timerKeys = map[string]bool{
	"token": true, "token_retransmit": true, "hold": true, "join": true,
	"consensus": true, "merge": true, "downcheck": true,
}

// validationErrors splits the joined error of totem.Config.Validate.
func validationErrors(err error) []error {
	if err == nil {
		return nil
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			return j.Unwrap()
		}
	}
	return []error{err}
}

// totemKeyOf maps a totem.Config.Validate message to the totem key it is
// about ("token timeout 20ms is below ..." → "token"), or "" for problems
// this package reports itself (node ids, nodelist) or that cannot come
// from a file.
func totemKeyOf(msg string) string {
	word := msg
	if i := strings.IndexAny(msg, " ("); i >= 0 {
		word = msg[:i]
	}
	switch word {
	case "nodeid", "nodelist", "tick", "max", "send":
		return ""
	case "send_join":
		if strings.Contains(msg, "random") {
			return ""
		}
	}
	if _, ok := keySpecs["totem."+word]; ok {
		return word
	}
	return ""
}

// totemConfig converts the totem settings for node id; fields this
// package leaves at zero (token_retransmit, hold, consensus when not
// configured) are derived by totem as corosync derives them.
func (c *Config) totemConfig(id uint32) totem.Config {
	tc := totem.DefaultConfig(id, c.NodeIDs())
	t := c.TotemSection
	tc.Token = t.Token
	tc.TokenCoefficient = t.TokenCoefficient
	tc.TokenRetransmitsBeforeLoss = int(t.TokenRetransmitsBeforeLossConst)
	tc.TokenRetransmit = t.TokenRetransmit
	tc.Hold = t.Hold
	tc.TokenWarning = int(t.TokenWarning)
	tc.Join = t.Join
	tc.SendJoin = t.SendJoin
	tc.Consensus = t.Consensus
	tc.Merge = t.Merge
	tc.Downcheck = t.Downcheck
	tc.FailRecvConst = int(t.FailRecvConst)
	tc.SeqnoUnchangedConst = int(t.SeqnoUnchangedConst)
	tc.MaxNetworkDelay = t.MaxNetworkDelay
	tc.WindowSize = int(t.WindowSize)
	tc.MaxMessages = int(t.MaxMessages)
	tc.MissCountConst = int(t.MissCountConst)
	tc.CancelTokenHoldOnRetransmit = t.CancelTokenHoldOnRetransmit
	tc.NetMTU = int(min(t.NetMTU, 1<<30))
	return tc
}

// checkQuorum applies votequorum's configuration checks (votequorum(5),
// exec/votequorum.c readconfig).
func (b *builder) checkQuorum() {
	q := b.c.Quorum
	if q.Provider == "" {
		return
	}
	if q.Provider != "corosync_votequorum" {
		b.d.errorf(b.keyPos("quorum.provider"), "quorum.provider", "quorum.provider %q is not supported; the only provider is corosync_votequorum", q.Provider)
		return
	}
	var nodeVotes uint32
	allOne := true
	for _, n := range b.c.Nodes {
		nodeVotes += n.QuorumVotes
		if n.QuorumVotes != 1 {
			allOne = false
		}
	}
	model := ""
	var devVotes uint32
	haveDevVotes := false
	if q.Device != nil {
		model, _ = q.Device.Get("model")
		if n, _, ok := b.m.uint("quorum.device.votes"); ok {
			devVotes, haveDevVotes = uint32(n), true
		}
	}
	qdevice := model != ""
	errAt := func(key, format string, args ...any) { b.d.errorf(b.keyPos(key), key, format, args...) }
	warnAt := func(key, format string, args ...any) { b.d.warnf(b.keyPos(key), key, format, args...) }
	if q.TwoNode && qdevice {
		errAt("quorum.two_node", "quorum.two_node and a quorum device cannot be configured together")
	}
	if q.TwoNode && q.AutoTieBreaker {
		warnAt("quorum.two_node", "quorum.two_node and auto_tie_breaker are not compatible; corosync disables two_node")
	}
	if q.TwoNode && len(b.c.Nodes) > 2 {
		warnAt("quorum.two_node", "quorum.two_node is set but the nodelist has %d nodes; corosync disables two_node when more than 2 nodes are members", len(b.c.Nodes))
	}
	if q.AutoTieBreaker && nodeVotes%2 == 1 && !q.WaitForAll {
		if q.LastManStanding {
			errAt("quorum.auto_tie_breaker", "quorum.auto_tie_breaker and last_man_standing are not available in an odd-sized cluster without wait_for_all")
		} else {
			warnAt("quorum.auto_tie_breaker", "quorum.auto_tie_breaker needs wait_for_all in an odd-sized cluster; corosync disables auto_tie_breaker")
		}
	}
	if q.LastManStanding && !allOne {
		warnAt("quorum.last_man_standing", "quorum.last_man_standing does not work unless every node has 1 vote")
	}
	if qdevice {
		if q.LastManStanding {
			errAt("quorum.last_man_standing", "quorum.device is not compatible with last_man_standing")
		}
		if q.AutoTieBreaker {
			errAt("quorum.auto_tie_breaker", "quorum.device is not compatible with auto_tie_breaker")
		}
		if q.AllowDownscale {
			errAt("quorum.allow_downscale", "quorum.device is not compatible with allow_downscale")
		}
		if q.ExpectedVotes != 0 && !haveDevVotes {
			errAt("quorum.expected_votes", "quorum.device.votes must be set when quorum.expected_votes is set")
		}
		if !haveDevVotes && !allOne {
			errAt("quorum.device.model", "quorum.device.votes must be set when not every node has 1 vote")
		}
		if haveDevVotes && devVotes > 0 && q.ExpectedVotes != 0 && int64(q.ExpectedVotes)-int64(devVotes) < 2 {
			errAt("quorum.device.votes", "quorum.device.votes %d is too high, or expected_votes %d too low", devVotes, q.ExpectedVotes)
		}
	}
}
