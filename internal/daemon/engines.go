package daemon

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/metrics"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cfg"
	"github.com/corogo/corogo/internal/service/cmap"
	"github.com/corogo/corogo/internal/service/cpg"
	"github.com/corogo/corogo/internal/service/quorum"
	"github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/internal/transport"
	"github.com/corogo/corogo/totem"
)

// MaxCPGMessage is the largest CPG message a client may send: messages
// up to the ring's item size (1 MiB less the headers) go as one MCAST,
// larger ones as PARTIAL_MCAST fragments that every node (real corosync's
// libcpg too) reassembles, so clients see whole messages either way.
const MaxCPGMessage = 16 << 20

// maxIPCFrame is the IPC frame limit: a whole CPG message and its headers.
const maxIPCFrame = MaxCPGMessage + 64<<10

// engines are the loaded services.
type engines struct {
	cmap   *cmap.Engine
	cfg    *cfg.Engine
	cpg    *cpg.Engine
	quorum *quorum.Engine
	vq     *votequorum.Engine // nil without quorum.provider
}

func (d *Daemon) registerEngines() error {
	h := d.h
	d.eng.cmap = cmap.New(h.API("CMAP"), cmap.Options{
		Snapshot:      d.runtimeKeys,
		ConfigVersion: func() uint64 { return d.config().TotemSection.ConfigVersion },
		OnConfigVersionMismatch: func(local, remote uint64) {
			d.shutdown(fmt.Sprintf("Received config version (%d) is different than my config version (%d)! Exiting", remote, local))
		},
	})
	d.eng.cfg = cfg.New(h.API("CFG"), cfg.Options{
		OnShutdown: d.shutdown,
		OnReload:   d.reload,
		Status:     d.linkStatus,
	})
	d.eng.cpg = cpg.New(h.API("CPG"), cpg.Options{MaxMessage: MaxCPGMessage})
	c := d.config()
	if c.Quorum.Provider == votequorum.Name {
		vqLog := d.log.With("subsys", "VOTEQ")
		s, warns, err := votequorum.SettingsFrom(c, d.opts.NodeID)
		if err != nil {
			return err
		}
		for _, w := range warns {
			vqLog.Warn(w)
		}
		var store votequorum.EVStore
		if s.EVTracking {
			store = votequorum.NewFileStore(c.System.StateDir)
		}
		d.eng.vq, err = votequorum.New(h.API("VOTEQ"), votequorum.Options{
			Settings: s, EVStore: store,
			OnQuorum: func(q bool, ring service.RingID, members []uint32) {
				// votequorum may decide while it is being built (a
				// one-node cluster), before the quorum service exists;
				// the first sync publishes its decision then.
				if d.eng.quorum != nil {
					d.eng.quorum.Set(q, ring, members)
				}
			},
		})
		if err != nil {
			return err
		}
		d.eng.quorum = quorum.New(h.API("QUORUM"), quorum.Options{Provider: d.eng.vq.Provider()})
	} else {
		d.eng.quorum = quorum.New(h.API("QUORUM"), quorum.Options{})
	}
	for _, err := range []error{
		h.Register(d.eng.cmap), h.Register(d.eng.cfg), h.Register(d.eng.cpg), h.Register(d.eng.quorum),
	} {
		if err != nil {
			return err
		}
	}
	if d.eng.vq != nil {
		if err := h.Register(d.eng.vq); err != nil {
			return err
		}
	}
	return nil
}

