package config

import (
	"fmt"
	"io"
	"maps"
)

// EffectiveMap returns the cmap corosync would hold after reading this
// file on the given node: every configured key with corosync's types, and
// what corosync adds itself:
//
//   - nodelist.local_node_pos, the local node's position;
//   - totem.interface.0.bindnetaddr, the local node's ring0_addr;
//   - for udp, totem.interface.0.mcastaddr and .mcastport when derived;
//   - runtime.config.totem.*, the effective totem values (the token after
//     token_coefficient, the derived token_retransmit, hold and consensus,
//     defaults for everything not set);
//
// and, as an extension, system.state_dir when it is not configured (the
// directory this implementation uses).
func (c *Config) EffectiveMap(localNodeID uint32) (Map, error) {
	local, ok := c.NodeByID(localNodeID)
	if !ok {
		return nil, fmt.Errorf("%w: effective values for node %d", ErrUnknownNode, localNodeID)
	}
	m := maps.Clone(c.Map)
	derived := Pos{File: c.File}
	setIfMissing := func(key string, v Value) {
		if _, ok := m[key]; !ok {
			m[key] = v
		}
	}
	m["nodelist.local_node_pos"] = uintValue(TypeU32, uint64(local.Index), derived)
	m["totem.interface.0.bindnetaddr"] = strValue(local.Ring0Addr, derived)
	if c.TotemSection.Transport == TransportUDP {
		if ts, err := c.Transport(localNodeID); err == nil {
			setIfMissing("totem.interface.0.mcastaddr", strValue(ts.Group.Addr().String(), derived))
			setIfMissing("totem.interface.0.mcastport", uintValue(TypeU16, uint64(ts.Group.Port()), derived))
		}
	}
	setIfMissing("system.state_dir", strValue(c.System.StateDir, derived))

	t := c.TotemSection
	tm := c.EffectiveTimers()
	b2u := func(b bool) uint64 {
		if b {
			return 1
		}
		return 0
	}
	rt := map[string]uint64{
		"block_unlisted_ips":                  b2u(t.BlockUnlistedIPs),
		"cancel_token_hold_on_retransmit":     b2u(t.CancelTokenHoldOnRetransmit),
		"consensus":                           uint64(tm.Consensus.Milliseconds()),
		"downcheck":                           uint64(tm.Downcheck.Milliseconds()),
		"fail_recv_const":                     uint64(t.FailRecvConst),
		"heartbeat_failures_allowed":          uint64(t.HeartbeatFailuresAllowed),
		"hold":                                uint64(tm.Hold.Milliseconds()),
		"join":                                uint64(tm.Join.Milliseconds()),
		"knet_compression_threshold":          0,
		"knet_mtu":                            0,
		"knet_pmtud_interval":                 30,
		"max_messages":                        uint64(t.MaxMessages),
		"max_network_delay":                   uint64(t.MaxNetworkDelay.Milliseconds()),
		"merge":                               uint64(tm.Merge.Milliseconds()),
		"miss_count_const":                    uint64(t.MissCountConst),
		"send_join":                           uint64(t.SendJoin.Milliseconds()),
		"seqno_unchanged_const":               uint64(t.SeqnoUnchangedConst),
		"token":                               uint64(tm.Token.Milliseconds()),
		"token_retransmit":                    uint64(tm.TokenRetransmit.Milliseconds()),
		"token_retransmits_before_loss_const": uint64(t.TokenRetransmitsBeforeLossConst),
		"token_warning":                       uint64(t.TokenWarning),
		"window_size":                         uint64(t.WindowSize),
	}
	for k, v := range rt {
		m["runtime.config.totem."+k] = uintValue(TypeU32, v, derived)
	}
	m["runtime.config.totem.knet_compression_level"] = intValue(0, derived)
	m["runtime.config.totem.knet_compression_model"] = strValue("none", derived)
	return m, nil
}

// WriteEffective prints the effective configuration of the given node for
// "corosyncd -t", one "key (type) = value" line per cmap key, sorted as
// corosync-cmapctl prints them:
//
//	nodelist.local_node_pos (u32) = 0
//	nodelist.node.0.ring0_addr (str) = 10.0.0.1
//	runtime.config.totem.consensus (u32) = 4380
//	runtime.config.totem.token (u32) = 3650
//	totem.token (u32) = 3000
//
// See EffectiveMap for the keys.
func (c *Config) WriteEffective(w io.Writer, localNodeID uint32) error {
	m, err := c.EffectiveMap(localNodeID)
	if err != nil {
		return err
	}
	_, err = m.WriteTo(w)
	return err
}
