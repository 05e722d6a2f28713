package cpg_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/cpg"
	"github.com/corogo/corogo/cpg/cpgtest"
)

// wait bounds every wait for an event in these tests.
const wait = 5 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a client to s, closed when the test ends.
func dial(t *testing.T, s *cpgtest.Server, opts ...cpg.Option) *cpg.Client {
	t.Helper()
	c, err := cpg.Dial(testCtx(t), append([]cpg.Option{cpg.WithSocket(s.Socket())}, opts...)...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// next returns the next event that is not a *FlowControl.
func next(t *testing.T, c *cpg.Client) cpg.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed: %v", c.Err())
			}
			if _, flow := ev.(*cpg.FlowControl); flow {
				continue
			}
			return ev
		case <-time.After(wait):
			t.Fatal("no event")
		}
	}
}

// describe renders an event as text.
func describe(ev cpg.Event) string {
	switch ev := ev.(type) {
	case *cpg.Message:
		return fmt.Sprintf("msg %s %d/%d %v %q", ev.Group, ev.NodeID, ev.PID, ev.Guarantee, ev.Data)
	case *cpg.ConfChange:
		return fmt.Sprintf("conf %s members%v left%v joined%v", ev.Group, ev.Members, ev.Left, ev.Joined)
	case *cpg.TotemConfChange:
		return fmt.Sprintf("totem %v %v", ev.RingID, ev.Members)
	case *cpg.FlowControl:
		return fmt.Sprintf("flow %v", ev.On)
	case *cpg.SendError:
		return fmt.Sprintf("senderror %v", ev.Err)
	}
	return fmt.Sprintf("%T", ev)
}

// expect checks the next events of c.
func expect(t *testing.T, c *cpg.Client, want ...string) {
	t.Helper()
	for i, w := range want {
		if got := describe(next(t, c)); got != w {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

// quiet checks that c gets no group event for a short while.
func quiet(t *testing.T, c *cpg.Client) {
	t.Helper()
	select {
	case ev := <-c.Events():
		if _, flow := ev.(*cpg.FlowControl); !flow {
			t.Fatalf("unexpected event %s", describe(ev))
		}
	case <-time.After(50 * time.Millisecond):
	}
}

func join(t *testing.T, c *cpg.Client, group string) {
	t.Helper()
	if err := c.Join(testCtx(t), group); err != nil {
		t.Fatalf("join %s: %v", group, err)
	}
}

func mcast(t *testing.T, c *cpg.Client, group, data string) {
	t.Helper()
	if err := c.Mcast(testCtx(t), group, cpg.Agreed, []byte(data)); err != nil {
		t.Fatalf("mcast: %v", err)
	}
}

// clientGoroutines counts the goroutines of clients of this package and
// of their transport.
func clientGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "corogo/cpg.(*Client)") || strings.Contains(g, "internal/ipc.(*Client)") {
			n++
		}
	}
	return n
}

func TestJoinConfChangeLeave(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{NodeID: 3})
	c1 := dial(t, s, cpg.WithPID(100))
	c2 := dial(t, s, cpg.WithPID(200))
	if c1.LocalNodeID() != 3 {
		t.Fatalf("LocalNodeID %d", c1.LocalNodeID())
	}
	join(t, c1, "g")
	expect(t, c1, "conf g members[3/100] left[] joined[3/100:join]")
	join(t, c2, "g")
	want := "conf g members[3/100 3/200] left[] joined[3/200:join]"
	expect(t, c1, want)
	expect(t, c2, want)

	ms, err := c1.Membership(testCtx(t), "g")
	if err != nil || fmt.Sprint(ms) != "[3/100 3/200]" {
		t.Fatalf("membership %v %v", ms, err)
	}

	if err := c2.Leave(testCtx(t), "g"); err != nil {
		t.Fatal(err)
	}
	want = "conf g members[3/100] left[3/200:leave] joined[]"
	expect(t, c1, want)
	expect(t, c2, want)
	quiet(t, c2)
	mcast(t, c1, "g", "after")
	expect(t, c1, `msg g 3/100 agreed "after"`)
	quiet(t, c2)

	// Join again after the leave.
	join(t, c2, "g")
	want = "conf g members[3/100 3/200] left[] joined[3/200:join]"
	expect(t, c1, want)
	expect(t, c2, want)
}

