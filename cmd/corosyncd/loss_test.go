package main

// TestNetnsLossSteadyLoad: "with 5 % loss on one host and a steady message
// load there is no membership change for 60 s and no message lost".
//
// Three hosts in network namespaces (internal/netns) each run a load node:
// the test binary itself, re-executed inside the host's namespace with
// -test.run=^TestLossHelperProcess$ and COROGO_LOSS_HELPER=1. A load node
// builds the runner exactly as the daemon does (config.Load, LocalNode,
// Totem, Transport, openTransport, runner.New) and drives it with a steady
// stream of Agreed messages. It talks to the test through its standard
// output (which netns appends, with the TOTEM log on stderr, to Host.Log):
//
//	RING <ring> <m1,m2,...>     every regular configuration
//	TRANS <ring> <m1,m2,...>    every transitional configuration
//	START node=<i> ring=<ring>  on SIGUSR1: the baseline; sending starts
//	LOAD node=<i> ... key=value summary (after SIGTERM, see below)
//	STATS node=<i> ...          the runner's counters once Run returned
//	LOADERR <text>              a fatal error of the helper
//
// Protocol of a load node:
//   - SIGUSR1 (sent by the test once all three print the same 3-member
//     RING): record the current ring as the baseline, count every
//     configuration change from then on, and send rate messages per second
//     of size bytes, each carrying the sender's id and a counter from 1;
//     ErrTryAgain is retried after a short sleep.
//   - every node checks each sender's counters arrive in order without gaps
//     or duplicates, and the payload's integrity.
//   - SIGTERM: stop sending; send a FIN message carrying the number of
//     messages sent; wait (bounded) until its own last message and the FIN
//     of every member are delivered (so every message of every sender is,
//     in agreed order); print the LOAD line; then send DONE and wait
//     (bounded) for the DONE of every member before leaving the ring, so
//     that no node's leave is seen as a configuration change by a node that
//     has not printed its summary yet; then print STATS and exit 0.
//
// The runner's Stats are read after Run returns: Runner.Stats is refreshed
// only when the node has notices (state or membership changes) and on a
// clean stop, so during a steady run it would show the counters of the ring
// formation.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/netns"
	"github.com/corogo/corogo/internal/runner"
	"github.com/corogo/corogo/totem"
)

const (
	lossHelperEnv = "COROGO_LOSS_HELPER" // "1" in a load node
	lossEnvConf   = "COROGO_LOSS_CONF"   // its corosync.conf
	lossEnvNode   = "COROGO_LOSS_NODE"   // its node id
	lossEnvNodes  = "COROGO_LOSS_NODES"  // node ids are 1..N
	lossEnvRate   = "COROGO_LOSS_RATE"   // messages per second
	lossEnvSize   = "COROGO_LOSS_SIZE"   // bytes per message
	lossEnvLife   = "COROGO_LOSS_LIFE"   // hard bound of its lifetime

	lossHosts   = 3
	lossRate    = 200 // messages per second per node
	lossSize    = 200 // bytes per message
	lossPercent = 5   // loss on host 1's incoming packets

	// lossStepWait bounds each step of a load node's stop sequence.
	lossStepWait = 5 * time.Second
)

// ---------------------------------------------------------------------
// The load node (helper process).

// TestLossHelperProcess is the load node of TestNetnsLossSteadyLoad; it
// does nothing unless re-executed by it.
func TestLossHelperProcess(t *testing.T) {
	if os.Getenv(lossHelperEnv) != "1" {
		t.Skip("helper process of TestNetnsLossSteadyLoad; runs only when re-executed by it")
	}
	os.Exit(lossHelperMain())
}

// Payload layout: magic, kind, sender, counter, then filler derived from
// the counter (checked on delivery).
const (
	lossMagic    = "LDv1"
	lossKindData = 0
	lossKindFin  = 1 // counter: the number of data messages sent
	lossKindDone = 2
	lossHdr      = 4 + 1 + 4 + 8
)

