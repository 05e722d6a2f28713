package cpgsim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"

	totemsim "github.com/corogo/corogo/internal/sim"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// Options configure a simulation run. The zero value of every field means
// its default.
type Options struct {
	// Nodes is the cluster size (default 5, at most 64).
	Nodes int
	// Steps is the run's length in ticks of 1 ms (default 20000).
	Steps int64
	// MaxLoss is the worst random loss rate of the fault phase (default
	// 0.2; negative for no random loss at all).
	MaxLoss float64
	// QuietAfter is the fraction of Steps after which faults stop (default
	// 0.5); the quiet phase is at least long enough for the liveness bound,
	// a sync and the drain.
	QuietAfter float64
	// FaultInterval is the mean number of ticks between two faults
	// (default 400).
	FaultInterval int64
	// Clients is the number of client seats per node (default 3).
	Clients int
	// Groups is the number of group names the clients use (default 3, at
	// most MaxGroups).
	Groups int
	// ActionInterval is the mean number of ticks between two actions of
	// one client (default 10 × Nodes, at least 40).
	ActionInterval int64
	// MaxItem is the ring's largest item, totem's MaxMessageSize (default
	// 8 KiB): CPG messages whose MCAST exceeds it are sent as
	// PARTIAL_MCAST fragments.
	MaxItem int
	// MaxMessage is the CPG engine's largest payload (default 64 KiB);
	// larger ones are refused with ErrMsgTooBig.
	MaxMessage int
	// SendQueue is totem's SendQueueLimit (default 256 packets): small, so
	// that full queues, TRY_AGAIN and flow control happen.
	SendQueue int
	// Faults breaks the engine on node 1 on purpose (see Fault).
	Faults Fault
	// Tolerate lets known findings pass (counted in Result.Tolerated)
	// instead of reporting them as violations, so that a sweep can look
	// for other ones (see Finding).
	Tolerate Finding
	// Trace, when set, receives every event as it happens.
	Trace io.Writer
	// TraceTail is the number of events of each trace kept for a
	// violation report (default 400; negative for none).
	TraceTail int
}

func (o Options) withDefaults() Options {
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.Steps == 0 {
		o.Steps = 20000
	}
	if o.MaxLoss == 0 {
		o.MaxLoss = 0.2
	}
	if o.QuietAfter == 0 {
		o.QuietAfter = 0.5
	}
	if o.FaultInterval == 0 {
		o.FaultInterval = 400
	}
	if o.Clients == 0 {
		o.Clients = 3
	}
	if o.Groups == 0 {
		o.Groups = 3
	}
	if o.ActionInterval == 0 {
		o.ActionInterval = max(40, 10*int64(o.Nodes))
	}
	if o.MaxItem == 0 {
		o.MaxItem = 8 << 10
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = 64 << 10
	}
	if o.SendQueue == 0 {
		o.SendQueue = 256
	}
	if o.TraceTail == 0 {
		o.TraceTail = 400
	}
	return o
}

// config is a node's totem configuration: the simulation profile with
// the options' item size and send queue.
func (o Options) config(id totem.NodeID, nodelist []totem.NodeID) totem.Config {
	cfg := totemtest.SimConfig(id, nodelist)
	cfg.MaxMessageSize = o.MaxItem
	cfg.SendQueueLimit = o.SendQueue
	cfg.ReportReceipts = false
	return cfg
}

func (o Options) totemOptions() totemsim.Options {
	return totemsim.Options{Nodes: o.Nodes, Steps: o.Steps, MaxLoss: o.MaxLoss, QuietAfter: o.QuietAfter,
		FaultInterval: o.FaultInterval, MaxMessage: o.MaxItem, Config: o.config}
}

// plan is the timeline of a run.
type plan struct {
	quietAt  int64 // faults stop
	settleAt int64 // damage done before quietAt has surfaced by now
	deadline int64 // the final ring must have formed and synchronised
	workEnd  int64 // the clients stop
}

