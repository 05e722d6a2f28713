package qdevice

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/corogo/corogo/internal/qdevice/heuristics"
)

// PingName is the ping model's device name.
const PingName = "Ping"

// PingDecide is the ping model's rule: the device casts its vote when
// the heuristics score reaches minScore and this node's partition holds
// at least half of the configured nodes (2 × members ≥ configured), so
// that the vote only breaks ties and never lends votes to a minority.
func PingDecide(configured, members, score, minScore int) (cast bool, reason string) {
	switch {
	case members == 0:
		return false, "no membership"
	case score < minScore:
		return false, fmt.Sprintf("heuristics score %d below min_score %d", score, minScore)
	case 2*members < configured:
		return false, fmt.Sprintf("partition of %d of %d nodes is a minority", members, configured)
	}
	return true, fmt.Sprintf("heuristics score %d ≥ %d and partition of %d of %d nodes", score, minScore, members, configured)
}

// PingConfig configures the ping model.
type PingConfig struct {
	// ConfiguredNodes is the number of nodes in the nodelist.
	ConfiguredNodes int
	// MinScore is how many checks must pass (default: all).
	MinScore int
	// Heuristics runs the checks (ping targets and exec_ commands). Its
	// mode must not be off.
	Heuristics *heuristics.Runner
	// Validity bounds how long a result is used (mode on: interval +
	// timeout + a margin, so a stuck runner withdraws the vote); 0 keeps
	// a result until the next membership change (mode sync).
	Validity time.Duration
	// Log receives the model's messages (nil: discarded).
	Log *slog.Logger
}

// Ping is the ping model: a tie breaker without shared storage.
type Ping struct {
	cfg PingConfig
	log *slog.Logger

	mu     sync.Mutex // guards result, have
	result heuristics.Result
	have   bool
}

// NewPing returns the ping model.
func NewPing(cfg PingConfig) *Ping {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Ping{cfg: cfg, log: log}
}

// Name returns PingName.
func (p *Ping) Name() string { return PingName }

// Run implements Model: every membership change triggers a heuristics
// run, and the vote for the new ring is reported when its result arrives.
func (p *Ping) Run(ctx context.Context, updates <-chan Update, report func(Vote)) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { p.cfg.Heuristics.Run(runCtx) })

	var (
		cur      Membership
		haveRing bool
		gen      uint64
		res      heuristics.Result
		haveRes  bool // res is for gen
		resAt    time.Time
	)
	decide := func() {
		if !haveRing || !haveRes {
			return
		}
		cast, reason := PingDecide(p.cfg.ConfiguredNodes, len(cur.Members), res.Score, p.cfg.MinScore)
		v := Vote{Ring: cur.Ring, Cast: cast, Reason: reason}
		if p.cfg.Validity > 0 {
			v.Expires = resAt.Add(p.cfg.Validity)
		}
		report(v)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-updates:
			if !u.Connected || u.Ring.IsZero() {
				haveRing = false
				continue
			}
			if haveRing && u.Ring == cur.Ring {
				continue
			}
			cur, haveRing = u.Membership, true
			gen++
			haveRes = false
			p.cfg.Heuristics.Trigger(gen)
		case r := <-p.cfg.Heuristics.Results():
			if r.Gen != gen {
				continue // for an older membership
			}
			res, haveRes, resAt = r, true, time.Now()
			p.mu.Lock()
			p.result, p.have = r, true
			p.mu.Unlock()
			decide()
		}
	}
}

// Status implements Model.
func (p *Ping) Status() []Field {
	p.mu.Lock()
	defer p.mu.Unlock()
	fs := []Field{
		{"Configured nodes", strconv.Itoa(p.cfg.ConfiguredNodes)},
		{"Heuristics", p.cfg.Heuristics.Mode().String()},
		{"Min score", strconv.Itoa(p.cfg.MinScore)},
	}
	if p.have {
		fs = append(fs, Field{"Heuristics result", p.result.String()})
	}
	return fs
}
