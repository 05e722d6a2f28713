package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	squorum "github.com/corogo/corogo/internal/service/quorum"
	"github.com/corogo/corogo/quorum"
)

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m)) }

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func dial(t *testing.T, s *clienttest.Server) *quorum.Client {
	t.Helper()
	c, err := quorum.Dial(ctx(t), quorum.WithSocket(s.Path()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// describe renders an event for comparisons.
func describe(ev quorum.Event) string {
	switch ev := ev.(type) {
	case *quorum.View:
		return fmt.Sprintf("view quorate=%v ring=%v members=%v", ev.Quorate, ev.Ring, ev.Members)
	case *quorum.NodeList:
		return fmt.Sprintf("nodelist ring=%v members=%v joined=%v left=%v", ev.Ring, ev.Members, ev.Joined, ev.Left)
	}
	return fmt.Sprintf("%T", ev)
}

// expect receives len(want) events and compares them.
func expect(t *testing.T, c *quorum.Client, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("event %d: channel closed (%v), want %s", i, c.Err(), w)
			}
			if got := describe(ev); got != w {
				t.Fatalf("event %d:\n got %s\nwant %s", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d: none, want %s", i, w)
		}
	}
}

// expectNone checks that no event is pending, after a request round trip
// has flushed whatever the daemon queued before it.
func expectNone(t *testing.T, c *quorum.Client) {
	t.Helper()
	if _, err := c.Quorate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-c.Events():
		t.Fatalf("unexpected event %s", describe(ev))
	default:
	}
}

func TestNotRunning(t *testing.T) {
	_, err := quorum.Dial(ctx(t), quorum.WithSocket(filepath.Join(t.TempDir(), "none.sock")))
	if !errors.Is(err, quorum.ErrNotRunning) {
		t.Errorf("Dial: %v, want ErrNotRunning", err)
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 4})
	t.Setenv(ipc.EnvSocket, s.Path())
	c, err := quorum.Dial(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.NodeID() != 4 {
		t.Errorf("NodeID = %d, want 4", c.NodeID())
	}
}

func TestQueries(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 1})
	c := dial(t, s)

	// Before any membership: no provider, so quorate; no view yet.
	q, err := c.Quorate(ctx(t))
	if err != nil || !q {
		t.Errorf("Quorate = %v, %v; want true", q, err)
	}
	typ, err := c.Type(ctx(t))
	if err != nil || typ != quorum.None || typ.String() != "Not configured" {
		t.Errorf("Type = %v, %v; want None", typ, err)
	}
	v, err := c.View(ctx(t))
	if err != nil || v.Ring != (quorum.RingID{}) || len(v.Members) != 0 {
		t.Errorf("View = %+v, %v; want empty", v, err)
	}

	s.SetMembership(service.RingID{Rep: 1, Seq: 0x2c}, []uint32{3, 1, 2})
	v, err = c.View(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(&v); got != "view quorate=true ring=1.2c members=[1 2 3]" {
		t.Errorf("View: %s", got)
	}

	s.SetQuorate(false)
	if q, err := c.Quorate(ctx(t)); err != nil || q {
		t.Errorf("Quorate = %v, %v; want false", q, err)
	}
	if typ, err := c.Type(ctx(t)); err != nil || typ != quorum.Votequorum {
		t.Errorf("Type = %v, %v; want Votequorum", typ, err)
	}
}

func TestTrackCurrent(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 1})
	s.SetMembership(service.RingID{Rep: 1, Seq: 4}, []uint32{1, 2})
	c := dial(t, s)

	if err := c.Track(ctx(t), quorum.TrackCurrent); err != nil {
		t.Fatal(err)
	}
	expect(t, c,
		"view quorate=true ring=1.4 members=[1 2]",
		"nodelist ring=1.4 members=[1 2] joined=[] left=[]")
	// TrackCurrent alone does not track.
	s.SetMembership(service.RingID{Rep: 1, Seq: 8}, []uint32{1})
	expectNone(t, c)
	if err := c.StopTracking(ctx(t)); !errors.Is(err, quorum.ErrNotExist) {
		t.Errorf("StopTracking when not tracking: %v, want ErrNotExist", err)
	}
}

