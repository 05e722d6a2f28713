package qdevice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// Defaults of the device loop.
const (
	// DefaultTimeout is quorum.device.timeout: votequorum drops the
	// device's vote when it has not polled for this long.
	DefaultTimeout = 10 * time.Second
	// DefaultSyncTimeout is quorum.device.sync_timeout: how long
	// votequorum waits, during a membership change, for a poll carrying
	// the new ring id.
	DefaultSyncTimeout = 30 * time.Second
	// defaultBackoffMin and defaultBackoffMax bound the delay between
	// connection attempts (doubling from min to max).
	defaultBackoffMin = time.Second
	defaultBackoffMax = 30 * time.Second
	// callTimeout bounds the requests made while stopping.
	callTimeout = 2 * time.Second
	// modelStopTimeout bounds how long Run waits for the model to stop.
	modelStopTimeout = 10 * time.Second
)

// DeviceConfig configures a Device.
type DeviceConfig struct {
	// Timeout is quorum.device.timeout; the device polls every
	// Timeout/2 (default DefaultTimeout).
	Timeout time.Duration
	// SyncTimeout is quorum.device.sync_timeout (default
	// DefaultSyncTimeout). After a membership change the device waits up
	// to 3/4 of it for the model's vote on the new ring before polling
	// with cast_vote false.
	SyncTimeout time.Duration
	// MasterWins is passed to votequorum after registering.
	MasterWins bool
	// Dial connects to votequorum.
	Dial Dialer
	// BackoffMin and BackoffMax bound the delay between connection
	// attempts (defaults 1 s and 30 s).
	BackoffMin, BackoffMax time.Duration
	// Log receives the device's messages (nil: discarded).
	Log *slog.Logger
}

// Device is the loop shared by the models: it registers the model's
// device with votequorum, tells the model about memberships, and polls
// with the model's vote.
type Device struct {
	cfg   DeviceConfig
	model Model
	log   *slog.Logger

	mu sync.Mutex // guards st
	st deviceState
}

// deviceState is what Status reports about the loop.
type deviceState struct {
	connected, registered bool
	nodeID                uint32
	membership            Membership
	vote                  Vote
	haveVote              bool
	lastPoll              time.Time
	lastPollCast          bool
	lastPollErr           error
	connectErr            error
	connects              int
}

// NewDevice returns a device running model.
func NewDevice(cfg DeviceConfig, model Model) *Device {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = DefaultSyncTimeout
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = defaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(defaultBackoffMax, cfg.BackoffMin)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Device{cfg: cfg, model: model, log: log}
}

// errLost reports that the connection to corosyncd ended.
var errLost = errors.New("qdevice: connection to corosyncd lost")

