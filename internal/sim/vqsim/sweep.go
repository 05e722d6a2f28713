package vqsim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/corogo/corogo/internal/service/quorum"
	"github.com/corogo/corogo/internal/service/votequorum"
	totemsim "github.com/corogo/corogo/internal/sim"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// RunOptions configure a seeded random run (Run).
type RunOptions struct {
	// Steps is the run's length in ms of simulated time (default 20000).
	Steps int64
	// QuietAfter is the fraction of Steps after which faults stop
	// (default 0.5); the rest must hold the liveness bound.
	QuietAfter float64
	// FaultInterval is the mean ms between faults (default 300).
	FaultInterval int64
	// MaxLoss is the worst random loss rate of the fault phase (default
	// 0.1; negative for none).
	MaxLoss float64
	// Profile, when set, replaces the profile drawn from the seed.
	Profile *Profile
	// Trace, when set, receives every event as it happens.
	Trace io.Writer
	// TraceTail is the number of events kept for a violation report
	// (default 300).
	TraceTail int
	// Tolerate lets known findings pass (counted in the Result)
	// instead of reporting them, so that a sweep can look for other
	// violations; it changes only the verdict, never the course of a run.
	Tolerate Finding

	// provider is Options.provider (tests only).
	provider func(*votequorum.Engine) quorum.Provider
}

func (o RunOptions) withDefaults() RunOptions {
	if o.Steps == 0 {
		o.Steps = 20000
	}
	if o.QuietAfter == 0 {
		o.QuietAfter = 0.5
	}
	if o.FaultInterval == 0 {
		o.FaultInterval = 300
	}
	if o.MaxLoss == 0 {
		o.MaxLoss = 0.1
	}
	if o.TraceTail == 0 {
		o.TraceTail = 300
	}
	return o
}

// Invariant names a property Run checks.
type Invariant string

// The invariants (see the package documentation).
const (
	// SplitBrain: two quorate rings with no member in common.
	SplitBrain Invariant = "split-brain"
	// Liveness: after the faults stopped, the cluster did not settle
	// with every node quorate.
	Liveness Invariant = "liveness"
	// GhostVoters: after the sync of its ring completed, a node's
	// votequorum counts as a member a node that is not in the ring.
	GhostVoters Invariant = "ghost-voters"
	// StaleView: a node's quorum service shows a view of its current
	// ring whose decision votequorum did not make in that ring (corosync
	// publishes only what votequorum's quorum_callback hands over, with
	// votequorum's own ring id and members).
	StaleView Invariant = "stale-view"
	// NoPanic: a node or the harness panicked (or the nodes flooded the
	// network).
	NoPanic Invariant = "panic"
)

// Finding is a set of known departures from the invariants, documented
// with their cause, that RunOptions.Tolerate can let pass.
type Finding uint32

// Findings.
const (
	// FindingGhostVoters: votequorum marks DEAD, at sync_init, only the
	// members of its previous sync's ring that are missing from the new
	// one. A node it learnt of through a NODEINFO delivered in a ring
	// whose sync was aborted before votequorum's round (a node that
	// joined and was lost again before a sync completed, or every node
	// when this one never completed a sync) was never in that list: it
	// stays a MEMBER, and its votes count, in every later ring until it
	// is seen again. corosync 3.1's votequorum_sync_init does exactly
	// this (quorum_members is only set there), and the engine is a
	// faithful port; the result can be two quorate partitions: invariant
	// GhostVoters, and SplitBrain when a quorate ring counts ghosts.
	FindingGhostVoters Finding = 1 << iota
	// FindingTieBreaker: auto_tie_breaker decides from node-local state,
	// so two halves can both hold the tie breaker. With lowest (highest),
	// the node id is refreshed at every recalculation that reaches
	// quorum, including in the middle of a sync when only some members'
	// NODEINFOs have arrived: after that sync aborts, a node can hold its
	// own id while the other half holds the true lowest. With a list,
	// the check looks at the node's previous ring, which for a node that
	// just started is its own one-node ring: two nodes starting apart are
	// both quorate (without wait_for_all), and a restarted node whose
	// wait_for_all was cleared by a NODEINFO still flagged QUORATE from
	// the previous ring wins the tie against the half holding the listed
	// node. corosync 3.1's are_we_quorate and check_auto_tie_breaker do
	// the same. Tolerated: a split brain where one side is quorate only
	// through the tie breaker (its votes are below quorum).
	FindingTieBreaker
	// FindingEarlyView: the quorum service holds a decision votequorum
	// publishes while the quorum service's own part of a sync runs
	// (corosync holds quorum notifications during sync), and publishes
	// it at its sync activation as the view of the new ring, with the
	// new ring's id and members; a decision that arrives after that
	// activation but before votequorum's round of the same sync is
	// published as the new ring's view too. Such a decision was made
	// before votequorum's sync_init of the new ring: in the old ring, or
	// an aborted one, counting a NODEINFO delivered in the new ring
	// (a starting node's first one, sent from votequorum's init) while
	// the members that left were not yet marked DEAD. corosync's
	// quorum_callback hands over votequorum's own ring id and members
	// with every decision, so corosync publishes the same decision as a
	// view of the old ring and the new ring only at
	// votequorum_sync_activate. The quorate value clients see is the
	// same; the ring it is labelled with is not. Tolerated: a view of
	// the current ring carrying a decision votequorum made after the
	// latest completed sync but before its sync_init of this ring
	// (invariant StaleView otherwise).
	FindingEarlyView

	// AllFindings tolerates every finding.
	AllFindings = FindingGhostVoters | FindingTieBreaker | FindingEarlyView
)

