package qdisk

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/internal/qdevice/heuristics"
)

// Name is the qdisk model's device name.
const Name = "Qdisk"

// Defaults (quorum.device.qdisk).
const (
	DefaultInterval = time.Second
	DefaultTKO      = 10
)

// Config configures the qdisk model.
type Config struct {
	// Path is the shared file or block device.
	Path string
	// ClusterName is written into the header (totem.cluster_name).
	ClusterName string
	// Interval is the cycle period (default 1 s).
	Interval time.Duration
	// TKO is the number of cycles without a write after which a node is
	// dead on disk (default 10; at least Settle).
	TKO int
	// MinScore is the heuristics score needed to be eligible as master.
	MinScore int
	// MaxNodeID is the highest configured node id.
	MaxNodeID uint32
	// Heuristics runs the heuristics; nil means none (score 0 of 0).
	Heuristics *heuristics.Runner
	// Incarnation identifies this run (0: the start time in ns).
	Incarnation uint64
	// Open opens the storage (nil: OpenDisk).
	Open func(path, cluster string, maxID uint32) (Storage, error)
	// Log receives the model's messages (nil: discarded).
	Log *slog.Logger
}

// Model is the qdisk model: it runs a Core against the shared storage.
type Model struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex // guards snap, have, disk
	snap Snapshot
	have bool
	disk string // storage state for Status
}