func (d *Daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// reload re-reads the configuration file and applies the nodelist and the
// timers (corosync-cfgtool -R). It runs on the Run goroutine.
func (d *Daemon) reload() error {
	log := d.log.With("subsys", "CFG")
	cfgNew, err := config.Load(context.Background(), d.opts.ConfigPath, nil)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	id := d.opts.NodeID
	if _, ok := cfgNew.NodeByID(id); !ok {
		return fmt.Errorf("reload: %s: this node (%d) is no longer in the nodelist", d.opts.ConfigPath, id)
	}
	tc, err := cfgNew.Totem(id)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	spec, err := cfgNew.Transport(id)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if err := d.r.Node().Reconfigure(tc); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	var ms []transport.Member
	for _, m := range spec.Members {
		ms = append(ms, transport.Member{NodeID: totem.NodeID(m.NodeID), Addr: m.Addr})
	}
	if err := d.tr.SetMembers(ms); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	d.mu.Lock()
	d.cfg = cfgNew
	d.mu.Unlock()
	t := tc.EffectiveTimers()
	log.Info(fmt.Sprintf("Config reloaded: nodelist %d nodes, token %d ms, consensus %d ms",
		len(spec.Members), t.Token.Milliseconds(), t.Consensus.Milliseconds()))
	if d.eng.cmap != nil {
		_ = d.eng.cmap.ConfigVersionChanged()
	}
	if d.eng.vq != nil {
		s, warns, err := votequorum.SettingsFrom(cfgNew, id)
		if err != nil {
			log.Error(fmt.Sprintf("votequorum: %v; continuing with the current quorum settings", err))
		} else {
			for _, w := range warns {
				log.Warn(w)
			}
			d.eng.vq.Reload(s)
		}
	}
	return nil
}

// linkStatus reports link 0 to every configured node (udpu and udp have
// one link): connected when the node is a member of the current ring.
func (d *Daemon) linkStatus() []cfg.LinkStatus {
	c := d.config()
	spec, err := c.Transport(d.opts.NodeID)
	if err != nil {
		return nil
	}
	_, members := d.h.Ring()
	var out []cfg.LinkStatus
	for _, m := range spec.Members {
		out = append(out, cfg.LinkStatus{
			LinkNo: 0, NodeID: m.NodeID, Transport: spec.Kind,
			Addr: spec.Local.Addr().String(), RemoteAddr: m.Addr.String(),
			Enabled:   true,
			Connected: slices.Contains(members, m.NodeID),
			MTU:       uint32(spec.NetMTU),
		})
	}
	return out
}

// runtimeKeys is the cmap store: the effective configuration and
// corosync's runtime.* and stats.* keys. It runs on the Run goroutine.
func (d *Daemon) runtimeKeys() []cmap.KV {
	c := d.config()
	var kvs []cmap.KV
	if m, err := c.EffectiveMap(d.opts.NodeID); err == nil {
		for _, k := range m.Keys() {
			v := m[k]
			switch v.Type {
			case config.TypeU8:
				kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeUint8, Value: uint8(v.Uint)})
			case config.TypeU16:
				kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeUint16, Value: uint16(v.Uint)})
			case config.TypeU32:
				kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeUint32, Value: uint32(v.Uint)})
			case config.TypeU64:
				kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeUint64, Value: v.Uint})
			case config.TypeI32:
				kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeInt32, Value: int32(v.Int)})
			default:
				kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeString, Value: v.Str})
			}
		}
	}
	u64 := func(k string, v uint64) { kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeUint64, Value: v}) }
	u32 := func(k string, v uint32) { kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeUint32, Value: v}) }
	str := func(k, v string) { kvs = append(kvs, cmap.KV{Key: k, Type: cmap.TypeString, Value: v}) }
	node := d.r.Node()
	st, s := node.Status(), node.Stats()
	ring, members := d.h.Ring()
	spec, _ := c.Transport(d.opts.NodeID)
	addrs := map[uint32]string{}
	for _, m := range spec.Members {
		addrs[m.NodeID] = m.Addr.String()
	}
	for _, id := range c.NodeIDs() {
		p := "runtime.members." + strconv.FormatUint(uint64(id), 10) + "."
		if slices.Contains(members, id) {
			str(p+"status", "joined")
		} else {
			str(p+"status", "left")
		}
		str(p+"ip", "r(0) ip("+addrs[id]+") ")
		u32(p+"config_version", 0)
	}
	str("runtime.totem.pg.mrp.srp.state", st.State.String())
	u64("runtime.totem.pg.mrp.srp.ring_id_seq", ring.Seq)
	u32("runtime.totem.pg.mrp.srp.ring_id_rep", ring.Rep)
	if d.eng.vq != nil {
		for _, k := range d.eng.vq.Runtime() {
			switch v := k.Value.(type) {
			case uint8:
				kvs = append(kvs, cmap.KV{Key: k.Key, Type: cmap.TypeUint8, Value: v})
			case uint32:
				u32(k.Key, v)
			}
		}
	}
	for _, c := range srpCounters(s) {
		u64("stats.srp."+c.name, c.value)
	}
	u32("stats.pg.msg_queue_avail", uint32(node.SendRoom()))
	u32("stats.pg.msg_reserved", 0)
	ts := d.tr.Stats()
	u64("stats.transport.tx_datagrams", ts.TxDatagrams)
	u64("stats.transport.rx_datagrams", ts.RxDatagrams)
	u64("stats.transport.tx_errors", ts.TxErrors)
	u64("stats.transport.rx_errors", ts.RxErrors)
	hs := d.h.Stats()
	for id, n := range hs.Exec {
		u64("runtime.services."+id.String()+".rx", n)
	}
	u64("stats.sync.completed", hs.Sync.Completed)
	u64("stats.sync.aborted", hs.Sync.Aborted)
	if d.srv != nil {
		is := d.srv.Stats()
		u64("stats.ipcs.global.active", uint64(is.Open))
		u64("stats.ipcs.global.closed", is.Total-uint64(is.Open))
	}
	slices.SortFunc(kvs, func(a, b cmap.KV) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return kvs
}

