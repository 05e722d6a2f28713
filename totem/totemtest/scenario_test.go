package totemtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/corogo/corogo/totem"
)

// TestScenarios runs the scenario files in testdata (regenerate their
// expected output with `go test ./totem/totemtest -rewrite`). Each file
// starts with a comment saying what it demonstrates. The commands:
//
//	cluster nodes=N [delay=D]   new cluster of nodes 1..N (not started), fixed
//	                            hop delay of D ms (default 1); alias add-nodes n=N
//	start [IDS]                 start idle nodes (default: all idle), in one tick
//	tick ms=N                   advance virtual time
//	stabilize [max=MS]          run until every running node is OPERATIONAL in
//	                            the ring of exactly the nodes it can reach, with
//	                            nothing pending; prints the time it took
//	status                      per node: state, ring id, members
//	persisted                   per node: the persisted ring seq
//	broadcast from=ID [size=B] [count=N] [safe]
//	deliveries                  per node: messages delivered since last asked
//	                            (name, * for safe)
//	confchanges                 per node: configurations since last asked
//	events                      per node: both, in order, since last asked
//	log [node=ID] [match=(A,B)] trace lines since last asked, only those of
//	                            the node and containing one of the strings
//	stats [IDS]                 per node: selected protocol counters
//	partition 1,2|3,4,5 / heal
//	crash ID / restart ID [seq=N|noseq] / leave ID / pause ID / resume ID
//	drop [from=ID] [to=ID] [type=T] [recovery] [count=N]
//	                            drop the next N datagrams that match (T is
//	                            token, mcast, join, commit, merge, holdcancel;
//	                            recovery: only recovery wrappers)
//
// IDS is a comma-separated list such as 1,2,3.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &scenario{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := s.run(d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

// scenario is the state of one scenario file.
type scenario struct {
	c    *Cluster
	log  *scenarioLog
	sent map[totem.NodeID]int
}

// scenarioLog collects what the commands print since they were last asked.
type scenarioLog struct {
	tr          *Trace
	lines       []string
	deliveries  map[totem.NodeID][]string
	confchanges map[totem.NodeID][]string
	events      map[totem.NodeID][]string // both, in order
	// lastEvent is the time of the last delivery or configuration change.
	lastEvent int64
}

func (l *scenarioLog) Observe(r *Record) {
	switch r.Kind {
	case KindDeliver, KindConfChange:
		l.lastEvent = r.Time
	}
	switch r.Kind {
	case KindDeliver:
		name := payloadName(r.Event.Data)
		if r.Event.Guarantee == totem.Safe {
			name += "*"
		}
		l.deliveries[r.Node] = append(l.deliveries[r.Node], name)
		l.events[r.Node] = append(l.events[r.Node], "deliver "+name)
	case KindConfChange:
		l.confchanges[r.Node] = append(l.confchanges[r.Node], FormatConf(r.Event.Conf))
		l.events[r.Node] = append(l.events[r.Node], FormatConf(r.Event.Conf))
	case KindReceipt:
		return
	}
	var e traceEntry
	l.tr.fill(&e, r)
	l.lines = append(l.lines, l.tr.format(&e))
}

