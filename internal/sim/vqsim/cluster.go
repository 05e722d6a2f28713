package vqsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/service/quorum"
	"github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// Options configure a Cluster. The zero value of every field means its
// default.
type Options struct {
	// Seed drives the network's randomness (default 1). With the default
	// fixed one-tick hop nothing is random, so a scenario's outcome does
	// not depend on it; Link makes it matter.
	Seed uint64
	// Link is the default link (default: a fixed 1 ms hop, no loss).
	Link totemtest.LinkParams
	// SettleTimeout bounds Sync (default 60 s of simulated time).
	SettleTimeout time.Duration
	// Trace, when set, receives a line for every membership, quorum and
	// command event.
	Trace io.Writer
	// Config builds a node's totem configuration (default
	// totemtest.SimConfig: corosync's defaults with the timers scaled
	// down; the totem section of corosync.conf is ignored).
	Config func(id totem.NodeID, nodelist []totem.NodeID) totem.Config

	// provider, when set, replaces votequorum's provider as the quorum
	// service sees it (tests only: TestStaleViewFixed rewires the
	// provider as it was before the stale view fix, to check that the
	// sweep still detects the bug).
	provider func(*votequorum.Engine) quorum.Provider
}

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Link == (totemtest.LinkParams{}) {
		o.Link = totemtest.LinkParams{MinDelay: 1, MaxDelay: 1}
	}
	if o.SettleTimeout == 0 {
		o.SettleTimeout = time.Minute
	}
	if o.Config == nil {
		o.Config = totemtest.SimConfig
	}
	return o
}

// Errors of the Cluster's operations; they are wrapped with the node or
// command concerned.
var (
	// ErrNoNode: the node id is not in the nodelist.
	ErrNoNode = errors.New("vqsim: no such node in the nodelist")
	// ErrNodeUp: the node is already up.
	ErrNodeUp = errors.New("vqsim: node is already up")
	// ErrNodeDown: the node is not up.
	ErrNodeDown = errors.New("vqsim: node is not up")
	// ErrNotSettled: the ring and the service sync did not settle in
	// Options.SettleTimeout.
	ErrNotSettled = errors.New("vqsim: partitions not stable within the timeout")
	// ErrRefused: the votequorum engine refused a client request.
	ErrRefused = errors.New("vqsim: request refused")
	// ErrPartition: a partition number is out of range.
	ErrPartition = errors.New("vqsim: bad partition")
)

// MaxPartitions bounds partition numbers (0..MaxPartitions-1), as
// corosync-vqsim's MAX_PARTITIONS does.
const MaxPartitions = 16

// Cluster is a simulated corosync cluster running votequorum: the nodes
// of a corosync.conf nodelist, each (when up) a real Totem core under a
// service host with the quorum and votequorum engines, over a simulated
// network split into numbered partitions. Time is simulated: it moves
// only in Sync, Wait and the operations that wait for a ring to settle.
// A Cluster is driven from one goroutine.
type Cluster struct {
	o     Options
	cfg   *config.Config
	c     *totemtest.Cluster
	ids   []uint32 // nodelist ids, ascending; totem id i+1 is ids[i]
	nodes []*node  // by totem id - 1
	// autoSync makes the membership operations wait for the cluster to
	// settle (corosync-vqsim's "sync on").
	autoSync bool
	// step is called after every step (the sweep's checker).
	step   func()
	nextID uint64 // connection ids
	tr     io.Writer
	// fault is the first harness failure (a panic of a node, a flood).
	fault error
}

// New builds a cluster from a parsed corosync.conf. No node is up.
func New(cfg *config.Config, o Options) (*Cluster, error) {
	o = o.withDefaults()
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("vqsim: the configuration has no nodelist")
	}
	if cfg.Quorum.Provider != votequorum.Name {
		return nil, fmt.Errorf("vqsim: quorum.provider is %q, want %s", cfg.Quorum.Provider, votequorum.Name)
	}
	ids := cfg.NodeIDs()
	slices.Sort(ids)
	if len(ids) > 64 {
		return nil, fmt.Errorf("vqsim: %d nodes; at most 64", len(ids))
	}
	cl := &Cluster{o: o, cfg: cfg, ids: ids, autoSync: true, tr: o.Trace}
	for i, id := range ids {
		s, _, err := votequorum.SettingsFrom(cfg, id)
		if err != nil {
			return nil, fmt.Errorf("vqsim: node %d: %w", id, err)
		}
		cl.nodes = append(cl.nodes, &node{cl: cl, id: id, tid: totem.NodeID(i + 1), settings: s, ev: &votequorum.MemStore{}})
	}
	c, err := totemtest.NewCluster(totemtest.Options{
		Nodes:     len(ids),
		Config:    o.Config,
		Rand:      rand.New(rand.NewPCG(o.Seed, 1)),
		Link:      o.Link,
		Observers: []totemtest.Observer{totemtest.ObserverFunc(cl.observe)},
	})
	if err != nil {
		return nil, fmt.Errorf("vqsim: %w", err)
	}
	cl.c = c
	return cl, nil
}