// String names the findings, separated by commas.
func (f Finding) String() string {
	var names []string
	if f&FindingGhostVoters != 0 {
		names = append(names, "ghost-voters")
	}
	if f&FindingTieBreaker != 0 {
		names = append(names, "tie-breaker")
	}
	if f&FindingEarlyView != 0 {
		names = append(names, "early-view")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Violation is a broken invariant.
type Violation struct {
	Invariant Invariant
	// Time is the ms at which it was found.
	Time   int64
	Detail string
}

// Error formats the violation on one line.
func (v *Violation) Error() string {
	return fmt.Sprintf("violation of %s at t=%dms: %s", v.Invariant, v.Time, v.Detail)
}

// Result is the outcome of one run.
type Result struct {
	Seed    uint64
	Profile Profile
	// Violation is the first invariant broken, or nil.
	Violation *Violation
	// Trace is the last events before the violation.
	Trace []string
	// Faults counts the faults injected.
	Faults totemsim.FaultCounts
	// Splits counts the steps at which two or more rings with a quorate
	// member coexisted (legitimately: their memberships overlapped);
	// Inquorate counts the steps at which some running node was in a
	// ring it was not quorate in. Both show that a run exercised quorum.
	Splits, Inquorate int
	// QuietAt is when faults stopped; SettledAt when the cluster was
	// seen settled with every node quorate (-1: never).
	QuietAt, SettledAt int64
	// Ghosts counts the steps at which some node counted ghost voters
	// (FindingGhostVoters, when tolerated); GhostSplits those at which
	// that made two disjoint rings quorate; TieSplits those at which the
	// tie breaker did (FindingTieBreaker, when tolerated); EarlyViews
	// those at which some node showed an early view of its ring
	// (FindingEarlyView, when tolerated).
	Ghosts, GhostSplits, TieSplits, EarlyViews int
}

// Summary is the result on one line.
func (r *Result) Summary() string {
	status := "ok"
	if r.Violation != nil {
		status = "VIOLATION " + string(r.Violation.Invariant)
	}
	live := "never"
	if r.SettledAt >= 0 {
		live = fmt.Sprintf("%dms after faults stopped", r.SettledAt-r.QuietAt)
	}
	f := r.Faults
	ghosts := ""
	if r.Ghosts > 0 || r.TieSplits > 0 || r.EarlyViews > 0 {
		ghosts = fmt.Sprintf(" tolerated[ghost-voters=%d ghost-splits=%d tie-splits=%d early-views=%d]", r.Ghosts, r.GhostSplits, r.TieSplits, r.EarlyViews)
	}
	return fmt.Sprintf("seed=%d %s profile[%s] splits=%d inquorate=%d faults[weather=%d partitions=%d crashes=%d pauses=%d leaves=%d lossy-links=%d restarts=%d] settled %s",
		r.Seed, status, r.Profile, r.Splits, r.Inquorate, f.Weather, f.Partitions, f.Crashes, f.Pauses, f.Leaves, f.LossyLinks, f.Restarts, live) + ghosts
}

// Report is the result with the violation, its trace and the profile's
// configuration, for a human.
func (r *Result) Report() string {
	var sb strings.Builder
	sb.WriteString(r.Summary())
	sb.WriteByte('\n')
	if r.Violation != nil {
		fmt.Fprintf(&sb, "seed=%d %v\n", r.Seed, r.Violation)
		fmt.Fprintf(&sb, "replay: go run ./cmd/vqsim -sweep -seed %d -trace\n", r.Seed)
		fmt.Fprintf(&sb, "configuration:\n%s", r.Profile.Conf())
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

// Profile is a votequorum configuration the sweep runs: the nodes
// 1..Nodes with their votes (nil: 1 each) and the quorum section's lines.
type Profile struct {
	Nodes  int
	Votes  []uint32
	Quorum []string
}

// String is the profile on one line.
func (p Profile) String() string {
	s := fmt.Sprintf("nodes=%d", p.Nodes)
	if p.Votes != nil {
		s += " votes=" + fmtIDs(p.Votes)
	}
	for _, q := range p.Quorum {
		s += " " + strings.ReplaceAll(q, ": ", "=")
	}
	return s
}

// Conf is the profile's corosync.conf.
func (p Profile) Conf() []byte {
	var ids []uint32
	for i := 1; i <= p.Nodes; i++ {
		ids = append(ids, uint32(i))
	}
	return Conf(ids, p.Votes, strings.Join(p.Quorum, "\n"))
}

// RandomProfile draws a profile among those whose safety corosync
// guarantees whatever the partitions, crashes, restarts and clean leaves
// (see the package documentation): plain majority of 2 to 7 nodes,
// weighted quorum_votes, wait_for_all, expected_votes_tracking,
// quorum.expected_votes at or above the votes' sum, and auto_tie_breaker
// (lowest, highest or a list) when the votes' sum is even (with an odd
// sum corosync itself can split: testdata/atb_odd.txt). Never two_node,
// last_man_standing, allow_downscale or a quorum device.
func RandomProfile(rng *rand.Rand) Profile {
	p := Profile{Nodes: 2 + rng.IntN(6)}
	sum := uint32(p.Nodes)
	if rng.IntN(10) < 3 {
		sum = 0
		for range p.Nodes {
			v := uint32(1 + rng.IntN(3))
			p.Votes = append(p.Votes, v)
			sum += v
		}
	}
	if rng.IntN(10) < 3 {
		p.Quorum = append(p.Quorum, "wait_for_all: 1")
	}
	if rng.IntN(10) < 2 {
		p.Quorum = append(p.Quorum, "expected_votes_tracking: 1")
	}
	explicit := rng.IntN(10) < 2 && sum >= 3
	atb := rng.IntN(10) < 4 && sum%2 == 0 && !explicit
	extra := uint32(rng.IntN(2))
	if explicit {
		p.Quorum = append(p.Quorum, fmt.Sprintf("expected_votes: %d", sum+extra))
	}
	mode := rng.IntN(3)
	perm := rng.Perm(p.Nodes)
	if atb {
		p.Quorum = append(p.Quorum, "auto_tie_breaker: 1")
		switch mode {
		case 1:
			p.Quorum = append(p.Quorum, "auto_tie_breaker_node: highest")
		case 2:
			var list []string
			for _, i := range perm[:1+len(perm)/2] {
				list = append(list, fmt.Sprint(i+1))
			}
			p.Quorum = append(p.Quorum, "auto_tie_breaker_node: "+strings.Join(list, " "))
		}
	}
	return p
}

// sweep is one run in progress.
type sweep struct {
	o       RunOptions
	cl      *Cluster
	res     *Result
	tail    *tail
	quietAt int64
	v       *Violation
}

// Run simulates one seed: a profile drawn from the seed (or
// o.Profile), every node started, then internal/sim's fault schedule
// (network weather, partitions, crashes and restarts, pauses, clean
// leaves, lossy links) until QuietAfter, then a heal of everything. The
// safety invariant is checked after every step, liveness at the end. The
// error reports invalid options only.
func Run(seed uint64, o RunOptions) (Result, error) {
	o = o.withDefaults()
	rng := rand.New(rand.NewPCG(seed, 4))
	p := RandomProfile(rng)
	if o.Profile != nil {
		p = *o.Profile
	}
	res := Result{Seed: seed, Profile: p, SettledAt: -1}
	t := newTail(o.TraceTail, o.Trace)
	cl, err := Load(p.Conf(), "corosync.conf", Options{
		Seed:     seed,
		Trace:    t,
		provider: o.provider,
		// The random faults need random links.
		Link: totemtest.LinkParams{MinDelay: 1, MaxDelay: 3},
	})
	if err != nil {
		return res, err
	}
	cfg, _ := cl.c.Config(1)
	token := int64(cfg.EffectiveTimers().Token / cfg.TickInterval)
	quietAt := int64(float64(o.Steps) * o.QuietAfter)
	liveBy := quietAt + totemsim.LivenessBound(cfg, p.Nodes) + 4*token
	if liveBy+1000 > o.Steps {
		return res, fmt.Errorf("vqsim: %d steps is too short: the cluster may settle only at %dms", o.Steps, liveBy)
	}
	res.QuietAt = quietAt
	s := &sweep{o: o, cl: cl, res: &res, tail: t, quietAt: quietAt}
	cl.SetAutoSync(false)
	cl.step = s.check
	fi := totemsim.NewFaultInjector(rand.New(rand.NewPCG(seed, 2)), cl.c.IDs(), o.FaultInterval, max(o.MaxLoss, 0), token, quietAt)
	if err := cl.Up(Group{Nodes: cl.IDs()}); err != nil && cl.fault == nil {
		return res, err
	}
	for cl.c.Now() < o.Steps && s.v == nil && cl.fault == nil {
		next := min(fi.NextAt(), o.Steps)
		if res.SettledAt < 0 && cl.c.Now() >= quietAt {
			next = min(next, liveBy)
		}
		if cl.c.Now() < next {
			cl.runUntil(next, nil)
			continue
		}
		if err := fi.Step(cl.c, cl.c.Now()); err != nil {
			return res, err
		}
		if res.SettledAt < 0 && cl.c.Now() >= liveBy {
			s.fail(Liveness, "the cluster did not settle with every node quorate by %dms after the faults stopped: %s",
				liveBy-quietAt, s.state())
		}
		cl.runUntil(cl.c.Now()+1, nil)
	}
	if cl.fault != nil && s.v == nil {
		s.fail(NoPanic, "%v", cl.fault)
	}
	if s.v == nil && res.SettledAt < 0 {
		s.fail(Liveness, "the cluster never settled with every node quorate after the faults stopped: %s", s.state())
	}
	res.Faults = fi.Counts()
	res.Violation = s.v
	if s.v != nil {
		res.Trace = t.lines()
	}
	return res, nil
}

func (s *sweep) fail(inv Invariant, format string, args ...any) {
	if s.v != nil {
		return
	}
	s.v = &Violation{Invariant: inv, Time: s.cl.c.Now(), Detail: fmt.Sprintf(format, args...)}
	s.cl.note("VIOLATION %v", s.v)
}

// quorateRing is a ring some node is quorate in: its members and the
// nodes quorate in it.
type quorateRing struct {
	ring    totem.RingID
	members []uint32
	nodes   []uint32
}

// check runs after every step: the safety invariants (no ghost voters
// once a sync completed, no view of a ring without votequorum's decision
// in it, no two quorate rings without a common member) and, once the
// faults stopped, whether the cluster settled with every node quorate.
func (s *sweep) check() {
	if s.v != nil {
		return
	}
	cl := s.cl
	var rings []*quorateRing
	inquorate, ghosts, earlyViews := false, false, false
	for _, n := range cl.nodes {
		if !n.alive() || !n.hasReg {
			continue
		}
		if g := n.ghosts(); len(g) > 0 {
			ghosts = true
			if s.o.Tolerate&FindingGhostVoters == 0 {
				s.fail(GhostVoters, "node %d, whose sync of ring %s (members %s) completed, counts nodes %s as members: %s",
					n.id, fmtRing(n.reg), fmtIDs(n.regMembers), fmtIDs(g), s.state())
				return
			}
		}
		v := n.q.View()
		if v.Ring != n.reg {
			continue // the view of an older ring: not a decision for this one
		}
		if n.decided != n.reg {
			// votequorum has not decided in this ring yet. A decision it
			// made after the latest completed sync, before its sync_init
			// of this ring, is FindingEarlyView; none at all is the stale
			// view the quorum service used to make up itself.
			if early := n.decisions > n.decisionsAtSync; early && s.o.Tolerate&FindingEarlyView != 0 {
				earlyViews = true
			} else {
				what := "the previous ring's decision"
				if early {
					what = "an early decision"
				}
				s.fail(StaleView, "node %d shows ring %s as quorate=%d, %s: votequorum's latest decision was made in ring %s: %s",
					n.id, fmtRing(n.reg), b2i(v.Quorate), what, fmtRing(n.decided), s.state())
				return
			}
		}
		if !v.Quorate {
			inquorate = true
			continue
		}
		i := slices.IndexFunc(rings, func(r *quorateRing) bool { return r.ring == n.reg })
		if i < 0 {
			rings = append(rings, &quorateRing{ring: n.reg, members: slices.Clone(n.regMembers)})
			i = len(rings) - 1
		}
		rings[i].nodes = append(rings[i].nodes, n.id)
	}
	if inquorate {
		s.res.Inquorate++
	}
	if ghosts {
		s.res.Ghosts++
	}
	if earlyViews {
		s.res.EarlyViews++
	}
	if len(rings) > 1 {
		s.res.Splits++
	}
	for i, a := range rings {
		for _, b := range rings[i+1:] {
			if !intersect(a.members, b.members) {
				if s.o.Tolerate&FindingGhostVoters != 0 && (s.countsGhosts(a) || s.countsGhosts(b)) {
					s.res.GhostSplits++
					continue
				}
				if s.o.Tolerate&FindingTieBreaker != 0 && (s.byTieBreaker(a) || s.byTieBreaker(b)) {
					s.res.TieSplits++
					continue
				}
				s.fail(SplitBrain, "ring %s (members %s) is quorate on %s and ring %s (members %s) on %s: %s",
					fmtRing(a.ring), fmtIDs(a.members), fmtIDs(a.nodes), fmtRing(b.ring), fmtIDs(b.members), fmtIDs(b.nodes), s.state())
				return
			}
		}
	}
	if s.res.SettledAt < 0 && cl.c.Now() >= s.quietAt && s.live() {
		s.res.SettledAt = cl.c.Now()
		cl.note("settled with every node quorate, %dms after the faults stopped", cl.c.Now()-s.quietAt)
	}
}

// countsGhosts reports whether a node quorate in the ring counts ghost
// voters.
func (s *sweep) countsGhosts(r *quorateRing) bool {
	for _, id := range r.nodes {
		if n, _ := s.cl.node(id); n != nil && len(n.ghosts()) > 0 {
			return true
		}
	}
	return false
}

// byTieBreaker reports whether a node quorate in the ring is so only
// through auto_tie_breaker: its votes are below quorum.
func (s *sweep) byTieBreaker(r *quorateRing) bool {
	for _, id := range r.nodes {
		n, _ := s.cl.node(id)
		if n == nil || n.vq == nil || n.settings.ATB == 0 {
			continue
		}
		if in, _ := n.vq.Info(0); in.TotalVotes < in.Quorum {
			return true
		}
	}
	return false
}

// live reports whether every node is up and the cluster settled with
// every node quorate, or held back legitimately: wait_for_all, or
// expected votes above the votes present.
func (s *sweep) live() bool {
	cl := s.cl
	for _, n := range cl.nodes {
		if !n.up() {
			return false
		}
	}
	if !cl.Settled() {
		return false
	}
	for _, st := range cl.Status() {
		if !st.Quorate && st.Info.ExpectedVotes <= st.Info.TotalVotes {
			return false
		}
	}
	return true
}

// state describes every node for a report.
func (s *sweep) state() string {
	cl := s.cl
	var parts []string
	for _, n := range cl.nodes {
		if !n.alive() {
			parts = append(parts, fmt.Sprintf("n%d %v", n.id, cl.c.State(n.tid)))
			continue
		}
		v := n.q.View()
		in, _ := n.vq.Info(0)
		atb := ""
		if n.settings.ATB != 0 {
			var lo, hi any
			for _, k := range n.vq.Runtime() {
				switch k.Key {
				case "runtime.votequorum.lowest_node_id":
					lo = k.Value
				case "runtime.votequorum.highest_node_id":
					hi = k.Value
				}
			}
			atb = fmt.Sprintf(" lowest=%v highest=%v", lo, hi)
		}
		parts = append(parts, fmt.Sprintf("n%d %v ring=%s view[q=%d ring=%s %s] votes=%d exp=%d total=%d quorum=%d flags=%s%s syncing=%v",
			n.id, cl.c.State(n.tid), fmtRing(n.reg), b2i(v.Quorate), fmtRing(v.Ring), fmtIDs(v.Members),
			in.Votes, in.ExpectedVotes, in.TotalVotes, in.Quorum, FlagNames(in.Flags), atb, n.h.Syncing()))
	}
	return strings.Join(parts, "; ")
}

func intersect(a, b []uint32) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// tail keeps the last lines written to it and forwards them all to w.
type tail struct {
	max  int
	buf  []string
	next int
	full bool
	w    io.Writer
}

func newTail(max int, w io.Writer) *tail { return &tail{max: max, w: w} }

func (t *tail) Write(p []byte) (int, error) {
	if t.w != nil {
		if _, err := t.w.Write(p); err != nil {
			return 0, err
		}
	}
	if t.max <= 0 {
		return len(p), nil
	}
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if len(t.buf) < t.max {
			t.buf = append(t.buf, l)
			continue
		}
		t.buf[t.next] = l
		t.next = (t.next + 1) % t.max
		t.full = true
	}
	return len(p), nil
}

func (t *tail) lines() []string {
	if !t.full {
		return slices.Clone(t.buf)
	}
	return append(slices.Clone(t.buf[t.next:]), t.buf[:t.next]...)
}