// Run runs the device until ctx ends, reconnecting to corosyncd with
// backoff when the connection is lost. On return the device has stopped
// casting its vote, is unregistered and the model has stopped. It returns
// nil after ctx ends, or the model's error when the model fails.
func (d *Device) Run(ctx context.Context) error {
	updates := make(chan Update, 1)
	votes := make(chan Vote, 1)
	mctx, mcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer mcancel()
	modelDone := make(chan error, 1)
	go func() {
		modelDone <- d.model.Run(mctx, updates, func(v Vote) { putLatest(votes, v) })
	}()
	stopModel := func() error {
		mcancel()
		select {
		case err := <-modelDone:
			return err
		case <-time.After(modelStopTimeout):
			d.log.Error("quorum device model did not stop in time", "timeout", modelStopTimeout)
			return nil
		}
	}

	var nodeID uint32
	backoff := d.cfg.BackoffMin
	for {
		vq, err := d.cfg.Dial(ctx)
		if err == nil {
			d.setState(func(s *deviceState) { s.connected, s.connectErr = true, nil; s.connects++ })
			nodeID = vq.LocalNodeID()
			start := time.Now()
			err = d.session(ctx, vq, nodeID, updates, votes, modelDone)
			vq.Close()
			d.setState(func(s *deviceState) {
				s.connected, s.registered = false, false
				s.membership = Membership{}
			})
			putLatest(updates, Update{Connected: false, NodeID: nodeID})
			if time.Since(start) > d.cfg.BackoffMax {
				backoff = d.cfg.BackoffMin
			}
		}
		var me *modelError
		if errors.As(err, &me) {
			mcancel()
			return me.err
		}
		if ctx.Err() != nil {
			return stopModel()
		}
		d.setState(func(s *deviceState) { s.connectErr = err })
		d.log.Warn("no connection to corosyncd; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return stopModel()
		case err := <-modelDone:
			return modelFailed(err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, d.cfg.BackoffMax)
	}
}

// modelError wraps the error of a model that stopped on its own.
type modelError struct{ err error }

func (e *modelError) Error() string { return e.err.Error() }

func modelFailed(err error) error {
	if err == nil {
		err = errors.New("qdevice: model stopped")
	}
	return fmt.Errorf("qdevice: model: %w", err)
}

// session is one connection: register, track, poll until the connection
// or ctx ends.
func (d *Device) session(ctx context.Context, vq Votequorum, nodeID uint32, updates chan Update, votes chan Vote, modelDone <-chan error) error {
	name := d.model.Name()
	if err := vq.Register(ctx, name); err != nil {
		return fmt.Errorf("register device %q: %w", name, err)
	}
	d.setState(func(s *deviceState) { s.registered, s.nodeID = true, nodeID })
	d.log.Info("quorum device registered", "name", name, "node", nodeID)
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		defer cancel()
		if err := vq.Unregister(uctx, name); err != nil {
			d.log.Debug("unregister failed", "err", err)
		} else {
			d.log.Info("quorum device unregistered", "name", name)
		}
	}()
	if err := vq.MasterWins(ctx, name, d.cfg.MasterWins); err != nil {
		return fmt.Errorf("set master_wins: %w", err)
	}
	mems, err := vq.Track(ctx)
	if err != nil {
		return fmt.Errorf("track node list: %w", err)
	}
	putLatest(updates, Update{Connected: true, NodeID: nodeID})

	var (
		cur       Membership
		haveRing  bool
		vote      Vote
		haveVote  bool
		waiting   bool // for the model's vote on a new ring
		waitC     <-chan time.Time
		waitTimer *time.Timer
		expiry    *time.Timer
		expiryC   <-chan time.Time
	)
	ticker := time.NewTicker(d.cfg.Timeout / 2)
	defer ticker.Stop()
	stopTimer := func(t *time.Timer) {
		if t != nil {
			t.Stop()
		}
	}
	defer func() { stopTimer(waitTimer); stopTimer(expiry) }()
	lastCast := false
	poll := func() error {
		now := time.Now()
		cast := haveVote && vote.castAt(now, cur.Ring)
		err := vq.Poll(ctx, name, cast, cur.Ring)
		d.setState(func(s *deviceState) { s.lastPoll, s.lastPollCast, s.lastPollErr = now, cast, err })
		switch {
		case err == nil:
			if cast != lastCast {
				d.log.Info("quorum device vote", "cast", cast, "ring", cur.Ring, "reason", vote.Reason)
				lastCast = cast
			}
			return nil
		case errors.Is(err, ErrStaleRing):
			d.log.Debug("poll for a stale ring; waiting for the new membership", "ring", cur.Ring)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return fmt.Errorf("poll: %w", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			// Withdraw the vote before unregistering (deferred).
			if haveRing && lastCast {
				pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
				_ = vq.Poll(pctx, name, false, cur.Ring)
				cancel()
			}
			return ctx.Err()
		case err := <-modelDone:
			return &modelError{modelFailed(err)}
		case m, ok := <-mems:
			if !ok {
				return errLost
			}
			cur, haveRing = m, true
			d.setState(func(s *deviceState) { s.membership = m })
			d.log.Debug("membership", "ring", m.Ring, "members", FormatIDs(m.Members))
			putLatest(updates, Update{Connected: true, NodeID: nodeID, Membership: m})
			if haveVote && vote.Ring == m.Ring {
				if err := poll(); err != nil {
					return err
				}
				continue
			}
			// Do not poll the new ring with a vote decided for the old one:
			// votequorum's sync waits for our poll; give the model time.
			waiting = true
			stopTimer(waitTimer)
			waitTimer = time.NewTimer(d.cfg.SyncTimeout * 3 / 4)
			waitC = waitTimer.C
		case v := <-votes:
			changed := !haveVote || v.Cast != vote.Cast || v.Ring != vote.Ring
			vote, haveVote = v, true
			d.setState(func(s *deviceState) { s.vote, s.haveVote = v, true })
			stopTimer(expiry)
			expiryC = nil
			if v.Cast && !v.Expires.IsZero() {
				expiry = time.NewTimer(time.Until(v.Expires))
				expiryC = expiry.C
			}
			if haveRing && v.Ring == cur.Ring && (waiting || changed) {
				waiting, waitC = false, nil
				if err := poll(); err != nil {
					return err
				}
			}
		case <-waitC:
			waiting, waitC = false, nil
			d.log.Warn("no vote from the model for the new membership in time; polling without the vote", "ring", cur.Ring)
			if err := poll(); err != nil {
				return err
			}
		case <-expiryC:
			expiryC = nil
			d.log.Warn("the model's vote expired", "ring", cur.Ring)
			if haveRing && !waiting {
				if err := poll(); err != nil {
					return err
				}
			}
		case <-ticker.C:
			if haveRing && !waiting {
				if err := poll(); err != nil {
					return err
				}
			}
		}
	}
}

func (d *Device) setState(f func(*deviceState)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.st)
}

// Status describes the device and its model, in the order
// corosync-qdevice-tool -s prints similar information.
func (d *Device) Status() []Field {
	d.mu.Lock()
	st := d.st
	d.mu.Unlock()
	yesNo := func(b bool) string {
		if b {
			return "Yes"
		}
		return "No"
	}
	fs := []Field{
		{"Model", d.model.Name()},
		{"Node ID", strconv.FormatUint(uint64(st.nodeID), 10)},
		{"Connected to corosyncd", yesNo(st.connected)},
		{"Registered", yesNo(st.registered)},
		{"Poll interval", (d.cfg.Timeout / 2).String()},
		{"Master wins", yesNo(d.cfg.MasterWins)},
	}
	if st.connectErr != nil {
		fs = append(fs, Field{"Connection error", st.connectErr.Error()})
	}
	if !st.membership.Ring.IsZero() {
		fs = append(fs,
			Field{"Ring ID", st.membership.Ring.String()},
			Field{"Membership node list", FormatIDs(st.membership.Members)})
	}
	if st.haveVote {
		fs = append(fs, Field{"Model vote", fmt.Sprintf("%s (ring %s: %s)", castText(st.vote.Cast), st.vote.Ring, st.vote.Reason)})
	}
	if !st.lastPoll.IsZero() {
		v := fmt.Sprintf("%s, cast vote %s", st.lastPoll.Format(time.DateTime), yesNo(st.lastPollCast))
		if st.lastPollErr != nil {
			v += " (" + st.lastPollErr.Error() + ")"
		}
		fs = append(fs, Field{"Last poll call", v})
	}
	return append(fs, d.model.Status()...)
}

func castText(b bool) string {
	if b {
		return "cast vote"
	}
	return "no vote"
}
