// Package runner is the goroutine shell around the pure Totem core: it
// owns the clock, the transport and the ring id file, feeds the core
// datagrams, ticks and application messages, and acts on its Ready.
//
// One goroutine (Run) owns the totem.Node; a second one blocks in
// Transport.Receive and hands batches of datagrams over a channel. Time is
// real time, converted into the core's ticks; the timer is set from
// Node.NextTimer so an idle node does not wake up every tick.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corogo/corogo/internal/transport"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/ringid"
)

// Options configure a Runner.
type Options struct {
	// Totem is the protocol configuration (validated by totem.NewNode).
	Totem totem.Config
	// Transport carries the frames. The Runner closes it when Run returns.
	Transport transport.Transport
	// StateDir holds the ringid_<nodeid> file; empty keeps the ring id in
	// memory only (tests).
	StateDir string
	// Logger receives the protocol log lines, worded as corosync words them.
	Logger *slog.Logger
	// OnEvent is called on the Run goroutine for every delivery and
	// configuration change, in order. Event data is valid only during the
	// call.
	OnEvent func(totem.Event)
	// BatchSize is the number of datagrams received per system call
	// (default 64).
	BatchSize int
	// LoopbackSelf hands the node its own Broadcast frames directly
	// instead of through the transport; the transport must then leave
	// this node out of broadcasts (transport.Config.SkipSelf).
	LoopbackSelf bool
	// Services, if set, is driven on the Run goroutine: Event for every
	// delivery and configuration change (after OnEvent), Poll after every
	// batch of work. It may call Node's send methods (see Runner.Node).
	Services Services
}

// Services is the service layer the Runner drives (internal/service/host).
type Services interface {
	// Event takes one totem event, in order; its data is valid only
	// during the call.
	Event(e *totem.Event)
	// Poll lets the services send what they hold.
	Poll()
}

// TimedServices are Services with timers (internal/service/host): the
// Runner calls Tick with the time since Run started whenever it wakes,
// before anything else, and wakes for NextTimer's deadline.
type TimedServices interface {
	Services
	Tick(now time.Duration)
	NextTimer() (time.Duration, bool)
}

// Runner drives one totem.Node.
type Runner struct {
	opts   Options
	node   *totem.Node
	log    *slog.Logger
	tick   time.Duration
	sendCh chan sendReq
	rxCh   chan *rxBatch
	freeRx chan *rxBatch

	self    [][]byte // copies of this node's broadcasts, to Step (LoopbackSelf)
	selfBuf [][]byte // their recycled buffers

	inboxMu sync.Mutex
	inbox   []func()
	spare   []func()
	wake    chan struct{}

	running  atomic.Bool
	stopped  chan struct{} // closed when Run returns
	lastSnap time.Time     // Run goroutine only

	mu     sync.Mutex // guards status and stats
	status totem.Status
	stats  totem.Stats
}

type sendReq struct {
	msg   []byte
	g     totem.Guarantee
	reply chan error
}

type rxBatch struct {
	dgrams []transport.Datagram
	n      int
	err    error
}