// TestLeaveRightAfterJoin: the leave waits (retrying "try again") until
// the join has been delivered.
func TestLeaveRightAfterJoin(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{})
	s.Pause()
	c := dial(t, s, cpg.WithPID(1))
	join(t, c, "g")
	done := make(chan error, 1)
	go func() { done <- c.Leave(testCtx(t), "g") }()
	time.Sleep(30 * time.Millisecond)
	s.Unpause()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	expect(t, c, "conf g members[1/1] left[] joined[1/1:join]", "conf g members[] left[1/1:leave] joined[]")
}

func TestSelfDeliveryOrder(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{})
	c1 := dial(t, s, cpg.WithPID(1))
	c2 := dial(t, s, cpg.WithPID(2))
	join(t, c1, "g")
	join(t, c2, "g")
	next(t, c1)
	next(t, c1)
	next(t, c2)
	const n = 500
	errs := make(chan error, 2)
	for _, c := range []*cpg.Client{c1, c2} {
		go func() {
			for i := range n {
				if err := c.Mcast(testCtx(t), "g", cpg.Agreed, []byte(fmt.Sprintf("%d-%d", c.LocalNodeID(), i)), []byte("!")); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var seen [2][]string
	for k, c := range []*cpg.Client{c1, c2} {
		next := map[uint32]int{}
		for range 2 * n {
			m, ok := nextMsg(t, c)
			if !ok {
				t.Fatal("not a message")
			}
			if want := fmt.Sprintf("%d-%d!", m.NodeID, next[m.PID]); string(m.Data) != want {
				t.Fatalf("client %d: from pid %d got %q want %q", k, m.PID, m.Data, want)
			}
			next[m.PID]++
			seen[k] = append(seen[k], fmt.Sprint(m.PID, string(m.Data)))
		}
	}
	if !slices.Equal(seen[0], seen[1]) {
		t.Fatal("the two clients saw different orders")
	}
}

func nextMsg(t *testing.T, c *cpg.Client) (*cpg.Message, bool) {
	t.Helper()
	m, ok := next(t, c).(*cpg.Message)
	return m, ok
}

func TestGroups(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{NodeID: 2})
	c1 := dial(t, s, cpg.WithPID(10))
	c2 := dial(t, s, cpg.WithPID(20))
	join(t, c1, "b")
	join(t, c1, "a")
	join(t, c2, "b")
	expect(t, c1,
		"conf b members[2/10] left[] joined[2/10:join]",
		"conf a members[2/10] left[] joined[2/10:join]",
		"conf b members[2/10 2/20] left[] joined[2/20:join]")
	expect(t, c2, "conf b members[2/10 2/20] left[] joined[2/20:join]")

	// Two connections' messages are ordered by the ring, not by the
	// order of the calls: wait for one before sending the next.
	mcast(t, c1, "a", "to a")
	expect(t, c1, `msg a 2/10 agreed "to a"`)
	mcast(t, c2, "b", "to b")
	expect(t, c2, `msg b 2/20 agreed "to b"`)
	mcast(t, c1, "b", "to b too")
	expect(t, c1, `msg b 2/20 agreed "to b"`, `msg b 2/10 agreed "to b too"`)
	expect(t, c2, `msg b 2/10 agreed "to b too"`)

	gs, err := c2.Groups(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(gs); got != "[{a [2/10]} {b [2/10 2/20]}]" {
		t.Fatalf("groups %s", got)
	}
	names, err := c2.GroupNames(testCtx(t))
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("names %q %v", names, err)
	}
	ms, err := c2.Membership(testCtx(t), "nosuch")
	if err != nil || len(ms) != 0 {
		t.Fatalf("membership of an unknown group: %v %v", ms, err)
	}
}

func TestSafeAndVectors(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{})
	c := dial(t, s, cpg.WithPID(1))
	join(t, c, "g")
	next(t, c)
	if err := c.Mcast(testCtx(t), "g", cpg.Safe, []byte("a"), nil, []byte("bc")); err != nil {
		t.Fatal(err)
	}
	if err := c.TryMcast("g", cpg.Agreed); err != nil {
		t.Fatal(err)
	}
	expect(t, c, `msg g 1/1 safe "abc"`, `msg g 1/1 agreed ""`)
}