// Load reads a corosync.conf (see config.Read; host names in ringX_addr
// are not resolved: a name is as good as an address to the simulator)
// and builds its cluster.
//
// The simulator runs its own totem (Options.Config), so the totem
// section's transport does not matter: a configuration for knet (which
// config.Read refuses, the daemon not supporting it yet) is read as if
// its transport were udpu without crypto.
func Load(data []byte, filename string, o Options) (*Cluster, error) {
	opts := &config.Options{Resolver: fakeResolver{}}
	cfg, err := config.Read(context.Background(), data, filename, opts)
	if errors.Is(err, config.ErrKnetUnsupported) {
		patched := append(slices.Clone(data), []byte(knetOverride)...)
		cfg, err = config.Read(context.Background(), patched, filename, opts)
	}
	if err != nil {
		return nil, err
	}
	return New(cfg, o)
}

// knetOverride is appended to a knet configuration: a second totem
// section whose keys replace the first one's.
const knetOverride = "\ntotem {\n\ttransport: udpu\n\tcrypto_cipher: none\n\tcrypto_hash: none\n}\n"

// Config returns the configuration the cluster was built from.
func (cl *Cluster) Config() *config.Config { return cl.cfg }

// Totem returns the underlying totem cluster (for the sweep's faults).
func (cl *Cluster) Totem() *totemtest.Cluster { return cl.c }

// IDs returns the nodelist's node ids, ascending.
func (cl *Cluster) IDs() []uint32 { return slices.Clone(cl.ids) }

// Now returns the simulated time.
func (cl *Cluster) Now() time.Duration { return time.Duration(cl.c.Now()) * time.Millisecond }

// SetAutoSync sets whether the membership operations wait for the
// cluster to settle (corosync-vqsim's "sync on|off"; default on). With it
// off, time moves only with Wait and Sync.
func (cl *Cluster) SetAutoSync(on bool) { cl.autoSync = on }

// AutoSync reports whether the operations wait for the cluster to settle.
func (cl *Cluster) AutoSync() bool { return cl.autoSync }

func (cl *Cluster) node(id uint32) (*node, error) {
	i, ok := slices.BinarySearch(cl.ids, id)
	if !ok {
		return nil, fmt.Errorf("node %d: %w", id, ErrNoNode)
	}
	return cl.nodes[i], nil
}

func (cl *Cluster) byTotem(id totem.NodeID) *node {
	if id < 1 || int(id) > len(cl.nodes) {
		return nil
	}
	return cl.nodes[id-1]
}

// cid maps a totem node id to its nodelist id.
func (cl *Cluster) cid(id totem.NodeID) totem.NodeID {
	if id < 1 || int(id) > len(cl.ids) {
		return id
	}
	return totem.NodeID(cl.ids[id-1])
}

// Running reports whether node id is up (its process runs).
func (cl *Cluster) Running(id uint32) bool {
	n, err := cl.node(id)
	return err == nil && n.up()
}

// Partition returns the partition node id is in (or was last in).
func (cl *Cluster) Partition(id uint32) int {
	n, err := cl.node(id)
	if err != nil {
		return -1
	}
	return n.part
}

// Group is a partition and nodes to put in it.
type Group struct {
	Partition int
	Nodes     []uint32
}