// New returns the qdisk model.
func New(cfg Config) *Model {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.TKO <= 0 {
		cfg.TKO = DefaultTKO
	}
	if cfg.Incarnation == 0 {
		cfg.Incarnation = uint64(time.Now().UnixNano())
	}
	if cfg.Open == nil {
		cfg.Open = func(path, cluster string, maxID uint32) (Storage, error) {
			return OpenDisk(path, cluster, maxID)
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Model{cfg: cfg, log: log}
}

// Name implements qdevice.Model.
func (m *Model) Name() string { return Name }

// cycleResult is the outcome of one cycle's I/O.
type cycleResult struct {
	slots              [][]byte
	writeErr, readErr  error
	started, completed time.Time
}

// Run implements qdevice.Model. The storage is opened once the node id is
// known (after the device's first connection to corosyncd) and retried
// every interval until it opens.
func (m *Model) Run(ctx context.Context, updates <-chan qdevice.Update, report func(qdevice.Vote)) error {
	var results <-chan heuristics.Result
	var wg sync.WaitGroup
	defer wg.Wait()
	hctx, hcancel := context.WithCancel(ctx)
	defer hcancel()
	if m.cfg.Heuristics != nil {
		wg.Go(func() { m.cfg.Heuristics.Run(hctx) })
		results = m.cfg.Heuristics.Results()
	}

	var (
		core     *Core
		disk     Storage
		openErr  string
		score    int
		total    int
		gen      uint64
		maxID    uint32
		inflight bool
		lastGood time.Time
		ioDone   = make(chan cycleResult, 1)
	)
	ticker := time.NewTicker(m.cfg.Interval)
	defer ticker.Stop()

	publish := func() {
		if core == nil {
			return
		}
		d := core.Decision()
		v := qdevice.Vote{Ring: core.Membership().Ring, Cast: d.Cast, Reason: d.Reason}
		if d.Cast {
			// A stuck model must not keep the vote: two intervals after
			// the last good cycle, as the core's own rule.
			v.Expires = lastGood.Add(2 * m.cfg.Interval)
		}
		m.mu.Lock()
		m.snap, m.have = core.Snapshot(), true
		m.mu.Unlock()
		report(v)
	}
	startCycle := func() {
		b, ok := core.Tick()
		if !ok {
			m.log.Warn("qdisk cycle still in progress at the next interval; the storage is too slow for the interval", "interval", m.cfg.Interval)
			return
		}
		b.Timestamp = time.Now().UnixMilli()
		enc, err := b.AppendTo(nil)
		if err != nil {
			m.log.Error("qdisk: encode block", "err", err)
			core.Observe(err, nil)
			return
		}
		inflight = true
		d, id := disk, b.NodeID
		started := time.Now()
		// Not waited for on exit: a hung device must not hang the daemon.
		go func() {
			slots, werr, rerr := d.Cycle(id, enc)
			ioDone <- cycleResult{slots, werr, rerr, started, time.Now()}
		}()
	}
	var lastErr string
	observe := func(r cycleResult) {
		inflight = false
		if r.readErr != nil {
			r.slots = nil
		}
		core.Observe(r.writeErr, r.slots)
		errText := ""
		switch {
		case r.writeErr != nil:
			errText = r.writeErr.Error()
		case r.readErr != nil:
			errText = r.readErr.Error()
		}
		if errText != lastErr {
			if errText != "" {
				m.log.Error("qdisk I/O failed", "err", errText)
			} else {
				m.log.Info("qdisk I/O works again")
			}
			lastErr = errText
		}
		if core.OwnOK() {
			lastGood = r.started
		}
	}
	openDisk := func() {
		d, err := m.cfg.Open(m.cfg.Path, m.cfg.ClusterName, maxID)
		if err != nil {
			if err.Error() != openErr {
				m.log.Error("cannot use the qdisk storage; retrying every interval", "path", m.cfg.Path, "err", err)
				openErr = err.Error()
				m.setDisk("error: " + openErr)
			}
			return
		}
		disk, openErr = d, ""
		state := "open"
		if dd, ok := d.(*Disk); ok {
			if dd.Direct() {
				state = "open (direct I/O)"
			} else {
				state = "open (buffered I/O: O_DIRECT not supported here)"
				m.log.Warn("O_DIRECT is not supported for the qdisk storage; reads may come from the page cache", "path", m.cfg.Path)
			}
		}
		m.setDisk(state)
		m.log.Info("qdisk storage opened", "path", m.cfg.Path)
	}
	for {
		select {
		case <-ctx.Done():
			m.stop(core, disk, inflight, ioDone)
			return nil
		case u := <-updates:
			if core == nil {
				if u.NodeID == 0 {
					continue
				}
				if u.NodeID > MaxNodeID {
					return fmt.Errorf("qdisk: node id %d is above %d", u.NodeID, MaxNodeID)
				}
				maxID = max(m.cfg.MaxNodeID, u.NodeID)
				core = NewCore(Params{
					NodeID: u.NodeID, Incarnation: m.cfg.Incarnation,
					TKO: m.cfg.TKO, MinScore: m.cfg.MinScore, MaxNodeID: maxID,
				})
				core.SetScore(score, total)
			}
			if !u.Connected || u.Ring.IsZero() {
				if !u.Connected {
					core.SetDisconnected()
				}
				publish()
				continue
			}
			if u.Ring != core.Membership().Ring {
				gen++
				if m.cfg.Heuristics != nil {
					m.cfg.Heuristics.Trigger(gen)
				}
			}
			core.SetMembership(u.Membership)
			publish()
		case r := <-results:
			score, total = r.Score, r.Total
			if core != nil {
				core.SetScore(score, total)
				publish()
			}
		case <-ticker.C:
			if core == nil {
				continue
			}
			if disk == nil {
				openDisk()
				if disk == nil {
					continue
				}
			}
			startCycle()
			publish()
		case r := <-ioDone:
			observe(r)
			publish()
		}
	}
}

// stop writes a leaving block, so that the others need not wait tko
// cycles, and closes the storage.
func (m *Model) stop(core *Core, disk Storage, inflight bool, ioDone chan cycleResult) {
	if core == nil || disk == nil {
		if disk != nil {
			disk.Close()
		}
		return
	}
	wait := time.NewTimer(2 * m.cfg.Interval)
	defer wait.Stop()
	if inflight {
		select {
		case r := <-ioDone:
			core.Observe(r.writeErr, r.slots)
		case <-wait.C:
			m.log.Warn("qdisk I/O still in progress at exit; no leaving block written")
			return // the goroutine still uses disk
		}
	}
	core.Leave()
	if b, ok := core.Tick(); ok {
		b.Timestamp = time.Now().UnixMilli()
		if enc, err := b.AppendTo(nil); err == nil {
			done := make(chan error, 1)
			go func() {
				_, werr, _ := disk.Cycle(b.NodeID, enc)
				done <- werr
			}()
			select {
			case err := <-done:
				if err != nil {
					m.log.Warn("qdisk: leaving block not written", "err", err)
				}
			case <-wait.C:
				m.log.Warn("qdisk: leaving block not written in time")
				return
			}
		}
	}
	m.mu.Lock()
	m.snap = core.Snapshot()
	m.mu.Unlock()
	disk.Close()
}

func (m *Model) setDisk(s string) {
	m.mu.Lock()
	m.disk = s
	m.mu.Unlock()
}

// Status implements qdevice.Model: the qdisk settings, this node's state
// and one line per node seen on the storage.
func (m *Model) Status() []qdevice.Field {
	m.mu.Lock()
	snap, have, disk := m.snap, m.have, m.disk
	m.mu.Unlock()
	fs := []qdevice.Field{
		{Name: "Qdisk path", Value: m.cfg.Path},
		{Name: "Qdisk storage", Value: disk},
		{Name: "Qdisk interval", Value: m.cfg.Interval.String()},
		{Name: "Qdisk tko", Value: strconv.Itoa(m.cfg.TKO)},
		{Name: "Qdisk min score", Value: strconv.Itoa(m.cfg.MinScore)},
	}
	if !have {
		return fs
	}
	master := "none"
	if snap.Decision.Master != 0 {
		master = strconv.FormatUint(uint64(snap.Decision.Master), 10)
	}
	fs = append(fs,
		qdevice.Field{Name: "Qdisk state", Value: fmt.Sprintf("%s, cycle %d", snap.State, snap.Seq)},
		qdevice.Field{Name: "Heuristics score", Value: fmt.Sprintf("%d/%d", snap.Score, snap.Total)},
		qdevice.Field{Name: "Master", Value: master},
		qdevice.Field{Name: "Cast vote", Value: yesNo(snap.Decision.Cast) + " (" + snap.Decision.Reason + ")"},
	)
	if snap.Conflicts > 0 {
		fs = append(fs, qdevice.Field{Name: "Slot conflicts", Value: fmt.Sprintf("%d (another writer uses node id %d's slot)", snap.Conflicts, snap.NodeID)})
	}
	for _, p := range snap.Peers {
		fs = append(fs, qdevice.Field{Name: fmt.Sprintf("Node %d", p.ID), Value: describePeer(p, snap)})
	}
	return fs
}

// describePeer formats one node's disk state:
// "live, running, eligible, score 1/1, seq 123, ring 1.8 (1 2 3), master 1, cast".
func describePeer(p Peer, snap Snapshot) string {
	b := p.Block
	parts := []string{p.State.String()}
	if p.ID == snap.NodeID {
		parts[0] = "this node"
	}
	if p.State != PeerAbsent {
		parts = append(parts, b.State.String())
		if b.Eligible {
			parts = append(parts, "eligible")
		}
		parts = append(parts,
			fmt.Sprintf("score %d/%d", b.Score, b.Total),
			fmt.Sprintf("seq %d", b.Seq))
		if p.ID != snap.NodeID && p.Unchanged > 0 {
			parts = append(parts, fmt.Sprintf("unchanged for %d cycles", p.Unchanged))
		}
		if !b.Ring.IsZero() {
			parts = append(parts, fmt.Sprintf("ring %s (%s)", b.Ring, qdevice.FormatIDs(b.Members)))
		}
		if b.Master != 0 {
			parts = append(parts, fmt.Sprintf("master %d", b.Master))
		}
		if b.Cast {
			parts = append(parts, "cast")
		}
	}
	if p.Corrupt > 0 {
		parts = append(parts, fmt.Sprintf("%d corrupt reads", p.Corrupt))
	}
	if p.Restarts > 0 {
		parts = append(parts, fmt.Sprintf("%d restarts", p.Restarts))
	}
	return strings.Join(parts, ", ")
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}