func TestTotemEvents(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{NodeID: 5})
	c := dial(t, s, cpg.WithTotemEvents(true))
	expect(t, c, "totem 5.4 [5]")
	s.Reconfigure()
	expect(t, c, "totem 5.8 [5]")
	// A client that did not ask gets none.
	c2 := dial(t, s)
	s.Reconfigure()
	expect(t, c, "totem 5.c [5]")
	quiet(t, c2)
}

func TestMaxAtomicAndTooBig(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{MaxMessage: 1000})
	c := dial(t, s)
	n, err := c.MaxAtomic(testCtx(t))
	if err != nil || n != 1000 {
		t.Fatalf("MaxAtomic %d %v", n, err)
	}
	join(t, c, "g")
	next(t, c)
	err = c.Mcast(testCtx(t), "g", cpg.Agreed, make([]byte, 600), make([]byte, 401))
	if !errors.Is(err, cpg.ErrTooBig) {
		t.Fatalf("Mcast of 1001 bytes: %v", err)
	}
	if err := c.TryMcast("g", cpg.Agreed, make([]byte, 1001)); !errors.Is(err, cpg.ErrTooBig) {
		t.Fatalf("TryMcast of 1001 bytes: %v", err)
	}
	if err := c.Mcast(testCtx(t), "g", cpg.Agreed, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if m, ok := nextMsg(t, c); !ok || len(m.Data) != 1000 {
		t.Fatal("no 1000-byte message")
	}
}

// TestLargeMessage: a message larger than the ring's item is fragmented
// and reassembled by the daemon; the client sees it whole.
func TestLargeMessage(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{MaxItem: 4096})
	c := dial(t, s)
	join(t, c, "g")
	next(t, c)
	data := bytes.Repeat([]byte("0123456789"), 10000)
	if err := c.Mcast(testCtx(t), "g", cpg.Agreed, data); err != nil {
		t.Fatal(err)
	}
	if m, ok := nextMsg(t, c); !ok || !bytes.Equal(m.Data, data) {
		t.Fatal("large message lost or damaged")
	}
}

func TestErrors(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{})
	c := dial(t, s, cpg.WithPID(1))
	ctx := testCtx(t)
	for _, x := range []struct {
		what string
		err  error
		want error
	}{
		{"mcast not joined", c.Mcast(ctx, "g", cpg.Agreed, []byte("x")), cpg.ErrNotJoined},
		{"trymcast not joined", c.TryMcast("g", cpg.Agreed, []byte("x")), cpg.ErrNotJoined},
		{"leave not joined", c.Leave(ctx, "g"), cpg.ErrNotJoined},
		{"empty name", c.Join(ctx, ""), cpg.ErrInvalidArg},
		{"long name", c.Join(ctx, strings.Repeat("x", cpg.MaxNameLen+1)), cpg.ErrNameTooLong},
		{"long name membership", func() error { _, err := c.Membership(ctx, strings.Repeat("x", 129)); return err }(), cpg.ErrNameTooLong},
	} {
		if !errors.Is(x.err, x.want) {
			t.Errorf("%s: %v, want %v", x.what, x.err, x.want)
		}
	}
	join(t, c, strings.Repeat("x", cpg.MaxNameLen))
	join(t, c, "g")
	if err := c.Mcast(ctx, "g", cpg.Guarantee(2), []byte("x")); !errors.Is(err, cpg.ErrInvalidArg) {
		t.Errorf("guarantee 2: %v", err)
	}

	// The daemon's own answers: the same process joining twice.
	err := c.Join(ctx, "g")
	var se *cpg.StatusError
	if !errors.Is(err, cpg.ErrExist) || !errors.As(err, &se) || se.Op != "join" || se.Status != 14 || se.Group != "g" {
		t.Fatalf("second join: %v", err)
	}
	if got := err.Error(); got != `cpg: join "g": already exists (14)` {
		t.Errorf("error text %q", got)
	}
	c2 := dial(t, s, cpg.WithPID(1))
	if err := c2.Join(ctx, "g"); !errors.Is(err, cpg.ErrExist) {
		t.Fatalf("join of the same pid by another client: %v", err)
	}

	// A join that keeps getting "try again" gives up with its context.
	c3 := dial(t, s, cpg.WithPID(3))
	s.Pause()
	join(t, c3, "h")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c3.Leave(short, "h"); !errors.Is(err, cpg.ErrTryAgain) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("leave before the join is delivered: %v", err)
	}
	s.Unpause()
}