// Up starts the nodes of each group in its partition, then settles (with
// auto sync). Nodes already up are an error; the others still start.
func (cl *Cluster) Up(groups ...Group) error {
	var errs []error
	for _, g := range groups {
		if g.Partition < 0 || g.Partition >= MaxPartitions {
			errs = append(errs, fmt.Errorf("partition %d: %w (0..%d)", g.Partition, ErrPartition, MaxPartitions-1))
			continue
		}
		for _, id := range g.Nodes {
			n, err := cl.node(id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if n.up() {
				errs = append(errs, fmt.Errorf("node %d (partition %d): %w", id, n.part, ErrNodeUp))
				continue
			}
			n.part = g.Partition
			cl.applyPartitions()
			cl.note("up %d in partition %d", id, n.part)
			if err := cl.c.Start(n.tid); err != nil {
				errs = append(errs, fmt.Errorf("node %d: %w", id, err))
			}
		}
	}
	return errors.Join(append(errs, cl.settle())...)
}

// Down kills the nodes: their processes vanish without a word (corosync-
// vqsim's "down", a crash).
func (cl *Cluster) Down(ids ...uint32) error {
	return cl.eachUp(ids, func(id uint32, n *node) error {
		cl.note("kill %d", id)
		if err := cl.c.Crash(n.tid); err != nil {
			return fmt.Errorf("node %d: %w", id, err)
		}
		return nil
	})
}

// eachUp runs f for each of the nodes ids, which must be up, then
// settles the cluster. It returns the errors of the nodes unknown or
// down, f's and the settling's.
func (cl *Cluster) eachUp(ids []uint32, f func(id uint32, n *node) error) error {
	var errs []error
	for _, id := range ids {
		n, err := cl.node(id)
		if err == nil && !n.up() {
			err = fmt.Errorf("node %d: %w", id, ErrNodeDown)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := f(id, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, cl.settle())...)
}

// Leave shuts the nodes down cleanly, one after the other: votequorum's
// exit (with allow_downscale, a NODEINFO with LEAVING, which the ring
// delivers before the node goes), then totem's leave.
func (cl *Cluster) Leave(ids ...uint32) error {
	return cl.eachUp(ids, func(id uint32, n *node) error {
		var errs []error
		cl.note("leave %d", id)
		if n.settings.AllowDownscale {
			for _, o := range cl.nodes {
				o.leaveSeen = slices.DeleteFunc(o.leaveSeen, func(x uint32) bool { return x == id })
			}
			n.vq.Leave()
			n.h.Poll()
			ring := slices.Clone(n.regMembers)
			ok := cl.runUntil(cl.c.Now()+5000, func() bool {
				// Every member of the ring delivered the LEAVING NODEINFO
				// (or is gone).
				for _, m := range ring {
					o, _ := cl.node(m)
					if o != nil && o.up() && !slices.Contains(o.leaveSeen, id) {
						return false
					}
				}
				return true
			})
			if !ok {
				errs = append(errs, fmt.Errorf("node %d: its LEAVING notice was not delivered within 5 s", id))
			}
		}
		if !n.up() {
			return errors.Join(errs...)
		}
		if err := cl.c.Leave(n.tid); err != nil {
			errs = append(errs, fmt.Errorf("node %d: %w", id, err))
		}
		return errors.Join(errs...)
	})
}

// Move puts nodes in other partitions (corosync-vqsim's "split" and
// "move"): the network then carries nothing between nodes of different
// partitions.
func (cl *Cluster) Move(groups ...Group) error {
	var errs []error
	for _, g := range groups {
		if g.Partition < 0 || g.Partition >= MaxPartitions {
			errs = append(errs, fmt.Errorf("partition %d: %w (0..%d)", g.Partition, ErrPartition, MaxPartitions-1))
			continue
		}
		for _, id := range g.Nodes {
			n, err := cl.node(id)
			if err == nil && !n.up() {
				err = fmt.Errorf("node %d: %w", id, ErrNodeDown)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n.part = g.Partition
		}
	}
	cl.applyPartitions()
	return errors.Join(append(errs, cl.settle())...)
}

// Join merges partitions into the first one given (corosync-vqsim's
// "join"): every node of the others, up or down, moves to it.
func (cl *Cluster) Join(parts ...int) error {
	if len(parts) < 2 {
		return errors.New("vqsim: join needs at least two partitions")
	}
	for _, p := range parts {
		if p < 0 || p >= MaxPartitions {
			return fmt.Errorf("partition %d: %w (0..%d)", p, ErrPartition, MaxPartitions-1)
		}
	}
	for _, n := range cl.nodes {
		if slices.Contains(parts[1:], n.part) {
			n.part = parts[0]
		}
	}
	cl.applyPartitions()
	return cl.settle()
}

// applyPartitions makes the network match the nodes' partitions.
func (cl *Cluster) applyPartitions() {
	byPart := map[int][]totem.NodeID{}
	var parts []int
	for _, n := range cl.nodes {
		if _, ok := byPart[n.part]; !ok {
			parts = append(parts, n.part)
		}
		byPart[n.part] = append(byPart[n.part], n.tid)
	}
	net := cl.c.Network()
	if len(parts) == 1 {
		if net.Partitioned() {
			cl.c.Heal()
		}
		return
	}
	slices.Sort(parts)
	var groups [][]totem.NodeID
	for _, p := range parts {
		groups = append(groups, byPart[p])
	}
	cl.c.Partition(groups)
}

// Wait lets d of simulated time pass.
func (cl *Cluster) Wait(d time.Duration) error {
	if d < 0 {
		return errors.New("vqsim: negative wait")
	}
	cl.runUntil(cl.c.Now()+int64(d/time.Millisecond), nil)
	return cl.fault
}

// Sync runs the cluster until it settles: every running node is
// OPERATIONAL in a ring of exactly the running nodes of its partition,
// every message a node sent came back to it and every member of a ring
// delivered the same messages in it, every node's service sync
// of that ring
// completed and its quorum service published that ring, and no quorum
// device owes a poll. It fails with ErrNotSettled after
// Options.SettleTimeout.
func (cl *Cluster) Sync() error {
	limit := cl.c.Now() + int64(cl.o.SettleTimeout/time.Millisecond)
	if !cl.runUntil(limit, cl.Settled) {
		if cl.fault != nil {
			return cl.fault
		}
		return fmt.Errorf("%w (%v)", ErrNotSettled, cl.o.SettleTimeout)
	}
	return cl.fault
}

func (cl *Cluster) settle() error {
	if cl.fault != nil {
		return cl.fault
	}
	if !cl.autoSync {
		return nil
	}
	return cl.Sync()
}

// Settled reports whether the cluster has settled (see Sync).
func (cl *Cluster) Settled() bool {
	if !cl.c.Converged() {
		return false
	}
	count := map[totem.RingID]int{}
	for _, n := range cl.nodes {
		if !n.up() {
			continue
		}
		if c, ok := count[n.reg]; ok && c != n.ringDelivered {
			return false
		}
		count[n.reg] = n.ringDelivered
	}
	for _, n := range cl.nodes {
		if !n.up() {
			continue
		}
		st, _ := cl.c.Status(n.tid)
		ring, _ := n.h.Ring()
		if n.h.Syncing() || !n.hasReg || ring != n.reg || cl.cidRing(st.RingID) != ring ||
			!n.synced || n.q.View().Ring != ring || n.sent != n.delivered {
			return false
		}
		if d := n.dev; d != nil && d.busy() {
			return false
		}
	}
	return true
}

// cidRing maps a totem ring id to nodelist ids.
func (cl *Cluster) cidRing(r totem.RingID) totem.RingID {
	r.Rep = cl.cid(r.Rep)
	return r
}

// runUntil steps the cluster until cond holds (checked before every
// step) or the time reaches until; it reports whether cond held (always
// true without cond). Stretches where nothing happens are skipped.
func (cl *Cluster) runUntil(until int64, cond func() bool) (ok bool) {
	defer func() {
		if x := recover(); x != nil {
			if f, isFlood := x.(*totemtest.FloodError); isFlood {
				cl.fault = fmt.Errorf("vqsim: %w", f)
			} else {
				cl.fault = fmt.Errorf("vqsim: panic at t=%dms: %v", cl.c.Now(), x)
			}
			ok = false
		}
	}()
	c := cl.c
	for {
		if cl.fault != nil {
			return false
		}
		if cond != nil && cond() {
			return true
		}
		now := c.Now()
		if now >= until {
			return cond == nil
		}
		next := min(cl.nextTimer(), until)
		if k := min(c.IdleTicks(), next-now-1); k > 0 {
			c.Run(k)
		} else {
			c.Step()
		}
		cl.afterStep()
	}
}

// nextTimer is the earliest tick at which an engine's timer or a device's
// poll is due.
func (cl *Cluster) nextTimer() int64 {
	next := int64(math.MaxInt64)
	for _, n := range cl.nodes {
		if !n.up() {
			continue
		}
		if at, ok := n.h.NextTimer(); ok {
			next = min(next, int64((at+time.Millisecond-1)/time.Millisecond))
		}
		if n.dev != nil {
			next = min(next, n.dev.nextAt())
		}
	}
	return next
}

// afterStep gives every running node the time, runs the devices' polls
// and polls the hosts, as the daemon's runner does after each batch.
func (cl *Cluster) afterStep() {
	now := cl.c.Now()
	for _, n := range cl.nodes {
		if !n.up() {
			continue
		}
		n.tick(now)
		if n.dev != nil {
			n.dev.step(now)
		}
		if n.up() {
			n.h.Poll()
		}
	}
	if cl.step != nil {
		cl.step()
	}
}

func (cl *Cluster) note(format string, args ...any) {
	if cl.tr != nil {
		fmt.Fprintf(cl.tr, "%6d %s\n", cl.c.Now(), fmt.Sprintf(format, args...))
	}
}