func TestTrackChanges(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 1})
	s.SetMembership(service.RingID{Rep: 1, Seq: 4}, []uint32{1, 2})
	c := dial(t, s)

	if err := c.Track(ctx(t), quorum.TrackChanges); err != nil {
		t.Fatal(err)
	}
	expect(t, c,
		"view quorate=true ring=1.4 members=[1 2]",
		"nodelist ring=1.4 members=[1 2] joined=[] left=[]")

	s.SetMembership(service.RingID{Rep: 1, Seq: 8}, []uint32{1, 3})
	expect(t, c,
		"nodelist ring=1.8 members=[1 3] joined=[3] left=[2]",
		"view quorate=true ring=1.8 members=[1 3]")

	s.SetQuorate(false)
	expect(t, c, "view quorate=false ring=1.8 members=[1 3]")

	var se *quorum.StatusError
	err := c.Track(ctx(t), quorum.TrackChanges)
	if !errors.Is(err, quorum.ErrExist) || !errors.As(err, &se) || se.Op != "track start" {
		t.Errorf("second Track: %v, want a StatusError matching ErrExist", err)
	}

	if err := c.StopTracking(ctx(t)); err != nil {
		t.Fatal(err)
	}
	s.SetQuorate(true)
	expectNone(t, c)
}

func TestTrackChangesOnly(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 2})
	s.SetMembership(service.RingID{Rep: 1, Seq: 4}, []uint32{1, 2})
	c := dial(t, s)
	if err := c.Track(ctx(t), quorum.TrackChangesOnly); err != nil {
		t.Fatal(err)
	}
	expectNone(t, c)
	s.SetMembership(service.RingID{Rep: 2, Seq: 8}, []uint32{2})
	expect(t, c,
		"nodelist ring=2.8 members=[2] joined=[] left=[1]",
		"view quorate=true ring=2.8 members=[2]")
}

func TestTrackInvalidFlags(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{})
	c := dial(t, s)
	err := c.Track(ctx(t), 8)
	if !errors.Is(err, quorum.ErrInvalidArg) {
		t.Errorf("Track(8): %v, want ErrInvalidArg", err)
	}
	if errors.Is(err, quorum.ErrFailed) {
		t.Errorf("Track(8): %v matches ErrFailed too", err)
	}
}

func TestClose(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{})
	c := dial(t, s)
	if err := c.Track(ctx(t), quorum.TrackChanges); err != nil {
		t.Fatal(err)
	}
	// Events left unread are dropped by Close.
	s.SetMembership(service.RingID{Rep: 1, Seq: 1}, []uint32{1})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for range c.Events() {
	}
	if err := c.Err(); !errors.Is(err, quorum.ErrClosed) {
		t.Errorf("Err after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Quorate(ctx(t)); !errors.Is(err, quorum.ErrClosed) {
		t.Errorf("Quorate after Close: %v, want ErrClosed", err)
	}
	c.Close() // twice is fine
}

func TestDaemonGone(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{})
	c := dial(t, s)
	if c.Err() != nil {
		t.Fatalf("Err while up: %v", c.Err())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-c.Events():
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Events not closed when the daemon went away")
	}
	if err := c.Err(); !errors.Is(err, quorum.ErrDisconnected) {
		t.Errorf("Err: %v, want ErrDisconnected", err)
	}
	if _, err := c.View(ctx(t)); !errors.Is(err, quorum.ErrDisconnected) {
		t.Errorf("View: %v, want ErrDisconnected", err)
	}
}

