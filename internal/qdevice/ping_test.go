package qdevice_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/internal/qdevice/heuristics"
	"github.com/corogo/corogo/internal/qdevice/qdevicetest"
)

func TestPingDecide(t *testing.T) {
	for _, tc := range []struct {
		configured, members, score, min int
		cast                            bool
	}{
		{4, 2, 1, 1, true},  // half: a tie, broken by the heuristics
		{4, 1, 1, 1, false}, // minority
		{4, 3, 1, 1, true},  // majority
		{4, 2, 0, 1, false}, // heuristics failed
		{5, 2, 1, 1, false}, // 2 of 5 is a minority
		{5, 3, 2, 2, true},
		{3, 2, 1, 2, false}, // score below min
		{2, 1, 1, 1, true},  // two nodes: the one reaching the targets
		{4, 0, 1, 1, false}, // no membership
	} {
		cast, reason := qdevice.PingDecide(tc.configured, tc.members, tc.score, tc.min)
		if cast != tc.cast || reason == "" {
			t.Errorf("PingDecide(%d, %d, %d, %d) = %v %q, want %v", tc.configured, tc.members, tc.score, tc.min, cast, reason, tc.cast)
		}
	}
}

// switchCheck passes while ok is set; it takes 100 ms.
type switchCheck struct{ ok atomic.Bool }

func (c *switchCheck) Name() string { return "switch" }

func (c *switchCheck) Check(ctx context.Context) error {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	if !c.ok.Load() {
		return errors.New("unreachable")
	}
	return nil
}

func TestPingModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2, 3, 4)
		checks := map[uint32]*switchCheck{}
		for _, id := range []uint32{1, 2, 3, 4} {
			chk := &switchCheck{}
			chk.ok.Store(true)
			checks[id] = chk
			runner := heuristics.NewRunner(heuristics.Config{
				Mode: heuristics.ModeOn, Timeout: 5 * time.Second, SyncTimeout: 15 * time.Second,
				Interval: 30 * time.Second, Checks: []heuristics.Check{chk},
			}, nil)
			p := qdevice.NewPing(qdevice.PingConfig{
				ConfiguredNodes: 4, MinScore: 1, Heuristics: runner, Validity: 30*time.Second + 5*time.Second + time.Second,
			})
			_, stop := start(t, c, id, p, false)
			defer stop()
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{1, 2, 3, 4}) {
			t.Fatalf("casting %v", got)
		}
		// 2+2 split where both halves reach the targets: both get the
		// vote (the documented limit of a tie breaker without shared
		// storage).
		c.Partition([]uint32{1, 2}, []uint32{3, 4})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{1, 2, 3, 4}) {
			t.Fatalf("casting %v after a 2+2 split", got)
		}
		// The split cut 3 and 4 from the targets: only 1 and 2 cast.
		checks[3].ok.Store(false)
		checks[4].ok.Store(false)
		c.Partition([]uint32{1, 2, 3, 4})
		c.Partition([]uint32{1, 2}, []uint32{3, 4})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{1, 2}) {
			t.Fatalf("casting %v, want the half that reaches the targets", got)
		}
		// A single node never gets the vote.
		checks[3].ok.Store(true)
		c.Partition([]uint32{1, 2, 4}, []uint32{3})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{1, 2}) {
			t.Fatalf("casting %v, want 1 2 (4 fails its checks, 3 is alone)", got)
		}
		// Periodic runs (mode on) notice the targets coming back.
		checks[4].ok.Store(true)
		time.Sleep(31 * time.Second)
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{1, 2, 4}) {
			t.Fatalf("casting %v, want 1 2 4", got)
		}
	})
}
