package heuristics

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestRunExec(t *testing.T) {
	checks := []Check{
		Exec("exec_true", "true"),
		Exec("exec_false", "echo broken >&2; exit 3"),
		Exec("exec_sleep", "sleep 5"),
		// A grandchild holding the output pipe must die with the group.
		Exec("exec_bg", "sleep 30 & sleep 30"),
	}
	start := time.Now()
	res := Run(context.Background(), checks, 300*time.Millisecond)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("run took %v; the timeout is 300ms", d)
	}
	if res.Score != 1 || res.Total != 4 || res.Passed() {
		t.Fatalf("score %d/%d passed=%v, want 1/4 failed: %s", res.Score, res.Total, res.Passed(), res)
	}
	if !res.Checks[0].OK() {
		t.Errorf("true: %v", res.Checks[0].Err)
	}
	if err := res.Checks[1].Err; !errors.Is(err, ErrExitStatus) {
		t.Errorf("false: err %v, want ErrExitStatus", err)
	} else if want := "broken"; !strings.Contains(err.Error(), want) {
		t.Errorf("false: err %q does not quote the output %q", err, want)
	}
	for _, i := range []int{2, 3} {
		if err := res.Checks[i].Err; !errors.Is(err, ErrTimeout) {
			t.Errorf("%s: err %v, want ErrTimeout", res.Checks[i].Name, err)
		}
	}
}

func TestRunAllPass(t *testing.T) {
	res := Run(context.Background(), []Check{Exec("a", "exit 0"), Exec("b", "true")}, 5*time.Second)
	if !res.Passed() || res.Score != 2 {
		t.Fatalf("got %s, want pass 2/2", res)
	}
	if got := res.String(); got != "pass 2/2" {
		t.Errorf("String = %q", got)
	}
	if res := Run(context.Background(), nil, time.Second); !res.Passed() || res.Total != 0 {
		t.Errorf("no checks: %s, want pass 0/0", res)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	res := Run(ctx, []Check{Exec("s", "sleep 5")}, 10*time.Second)
	if err := res.Checks[0].Err; !errors.Is(err, ErrCancelled) {
		t.Fatalf("err %v, want ErrCancelled", err)
	}
}

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	up := netip.MustParseAddrPort(ln.Addr().String())

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := netip.MustParseAddrPort(closed.Addr().String())
	closed.Close()

	res := Run(context.Background(), []Check{TCP("up", up), TCP("down", down)}, 2*time.Second)
	if !res.Checks[0].OK() {
		t.Errorf("listening port: %v", res.Checks[0].Err)
	}
	if res.Checks[1].OK() {
		t.Errorf("closed port passed")
	}
	if res.Score != 1 {
		t.Errorf("score %d, want 1", res.Score)
	}
}

