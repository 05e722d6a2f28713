package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"

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
	// Faults breaks the core on purpose (totem.Config.Faults).
	Faults totem.Fault
	// MaxLoss is the worst random loss rate of the fault phase (default
	// 0.2; negative for no random loss at all).
	MaxLoss float64
	// QuietAfter is the fraction of Steps after which faults stop (default
	// 0.5); the quiet phase is at least long enough for the liveness bound
	// and the drain.
	QuietAfter float64
	// FaultInterval is the mean number of ticks between two faults
	// (default 400).
	FaultInterval int64
	// SendInterval is the mean number of ticks between two messages of one
	// node (default 20 for up to five nodes, 4 × nodes beyond: the offered
	// load of the whole cluster stays within what one ring carries, so
	// that every message can be delivered before the run ends).
	SendInterval int64
	// MaxMessage is the largest message (default 1 MiB).
	MaxMessage int
	// Trace, when set, receives every event as it happens.
	Trace io.Writer
	// TraceTail is the number of events kept for a violation report
	// (default 300; negative for none).
	TraceTail int
	// Config builds a node's configuration (default totemtest.SimConfig).
	Config func(id totem.NodeID, nodelist []totem.NodeID) totem.Config
	// NewMachine builds a node (default the real core).
	NewMachine totemtest.NewMachineFunc
	// NoLiveness skips invariant 7, for machines that never merge rings.
	NoLiveness bool
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
	if o.SendInterval == 0 {
		o.SendInterval = max(20, 4*int64(o.Nodes))
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = 1 << 20
	}
	if o.TraceTail == 0 {
		o.TraceTail = 300
	}
	if o.Config == nil {
		o.Config = totemtest.SimConfig
	}
	return o
}

// config returns node id's configuration with the options applied.
func (o Options) config(id totem.NodeID, nodelist []totem.NodeID) totem.Config {
	cfg := o.Config(id, nodelist)
	cfg.Faults |= o.Faults
	cfg.ReportReceipts = true
	return cfg
}

// plan is the timeline of a run.
type plan struct {
	quietAt  int64 // faults stop
	workEnd  int64 // the workload stops
	deadline int64 // the final ring must have formed
	settleAt int64 // damage done before quietAt has surfaced by now
}

// Plan validates the options and returns the run's timeline: when faults
// stop, when the final ring must have formed, when the workload stops.
func (o Options) Plan() (quietAt, liveBy, workEnd int64, err error) {
	o = o.withDefaults()
	p, err := o.plan()
	return p.quietAt, p.deadline, p.workEnd, err
}

func (o Options) plan() (plan, error) {
	if o.Nodes < 1 || o.Nodes > 64 {
		return plan{}, fmt.Errorf("sim: %d nodes; want 1..64", o.Nodes)
	}
	if o.MaxLoss > 1 || o.QuietAfter < 0 || o.QuietAfter > 1 {
		return plan{}, fmt.Errorf("sim: loss %v and quiet fraction %v must be in 0..1", o.MaxLoss, o.QuietAfter)
	}
	nodelist := make([]totem.NodeID, o.Nodes)
	for i := range nodelist {
		nodelist[i] = totem.NodeID(i + 1)
	}
	cfg := o.config(1, nodelist)
	if err := cfg.Validate(); err != nil {
		return plan{}, err
	}
	if o.MaxMessage < 1 || o.MaxMessage > cfg.MaxMessageSize {
		return plan{}, fmt.Errorf("sim: max message %d outside 1..%d", o.MaxMessage, cfg.MaxMessageSize)
	}
	bound, drain := LivenessBound(cfg, o.Nodes), drainTicks(cfg)
	// After the ring forms (by the bound at worst) the workload runs at
	// least a second, then drains.
	need := bound + 1000 + drain
	if o.Steps < need {
		return plan{}, fmt.Errorf("sim: %d steps is too short: the quiet phase alone needs %d (liveness bound %d, drain %d)", o.Steps, need, bound, drain)
	}
	quietAt := min(int64(float64(o.Steps)*o.QuietAfter), o.Steps-need)
	// A ring that looks whole when the faults stop may have lost its token
	// a moment before; every node notices within a token timeout, so the
	// final ring is looked for only after that (plus consensus, margin).
	t := cfg.EffectiveTimers()
	settle := int64((t.Token + t.Consensus) / cfg.TickInterval)
	return plan{quietAt: quietAt, workEnd: o.Steps - drain, deadline: quietAt + bound, settleAt: quietAt + settle}, nil
}