// New loads the ring id file and builds the node.
func New(opts Options) (*Runner, error) {
	if opts.Transport == nil {
		return nil, errors.New("runner: no transport")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 64
	}
	var ps totem.PersistentState
	if opts.StateDir != "" {
		seq, ok, err := ringid.Load(opts.StateDir, opts.Totem.NodeID)
		if err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
		ps = totem.PersistentState{RingSeq: seq, Valid: ok}
		if !ok {
			ps.Valid = true // Load created the file holding 0
		}
	}
	node, err := totem.NewNode(opts.Totem, ps)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r := &Runner{
		opts:    opts,
		node:    node,
		log:     opts.Logger,
		tick:    opts.Totem.TickInterval,
		sendCh:  make(chan sendReq),
		rxCh:    make(chan *rxBatch, 4),
		freeRx:  make(chan *rxBatch, 4),
		stopped: make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	for range 4 {
		r.freeRx <- &rxBatch{dgrams: make([]transport.Datagram, opts.BatchSize)}
	}
	r.status = node.Status()
	return r, nil
}

// ErrNotRunning is returned by Send when Run is not running.
var ErrNotRunning = errors.New("runner: not running")

// Send queues an application message; it is safe for concurrent use.
// It returns totem.ErrTryAgain when the node's send queue is full.
func (r *Runner) Send(ctx context.Context, msg []byte, g totem.Guarantee) error {
	if !r.running.Load() {
		return ErrNotRunning
	}
	req := sendReq{msg: msg, g: g, reply: make(chan error, 1)}
	select {
	case r.sendCh <- req:
	case <-r.stopped:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Submit queues fn to run on the Run goroutine, where it may use Node.
// It never blocks; functions run in the order submitted. Functions
// submitted after Run has returned never run.
func (r *Runner) Submit(fn func()) {
	r.inboxMu.Lock()
	r.inbox = append(r.inbox, fn)
	r.inboxMu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Call runs fn on the Run goroutine and waits for it. It returns
// ErrNotRunning if Run is not running or returns first.
func (r *Runner) Call(ctx context.Context, fn func()) error {
	if !r.running.Load() {
		return ErrNotRunning
	}
	done := make(chan struct{})
	r.Submit(func() { fn(); close(done) })
	select {
	case <-done:
		return nil
	case <-r.stopped:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Node returns the protocol node. It may be used only on the Run
// goroutine: from Services callbacks and functions given to Submit.
func (r *Runner) Node() *totem.Node { return r.node }

// Done is closed when Run has returned.
func (r *Runner) Done() <-chan struct{} { return r.stopped }

func (r *Runner) runInbox() {
	r.inboxMu.Lock()
	work := r.inbox
	r.inbox = r.spare[:0]
	r.inboxMu.Unlock()
	for i, fn := range work {
		fn()
		work[i] = nil
	}
	r.spare = work[:0]
}

// Status returns the latest snapshot of the protocol state.
func (r *Runner) Status() totem.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Stats returns the protocol counters, at most about 100 ms old while Run
// runs.
func (r *Runner) Stats() totem.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run drives the node until ctx is done. On a clean stop it sends
// corosync's leave message so the others re-form at once. It closes the
// transport before returning.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice")
	}
	defer close(r.stopped)
	tr := r.opts.Transport
	recvDone := make(chan struct{})
	go r.receive(recvDone)
	defer func() {
		tr.Close()
		// Hand buffers back until the receiver has seen the close: it may
		// be waiting for a free buffer rather than in Receive.
		for {
			select {
			case b := <-r.rxCh:
				r.freeRx <- b
			case <-recvDone:
				return
			}
		}
	}()

	start := time.Now()
	var ticked int64 // ticks given to the node so far
	r.node.Start()
	if err := r.flush(); err != nil {
		return err
	}
	timed, _ := r.opts.Services.(TimedServices)
	if timed != nil {
		timed.Tick(0)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	expected := time.Time{}
	for {
		// Arm the timer for the node's next deadline, or the services'
		// if that comes first.
		if d, ok := r.node.NextTimer(); ok {
			due := start.Add(time.Duration(ticked+d) * r.tick)
			wait := time.Until(due)
			timer.Reset(max(wait, 0))
			expected = due
		} else {
			timer.Reset(time.Hour)
			expected = time.Time{}
		}
		if timed != nil {
			if at, ok := timed.NextTimer(); ok {
				if due := start.Add(at); expected.IsZero() || due.Before(expected) {
					timer.Reset(max(time.Until(due), 0))
					expected = time.Time{} // no lateness warning for service timers
				}
			}
		}
		// catchUp brings the node's clock to real time. It runs before an
		// event is handled, so that timers the event arms start from now
		// and not from when the loop last woke up.
		catchUp := func() {
			for due := int64(time.Since(start) / r.tick); ticked < due; ticked++ {
				r.node.Tick()
			}
			if timed != nil {
				timed.Tick(time.Since(start))
			}
		}
		select {
		case <-ctx.Done():
			catchUp()
			r.node.Leave()
			err := r.flush()
			r.snapshot()
			return err
		case b := <-r.rxCh:
			catchUp()
			if b.err != nil {
				if errors.Is(b.err, net.ErrClosed) {
					return fmt.Errorf("runner: transport closed: %w", b.err)
				}
				r.log.Warn("receive failed", "err", b.err)
			}
			for i := range b.n {
				_ = r.node.Step(b.dgrams[i].Data) // malformed input is counted by the node
			}
			r.freeRx <- b
		case req := <-r.sendCh:
			catchUp()
			req.reply <- r.node.Send(req.msg, req.g)
		case <-r.wake:
			catchUp()
			r.runInbox()
		case now := <-timer.C:
			if !expected.IsZero() {
				if late := now.Sub(expected); late > r.opts.Totem.Token/2 && r.opts.Totem.Token > 0 {
					r.log.Warn(fmt.Sprintf("Corosync main process was not scheduled for %.4f ms (threshold is %.4f ms). Consider token timeout increase.",
						float64(late)/float64(time.Millisecond), float64(r.opts.Totem.Token/2)/float64(time.Millisecond)))
				}
			}
			catchUp()
		}
		if err := r.flush(); err != nil {
			return err
		}
		if svc := r.opts.Services; svc != nil {
			svc.Poll()
			if err := r.flush(); err != nil {
				return err
			}
		}
	}
}

// receive runs in its own goroutine, blocked in the transport.
func (r *Runner) receive(done chan struct{}) {
	defer close(done)
	for {
		b := <-r.freeRx
		b.n, b.err = r.opts.Transport.Receive(b.dgrams)
		r.rxCh <- b
		if b.err != nil && errors.Is(b.err, net.ErrClosed) {
			return
		}
	}
}

// flush acts on the node's Ready: persist, send, deliver, log.
func (r *Runner) flush() error {
	// With LoopbackSelf, this node's own broadcasts are stepped as if
	// received once their Ready is done, and what they produce is flushed
	// in turn; a few rounds at most, the rest waits for the next flush.
	for round := 0; ; round++ {
		if err := r.flushReady(); err != nil {
			return err
		}
		if len(r.self) == 0 || round == 8 {
			return nil
		}
		for i, d := range r.self {
			_ = r.node.Step(d) // malformed input is counted by the node
			r.selfBuf = append(r.selfBuf, d)
			r.self[i] = nil
		}
		r.self = r.self[:0]
	}
}

// flushReady acts on one Ready.
func (r *Runner) flushReady() error {
	if !r.node.HasReady() {
		return nil
	}
	rd := r.node.Ready()
	if rd.PersistRingSeq && r.opts.StateDir != "" {
		if err := ringid.Store(r.opts.StateDir, r.opts.Totem.NodeID, rd.RingSeq); err != nil {
			r.node.Advance()
			return fmt.Errorf("runner: %w", err)
		}
	}
	sent := len(rd.Frames)
	if sent > 0 {
		if err := r.opts.Transport.Send(rd.Frames); err != nil {
			r.log.Debug("send failed", "err", err)
		}
	}
	for _, n := range rd.Notices {
		r.logNotice(n)
	}
	if r.opts.OnEvent != nil || r.opts.Services != nil {
		// Services may send while they handle events; sends can add
		// frames (a token hold cancel) to this Ready, sent below.
		for i := range rd.Events {
			if r.opts.OnEvent != nil {
				r.opts.OnEvent(rd.Events[i])
			}
			if r.opts.Services != nil {
				r.opts.Services.Event(&rd.Events[i])
			}
		}
	}
	if len(rd.Frames) > sent {
		if err := r.opts.Transport.Send(rd.Frames[sent:]); err != nil {
			r.log.Debug("send failed", "err", err)
		}
	}
	if r.opts.LoopbackSelf {
		for _, f := range rd.Frames {
			if f.To == totem.Broadcast {
				var b []byte
				if n := len(r.selfBuf); n > 0 {
					b, r.selfBuf = r.selfBuf[n-1][:0], r.selfBuf[:n-1]
				}
				r.self = append(r.self, append(b, f.Data...))
			}
		}
	}
	changed := len(rd.Notices) > 0
	r.node.Advance()
	if changed || time.Since(r.lastSnap) > 100*time.Millisecond {
		r.snapshot()
	}
	return nil
}

func (r *Runner) snapshot() {
	r.lastSnap = time.Now()
	st, stats := r.node.Status(), r.node.Stats()
	r.mu.Lock()
	r.status, r.stats = st, stats
	r.mu.Unlock()
}

// gatherReasons are corosync's words for why GATHER was entered.
var gatherReasons = map[int64]string{
	0: "consensus timeout", 2: "The token was lost in the OPERATIONAL state.",
	3: "The consensus timeout expired.", 4: "The token was lost in the COMMIT state.",
	5: "The token was lost in the RECOVERY state.", 6: "failed to receive",
	7: "foreign message in operational state", 8: "foreign message in gather state",
	9: "merge during operational state", 10: "merge during gather state", 11: "merge during join",
	12: "join during operational state", 13: "join during commit state", 14: "join during recovery",
	15: "interface change",
}

func ids(l []totem.NodeID) string {
	var sb strings.Builder
	for i, id := range l {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%d", id)
	}
	return sb.String()
}

// logNotice words a notice as corosync logs it.
func (r *Runner) logNotice(n totem.Notice) {
	switch n.Type {
	case totem.NoticeMembership:
		msg := fmt.Sprintf("A new membership (%v) was formed. Members", n.Ring)
		if len(n.Joined) > 0 {
			msg += " joined: " + ids(n.Joined)
		}
		if len(n.Left) > 0 {
			msg += " left: " + ids(n.Left)
		}
		r.log.Info(msg, "ring", n.Ring.String(), "members", ids(n.Members))
		if len(n.Failed) > 0 {
			r.log.Info("Failed to receive the leave message. failed: " + ids(n.Failed))
		}
		r.log.Debug(fmt.Sprintf("Members[%d]: %s", len(n.Members), ids(n.Members)))
	case totem.NoticeTokenLost:
		r.log.Info(fmt.Sprintf("A processor failed, forming new configuration: token timed out (%dms), waiting %dms for consensus.", n.Value, n.Value2))
	case totem.NoticeTokenWarning:
		r.log.Info(fmt.Sprintf("Token has not been received in %d ms", n.Value))
	case totem.NoticeFailedToReceive:
		r.log.Error("FAILED TO RECEIVE")
	case totem.NoticeStateChange:
		switch n.State {
		case totem.StateGather:
			r.log.Debug(fmt.Sprintf("entering GATHER state from %d(%s).", n.Value, gatherReasons[n.Value]))
		default:
			r.log.Debug(fmt.Sprintf("entering %v state.", n.State))
		}
	}
}