// collect builds one Prometheus scrape; it runs on an HTTP goroutine and
// reads the node on the Run goroutine.
func (d *Daemon) collect() []*metrics.Family {
	var set metrics.Set
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.r.Call(ctx, func() {
		quorate := 0.0
		if d.eng.quorum.Quorate() {
			quorate = 1
		}
		set.Add("ha_cluster_corosync_quorate", "Whether or not the cluster is quorate", metrics.Gauge, quorate)
		ring, members := d.h.Ring()
		set.Add("ha_cluster_corosync_ring_errors", "The number of faulty corosync rings", metrics.Gauge, 0)
		for _, ls := range d.linkStatus() {
			if ls.NodeID != d.opts.NodeID {
				continue
			}
			set.Add("ha_cluster_corosync_rings", "The status of each Corosync ring; 1 means healthy, 0 means faulty.",
				metrics.Gauge, 1, "ring_id", fmt.Sprintf("%d", ls.LinkNo), "node_id", fmt.Sprintf("%d", d.opts.NodeID),
				"number", fmt.Sprintf("%d", ls.LinkNo), "address", ls.Addr)
		}
		for _, m := range members {
			local := "false"
			if m == d.opts.NodeID {
				local = "true"
			}
			votes := 1.0
			if d.eng.vq != nil {
				if in, ok := d.eng.vq.Info(m); ok {
					votes = float64(in.Votes)
				}
			}
			set.Add("ha_cluster_corosync_member_votes", "How many votes each member node has contributed with to the current quorum",
				metrics.Gauge, votes, "node_id", fmt.Sprintf("%d", m), "local", local)
		}
		if d.eng.vq != nil {
			if in, ok := d.eng.vq.Info(0); ok {
				set.Add("ha_cluster_corosync_quorum_votes", "Cluster quorum votes (expected, highest expected, total, quorum)",
					metrics.Gauge, float64(in.ExpectedVotes), "type", "expected_votes")
				set.Add("ha_cluster_corosync_quorum_votes", "", metrics.Gauge, float64(in.HighestExpected), "type", "highest_expected")
				set.Add("ha_cluster_corosync_quorum_votes", "", metrics.Gauge, float64(in.TotalVotes), "type", "total_votes")
				set.Add("ha_cluster_corosync_quorum_votes", "", metrics.Gauge, float64(in.Quorum), "type", "quorum")
			}
		}
		set.Add("corosyncd_ring_members", "Members of the current ring", metrics.Gauge, float64(len(members)))
		set.Add("corosyncd_ring_seq", "Sequence number of the current ring", metrics.Gauge, float64(ring.Seq))
		for _, c := range srpCounters(d.r.Node().Stats()) {
			set.Add("corosyncd_srp_"+c.name+"_total", "corosync's stats.srp."+c.name, metrics.Counter, float64(c.value))
		}
		cs := d.eng.cpg.Stats()
		set.Add("corosyncd_cpg_delivered_total", "CPG messages delivered to local clients", metrics.Counter, float64(cs.Delivered))
		hs := d.h.Stats()
		set.Add("corosyncd_sync_completed_total", "Service synchronisations completed", metrics.Counter, float64(hs.Sync.Completed))
		if d.srv != nil {
			is := d.srv.Stats()
			set.Add("corosyncd_ipc_connections", "Open client connections", metrics.Gauge, float64(is.Open))
		}
	})
	return set.Families()
}

// srpCounter is one of corosync's stats.srp.* counters.
type srpCounter struct {
	name  string
	value uint64
}

// srpCounters names the protocol counters as corosync's stats.srp keys
// do, in a fixed order.
func srpCounters(s totem.Stats) []srpCounter {
	return []srpCounter{
		{"orf_token_tx", s.OrfTokenTx}, {"orf_token_rx", s.OrfTokenRx},
		{"memb_merge_detect_tx", s.MembMergeDetectTx}, {"memb_merge_detect_rx", s.MembMergeDetectRx},
		{"memb_join_tx", s.MembJoinTx}, {"memb_join_rx", s.MembJoinRx},
		{"mcast_tx", s.McastTx}, {"mcast_retx", s.McastRetx}, {"mcast_rx", s.McastRx},
		{"memb_commit_token_tx", s.MembCommitTokenTx}, {"memb_commit_token_rx", s.MembCommitTokenRx},
		{"token_hold_cancel_tx", s.TokenHoldCancelTx}, {"token_hold_cancel_rx", s.TokenHoldCancelRx},
		{"operational_entered", s.OperationalEntered}, {"operational_token_lost", s.OperationalTokenLost},
		{"gather_entered", s.GatherEntered}, {"gather_token_lost", s.GatherTokenLost},
		{"commit_entered", s.CommitEntered}, {"commit_token_lost", s.CommitTokenLost},
		{"recovery_entered", s.RecoveryEntered}, {"recovery_token_lost", s.RecoveryTokenLost},
		{"consensus_timeouts", s.ConsensusTimeouts}, {"rx_msg_dropped", s.RxMsgDropped},
	}
}