func lossPayload(kind byte, sender uint32, counter uint64, size int) []byte {
	b := make([]byte, max(size, lossHdr))
	copy(b, lossMagic)
	b[4] = kind
	binary.BigEndian.PutUint32(b[5:], sender)
	binary.BigEndian.PutUint64(b[9:], counter)
	for i := lossHdr; i < len(b); i++ {
		b[i] = byte(counter*7 + uint64(i))
	}
	return b
}

// lossNode is a load node's state; mu guards it (OnEvent runs on the Run
// goroutine, the sender and the stop sequence on others).
type lossNode struct {
	self  uint32
	nodes int
	size  int

	mu        sync.Mutex
	started   bool
	startRing totem.RingID
	ring      totem.RingID // latest regular configuration
	members   []totem.NodeID
	confchg   int // configuration changes after the baseline
	rings     int // regular ones among them
	last      []uint64
	delivered []uint64
	fin       []int64 // -1 until the sender's FIN is delivered
	done      []bool
	gaps      uint64
	dups      uint64
	order     uint64
	corrupt   uint64
	sentAt    map[uint64]time.Time
	lat       []time.Duration
}

func (l *lossNode) onEvent(e totem.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Type {
	case totem.EventConfChange:
		c := e.Conf
		if l.started {
			l.confchg++
			if !c.Transitional {
				l.rings++
			}
		}
		ms := make([]string, len(c.Members))
		for i, m := range c.Members {
			ms[i] = strconv.FormatUint(uint64(m), 10)
		}
		if c.Transitional {
			fmt.Printf("TRANS %v %s\n", c.RingID, strings.Join(ms, ","))
			return
		}
		l.ring, l.members = c.RingID, slices.Clone(c.Members)
		fmt.Printf("RING %v %s\n", c.RingID, strings.Join(ms, ","))
	case totem.EventDeliver:
		l.deliver(e.From, e.Data)
	}
}

func (l *lossNode) deliver(from totem.NodeID, d []byte) {
	if len(d) < lossHdr || string(d[:4]) != lossMagic {
		l.corrupt++
		return
	}
	kind := d[4]
	s := binary.BigEndian.Uint32(d[5:])
	c := binary.BigEndian.Uint64(d[9:])
	if s != from || s < 1 || int(s) > l.nodes {
		l.corrupt++
		return
	}
	switch kind {
	case lossKindFin:
		if l.fin[s] >= 0 {
			l.dups++
		}
		l.fin[s] = int64(c)
		if c != l.last[s] {
			l.order++ // the FIN follows every data message of its sender
		}
		return
	case lossKindDone:
		l.done[s] = true
		return
	case lossKindData:
	default:
		l.corrupt++
		return
	}
	if len(d) != l.size {
		l.corrupt++
	} else {
		for i := lossHdr; i < len(d); i++ {
			if d[i] != byte(c*7+uint64(i)) {
				l.corrupt++
				break
			}
		}
	}
	switch {
	case c == l.last[s]+1:
	case c > l.last[s]+1:
		l.gaps += c - l.last[s] - 1
	case c == l.last[s]:
		l.dups++
	default:
		l.order++
	}
	if l.fin[s] >= 0 {
		l.order++ // data after its sender's FIN
	}
	l.last[s] = max(l.last[s], c)
	l.delivered[s]++
	if s == l.self {
		if at, ok := l.sentAt[c]; ok {
			l.lat = append(l.lat, time.Since(at))
			delete(l.sentAt, c)
		}
	}
}