// Result is the outcome of one run.
type Result struct {
	Seed  uint64
	Steps int64
	// Violation is the first invariant broken, or nil.
	Violation *Violation
	// Trace is the last events before the violation (Options.TraceTail).
	Trace []string
	// Rings counts distinct regular configurations installed.
	Rings int
	// Delivered counts application deliveries (all nodes).
	Delivered int
	// Sent and Refused count application sends accepted and refused
	// (ErrTryAgain).
	Sent, Refused int
	// Faults counts the faults injected.
	Faults FaultCounts
	// Frames counts frames sent, Copies the copies the network carried,
	// Drops the copies lost.
	Frames, Copies, Drops int
	// QuietAt is when faults stopped, LiveAt when the final ring was seen
	// whole and stable (-1 if it was not), FormedAt when its last member
	// installed it (possibly before the faults stopped).
	QuietAt, LiveAt, FormedAt int64
}

// Summary is the result on one line.
func (r *Result) Summary() string {
	status := "ok"
	if r.Violation != nil {
		status = "VIOLATION " + string(r.Violation.Invariant)
	}
	live := "never"
	if r.LiveAt >= 0 {
		if d := r.FormedAt - r.QuietAt; d >= 0 {
			live = fmt.Sprintf("formed %dms after faults stopped", d)
		} else {
			live = fmt.Sprintf("formed %dms before faults stopped, survived them", -d)
		}
	}
	f := r.Faults
	return fmt.Sprintf("seed=%d %s rings=%d delivered=%d sent=%d refused=%d frames=%d drops=%d "+
		"faults[weather=%d partitions=%d crashes=%d pauses=%d leaves=%d lossy-links=%d restarts=%d] final ring %s",
		r.Seed, status, r.Rings, r.Delivered, r.Sent, r.Refused, r.Frames, r.Drops,
		f.Weather, f.Partitions, f.Crashes, f.Pauses, f.Leaves, f.LossyLinks, f.Restarts, live)
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

// counter counts frames for the result.
type counter struct{ frames, copies, drops int }

func (k *counter) Observe(r *totemtest.Record) {
	switch r.Kind {
	case totemtest.KindSend:
		k.frames++
	case totemtest.KindRecv:
		k.copies++
	case totemtest.KindDrop:
		k.drops++
	}
}

// sim is one run in progress.
type sim struct {
	o        Options
	p        plan
	c        *totemtest.Cluster
	ck       *Checker
	tr       *totemtest.Trace
	cnt      counter
	wl       *workload
	fl       *faults
	liveAt   int64
	formedAt int64
}

// Run simulates one seed. The error reports invalid options only; a broken
// invariant is Result.Violation.
func Run(seed uint64, o Options) (res Result, err error) {
	o = o.withDefaults()
	p, err := o.plan()
	if err != nil {
		return Result{}, err
	}
	s := &sim{o: o, p: p, ck: NewChecker(o.Nodes), tr: totemtest.NewTrace(o.TraceTail), liveAt: -1}
	s.tr.Live, s.tr.PayloadName = o.Trace, PayloadName
	res = Result{Seed: seed, Steps: o.Steps, QuietAt: p.quietAt, LiveAt: -1}
	defer func() {
		if x := recover(); x != nil {
			now := int64(0)
			if s.c != nil {
				now = s.c.Now()
			}
			if f, ok := x.(*totemtest.FloodError); ok {
				res.Violation = &Violation{Invariant: Flood, Time: f.Time, Detail: f.Error()}
			} else {
				res.Violation = &Violation{Invariant: NoPanic, Time: now, Detail: fmt.Sprintf("%v\n%s", x, debug.Stack())}
			}
		}
		s.fill(&res)
	}()
	c, err := totemtest.NewCluster(totemtest.Options{
		Nodes:      o.Nodes,
		Config:     o.config,
		NewMachine: o.NewMachine,
		Rand:       rand.New(rand.NewPCG(seed, 1)),
		Observers:  []totemtest.Observer{s.tr, s.ck, &s.cnt},
	})
	if err != nil {
		return Result{}, err
	}
	s.c = c
	cfg, _ := c.Config(1)
	token := int64(cfg.EffectiveTimers().Token / cfg.TickInterval)
	s.fl = newFaults(rand.New(rand.NewPCG(seed, 2)), c.IDs(), o.FaultInterval, max(o.MaxLoss, 0), token, p.quietAt)
	s.wl = newWorkload(rand.New(rand.NewPCG(seed, 3)), o.Nodes, o.SendInterval, o.MaxMessage, newCodec(o.MaxMessage, seed))
	if err := s.run(); err != nil {
		return Result{}, err
	}
	return res, nil
}

func (s *sim) fill(res *Result) {
	if res.Violation == nil {
		res.Violation = s.ck.Violation()
	}
	if res.Violation != nil {
		res.Trace = s.tr.Tail()
	}
	res.Rings, res.Delivered = s.ck.Rings(), s.ck.Delivered()
	if s.wl != nil {
		res.Sent, res.Refused = s.wl.sent, s.wl.refused
	}
	if s.fl != nil {
		res.Faults = s.fl.counts
	}
	res.Frames, res.Copies, res.Drops = s.cnt.frames, s.cnt.copies, s.cnt.drops
	res.LiveAt, res.FormedAt = s.liveAt, s.formedAt
}

// run is the main loop: one tick, then the faults and sends due, then the
// per-step checks. Stretches in which nothing can happen are skipped with
// Cluster.Run, which ticks the nodes only.
func (s *sim) run() error {
	c := s.c
	if err := c.StartAll(); err != nil {
		return err
	}
	for c.Now() < s.o.Steps && s.ck.Violation() == nil {
		next := min(s.fl.nextAt(), s.wl.nextAt(), s.o.Steps)
		if s.liveAt < 0 && !s.o.NoLiveness {
			next = min(next, s.p.deadline)
			if c.Now() < s.p.quietAt {
				next = min(next, s.p.quietAt)
			}
		}
		if k := min(c.IdleTicks(), next-c.Now()-1); k > 0 {
			c.Run(k)
			continue
		}
		c.Step()
		now := c.Now()
		if err := s.fl.step(c, now); err != nil {
			return err
		}
		s.wl.step(c, now, s.p.workEnd)
		if s.ck.Violation() == nil {
			s.checkLiveness(now)
		}
	}
	if s.ck.Violation() == nil {
		s.ck.Finish(c.Now())
	}
	return nil
}

// checkLiveness looks for the final ring once faults have stopped, and
// reports a violation when it has not formed by the deadline.
func (s *sim) checkLiveness(now int64) {
	if s.o.NoLiveness || s.liveAt >= 0 || now < s.p.settleAt {
		return
	}
	ids := s.c.IDs()
	if ring, ok := s.oneRing(ids); ok {
		// The ring formed when its last member installed it (perhaps
		// before the faults stopped); it counts as final from now on.
		formed := int64(0)
		for _, id := range ids {
			formed = max(formed, s.ck.RegularSince(id))
		}
		s.liveAt = now
		s.ck.SetLive(now, ring)
		s.c.Note(fmt.Sprintf("final ring %v formed %dms after faults stopped (checked at %dms)", ring, formed-s.p.quietAt, now-s.p.quietAt))
		s.formedAt = formed
		return
	}
	if now >= s.p.deadline {
		var st []string
		for _, id := range ids {
			if x, ok := s.c.Status(id); ok {
				st = append(st, fmt.Sprintf("n%d %v %v %v", id, x.State, x.RingID, totemtest.FormatIDs(x.Members)))
			} else {
				st = append(st, fmt.Sprintf("n%d %v", id, s.c.State(id)))
			}
		}
		s.ck.fail(Liveness, nil, "no single ring of all nodes %dms after faults stopped (bound %dms): %s",
			now-s.p.quietAt, s.p.deadline-s.p.quietAt, strings.Join(st, "; "))
	}
}

// oneRing reports whether every node is up, has installed the same regular
// configuration of all nodes, and is OPERATIONAL in it.
func (s *sim) oneRing(ids []totem.NodeID) (totem.RingID, bool) {
	var ring totem.RingID
	for i, id := range ids {
		r, members, ok := s.ck.Regular(id)
		if !ok || s.c.State(id) != totemtest.NodeUp || !slices.Equal(members, ids) || i > 0 && r != ring {
			return ring, false
		}
		ring = r
	}
	for _, id := range ids {
		st, _ := s.c.Status(id)
		if st.State != totem.StateOperational || st.RingID != ring {
			return ring, false
		}
	}
	return ring, true
}
