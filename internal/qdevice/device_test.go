package qdevice_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/internal/qdevice/qdevicetest"
)

// fakeModel votes for every ring containing node 1, after delay. With
// silent set it never votes.
type fakeModel struct {
	delay   time.Duration
	silent  bool
	expires time.Duration // when set, votes expire this long after they are made

	mu      sync.Mutex
	updates []qdevice.Update
	stopped bool
}

func (m *fakeModel) Name() string { return "Fake" }

func (m *fakeModel) Run(ctx context.Context, updates <-chan qdevice.Update, report func(qdevice.Vote)) error {
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			m.stopped = true
			m.mu.Unlock()
			return nil
		case u := <-updates:
			m.mu.Lock()
			m.updates = append(m.updates, u)
			m.mu.Unlock()
			if !u.Connected || u.Ring.IsZero() || m.silent {
				continue
			}
			if m.delay > 0 {
				select {
				case <-time.After(m.delay):
				case <-ctx.Done():
					continue
				}
			}
			v := qdevice.Vote{Ring: u.Ring, Cast: u.Contains(1), Reason: "fake"}
			if m.expires > 0 {
				v.Expires = time.Now().Add(m.expires)
			}
			report(v)
		}
	}
}

func (m *fakeModel) Status() []qdevice.Field { return []qdevice.Field{{Name: "Fake", Value: "yes"}} }

func (m *fakeModel) isStopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

func (m *fakeModel) lastUpdate() qdevice.Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.updates[len(m.updates)-1]
}

// start runs a device for node id; the returned function stops it and
// returns Run's error.
func start(t *testing.T, c *qdevicetest.Cluster, id uint32, m qdevice.Model, masterWins bool) (*qdevice.Device, func() error) {
	t.Helper()
	d := qdevice.NewDevice(qdevice.DeviceConfig{
		Timeout:    10 * time.Second,
		MasterWins: masterWins,
		Dial:       c.Dialer(id),
	}, m)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return d, func() error { cancel(); return <-done }
}

func TestDeviceRegistersAndPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2, 3)
		m := &fakeModel{}
		_, stop := start(t, c, 1, m, true)
		synctest.Wait()
		if name, mw := c.Registered(1); name != "Fake" || !mw {
			t.Fatalf("registered %q master_wins %v", name, mw)
		}
		if got := c.Casting(); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("casting %v right after start", got)
		}
		if u := m.lastUpdate(); !u.Connected || u.NodeID != 1 || len(u.Members) != 3 {
			t.Fatalf("model got %+v", u)
		}
		// Polls every timeout/2.
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(c.Polls(1)); n != 1+60/5 {
			t.Fatalf("%d polls in a minute, want 13", n)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if name, _ := c.Registered(1); name != "" {
			t.Fatalf("still registered as %q after stop", name)
		}
		polls := c.Polls(1)
		if last := polls[len(polls)-1]; last.Cast {
			t.Fatalf("last poll %+v casts; the vote must be withdrawn before unregistering", last)
		}
		if !m.isStopped() {
			t.Fatal("model not stopped")
		}
	})
}

func TestDevicePollsAtOnceOnNewRing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2)
		_, stop := start(t, c, 2, &fakeModel{}, false)
		defer stop()
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{2}) {
			t.Fatalf("casting %v", got)
		}
		time.Sleep(time.Second)
		c.Partition([]uint32{1}, []uint32{2})
		synctest.Wait()
		p, _ := c.LastPoll(2)
		if p.Ring != c.Membership(2).Ring || p.Cast || !p.At.Equal(time.Now()) {
			t.Fatalf("last poll %+v; want an immediate poll without the vote for the new ring", p)
		}
	})
}

func TestDeviceWaitsForModelOnNewRing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2)
		_, stop := start(t, c, 1, &fakeModel{delay: 8 * time.Second}, false)
		defer stop()
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("casting %v", got)
		}
		c.Partition([]uint32{1}, []uint32{2})
		newRing := c.Membership(1).Ring
		// Nothing is polled for the new ring until the model decides,
		// although the poll interval passes meanwhile.
		time.Sleep(7 * time.Second)
		synctest.Wait()
		for _, p := range c.Polls(1) {
			if p.Ring == newRing {
				t.Fatalf("polled %+v before the model's vote", p)
			}
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if p, _ := c.LastPoll(1); p.Ring != newRing || !p.Cast {
			t.Fatalf("last poll %+v, want the vote for %s", p, newRing)
		}
	})
}

func TestDeviceGivesUpWaitingForModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2)
		_, stop := start(t, c, 1, &fakeModel{silent: true}, false)
		defer stop()
		synctest.Wait()
		if _, ok := c.LastPoll(1); ok {
			t.Fatal("polled before any vote")
		}
		// 3/4 of the default sync_timeout (30 s).
		time.Sleep(22499 * time.Millisecond)
		synctest.Wait()
		if _, ok := c.LastPoll(1); ok {
			t.Fatal("polled too early")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if p, ok := c.LastPoll(1); !ok || p.Cast {
			t.Fatalf("after the wait: %+v %v, want a poll without the vote", p, ok)
		}
	})
}

func TestDeviceVoteExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2)
		_, stop := start(t, c, 1, &fakeModel{expires: 2 * time.Second}, false)
		defer stop()
		synctest.Wait()
		if got := c.Casting(); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("casting %v", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if p, _ := c.LastPoll(1); p.Cast || !p.At.Equal(time.Now()) {
			t.Fatalf("last poll %+v; want the vote withdrawn when it expires", p)
		}
	})
}

func TestDeviceReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2)
		m := &fakeModel{}
		d, stop := start(t, c, 1, m, false)
		defer stop()
		synctest.Wait()
		c.SetDialError(1, errors.New("corosyncd is down"))
		c.Disconnect(1)
		synctest.Wait()
		if u := m.lastUpdate(); u.Connected || u.NodeID != 1 {
			t.Fatalf("model not told of the lost connection: %+v", u)
		}
		if name, _ := c.Registered(1); name != "" {
			t.Fatalf("registered %q", name)
		}
		// Backoff 1 s, 2 s, 4 s, ... bounded by 30 s.
		time.Sleep(100 * time.Second)
		c.SetDialError(1, nil)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if name, _ := c.Registered(1); name != "Fake" {
			t.Fatalf("not registered again after the daemon came back")
		}
		if got := c.Casting(); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("casting %v after reconnecting", got)
		}
		fs := d.Status()
		if fs[0] != (qdevice.Field{Name: "Model", Value: "Fake"}) || fs[len(fs)-1].Name != "Fake" {
			t.Fatalf("status %v", fs)
		}
	})
}

func TestDeviceStaleRingIsNotFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2)
		_, stop := start(t, c, 1, &fakeModel{delay: time.Second}, false)
		defer stop()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		first := len(c.Polls(1))
		// Two changes in a row: the second arrives while the model decides
		// on the first; the vote for the first ring is stale.
		c.Partition([]uint32{1}, []uint32{2})
		c.Partition([]uint32{1, 2})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if p, _ := c.LastPoll(1); p.Ring != c.Membership(1).Ring || !p.Cast {
			t.Fatalf("last poll %+v", p)
		}
		if len(c.Polls(1)) <= first {
			t.Fatal("no polls after the changes")
		}
	})
}