// waitFor polls cond (under mu) every 5 ms for at most d.
func (l *lossNode) waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for n := 0; n < int(d/(5*time.Millisecond))+10; n++ {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// sendRetry sends msg, retrying ErrTryAgain every 2 ms until stop is closed
// or the deadline passes; it counts the retries in *tryAgain.
func lossSendRetry(ctx context.Context, r *runner.Runner, msg []byte, stop <-chan struct{}, deadline time.Time, tryAgain *int) error {
	for {
		err := r.Send(ctx, msg, totem.Agreed)
		if !errors.Is(err, totem.ErrTryAgain) {
			return err
		}
		*tryAgain++
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-stop:
			return err
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func lossEnvInt(name string, def int) int {
	v, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		return def
	}
	return v
}

func lossHelperMain() int {
	// First of all: SIGUSR1's default action would kill the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	fail := func(format string, a ...any) int {
		fmt.Printf("LOADERR "+format+"\n", a...)
		return 1
	}
	self := lossEnvInt(lossEnvNode, 0)
	nodes := lossEnvInt(lossEnvNodes, lossHosts)
	rate := lossEnvInt(lossEnvRate, lossRate)
	size := lossEnvInt(lossEnvSize, lossSize)
	life := time.Duration(lossEnvInt(lossEnvLife, 180)) * time.Second
	if self < 1 || self > nodes || rate <= 0 || size < lossHdr {
		return fail("bad environment: node %d of %d, rate %d, size %d", self, nodes, rate, size)
	}

	// The daemon's start-up (run.go), minus its banner.
	ctx := context.Background()
	cfg, err := config.Load(ctx, os.Getenv(lossEnvConf), nil)
	if err != nil {
		return fail("%v", err)
	}
	local, err := cfg.LocalNode(config.LocalOptions{NodeID: uint32(self)})
	if err != nil {
		return fail("%v", err)
	}
	log, closeLog, err := newLogger(cfg, os.Stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer closeLog()
	totemLog := log.With("subsys", "TOTEM")
	tc, err := cfg.Totem(local.ID)
	if err != nil {
		return fail("%v", err)
	}
	spec, err := cfg.Transport(local.ID)
	if err != nil {
		return fail("%v", err)
	}
	tr, err := openTransport(spec, totemLog)
	if err != nil {
		return fail("%v", err)
	}
	stateDir := cfg.System.StateDir
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		tr.Close()
		return fail("state_dir: %v", err)
	}
	l := &lossNode{
		self: uint32(self), nodes: nodes, size: size,
		last: make([]uint64, nodes+1), delivered: make([]uint64, nodes+1),
		fin: make([]int64, nodes+1), done: make([]bool, nodes+1),
		sentAt: map[uint64]time.Time{},
	}
	for i := range l.fin {
		l.fin[i] = -1
	}
	r, err := runner.New(runner.Options{Totem: tc, Transport: tr, StateDir: stateDir, Logger: totemLog, OnEvent: l.onEvent})
	if err != nil {
		tr.Close()
		return fail("%v", err)
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	// Runner.Send blocks while Run is not running; sendCtx ends with Run.
	sendCtx, cancelSend := context.WithCancel(ctx)
	defer cancelSend()
	runDone := make(chan error, 1)
	go func() {
		err := r.Run(runCtx)
		cancelSend()
		runDone <- err
	}()

	// The sender.
	var (
		stopSend  = make(chan struct{})
		senderEnd = make(chan struct{})
		sent      uint64
		tryAgain  int
		sendErr   error
		startAt   time.Time
		stopAt    time.Time
	)
	sender := func() {
		defer close(senderEnd)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for c := uint64(1); ; c++ {
			select {
			case <-stopSend:
				return
			case <-tick.C:
			}
			msg := lossPayload(lossKindData, uint32(self), c, size)
			l.mu.Lock()
			l.sentAt[c] = time.Now()
			l.mu.Unlock()
			err := lossSendRetry(sendCtx, r, msg, stopSend, time.Now().Add(time.Hour), &tryAgain)
			if err != nil {
				l.mu.Lock()
				delete(l.sentAt, c)
				l.mu.Unlock()
				if !errors.Is(err, totem.ErrTryAgain) { // not a stop in a retry
					sendErr = err
				}
				return
			}
			sent = c
		}
	}

	lifeTimer := time.NewTimer(life)
	defer lifeTimer.Stop()
	started := false
wait:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGUSR1 {
				if started {
					continue
				}
				started = true
				l.mu.Lock()
				l.started, l.startRing = true, l.ring
				ring := l.ring
				l.mu.Unlock()
				startAt = time.Now()
				fmt.Printf("START node=%d ring=%v\n", self, ring)
				go sender()
				continue
			}
			break wait
		case <-lifeTimer.C:
			fmt.Printf("LOADERR node %d: no SIGTERM within %v; stopping\n", self, life)
			break wait
		case err := <-runDone:
			return fail("node %d: Run returned early: %v", self, err)
		}
	}

	code := 0
	if started {
		close(stopSend)
		<-senderEnd // returns within one Send
		stopAt = time.Now()
		// FIN, then every member's FIN (and so every data message).
		end := time.Now().Add(lossStepWait)
		finErr := lossSendRetry(sendCtx, r, lossPayload(lossKindFin, uint32(self), sent, size), nil, end, &tryAgain)
		allFin := finErr == nil && l.waitFor(time.Until(end), func() bool {
			if l.last[self] != sent {
				return false
			}
			for s := 1; s <= nodes; s++ {
				if l.fin[s] < 0 {
					return false
				}
			}
			return true
		})
		l.mu.Lock()
		var b strings.Builder
		fmt.Fprintf(&b, "LOAD node=%d ring=%v sent=%d", self, l.startRing, sent)
		for s := 1; s <= nodes; s++ {
			fmt.Fprintf(&b, " delivered_from_%d=%d", s, l.delivered[s])
		}
		for s := 1; s <= nodes; s++ {
			fmt.Fprintf(&b, " fin_%d=%d", s, l.fin[s])
		}
		lat := slices.Clone(l.lat)
		slices.Sort(lat)
		pct := func(p float64) int64 {
			if len(lat) == 0 {
				return -1
			}
			return lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()
		}
		se := "none"
		if sendErr != nil {
			se = strconv.Quote(sendErr.Error())
		}
		if finErr != nil {
			se = strconv.Quote("FIN: " + finErr.Error())
		}
		fmt.Fprintf(&b, " confchg=%d rings=%d gaps=%d dups=%d order_errors=%d corrupt=%d all_fin=%v tryagain=%d elapsed_ms=%d lat_p50_us=%d lat_p99_us=%d lat_max_us=%d last_ring=%v send_err=%s",
			l.confchg, l.rings, l.gaps, l.dups, l.order, l.corrupt, allFin, tryAgain,
			stopAt.Sub(startAt).Milliseconds(), pct(0.5), pct(0.99), pct(1), l.ring, se)
		l.mu.Unlock()
		fmt.Println(b.String())

		// DONE barrier: leave only once every member has printed its
		// summary.
		end = time.Now().Add(lossStepWait)
		if err := lossSendRetry(sendCtx, r, lossPayload(lossKindDone, uint32(self), 0, size), nil, end, &tryAgain); err != nil {
			fmt.Printf("LOADERR node %d: DONE: %v\n", self, err)
		} else if !l.waitFor(time.Until(end), func() bool {
			for s := 1; s <= nodes; s++ {
				if !l.done[s] {
					return false
				}
			}
			return true
		}) {
			fmt.Printf("LOADERR node %d: not every member's DONE delivered within %v\n", self, lossStepWait)
		}
	}
	cancelRun()
	select {
	case err := <-runDone:
		if err != nil {
			fmt.Printf("LOADERR node %d: Run: %v\n", self, err)
			code = 1
		}
	case <-time.After(lossStepWait):
		return fail("node %d: Run did not return within %v of the stop", self, lossStepWait)
	}
	st := r.Stats()
	fmt.Printf("STATS node=%d mcast_tx=%d mcast_retx=%d mcast_rx=%d orf_token_tx=%d orf_token_rx=%d delivered=%d rx_dropped=%d gather_entered=%d operational_token_lost=%d consensus_timeouts=%d\n",
		self, st.McastTx, st.McastRetx, st.McastRx, st.OrfTokenTx, st.OrfTokenRx, st.Delivered, st.RxMsgDropped,
		st.GatherEntered, st.OperationalTokenLost, st.ConsensusTimeouts)
	return code
}