// Plan validates the options and returns the run's timeline: when faults
// stop, when the cluster must be live (one ring, synchronised), when the
// clients stop.
func (o Options) Plan() (quietAt, liveBy, workEnd int64, err error) {
	p, err := o.withDefaults().plan()
	return p.quietAt, p.deadline, p.workEnd, err
}

func (o Options) plan() (plan, error) {
	if o.Clients < 1 || o.Groups < 1 || o.Groups > MaxGroups {
		return plan{}, fmt.Errorf("cpgsim: %d clients and %d groups; want at least 1 and 1..%d", o.Clients, o.Groups, MaxGroups)
	}
	if o.MaxItem < 1024 || o.MaxMessage < 1 || o.ActionInterval < 1 || o.SendQueue < 1 {
		return plan{}, fmt.Errorf("cpgsim: item limit %d (at least 1024), max message %d, action interval %d and send queue %d must be positive",
			o.MaxItem, o.MaxMessage, o.ActionInterval, o.SendQueue)
	}
	quietAt, liveBy, workEnd, err := o.totemOptions().Plan()
	if err != nil {
		return plan{}, err
	}
	cfg := o.config(1, []totem.NodeID{1})
	t := cfg.EffectiveTimers()
	token := int64(t.Token / cfg.TickInterval)
	settle := int64((t.Token + t.Consensus) / cfg.TickInterval)
	// The sync of the final ring takes a few rotations: the service lists,
	// the DOWNLIST and JOINLISTs, the barriers. A token timeout is ample.
	deadline := liveBy + 2*token
	if workEnd-deadline < 500 {
		return plan{}, fmt.Errorf("cpgsim: %d steps is too short: the cluster may go live only at %d, the clients stop at %d", o.Steps, deadline, workEnd)
	}
	return plan{quietAt: quietAt, settleAt: quietAt + settle, deadline: deadline, workEnd: workEnd}, nil
}

// Result is the outcome of one run.
type Result struct {
	Seed  uint64
	Steps int64
	// Violation is the first invariant broken, or nil.
	Violation *Violation
	// Trace is the last events before the violation (Options.TraceTail).
	Trace []string
	// Faults counts the faults injected.
	Faults totemsim.FaultCounts
	// Syncs counts the syncs completed (all nodes).
	Syncs int
	// Procs counts the client processes that connected; Joins, Leaves
	// and Disconnects their accepted requests.
	Procs, Joins, Leaves, Disconnects int
	// Sent counts the messages accepted, Partials those sent as
	// PARTIAL_MCAST fragments, Refused the requests answered TRY_AGAIN,
	// TooBig the messages refused as too big, FlowHolds the times flow
	// control turned on.
	Sent, Partials, Refused, TooBig, FlowHolds int
	// Delivered counts EvDeliver events, ConfChgs EvConfChg events (all
	// processes), LateLeaves the confchgs reporting the leave of a process
	// already gone.
	Delivered, ConfChgs, LateLeaves int
	// Tolerated counts the occurrences of each tolerated finding.
	Tolerated map[Finding]int
	// QuietAt is when faults stopped, LiveAt when the cluster was seen
	// live (one ring of every node, synchronised; -1 if never).
	QuietAt, LiveAt int64
}

// Summary is the result on one line.
func (r *Result) Summary() string {
	status := "ok"
	if r.Violation != nil {
		status = "VIOLATION " + string(r.Violation.Invariant)
	}
	live := "never"
	if r.LiveAt >= 0 {
		live = fmt.Sprintf("%dms after faults stopped", r.LiveAt-r.QuietAt)
	}
	f := r.Faults
	return fmt.Sprintf("seed=%d %s syncs=%d procs=%d joins=%d leaves=%d disconnects=%d sent=%d partial=%d refused=%d toobig=%d "+
		"flow=%d delivered=%d confchgs=%d late-leaves=%d faults[weather=%d partitions=%d crashes=%d pauses=%d leaves=%d lossy-links=%d restarts=%d] live %s",
		r.Seed, status, r.Syncs, r.Procs, r.Joins, r.Leaves, r.Disconnects, r.Sent, r.Partials, r.Refused, r.TooBig,
		r.FlowHolds, r.Delivered, r.ConfChgs, r.LateLeaves,
		f.Weather, f.Partitions, f.Crashes, f.Pauses, f.Leaves, f.LossyLinks, f.Restarts, live) + r.toleratedString()
}