func TestICMPLoopback(t *testing.T) {
	c := ICMP("lo", netip.MustParseAddr("127.0.0.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := c.Check(ctx)
	if errors.Is(err, ErrICMPNotPermitted) {
		t.Skipf("ICMP not permitted here: %v", err)
	}
	if err != nil {
		t.Fatalf("ping 127.0.0.1: %v", err)
	}
	// A second run uses the next sequence number.
	if err := c.Check(ctx); err != nil {
		t.Fatalf("second ping: %v", err)
	}
}

func TestICMPTimeout(t *testing.T) {
	// 127.0.0.1 answers; an address with no route does not. Use a
	// loopback address with a timeout too short to matter instead of the
	// network: what is checked is that the check returns ErrTimeout and
	// not a socket error.
	c := &icmpCheck{name: "lo", addr: netip.MustParseAddr("127.0.0.1"), every: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	err := c.Check(ctx)
	if errors.Is(err, ErrICMPNotPermitted) {
		t.Skipf("ICMP not permitted here: %v", err)
	}
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
}

func TestEchoRequestChecksum(t *testing.T) {
	b := echoRequest(false, 0x1234, 7, []byte("abcd"))
	want := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 7, 'a', 'b', 'c', 'd'}
	sum := b[2:4]
	if b[0] != want[0] || string(b[4:]) != string(want[4:]) {
		t.Fatalf("got % x", b)
	}
	// The checksum of a message including its checksum is 0.
	if checksum(b) != 0 {
		t.Fatalf("checksum % x does not verify", sum)
	}
	if v6 := echoRequest(true, 1, 2, nil); v6[0] != icmpv6EchoRequest || v6[2] != 0 || v6[3] != 0 {
		t.Fatalf("v6 request % x", v6)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"off", "sync", "on"} {
		m, err := ParseMode(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("yes"); err == nil {
		t.Error("ParseMode(yes) succeeded")
	}
}

// fakeCheck passes or fails after a delay (fake time under synctest).
type fakeCheck struct {
	name  string
	delay time.Duration
	fail  bool
	calls *atomic.Int32
}

func (f *fakeCheck) Name() string { return f.name }

func (f *fakeCheck) Check(ctx context.Context) error {
	f.calls.Add(1)
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return ctxError(ctx)
	}
	if f.fail {
		return errors.New("failed")
	}
	return nil
}

func TestRunnerSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		r := NewRunner(Config{
			Mode:        ModeOn,
			Timeout:     time.Second,
			SyncTimeout: 5 * time.Second,
			Interval:    30 * time.Second,
			Checks:      []Check{&fakeCheck{name: "a", delay: 100 * time.Millisecond, calls: &calls}},
		}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()

		start := time.Now()
		res := <-r.Results()
		if !res.Sync || !res.Passed() || res.Gen != 0 {
			t.Fatalf("startup result %+v", res)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("startup run took %v", d)
		}
		res = <-r.Results()
		if res.Sync {
			t.Fatalf("second result is a sync run")
		}
		if d := time.Since(start); d != 30*time.Second+200*time.Millisecond {
			t.Fatalf("periodic run ended at %v, want interval after the first", d)
		}

		// A trigger during the wait starts a sync run with the generation.
		time.Sleep(time.Second)
		r.Trigger(7)
		res = <-r.Results()
		if !res.Sync || res.Gen != 7 {
			t.Fatalf("triggered result %+v", res)
		}
		cancel()
		<-done
		if calls.Load() != 3 {
			t.Fatalf("%d calls, want 3", calls.Load())
		}
	})
}

func TestRunnerTriggerCancelsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		r := NewRunner(Config{
			Mode:        ModeSync,
			SyncTimeout: 10 * time.Second,
			Checks:      []Check{&fakeCheck{name: "slow", delay: 3 * time.Second, calls: &calls}},
		}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go r.Run(ctx)
		time.Sleep(time.Second)
		r.Trigger(1)
		res := <-r.Results()
		if res.Gen != 1 {
			t.Fatalf("first result has gen %d; the startup run should have been cancelled", res.Gen)
		}
		// Sync mode: no periodic runs.
		time.Sleep(time.Hour)
		select {
		case res := <-r.Results():
			t.Fatalf("unexpected result %+v", res)
		default:
		}
		if calls.Load() != 2 {
			t.Fatalf("%d calls, want 2", calls.Load())
		}
	})
}

func TestRunnerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		r := NewRunner(Config{
			Mode:        ModeSync,
			SyncTimeout: 2 * time.Second,
			Checks: []Check{
				&fakeCheck{name: "slow", delay: time.Minute, calls: &calls},
				&fakeCheck{name: "bad", fail: true, calls: &calls},
				&fakeCheck{name: "good", calls: &calls},
			},
		}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go r.Run(ctx)
		res := <-r.Results()
		if res.Score != 1 || res.Total != 3 || !errors.Is(res.Checks[0].Err, ErrTimeout) {
			t.Fatalf("result %s", res)
		}
		if res.Duration != 2*time.Second {
			t.Fatalf("run took %v, want the sync timeout", res.Duration)
		}
	})
}

func TestRunnerOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{Mode: ModeOff, Checks: []Check{Exec("x", "false")}}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go r.Run(ctx)
		if res := <-r.Results(); !res.Passed() || res.Total != 0 {
			t.Fatalf("off: %s", res)
		}
		r.Trigger(3)
		if res := <-r.Results(); res.Gen != 3 || res.Total != 0 {
			t.Fatalf("off after trigger: %+v", res)
		}
	})
}