// ---------------------------------------------------------------------
// The test.

// lossLines returns host i's log lines that start with prefix (complete
// lines only).
func lossLines(c *netns.Cluster, i int, prefix string) []string {
	b, err := os.ReadFile(c.Host(i).Log)
	if err != nil {
		return nil
	}
	if j := strings.LastIndexByte(string(b), '\n'); j >= 0 {
		b = b[:j+1]
	} else {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

// lossKV parses the key=value fields of a LOAD or STATS line.
func lossKV(line string) map[string]string {
	m := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

func lossNum(t *testing.T, host int, kv map[string]string, key string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(kv[key], 10, 64)
	if err != nil {
		t.Errorf("host %d: summary field %s=%q: %v", host, key, kv[key], err)
	}
	return v
}

var lossReLog = regexp.MustCompile(`^(RING|TRANS|START|LOAD|STATS|LOADERR) |=== netns|membership|Members|[Ff]ailed|FAILED|processor|entering|Token has not|not scheduled|warning|error`)

func TestNetnsLossSteadyLoad(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("skipping network namespace test: %v", err)
	}
	dur := 60 * time.Second
	if testing.Short() && os.Getenv("COROGO_LONG") != "1" {
		dur = 10 * time.Second
	}
	// COROGO_LOAD_SECONDS and COROGO_LOAD_LOSS turn the test into a soak
	// (for example 600 s without loss, with the cores saturated by other
	// processes, as the corosyncd issue asks to be reported).
	if v, err := strconv.Atoi(os.Getenv("COROGO_LOAD_SECONDS")); err == nil && v > 0 {
		dur = time.Duration(v) * time.Second
	}
	lossPercent := lossPercent
	if v, err := strconv.Atoi(os.Getenv("COROGO_LOAD_LOSS")); err == nil && v >= 0 && v < 100 {
		lossPercent = v
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("skipping: cannot find the test binary to re-execute: %v", err)
	}
	tStart := time.Now()
	c := netns.New(t, lossHosts)
	all := []int{1, 2, 3}
	hosts := c.Hosts()
	t.Cleanup(func() { // before netns closes the cluster (LIFO)
		if !t.Failed() {
			return
		}
		for _, i := range all {
			var sel []string
			for _, l := range lossLines(c, i, "") {
				if lossReLog.MatchString(l) {
					sel = append(sel, l)
				}
			}
			if len(sel) > 100 {
				sel = append([]string{"..."}, sel[len(sel)-100:]...)
			}
			t.Logf("--- relevant lines of host %d (%s):\n%s", i, c.Host(i).Log, strings.Join(sel, "\n"))
		}
	})
	for _, h := range hosts {
		conf := h.Dir + "/corosync.conf"
		if err := os.WriteFile(conf, []byte(testConf{cluster: "losstest", token: 300, coef: 0, stateDir: h.State}.text(hosts)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := c.Start(h.Index, netns.Spec{
			Args: []string{exe, "-test.run=^TestLossHelperProcess$", "-test.timeout=" + (dur + 3*time.Minute).String()},
			Env: []string{
				lossHelperEnv + "=1",
				lossEnvConf + "=" + conf,
				lossEnvNode + "=" + strconv.Itoa(h.Index),
				lossEnvNodes + "=" + strconv.Itoa(lossHosts),
				lossEnvRate + "=" + strconv.Itoa(lossRate),
				lossEnvSize + "=" + strconv.Itoa(lossSize),
				lossEnvLife + "=" + strconv.Itoa(int((dur + 60*time.Second).Seconds())),
				"NOTIFY_SOCKET=",
			},
		})
		if err != nil {
			t.Fatalf("start load node on host %d: %v", h.Index, err)
		}
	}
	alive := func(what string) {
		t.Helper()
		for _, i := range all {
			if !c.Running(i) {
				t.Fatalf("%s: load node of host %d exited: %v; %q", what, i, c.Wait(i, 0), lossLines(c, i, "LOADERR"))
			}
		}
	}
	// latest returns each host's latest RING line ("" if none).
	latest := func() []string {
		out := make([]string, len(all))
		for n, i := range all {
			if r := lossLines(c, i, "RING "); len(r) > 0 {
				out[n] = r[len(r)-1]
			}
		}
		return out
	}

	// Baseline: every host's latest regular configuration is the same
	// 3-member ring, unchanged for 500 ms.
	want := "1,2,3"
	var base string
	var since time.Time
	deadline := time.Now().Add(15 * time.Second)
	for n := 0; ; n++ {
		rs := latest()
		same := rs[0] != "" && strings.HasSuffix(rs[0], " "+want)
		for _, r := range rs[1:] {
			same = same && r == rs[0]
		}
		switch {
		case !same:
			since = time.Time{}
		case since.IsZero() || rs[0] != base:
			base, since = rs[0], time.Now()
		}
		if same && !since.IsZero() && time.Since(since) >= 500*time.Millisecond {
			break
		}
		alive("waiting for the 3-node ring")
		if time.Now().After(deadline) || n > 2000 {
			t.Fatalf("no stable common 3-member ring after 15 s: %q", rs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	baseRing := strings.Fields(base)[1]
	t.Logf("baseline: ring %s members %s, %v after the start", baseRing, want, time.Since(tStart).Round(time.Millisecond))

	if lossPercent > 0 {
		if err := c.Loss(1, lossPercent); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.NoLoss(1) })
	}
	for _, i := range all {
		if err := c.Signal(i, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	tLoad := time.Now()
	deadline = time.Now().Add(3 * time.Second)
	for n := 0; ; n++ {
		ok := true
		for _, i := range all {
			ok = ok && len(lossLines(c, i, "START ")) == 1
		}
		if ok {
			break
		}
		alive("waiting for START")
		if time.Now().After(deadline) || n > 400 {
			t.Fatalf("not every load node started within 3 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, i := range all {
		if s := lossLines(c, i, "START ")[0]; lossKV(s)["ring"] != baseRing {
			t.Errorf("host %d started its load in ring %s, not the baseline %s: %q", i, lossKV(s)["ring"], baseRing, s)
		}
	}
	t.Logf("%d%% loss of incoming packets on host 1; load %d msg/s × %d bytes from each of %d nodes for %v",
		lossPercent, lossRate, lossSize, lossHosts, dur)

	// Run, watching (every 250 ms) for ring changes and dead nodes.
	seen := latest()
	for time.Since(tLoad) < dur {
		time.Sleep(min(250*time.Millisecond, max(dur-time.Since(tLoad), 0)))
		alive("under load")
		for n, r := range latest() {
			if r != seen[n] {
				t.Errorf("host %d: configuration change %v after the load started: %q (baseline %q)",
					all[n], time.Since(tLoad).Round(time.Millisecond), r, base)
				seen[n] = r
			}
		}
	}
	loadFor := time.Since(tLoad)
	if lossPercent > 0 {
		if err := c.NoLoss(1); err != nil {
			t.Error(err)
		}
	}

	// Stop: SIGTERM to all at once (each waits for the others' FIN and
	// DONE), then wait for each.
	tStop := time.Now()
	for _, i := range all {
		if err := c.Signal(i, syscall.SIGTERM); err != nil {
			t.Errorf("host %d: SIGTERM: %v", i, err)
		}
	}
	for _, i := range all {
		err := c.Wait(i, 3*lossStepWait+5*time.Second)
		if errors.Is(err, netns.ErrTimeout) {
			_ = c.Signal(i, syscall.SIGQUIT)
			_ = c.Wait(i, 2*time.Second)
			_ = c.Kill(i)
			t.Errorf("host %d: load node still running after SIGTERM", i)
		} else if err != nil {
			t.Errorf("host %d: load node exited with %v", i, err)
		}
	}
	t.Logf("stopped in %v", time.Since(tStop).Round(time.Millisecond))

	// The summaries.
	load := map[int]map[string]string{}
	stats := map[int]map[string]string{}
	for _, i := range all {
		for _, e := range lossLines(c, i, "LOADERR") {
			t.Errorf("host %d: %s", i, e)
		}
		ls := lossLines(c, i, "LOAD ")
		if len(ls) != 1 {
			t.Fatalf("host %d printed %d LOAD lines, want 1: %q", i, len(ls), ls)
		}
		t.Logf("host %d: %s", i, ls[0])
		load[i] = lossKV(ls[0])
		if s := lossLines(c, i, "STATS "); len(s) == 1 {
			t.Logf("host %d: %s", i, s[0])
			stats[i] = lossKV(s[0])
		}
	}
	sent := map[int]int64{}
	var total, retx int64
	for _, i := range all {
		kv := load[i]
		sent[i] = lossNum(t, i, kv, "sent")
		total += sent[i]
		for _, k := range []string{"confchg", "rings", "gaps", "dups", "order_errors", "corrupt"} {
			if v := lossNum(t, i, kv, k); v != 0 {
				t.Errorf("host %d: %s=%d, want 0", i, k, v)
			}
		}
		if kv["ring"] != baseRing || kv["last_ring"] != baseRing {
			t.Errorf("host %d: load ran in ring %s and ended in ring %s, want the baseline %s throughout", i, kv["ring"], kv["last_ring"], baseRing)
		}
		if kv["all_fin"] != "true" || kv["send_err"] != "none" {
			t.Errorf("host %d: all_fin=%s send_err=%s", i, kv["all_fin"], kv["send_err"])
		}
		if st, ok := stats[i]; ok {
			retx += lossNum(t, i, st, "mcast_retx")
		}
	}
	for _, s := range all {
		// The load must really have run at (near) the target rate.
		if floor := int64(float64(lossRate) * loadFor.Seconds() / 2); sent[s] < floor {
			t.Errorf("host %d sent %d messages in %v, under half the target rate (%d)", s, sent[s], loadFor.Round(time.Millisecond), floor)
		}
		for _, j := range all {
			if d := lossNum(t, j, load[j], fmt.Sprintf("delivered_from_%d", s)); d != sent[s] {
				t.Errorf("host %d delivered %d messages from host %d, which sent %d", j, d, s, sent[s])
			}
			if f := lossNum(t, j, load[j], fmt.Sprintf("fin_%d", s)); f != sent[s] {
				t.Errorf("host %d got FIN %d from host %d, which sent %d", j, f, s, sent[s])
			}
		}
	}
	// Ring changes in the logs between START and LOAD (a second check of
	// confchg, from the RING lines).
	for _, i := range all {
		var rings []string
		in := false
		for _, l := range lossLines(c, i, "") {
			switch {
			case strings.HasPrefix(l, "START "):
				in = true
			case strings.HasPrefix(l, "LOAD "):
				in = false
			case in && (strings.HasPrefix(l, "RING ") || strings.HasPrefix(l, "TRANS ")):
				rings = append(rings, l)
			}
		}
		if len(rings) > 0 {
			t.Errorf("host %d: configuration changes during the load: %q", i, rings)
		}
	}
	secs := loadFor.Seconds()
	t.Logf("figures: %v under %d%% loss on host 1; sent %d msgs (%d + %d + %d), %.0f msg/s total, each delivered on all %d nodes (%d deliveries); multicast retransmissions %d (%s/%s/%s); total test time %v",
		loadFor.Round(time.Millisecond), lossPercent, total, sent[1], sent[2], sent[3], float64(total)/secs, lossHosts,
		total*lossHosts, retx, stats[1]["mcast_retx"], stats[2]["mcast_retx"], stats[3]["mcast_retx"], time.Since(tStart).Round(time.Millisecond))
	for _, i := range all {
		kv := load[i]
		t.Logf("host %d: own-message delivery latency p50 %s µs, p99 %s µs, max %s µs; ErrTryAgain retries %s; token lost %s, gather entered %s",
			i, kv["lat_p50_us"], kv["lat_p99_us"], kv["lat_max_us"], kv["tryagain"], stats[i]["operational_token_lost"], stats[i]["gather_entered"])
	}
}