func (r *Result) toleratedString() string {
	var parts []string
	for _, f := range Findings() {
		if n := r.Tolerated[f.Finding]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", f.Name, n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " tolerated[" + strings.Join(parts, " ") + "]"
}

// Report is the result with the violation and its trace, for a human.
func (r *Result) Report() string {
	var sb strings.Builder
	sb.WriteString(r.Summary())
	sb.WriteByte('\n')
	if r.Violation != nil {
		fmt.Fprintf(&sb, "seed=%d %v\n", r.Seed, r.Violation)
		if len(r.Trace) > 0 {
			fmt.Fprintf(&sb, "last %d events:\n", len(r.Trace))
			for _, l := range r.Trace {
				sb.WriteString(l)
				sb.WriteByte('\n')
			}
		}
	}
	return sb.String()
}

// stats are the workload's counters.
type stats struct {
	procs, joins, leaves, disconnects int
	sent, partials, refused, tooBig   int
	flowHolds, syncs                  int
}

// sim is one run in progress.
type sim struct {
	o      Options
	p      plan
	c      *totemtest.Cluster
	nodes  []*node
	ck     *checker
	tr     *trace
	codec  *codec
	wl     *workload
	fi     *totemsim.FaultInjector
	stats  stats
	liveAt int64
}

// Run simulates one seed. The error reports invalid options only; a broken
// invariant is Result.Violation.
func Run(seed uint64, o Options) (res Result, err error) {
	o = o.withDefaults()
	p, err := o.plan()
	if err != nil {
		return Result{}, err
	}
	s := &sim{o: o, p: p, liveAt: -1, codec: newCodec(o.MaxMessage+1024, seed)}
	s.ck = newChecker(s, s.codec)
	tail := o.TraceTail
	if o.Trace != nil {
		tail = 0
	}
	s.tr = newTrace(tail, o.Trace)
	res = Result{Seed: seed, Steps: o.Steps, QuietAt: p.quietAt, LiveAt: -1}
	defer func() {
		if x := recover(); x != nil {
			now := int64(0)
			if s.c != nil {
				now = s.c.Now()
			}
			if f, ok := x.(*totemtest.FloodError); ok {
				s.ck.v = nil
				s.ck.now = f.Time
				s.ck.fail(Flood, "", "%v", f)
			} else {
				s.ck.v = nil
				s.ck.now = now
				s.ck.fail(NoPanic, "", "%v\n%s", x, debug.Stack())
			}
		}
		s.fill(&res)
	}()
	for i := 1; i <= o.Nodes; i++ {
		s.nodes = append(s.nodes, &node{s: s, id: uint32(i)})
	}
	c, err := totemtest.NewCluster(totemtest.Options{
		Nodes:     o.Nodes,
		Config:    o.config,
		Rand:      rand.New(rand.NewPCG(seed, 1)),
		Observers: []totemtest.Observer{s.tr, totemtest.ObserverFunc(s.observe)},
	})
	if err != nil {
		return Result{}, err
	}
	s.c = c
	cfg, _ := c.Config(1)
	token := int64(cfg.EffectiveTimers().Token / cfg.TickInterval)
	s.fi = totemsim.NewFaultInjector(rand.New(rand.NewPCG(seed, 2)), c.IDs(), o.FaultInterval, max(o.MaxLoss, 0), token, p.quietAt)
	s.wl = newWorkload(s, rand.New(rand.NewPCG(seed, 3)))
	if err := s.run(); err != nil {
		return Result{}, err
	}
	return res, nil
}

func (s *sim) fill(res *Result) {
	res.Violation = s.ck.v
	if res.Violation != nil {
		res.Trace = s.tr.tail()
	}
	if s.fi != nil {
		res.Faults = s.fi.Counts()
	}
	st := s.stats
	res.Syncs, res.Procs, res.Joins, res.Leaves, res.Disconnects = st.syncs, st.procs, st.joins, st.leaves, st.disconnects
	res.Sent, res.Partials, res.Refused, res.TooBig, res.FlowHolds = st.sent, st.partials, st.refused, st.tooBig, st.flowHolds
	res.Delivered, res.ConfChgs, res.LateLeaves = s.ck.delivered, s.ck.confchgs, s.ck.lateLeaves
	res.LiveAt = s.liveAt
	res.Tolerated = s.ck.tolerated
}

// run is the main loop: one tick (the nodes' totem events reach their
// hosts as they happen), then the faults and client actions due, then a
// Poll of every running host, then the per-step checks. Stretches in
// which nothing can happen are skipped with Cluster.Run.
func (s *sim) run() error {
	c := s.c
	if err := c.StartAll(); err != nil {
		return err
	}
	for c.Now() < s.o.Steps && s.ck.v == nil {
		next := min(s.fi.NextAt(), s.wl.nextAt(), s.o.Steps)
		if s.liveAt < 0 {
			next = min(next, s.p.deadline)
			if c.Now() < s.p.settleAt {
				next = min(next, s.p.settleAt)
			}
		}
		if k := min(c.IdleTicks(), next-c.Now()-1); k > 0 {
			c.Run(k)
			s.poll()
			continue
		}
		c.Step()
		now := c.Now()
		s.ck.now = now
		if err := s.fi.Step(c, now); err != nil {
			return err
		}
		s.ck.now = now
		s.wl.step(now, s.p.workEnd)
		s.poll()
		if s.ck.v == nil {
			s.checkLive(now)
		}
	}
	if s.ck.v == nil {
		s.ck.now = c.Now()
		s.ck.finish()
	}
	return nil
}

// poll gives every running host a chance to send, as the daemon does
// after each batch of events.
func (s *sim) poll() {
	for _, n := range s.nodes {
		if n.up() {
			n.h.Poll()
		}
	}
}

// liveProcs returns the live processes, by node then creation.
func (s *sim) liveProcs() []*proc {
	var out []*proc
	for _, n := range s.nodes {
		out = append(out, n.procs...)
	}
	return out
}

// checkLive looks for the live cluster once faults have stopped: every
// node up in one ring of all nodes, OPERATIONAL, and synchronised. It
// reports a violation when that has not happened by the deadline.
func (s *sim) checkLive(now int64) {
	if s.liveAt >= 0 || now < s.p.settleAt {
		return
	}
	if ring, ok := s.oneRing(); ok {
		s.liveAt, s.ck.liveAt = now, now
		s.tr.add(entry{time: now, kind: entNote, text: fmt.Sprintf("live: ring %v synchronised on every node, %dms after faults stopped", ring, now-s.p.quietAt)})
		return
	}
	if now >= s.p.deadline {
		var st []string
		for _, n := range s.nodes {
			x, ok := s.c.Status(totem.NodeID(n.id))
			if !ok || n.h == nil {
				st = append(st, fmt.Sprintf("n%d %v", n.id, s.c.State(totem.NodeID(n.id))))
				continue
			}
			st = append(st, fmt.Sprintf("n%d %v %v %v syncing=%v", n.id, x.State, x.RingID, totemtest.FormatIDs(x.Members), n.h.Syncing()))
		}
		s.ck.fail(Liveness, "", "the cluster is not live %dms after faults stopped (bound %dms): %s",
			now-s.p.quietAt, s.p.deadline-s.p.quietAt, strings.Join(st, "; "))
	}
}

func (s *sim) oneRing() (totem.RingID, bool) {
	ids := s.c.IDs()
	var ring totem.RingID
	for i, n := range s.nodes {
		if !n.up() || !n.hasReg || n.trans || !n.activated || n.h.Syncing() || !slices.Equal(n.regMembers, ids) ||
			i > 0 && n.reg != ring {
			return ring, false
		}
		ring = n.reg
		st, _ := s.c.Status(totem.NodeID(n.id))
		if st.State != totem.StateOperational || st.RingID != ring {
			return ring, false
		}
	}
	return ring, true
}