func TestDialErrors(t *testing.T) {
	ctx := testCtx(t)
	_, err := cpg.Dial(ctx, cpg.WithSocket(filepath.Join(t.TempDir(), "none.sock")))
	if !errors.Is(err, cpg.ErrNotRunning) {
		t.Fatalf("dial without daemon: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "cpg: dial: ") {
		t.Fatalf("error text %q", err)
	}
	t.Setenv("COROSYNCD_SOCKET", filepath.Join(t.TempDir(), "env.sock"))
	if _, err := cpg.Dial(ctx); !errors.Is(err, cpg.ErrNotRunning) || !strings.Contains(err.Error(), "env.sock") {
		t.Fatalf("dial via the environment: %v", err)
	}
	// The environment names the socket.
	s := cpgtest.New(t, cpgtest.Options{Socket: os.Getenv("COROSYNCD_SOCKET")})
	c, err := cpg.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	s.Close()
}

func TestFlowControl(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{QueueLimit: 4})
	c := dial(t, s, cpg.WithPID(1))
	join(t, c, "g")
	next(t, c)
	s.Pause()

	// Fill the ring's queue and the engine's hold: TryMcast gives up.
	sent := 0
	deadline := time.Now().Add(wait)
	for {
		err := c.TryMcast("g", cpg.Agreed, []byte(fmt.Sprint(sent)))
		if errors.Is(err, cpg.ErrTryAgain) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if time.Now().After(deadline) {
			t.Fatalf("no flow control after %d messages", sent)
		}
	}
	if sent < 4 {
		t.Fatalf("only %d messages before flow control", sent)
	}
	// Wait for the event if TryMcast stopped on full buffers.
	for !c.FlowControl() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !c.FlowControl() {
		t.Fatal("FlowControl() is off")
	}
	// Mcast waits until ctx ends...
	short, cancel := context.WithTimeout(testCtx(t), 30*time.Millisecond)
	defer cancel()
	if err := c.Mcast(short, "g", cpg.Agreed, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Mcast under flow control: %v", err)
	}
	// ... or until the queue drains.
	done := make(chan error, 1)
	go func() { done <- c.Mcast(testCtx(t), "g", cpg.Agreed, []byte(fmt.Sprint(sent))) }()
	select {
	case err := <-done:
		t.Fatalf("Mcast returned under flow control: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	s.Unpause()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sent++
	var flow []bool
	for i := 0; i < sent; {
		select {
		case ev := <-c.Events():
			switch ev := ev.(type) {
			case *cpg.FlowControl:
				flow = append(flow, ev.On)
			case *cpg.Message:
				if string(ev.Data) != fmt.Sprint(i) {
					t.Fatalf("message %d: %q", i, ev.Data)
				}
				i++
			default:
				t.Fatalf("unexpected %s", describe(ev))
			}
		case <-time.After(wait):
			t.Fatalf("%d of %d messages", i, sent)
		}
	}
	if len(flow) < 2 || !flow[0] || flow[len(flow)-1] {
		// The off event may follow the last message.
		if ev := next2(t, c); len(flow) == 0 || !flow[0] || ev == nil || ev.On {
			t.Fatalf("flow events %v, then %v", flow, ev)
		}
	}
	if c.FlowControl() {
		t.Fatal("flow control still on")
	}
}

// next2 waits for a *FlowControl event.
func next2(t *testing.T, c *cpg.Client) *cpg.FlowControl {
	t.Helper()
	select {
	case ev := <-c.Events():
		f, _ := ev.(*cpg.FlowControl)
		return f
	case <-time.After(wait):
		return nil
	}
}

// TestClose: Close ends the client's goroutines and closes Events; the
// daemon makes it leave its groups.
func TestClose(t *testing.T) {
	before := clientGoroutines()
	s := cpgtest.New(t, cpgtest.Options{})
	c1 := dial(t, s, cpg.WithPID(1))
	c2, err := cpg.Dial(testCtx(t), cpg.WithSocket(s.Socket()), cpg.WithPID(2))
	if err != nil {
		t.Fatal(err)
	}
	join(t, c1, "g")
	join(t, c2, "g")
	mcast(t, c2, "g", "unread")
	expect(t, c1, "conf g members[1/1] left[] joined[1/1:join]", "conf g members[1/1 1/2] left[] joined[1/2:join]", `msg g 1/2 agreed "unread"`)
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	c2.Close() // twice is fine
	expect(t, c1, "conf g members[1/1] left[1/2:process down] joined[]")
	for range c2.Events() {
		// Unread events are dropped: at most what was in the channel.
	}
	if err := c2.Err(); !errors.Is(err, cpg.ErrClosed) {
		t.Fatalf("Err after Close: %v", err)
	}
	if err := c2.Mcast(testCtx(t), "g", cpg.Agreed, []byte("x")); !errors.Is(err, cpg.ErrClosed) {
		t.Fatalf("Mcast after Close: %v", err)
	}
	if _, err := c2.Groups(testCtx(t)); !errors.Is(err, cpg.ErrClosed) {
		t.Fatalf("Groups after Close: %v", err)
	}
	c1.Close()
	if n := clientGoroutines(); n != before {
		t.Fatalf("%d client goroutines left, %d before", n, before)
	}
}

// TestCloseWhileBlocked: Close wakes a Mcast waiting under flow control.
func TestCloseWhileBlocked(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{QueueLimit: 1})
	c, err := cpg.Dial(testCtx(t), cpg.WithSocket(s.Socket()))
	if err != nil {
		t.Fatal(err)
	}
	join(t, c, "g")
	s.Pause()
	done := make(chan error, 1)
	go func() {
		for {
			if err := c.Mcast(context.Background(), "g", cpg.Agreed, make([]byte, 1000)); err != nil {
				done <- err
				return
			}
		}
	}()
	for !c.FlowControl() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	c.Close()
	if err := <-done; !errors.Is(err, cpg.ErrClosed) {
		t.Fatalf("blocked Mcast: %v", err)
	}
}

// TestDaemonGone: when the daemon stops, Events delivers what came before
// and is closed, Err tells why, and requests fail.
func TestDaemonGone(t *testing.T) {
	before := clientGoroutines()
	s := cpgtest.New(t, cpgtest.Options{})
	c := dial(t, s, cpg.WithPID(1))
	join(t, c, "g")
	mcast(t, c, "g", "last")
	time.Sleep(20 * time.Millisecond)
	s.Close()
	var got []string
	timeout := time.After(wait)
	for done := false; !done; {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				done = true
				break
			}
			got = append(got, describe(ev))
		case <-timeout:
			t.Fatal("events not closed")
		}
	}
	if want := []string{"conf g members[1/1] left[] joined[1/1:join]", `msg g 1/1 agreed "last"`}; !slices.Equal(got, want) {
		t.Fatalf("events %q", got)
	}
	if err := c.Err(); !errors.Is(err, cpg.ErrDisconnected) {
		t.Fatalf("Err: %v", err)
	}
	if err := c.Mcast(testCtx(t), "g", cpg.Agreed, []byte("x")); !errors.Is(err, cpg.ErrDisconnected) {
		t.Fatalf("Mcast: %v", err)
	}
	if _, err := c.Membership(testCtx(t), "g"); !errors.Is(err, cpg.ErrDisconnected) {
		t.Fatalf("Membership: %v", err)
	}
	c.Close()
	if err := c.Err(); !errors.Is(err, cpg.ErrDisconnected) {
		t.Fatalf("Err after Close: %v", err)
	}
	if n := clientGoroutines(); n != before {
		t.Fatalf("%d client goroutines left, %d before", n, before)
	}
}

// TestSlowReader: events queue in the client while the application does
// not read, and flow control still works.
func TestSlowReader(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{QueueLimit: 8})
	c := dial(t, s, cpg.WithPID(1))
	join(t, c, "g")
	const n = 3000 // more than the channel and the transport's buffer
	for i := range n {
		if err := c.Mcast(testCtx(t), "g", cpg.Agreed, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	next(t, c)
	for i := range n {
		m, ok := nextMsg(t, c)
		if !ok || string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d", i)
		}
	}
}