// payloadName is the message's name: the bytes up to the first '.'.
func payloadName(b []byte) string {
	if i := slices.Index(b, '.'); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (s *scenario) run(d *datadriven.TestData) (string, error) {
	if s.c == nil && d.Cmd != "cluster" && d.Cmd != "add-nodes" {
		return "", fmt.Errorf("no cluster: start with `cluster nodes=N`")
	}
	switch d.Cmd {
	case "cluster", "add-nodes":
		return s.cluster(d)
	case "start":
		return s.startNodes(d)
	case "tick":
		ms, err := intArg(d, "ms", -1)
		if err != nil || ms < 0 {
			return "", fmt.Errorf("tick needs ms=N")
		}
		s.c.Run(int64(ms))
		return fmt.Sprintf("t=%dms\n", s.c.Now()), nil
	case "stabilize":
		return s.stabilize(d)
	case "status":
		return s.status(), nil
	case "persisted":
		var sb strings.Builder
		for _, id := range s.c.IDs() {
			ps := s.c.Persisted(id)
			if ps.Valid {
				fmt.Fprintf(&sb, "n%d: %x\n", id, ps.RingSeq)
			} else {
				fmt.Fprintf(&sb, "n%d: none\n", id)
			}
		}
		return sb.String(), nil
	case "broadcast":
		return s.broadcast(d)
	case "deliveries":
		clear(s.log.events)
		return s.perNode(s.log.deliveries, " "), nil
	case "confchanges":
		clear(s.log.events)
		return s.perNode(s.log.confchanges, "\n    "), nil
	case "events":
		clear(s.log.deliveries)
		clear(s.log.confchanges)
		return s.perNode(s.log.events, "\n    "), nil
	case "log":
		return s.logLines(d), nil
	case "stats":
		return s.stats(d)
	case "partition":
		groups, err := parseGroups(d)
		if err != nil {
			return "", err
		}
		s.c.Partition(groups)
		return "ok\n", nil
	case "heal":
		s.c.Heal()
		return "ok\n", nil
	case "crash", "restart", "leave", "pause", "resume":
		return s.lifecycle(d)
	case "drop":
		return s.drop(d)
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func (s *scenario) cluster(d *datadriven.TestData) (string, error) {
	n, err := intArg(d, "nodes", 0)
	if err == nil && n == 0 {
		n, err = intArg(d, "n", 0)
	}
	if err != nil || n < 1 {
		return "", fmt.Errorf("%s needs nodes=N", d.Cmd)
	}
	delay, err := intArg(d, "delay", 1)
	if err != nil {
		return "", err
	}
	s.log = &scenarioLog{tr: NewTrace(0), deliveries: map[totem.NodeID][]string{}, confchanges: map[totem.NodeID][]string{},
		events: map[totem.NodeID][]string{}}
	s.sent = map[totem.NodeID]int{}
	c, err := NewCluster(Options{Nodes: n, Link: LinkParams{MinDelay: int64(delay), MaxDelay: int64(delay)},
		Observers: []Observer{s.log}})
	if err != nil {
		return "", err
	}
	s.c = c
	cfg, _ := c.Config(1)
	t := cfg.EffectiveTimers()
	return fmt.Sprintf("%d nodes, hop delay %dms; token %v, token_retransmit %v, hold %v, consensus %v, join %v, merge %v\n",
		n, delay, t.Token, t.TokenRetransmit, t.Hold, t.Consensus, t.Join, t.Merge), nil
}

func (s *scenario) startNodes(d *datadriven.TestData) (string, error) {
	ids, err := idsArg(d)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		for _, id := range s.c.IDs() {
			if s.c.State(id) == NodeIdle {
				ids = append(ids, id)
			}
		}
	}
	var sb strings.Builder
	for _, id := range ids {
		if err := s.c.Start(id); err != nil {
			return "", err
		}
		st, _ := s.c.Status(id)
		fmt.Fprintf(&sb, "n%d: %v ring=%v\n", id, st.State, st.RingID)
	}
	return sb.String(), nil
}

func (s *scenario) stabilize(d *datadriven.TestData) (string, error) {
	limit, err := intArg(d, "max", 10000)
	if err != nil {
		return "", err
	}
	// Stable: converged, with no delivery or configuration change for
	// settleMS. The time reported is when the last of them happened (or
	// when the cluster converged, if later).
	const settleMS = 250
	start := s.c.Now()
	var convergedAt int64 = -1
	_, ok := s.c.RunUntil(int64(limit), func() bool {
		if !s.c.Converged() {
			convergedAt = -1
			return false
		}
		if convergedAt < 0 {
			convergedAt = s.c.Now()
		}
		return s.c.Now()-max(convergedAt, s.log.lastEvent) >= settleMS
	})
	if !ok {
		return fmt.Sprintf("NOT stable after %dms\n%s", s.c.Now()-start, s.status()), nil
	}
	return fmt.Sprintf("stable after %dms\n", max(convergedAt, s.log.lastEvent, start)-start), nil
}

func (s *scenario) status() string {
	var sb strings.Builder
	for _, id := range s.c.IDs() {
		st, ok := s.c.Status(id)
		if !ok {
			fmt.Fprintf(&sb, "n%d: %v\n", id, s.c.State(id))
			continue
		}
		paused := ""
		if s.c.State(id) == NodePaused {
			paused = " (paused)"
		}
		fmt.Fprintf(&sb, "n%d: %v ring=%v members=%s%s\n", id, st.State, st.RingID, FormatIDs(st.Members), paused)
	}
	return sb.String()
}

func (s *scenario) broadcast(d *datadriven.TestData) (string, error) {
	from, err := intArg(d, "from", 0)
	if err != nil || from < 1 {
		return "", fmt.Errorf("broadcast needs from=ID")
	}
	size, err := intArg(d, "size", 0)
	if err != nil {
		return "", err
	}
	count, err := intArg(d, "count", 1)
	if err != nil {
		return "", err
	}
	g := totem.Agreed
	if d.HasArg("safe") {
		g = totem.Safe
	}
	id := totem.NodeID(from)
	var names []string
	for range count {
		s.sent[id]++
		name := fmt.Sprintf("n%d#%d", id, s.sent[id])
		msg := []byte(name)
		for len(msg) < size {
			msg = append(msg, '.')
		}
		if err := s.c.Send(id, msg, g); err != nil {
			return "", err
		}
		names = append(names, name)
	}
	return fmt.Sprintf("sent %s (%dB %s)\n", strings.Join(names, " "), max(size, len(names[0])), guaranteeName(g)), nil
}

func (s *scenario) perNode(m map[totem.NodeID][]string, sep string) string {
	var sb strings.Builder
	for _, id := range s.c.IDs() {
		if len(m[id]) > 0 {
			fmt.Fprintf(&sb, "n%d: %s\n", id, strings.Join(m[id], sep))
		}
	}
	clear(m)
	if sb.Len() == 0 {
		return "(none)\n"
	}
	return sb.String()
}

func (s *scenario) logLines(d *datadriven.TestData) string {
	var match []string
	if a, ok := d.Arg("match"); ok {
		match = a.Vals
	}
	who := ""
	if n, err := intArg(d, "node", 0); err == nil && n > 0 {
		who = fmt.Sprintf(" n%d.", n)
	}
	var sb strings.Builder
	for _, l := range s.log.lines {
		if who != "" && !strings.Contains(l, who) {
			continue
		}
		if len(match) == 0 || slices.ContainsFunc(match, func(m string) bool { return strings.Contains(l, m) }) {
			sb.WriteString(strings.TrimRight(l, " "))
			sb.WriteByte('\n')
		}
	}
	s.log.lines = s.log.lines[:0]
	if sb.Len() == 0 {
		return "(none)\n"
	}
	return sb.String()
}

func (s *scenario) stats(d *datadriven.TestData) (string, error) {
	ids, err := idsArg(d)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		ids = s.c.IDs()
	}
	var sb strings.Builder
	for _, id := range ids {
		m := s.c.Machine(id)
		if m == nil {
			fmt.Fprintf(&sb, "n%d: %v\n", id, s.c.State(id))
			continue
		}
		st := m.Stats()
		fmt.Fprintf(&sb, "n%d: mcast tx=%d retx=%d rx=%d; orf tx=%d rx=%d; join tx=%d; commit tx=%d; gather=%d operational=%d; token lost=%d; consensus timeouts=%d\n",
			id, st.McastTx, st.McastRetx, st.McastRx, st.OrfTokenTx, st.OrfTokenRx, st.MembJoinTx, st.MembCommitTokenTx,
			st.GatherEntered, st.OperationalEntered,
			st.OperationalTokenLost+st.GatherTokenLost+st.CommitTokenLost+st.RecoveryTokenLost, st.ConsensusTimeouts)
	}
	return sb.String(), nil
}

func (s *scenario) lifecycle(d *datadriven.TestData) (string, error) {
	ids, err := idsArg(d)
	if err != nil || len(ids) != 1 {
		return "", fmt.Errorf("%s needs one node id", d.Cmd)
	}
	id := ids[0]
	switch d.Cmd {
	case "crash":
		err = s.c.Crash(id)
	case "leave":
		err = s.c.Leave(id)
	case "pause":
		err = s.c.Pause(id)
	case "resume":
		err = s.c.Resume(id)
	case "restart":
		if d.HasArg("noseq") {
			err = s.c.SetPersisted(id, totem.PersistentState{})
		} else if d.HasArg("seq") {
			var seq int
			if seq, err = intArg(d, "seq", 0); err == nil {
				err = s.c.SetPersisted(id, totem.PersistentState{RingSeq: uint64(seq), Valid: true})
			}
		}
		if err != nil {
			return "", err
		}
		ps := s.c.Persisted(id)
		if err = s.c.Restart(id); err != nil {
			return "", err
		}
		st, _ := s.c.Status(id)
		from := "none"
		if ps.Valid {
			from = strconv.FormatUint(ps.RingSeq, 16)
		}
		return fmt.Sprintf("n%d: restarted from persisted ring seq %s: %v ring=%v\n", id, from, st.State, st.RingID), nil
	}
	if err != nil {
		return "", err
	}
	return "ok\n", nil
}

func (s *scenario) drop(d *datadriven.TestData) (string, error) {
	f := Filter{AnyType: true, Recovery: d.HasArg("recovery")}
	from, err := intArg(d, "from", 0)
	if err != nil {
		return "", err
	}
	to, err := intArg(d, "to", 0)
	if err != nil {
		return "", err
	}
	if f.Count, err = intArg(d, "count", 1); err != nil {
		return "", err
	}
	f.From, f.To = totem.NodeID(from), totem.NodeID(to)
	if a, ok := d.Arg("type"); ok && len(a.Vals) == 1 {
		if f.Type, err = ParseType(a.Vals[0]); err != nil {
			return "", err
		}
		f.AnyType = false
	}
	if f.Recovery && f.AnyType {
		f.Type, f.AnyType = 1, false // recovery wrappers are MCASTs
	}
	s.c.Network().AddFilter(f)
	return "ok\n", nil
}

// intArg returns the integer argument key, or def when absent.
func intArg(d *datadriven.TestData, key string, def int) (int, error) {
	a, ok := d.Arg(key)
	if !ok {
		return def, nil
	}
	if len(a.Vals) != 1 {
		return 0, fmt.Errorf("%s needs one value", key)
	}
	n, err := strconv.Atoi(a.Vals[0])
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", key, a.Vals[0], err)
	}
	return n, nil
}

// idsArg reads the positional id list ("2" or "1,2,3").
func idsArg(d *datadriven.TestData) ([]totem.NodeID, error) {
	var ids []totem.NodeID
	for _, a := range d.CmdArgs {
		if len(a.Vals) > 0 {
			continue // key=value
		}
		if a.Key == "noseq" || a.Key == "safe" || a.Key == "recovery" {
			continue
		}
		for _, f := range strings.Split(a.Key, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad node id %q", f)
			}
			ids = append(ids, totem.NodeID(n))
		}
	}
	return ids, nil
}

// parseGroups reads "1,2|3,4,5".
func parseGroups(d *datadriven.TestData) ([][]totem.NodeID, error) {
	if len(d.CmdArgs) != 1 {
		return nil, fmt.Errorf("partition needs groups such as 1,2|3")
	}
	var groups [][]totem.NodeID
	for _, g := range strings.Split(d.CmdArgs[0].Key, "|") {
		var ids []totem.NodeID
		for _, f := range strings.Split(g, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("bad group %q", g)
			}
			ids = append(ids, totem.NodeID(n))
		}
		groups = append(groups, ids)
	}
	return groups, nil
}
