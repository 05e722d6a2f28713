package votequorum_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	svq "github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/votequorum"
	"github.com/corogo/corogo/votequorum/votequorumtest"
)

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m)) }

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func dial(t *testing.T, s *votequorumtest.Server) *votequorum.Client {
	t.Helper()
	c, err := votequorum.Dial(ctx(t), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// threeNodes is a cluster of nodes 1, 2 and 3 with one vote each, seen
// from node 1.
func threeNodes(t *testing.T) *votequorumtest.Server {
	return votequorumtest.Start(t, votequorumtest.Options{
		NodeID: 1,
		Nodes:  []votequorumtest.Node{{ID: 1}, {ID: 2}, {ID: 3}},
	})
}

// describe renders an event for comparisons.
func describe(ev votequorum.Event) string {
	switch ev := ev.(type) {
	case *votequorum.QuorumNotification:
		var nodes []string
		for _, n := range ev.Nodes {
			nodes = append(nodes, fmt.Sprintf("%d:%v", n.NodeID, n.State))
		}
		return fmt.Sprintf("quorum ctx=%#x quorate=%v nodes=[%s]", ev.Context, ev.Quorate, strings.Join(nodes, " "))
	case *votequorum.NodeListNotification:
		return fmt.Sprintf("nodelist ctx=%#x ring=%v members=%v", ev.Context, ev.Ring, ev.Members)
	case *votequorum.ExpectedVotesNotification:
		return fmt.Sprintf("expected ctx=%#x votes=%d", ev.Context, ev.ExpectedVotes)
	}
	return fmt.Sprintf("%T", ev)
}

// expect receives len(want) events and compares them.
func expect(t *testing.T, c *votequorum.Client, want ...string) {
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
func expectNone(t *testing.T, c *votequorum.Client) {
	t.Helper()
	if _, err := c.GetInfo(ctx(t), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-c.Events():
		t.Fatalf("unexpected event %s", describe(ev))
	default:
	}
}

func TestNotRunning(t *testing.T) {
	_, err := votequorum.Dial(ctx(t), filepath.Join(t.TempDir(), "none.sock"))
	if !errors.Is(err, votequorum.ErrNotRunning) {
		t.Errorf("Dial: %v, want ErrNotRunning", err)
	}
}

func TestNoProvider(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{NoProvider: true})
	_, err := votequorum.Dial(ctx(t), s.Path())
	if !errors.Is(err, votequorum.ErrNoService) {
		t.Errorf("Dial: %v, want ErrNoService", err)
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{NodeID: 4})
	t.Setenv(ipc.EnvSocket, s.Path())
	c, err := votequorum.Dial(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.LocalNodeID() != 4 {
		t.Errorf("LocalNodeID = %d, want 4", c.LocalNodeID())
	}
}

func TestGetInfo(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID: 2,
		Nodes:  []votequorumtest.Node{{ID: 1}, {ID: 2, Votes: 2}, {ID: 3}},
		Flags:  votequorum.WaitForAll | votequorum.LastManStanding,
	})
	s.SetMembership(votequorum.RingID{NodeID: 1, Seq: 8}, []uint32{1, 2})
	c := dial(t, s)

	// Node 2's two votes disable last man standing, as corosync does
	// ("supported only when all cluster nodes votes are set to 1").
	want := votequorum.Info{
		NodeID: 2, State: votequorum.Member, Votes: 2, ExpectedVotes: 4, HighestExpected: 4,
		TotalVotes: 3, Quorum: 3, Flags: votequorum.Quorate | votequorum.WaitForAll,
	}
	for _, id := range []uint32{0, 2} {
		in, err := c.GetInfo(ctx(t), id)
		if err != nil || in != want {
			t.Errorf("GetInfo(%d) = %+v, %v\nwant %+v", id, in, err, want)
		}
	}
	in, err := c.GetInfo(ctx(t), 3)
	if err != nil || in.State != votequorum.Dead || in.NodeID != 3 || in.Votes != 1 {
		t.Errorf("GetInfo(3) = %+v, %v; want a dead node with one vote", in, err)
	}

	_, err = c.GetInfo(ctx(t), 9)
	var se *votequorum.StatusError
	if !errors.Is(err, votequorum.ErrNotExist) || !errors.As(err, &se) || se.Op != "get info" ||
		se.Status != votequorum.Status(service.ErrNotExist) {
		t.Errorf("GetInfo(9): %v, want a StatusError matching ErrNotExist", err)
	}
	if got := err.Error(); got != "votequorum: get info: does not exist (status 12)" {
		t.Errorf("error text %q", got)
	}
}

func TestSetExpected(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	if err := c.SetExpected(ctx(t), 5); err != nil {
		t.Fatal(err)
	}
	in, err := c.GetInfo(ctx(t), 0)
	if err != nil || in.ExpectedVotes != 5 || in.Quorum != 3 || in.Flags&votequorum.Quorate == 0 {
		t.Errorf("after SetExpected(5): %+v, %v", in, err)
	}
	if err := c.SetExpected(ctx(t), 6); !errors.Is(err, votequorum.ErrInvalidArg) {
		t.Errorf("SetExpected(6): %v, want ErrInvalidArg", err)
	}
	// corosync checks 0 as "no new value": the quorum stays, so it passes
	// and changes nothing (corosync-quorumtool refuses 0 itself).
	if err := c.SetExpected(ctx(t), 0); err != nil {
		t.Errorf("SetExpected(0): %v", err)
	}
	if in, err := c.GetInfo(ctx(t), 0); err != nil || in.ExpectedVotes != 5 || in.Quorum != 3 {
		t.Errorf("after SetExpected(0): %+v, %v", in, err)
	}
	want := []string{"setexpected 5", "setexpected 6", "setexpected 0"}
	if got := s.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestSetVotes(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	if err := c.SetVotes(ctx(t), 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.SetVotes(ctx(t), 3, 0); err != nil {
		t.Fatal(err)
	}
	if in, _ := s.Info(1); in.Votes != 2 || in.TotalVotes != 3 {
		t.Errorf("node 1 after SetVotes: %+v", in)
	}
	if err := c.SetVotes(ctx(t), 7, 1); !errors.Is(err, votequorum.ErrNotExist) {
		t.Errorf("SetVotes of an unknown node: %v, want ErrNotExist", err)
	}
	if err := c.SetVotes(ctx(t), 1, 0); !errors.Is(err, votequorum.ErrInvalidArg) {
		t.Errorf("SetVotes breaking quorum: %v, want ErrInvalidArg", err)
	}
	want := []string{"setvotes 1 2", "setvotes 3 0", "setvotes 7 1", "setvotes 1 0"}
	if got := s.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestTrackCurrent(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	if err := c.TrackStart(ctx(t), votequorum.TrackCurrent, 0x77); err != nil {
		t.Fatal(err)
	}
	expect(t, c,
		"nodelist ctx=0x77 ring=1.4 members=[1 2 3]",
		"quorum ctx=0x77 quorate=true nodes=[1:Member 2:Member 3:Member]")
	// TrackCurrent alone does not track.
	s.SetMembership(votequorum.RingID{NodeID: 1, Seq: 8}, []uint32{1, 2})
	expectNone(t, c)
	if err := c.TrackStop(ctx(t)); !errors.Is(err, votequorum.ErrNotExist) {
		t.Errorf("TrackStop when not tracking: %v, want ErrNotExist", err)
	}
}

func TestTrackChanges(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	if err := c.TrackStart(ctx(t), votequorum.TrackChanges, 5); err != nil {
		t.Fatal(err)
	}
	expect(t, c,
		"nodelist ctx=0x5 ring=1.4 members=[1 2 3]",
		"quorum ctx=0x5 quorate=true nodes=[1:Member 2:Member 3:Member]")

	s.SetMembership(votequorum.RingID{NodeID: 1, Seq: 8}, []uint32{1})
	expect(t, c,
		"nodelist ctx=0x5 ring=1.8 members=[1]",
		"quorum ctx=0x5 quorate=false nodes=[1:Member 2:Dead 3:Dead]")

	s.SetExpected(1)
	expect(t, c,
		"expected ctx=0x5 votes=1",
		"quorum ctx=0x5 quorate=true nodes=[1:Member 2:Dead 3:Dead]")

	// As corosync, a second TrackStart sends the current state with its
	// context before it is refused.
	err := c.TrackStart(ctx(t), votequorum.TrackChanges, 6)
	var se *votequorum.StatusError
	if !errors.Is(err, votequorum.ErrExist) || !errors.As(err, &se) || se.Op != "track start" {
		t.Errorf("second TrackStart: %v, want a StatusError matching ErrExist", err)
	}
	expect(t, c,
		"nodelist ctx=0x6 ring=1.8 members=[1]",
		"quorum ctx=0x6 quorate=true nodes=[1:Member 2:Dead 3:Dead]")
	if err := c.TrackStop(ctx(t)); err != nil {
		t.Fatal(err)
	}
	s.SetExpected(3)
	expectNone(t, c)
	want := []string{"trackstart 2 0x5", "trackstart 2 0x6", "trackstop"}
	if got := s.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestTrackChangesOnly(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	if err := c.TrackStart(ctx(t), votequorum.TrackChangesOnly, 0); err != nil {
		t.Fatal(err)
	}
	expectNone(t, c)
	// Node 2's votes raise the total above the expected votes, which
	// follow; the quorate state does not change, so no quorum
	// notification.
	s.SetVotes(2, 3)
	expect(t, c, "expected ctx=0x0 votes=5")
	expectNone(t, c)
	if in, _ := s.Info(2); in.Votes != 3 {
		t.Errorf("node 2 after SetVotes: %+v", in)
	}
	if err := c.TrackStart(ctx(t), votequorum.TrackFlags(8), 0); !errors.Is(err, votequorum.ErrInvalidArg) {
		t.Errorf("TrackStart with unknown flags: %v, want ErrInvalidArg", err)
	}
}

// qdeviceNodes are threeNodes with a quorum device of one vote configured:
// expected votes 4.
func qdeviceNodes(t *testing.T) *votequorumtest.Server {
	return votequorumtest.Start(t, votequorumtest.Options{
		NodeID:       1,
		Nodes:        []votequorumtest.Node{{ID: 1}, {ID: 2}, {ID: 3}},
		QdeviceVotes: 1,
	})
}

func TestQdevice(t *testing.T) {
	s := qdeviceNodes(t)
	c := dial(t, s)
	ring := votequorum.RingID{NodeID: 1, Seq: 4}

	if err := c.QdevicePoll(ctx(t), "Qdevice", true, ring); !errors.Is(err, votequorum.ErrNotExist) {
		t.Errorf("poll before register: %v, want ErrNotExist", err)
	}
	if err := c.QdeviceRegister(ctx(t), "Qdevice"); err != nil {
		t.Fatal(err)
	}
	// Registering the same name again is harmless; another is refused.
	if err := c.QdeviceRegister(ctx(t), "Qdevice"); err != nil {
		t.Errorf("second register: %v", err)
	}
	if err := c.QdeviceRegister(ctx(t), "other"); !errors.Is(err, votequorum.ErrExist) {
		t.Errorf("register another: %v, want ErrExist", err)
	}
	in, _ := c.GetInfo(ctx(t), 0)
	if in.Flags&votequorum.QdeviceRegistered == 0 || in.QdeviceName != "Qdevice" || in.QdeviceVotes != 1 || in.TotalVotes != 3 {
		t.Errorf("registered, not polled: %+v", in)
	}

	if err := c.QdevicePoll(ctx(t), "Qdevice", true, votequorum.RingID{NodeID: 1, Seq: 3}); !errors.Is(err, votequorum.ErrMessage) {
		t.Errorf("poll with a stale ring: %v, want ErrMessage", err)
	}
	if err := c.QdevicePoll(ctx(t), "other", true, ring); !errors.Is(err, votequorum.ErrInvalidArg) {
		t.Errorf("poll of another name: %v, want ErrInvalidArg", err)
	}
	if err := c.QdevicePoll(ctx(t), "Qdevice", true, ring); err != nil {
		t.Fatal(err)
	}
	if err := c.QdeviceMasterWins(ctx(t), "Qdevice", true); err != nil {
		t.Fatal(err)
	}
	in, _ = c.GetInfo(ctx(t), 0)
	qf := votequorum.QdeviceRegistered | votequorum.QdeviceAlive | votequorum.QdeviceCastVote | votequorum.QdeviceMasterWins
	if in.Flags&qf != qf || in.TotalVotes != 4 {
		t.Errorf("polled: %+v (flags %v)", in, in.Flags)
	}

	if err := c.QdeviceUpdate(ctx(t), "other", "new"); !errors.Is(err, votequorum.ErrInvalidArg) {
		t.Errorf("update of another name: %v, want ErrInvalidArg", err)
	}
	if err := c.QdeviceUpdate(ctx(t), "Qdevice", "new"); err != nil {
		t.Fatal(err)
	}
	if err := c.QdeviceUnregister(ctx(t), "Qdevice"); !errors.Is(err, votequorum.ErrInvalidArg) {
		t.Errorf("unregister of the old name: %v, want ErrInvalidArg", err)
	}
	if err := c.QdeviceUnregister(ctx(t), "new"); err != nil {
		t.Fatal(err)
	}
	if err := c.QdeviceUnregister(ctx(t), "new"); !errors.Is(err, votequorum.ErrNotExist) {
		t.Errorf("second unregister: %v, want ErrNotExist", err)
	}
	in, _ = c.GetInfo(ctx(t), 0)
	if in.Flags&qf != 0 || in.QdeviceName != "" || in.TotalVotes != 3 {
		t.Errorf("unregistered: %+v", in)
	}
	want := []string{
		"qdevice poll Qdevice true 1.4",
		"qdevice register Qdevice", "qdevice register Qdevice", "qdevice register other",
		"qdevice poll Qdevice true 1.3", "qdevice poll other true 1.4", "qdevice poll Qdevice true 1.4",
		"qdevice masterwins Qdevice true",
		"qdevice update other new", "qdevice update Qdevice new",
		"qdevice unregister Qdevice", "qdevice unregister new", "qdevice unregister new",
	}
	if got := s.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestQdeviceInQuorumNotification(t *testing.T) {
	s := qdeviceNodes(t)
	c := dial(t, s)
	if err := c.TrackStart(ctx(t), votequorum.TrackChangesOnly, 1); err != nil {
		t.Fatal(err)
	}
	// Registering changes no quorum: no notification until the next one,
	// which lists the device (node 0) after the nodes.
	if err := c.QdeviceRegister(ctx(t), "dev"); err != nil {
		t.Fatal(err)
	}
	expectNone(t, c)
	s.SetMembership(votequorum.RingID{NodeID: 1, Seq: 8}, []uint32{1, 2, 3})
	expect(t, c,
		"nodelist ctx=0x1 ring=1.8 members=[1 2 3]",
		"quorum ctx=0x1 quorate=true nodes=[1:Member 2:Member 3:Member 0:Member]")
}

func TestQdeviceDenied(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{DenyQdevice: true})
	c := dial(t, s)
	err := c.QdeviceRegister(ctx(t), "dev")
	if !errors.Is(err, votequorum.ErrAccess) {
		t.Errorf("register: %v, want ErrAccess", err)
	}
}

func TestQdeviceNames(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	long := strings.Repeat("x", votequorum.MaxQdeviceNameLen+1)
	ring := votequorum.RingID{NodeID: 1, Seq: 4}
	for _, name := range []string{"", long, "a\x00b"} {
		for what, err := range map[string]error{
			"register":    c.QdeviceRegister(ctx(t), name),
			"unregister":  c.QdeviceUnregister(ctx(t), name),
			"update old":  c.QdeviceUpdate(ctx(t), name, "x"),
			"update new":  c.QdeviceUpdate(ctx(t), "x", name),
			"poll":        c.QdevicePoll(ctx(t), name, true, ring),
			"master wins": c.QdeviceMasterWins(ctx(t), name, true),
		} {
			if !errors.Is(err, votequorum.ErrInvalidArg) {
				t.Errorf("%s %q: %v, want ErrInvalidArg", what, name, err)
			}
		}
	}
	if got := s.Calls(); len(got) != 0 {
		t.Errorf("requests sent: %q", got)
	}
	// The longest name passes.
	if err := c.QdeviceRegister(ctx(t), long[1:]); err != nil {
		t.Errorf("register a name of %d bytes: %v", len(long)-1, err)
	}
}

func TestCancelWaitForAll(t *testing.T) {
	// Node 1 of two, alone: it waits for all.
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID:  1,
		Nodes:   []votequorumtest.Node{{ID: 1}, {ID: 2}},
		Members: []uint32{1},
		Flags:   votequorum.WaitForAll | votequorum.TwoNode,
	})
	c := dial(t, s)
	in, _ := c.GetInfo(ctx(t), 0)
	if in.Flags != votequorum.TwoNode|votequorum.WaitForAll {
		t.Errorf("flags before CancelWaitForAll: %v", in.Flags)
	}
	if err := c.CancelWaitForAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// The wait ends; the option stays (the flag is the option's).
	in, _ = c.GetInfo(ctx(t), 0)
	if in.Flags != votequorum.TwoNode|votequorum.Quorate|votequorum.WaitForAll {
		t.Errorf("flags after CancelWaitForAll: %v", in.Flags)
	}
}

func TestRefused(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	for _, x := range []struct {
		fn   uint16
		st   service.Status
		call func() error
		want error
	}{
		{svq.FnSetExpected, service.ErrTryAgain, func() error { return c.SetExpected(ctx(t), 3) }, votequorum.ErrTryAgain},
		{svq.FnSetVotes, service.ErrBusy, func() error { return c.SetVotes(ctx(t), 0, 1) }, votequorum.ErrTryAgain},
		{svq.FnCancelWaitForAll, service.ErrNotSupport, func() error { return c.CancelWaitForAll(ctx(t)) }, votequorum.ErrNotSupported},
		{svq.FnTrackStop, service.ErrLibrary, func() error { return c.TrackStop(ctx(t)) }, votequorum.ErrFailed},
		{svq.FnQdeviceRegister, service.ErrAccess, func() error { return c.QdeviceRegister(ctx(t), "d") }, votequorum.ErrAccess},
	} {
		s.Refuse(x.fn, x.st)
		if err := x.call(); !errors.Is(err, x.want) {
			t.Errorf("fn %d refused with %v: %v, want %v", x.fn, x.st, err, x.want)
		}
		s.Refuse(x.fn, service.OK)
	}
	if err := c.SetExpected(ctx(t), 3); err != nil {
		t.Errorf("after Refuse(OK): %v", err)
	}
}

func TestStatusErrorIs(t *testing.T) {
	sentinels := []error{votequorum.ErrTryAgain, votequorum.ErrInvalidArg, votequorum.ErrNotExist,
		votequorum.ErrExist, votequorum.ErrAccess, votequorum.ErrMessage, votequorum.ErrNotSupported, votequorum.ErrFailed}
	for _, x := range []struct {
		st   service.Status
		want error
		name string
	}{
		{service.ErrTryAgain, votequorum.ErrTryAgain, "try again"},
		{service.ErrBusy, votequorum.ErrTryAgain, "busy"},
		{service.ErrInvalidArg, votequorum.ErrInvalidArg, "invalid argument"},
		{service.ErrNotExist, votequorum.ErrNotExist, "does not exist"},
		{service.ErrExist, votequorum.ErrExist, "already exists"},
		{service.ErrAccess, votequorum.ErrAccess, "access denied"},
		{svq.ErrMessage, votequorum.ErrMessage, "message error"},
		{service.ErrNotSupport, votequorum.ErrNotSupported, "not supported"},
		{service.ErrLibrary, votequorum.ErrFailed, "library error"},
		{service.ErrNoSpace, votequorum.ErrFailed, "no space"},
	} {
		e := &votequorum.StatusError{Op: "op", Status: votequorum.Status(x.st)}
		for _, s := range sentinels {
			if got := errors.Is(e, s); got != (s == x.want) {
				t.Errorf("status %d: errors.Is(%v) = %v", x.st, s, got)
			}
		}
		if e.Status.String() != x.name {
			t.Errorf("status %d named %q, want %q", x.st, e.Status, x.name)
		}
	}
}

func TestClose(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	if err := c.TrackStart(ctx(t), votequorum.TrackChanges, 0); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if _, err := c.GetInfo(ctx(t), 0); !errors.Is(err, votequorum.ErrClosed) {
		t.Errorf("GetInfo after Close: %v, want ErrClosed", err)
	}
	for range c.Events() {
	}
	if !errors.Is(c.Err(), votequorum.ErrClosed) {
		t.Errorf("Err after Close: %v", c.Err())
	}
}

func TestDaemonGone(t *testing.T) {
	s := threeNodes(t)
	c := dial(t, s)
	if c.Err() != nil {
		t.Fatalf("Err while connected: %v", c.Err())
	}
	s.Close()
	for range c.Events() {
	}
	if !errors.Is(c.Err(), votequorum.ErrDisconnected) {
		t.Errorf("Err: %v, want ErrDisconnected", c.Err())
	}
	if _, err := c.GetInfo(ctx(t), 0); !errors.Is(err, votequorum.ErrDisconnected) {
		t.Errorf("GetInfo: %v, want ErrDisconnected", err)
	}
}

// badEvents is a votequorum service that answers every request with an
// event it cannot have sent, then OK.
type badEvents struct{ payload []byte }

func (h badEvents) Open(*ipc.Conn, uint16) service.Status { return service.OK }
func (h badEvents) Requests(c *ipc.Conn, batch []service.Request, done func()) {
	for _, r := range batch {
		c.Event(svq.EventQuorum, h.payload, nil)
		c.Reply(r.ID, service.OK, nil)
	}
	done()
}
func (h badEvents) Closed(*ipc.Conn, error) {}

func TestMalformedEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	srv, err := ipc.Listen(ipc.ServerOptions{Path: path, NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, badEvents{payload: []byte{1, 2}}) }()
	t.Cleanup(func() { cancel(); <-served })

	c, err := votequorum.Dial(ctx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.TrackStart(ctx(t), votequorum.TrackChanges, 0)
	for ev := range c.Events() {
		t.Errorf("event %s delivered", describe(ev))
	}
	if !errors.Is(c.Err(), votequorum.ErrMalformed) {
		t.Errorf("Err: %v, want ErrMalformed", c.Err())
	}
	if _, err := c.GetInfo(ctx(t), 0); !errors.Is(err, votequorum.ErrMalformed) {
		t.Errorf("GetInfo: %v, want ErrMalformed", err)
	}
}

func TestStrings(t *testing.T) {
	if got := (votequorum.RingID{NodeID: 0x1a, Seq: 0x2c}).String(); got != "1a.2c" {
		t.Errorf("RingID: %q", got)
	}
	for s, want := range map[votequorum.NodeState]string{
		votequorum.Member: "Member", votequorum.Dead: "Dead", votequorum.Leaving: "Leaving", 9: "state(9)",
	} {
		if s.String() != want {
			t.Errorf("NodeState %d: %q, want %q", uint32(s), s, want)
		}
	}
	all := votequorum.InfoFlags(1<<10 - 1)
	if got := (all | 1<<12).String(); got != "2Node Quorate WaitForAll LastManStanding AutoTieBreaker AllowDownscale Qdevice QdeviceAlive QdeviceCastVote QdeviceMasterWins 0x1000" {
		t.Errorf("InfoFlags: %q", got)
	}
	if votequorum.InfoFlags(0).String() != "" {
		t.Errorf("no flags: %q", votequorum.InfoFlags(0))
	}
}

// TestFlagValues checks the exported constants against the protocol's.
func TestFlagValues(t *testing.T) {
	for _, x := range []struct{ got, want uint32 }{
		{uint32(votequorum.TwoNode), 1}, {uint32(votequorum.Quorate), 2}, {uint32(votequorum.WaitForAll), 4},
		{uint32(votequorum.LastManStanding), 8}, {uint32(votequorum.AutoTieBreaker), 16},
		{uint32(votequorum.AllowDownscale), 32}, {uint32(votequorum.QdeviceRegistered), 64},
		{uint32(votequorum.QdeviceAlive), 128}, {uint32(votequorum.QdeviceCastVote), 256},
		{uint32(votequorum.QdeviceMasterWins), 512},
		{uint32(votequorum.Member), 1}, {uint32(votequorum.Dead), 2}, {uint32(votequorum.Leaving), 3},
		{uint32(votequorum.TrackCurrent), 1}, {uint32(votequorum.TrackChanges), 2}, {uint32(votequorum.TrackChangesOnly), 4},
		{votequorum.QdeviceNodeID, 0},
	} {
		if x.got != x.want {
			t.Errorf("constant %d, want %d", x.got, x.want)
		}
	}
}