// TestSlowReader checks that events nobody reads block neither the daemon
// nor the client's requests, and arrive complete and in order.
func TestSlowReader(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 1})
	c := dial(t, s)
	if err := c.Track(ctx(t), quorum.TrackChangesOnly); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		s.SetMembership(service.RingID{Rep: 1, Seq: uint64(i + 1)}, []uint32{1})
	}
	if _, err := c.Quorate(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		seq := fmt.Sprintf("1.%x", i+1)
		expect(t, c,
			"nodelist ring="+seq+" members=[1] joined="+map[bool]string{true: "[1]", false: "[]"}[i == 0]+" left=[]",
			"view quorate=true ring="+seq+" members=[1]")
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 1})
	s.SetMembership(service.RingID{Rep: 1, Seq: 1}, []uint32{1})
	c := dial(t, s)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := c.View(ctx(t)); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Quorate(ctx(t)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// rawDaemon serves the quorum service id with a handler of the test's.
type rawDaemon struct {
	onRequest func(c *ipc.Conn, r service.Request)
}

func (d rawDaemon) Open(*ipc.Conn, uint16) service.Status { return service.OK }
func (d rawDaemon) Requests(c *ipc.Conn, batch []service.Request, done func()) {
	for _, r := range batch {
		d.onRequest(c, r)
	}
	done()
}
func (d rawDaemon) Closed(*ipc.Conn, error) {}

func serveRaw(t *testing.T, d rawDaemon) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "qtest")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	srv, err := ipc.Listen(ipc.ServerOptions{Path: path, NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, d) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
		os.RemoveAll(dir)
	})
	return path
}

func TestMalformed(t *testing.T) {
	path := serveRaw(t, rawDaemon{onRequest: func(c *ipc.Conn, r service.Request) {
		switch r.Fn {
		case squorum.FnGetQuorate:
			c.Reply(r.ID, service.OK, []byte{7}) // not a boolean
		case squorum.FnTrackStart:
			c.Reply(r.ID, service.OK, nil)
			c.Event(squorum.EventNotify+100, []byte{1, 2, 3}, nil) // unknown kind: ignored
			c.Event(squorum.EventNotify, []byte{1, 0}, nil)        // truncated view
		}
	}})
	c, err := quorum.Dial(ctx(t), quorum.WithSocket(path))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Quorate(ctx(t)); !errors.Is(err, quorum.ErrMalformed) {
		t.Errorf("Quorate with a bad reply: %v, want ErrMalformed", err)
	}
	if err := c.Track(ctx(t), quorum.TrackChanges); err != nil {
		t.Fatal(err)
	}
	select {
	case ev, ok := <-c.Events():
		if ok {
			t.Fatalf("unexpected event %s", describe(ev))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Events not closed after a malformed event")
	}
	if err := c.Err(); !errors.Is(err, quorum.ErrMalformed) {
		t.Errorf("Err: %v, want ErrMalformed", err)
	}
	if _, err := c.View(ctx(t)); !errors.Is(err, quorum.ErrMalformed) {
		t.Errorf("View after the connection ended: %v, want ErrMalformed", err)
	}
}

func TestStatusError(t *testing.T) {
	for _, tc := range []struct {
		st   service.Status
		want error
	}{
		{service.ErrTryAgain, quorum.ErrTryAgain},
		{service.ErrBusy, quorum.ErrTryAgain},
		{service.ErrInvalidArg, quorum.ErrInvalidArg},
		{service.ErrExist, quorum.ErrExist},
		{service.ErrNotExist, quorum.ErrNotExist},
		{service.ErrAccess, quorum.ErrAccessDenied},
		{service.ErrNotSupport, quorum.ErrNotSupported},
		{service.ErrLibrary, quorum.ErrFailed},
		{service.ErrTimeout, quorum.ErrFailed},
	} {
		err := error(&quorum.StatusError{Op: "op", Status: quorum.Status(tc.st)})
		if !errors.Is(err, tc.want) {
			t.Errorf("%v does not match %v", err, tc.want)
		}
		if tc.want != quorum.ErrFailed && errors.Is(err, quorum.ErrFailed) {
			t.Errorf("%v matches ErrFailed", err)
		}
	}
	if got := (&quorum.StatusError{Op: "get view", Status: 6}).Error(); got != "quorum: get view: try again (status 6)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestRingIDString(t *testing.T) {
	if got := (quorum.RingID{NodeID: 2, Seq: 0xd43}).String(); got != "2.d43" {
		t.Errorf("RingID.String = %q, want 2.d43", got)
	}
}
