package quorum

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

func ids(v ...service.NodeID) []service.NodeID { return v }

func ring(rep uint32, seq uint64) service.RingID { return service.RingID{Rep: rep, Seq: seq} }

func TestIdentity(t *testing.T) {
	e := New(newFakeAPI(1), Options{})
	if e.ID() != service.Quorum || e.Name() != "corosync cluster quorum service v0.1" {
		t.Fatalf("id %v name %q", e.ID(), e.Name())
	}
	if !e.Quorate() || e.Type() != TypeNone {
		t.Fatalf("no provider: quorate %v type %v", e.Quorate(), e.Type())
	}
}

// TestSyncLogsNoProvider follows a node through start, two joins and two
// departures, checking corosync's QUORUM log lines and the published view.
func TestSyncLogsNoProvider(t *testing.T) {
	a := newFakeAPI(1)
	e := New(a, Options{})
	tracker := &fakeConn{id: 7}
	e.Connect(tracker)
	e.Request(tracker, service.Request{ID: 1, Fn: FnTrackStart, Payload: AppendTrackStart(nil, TrackChangesOnly)})
	eq(t, "trackstart", describe(t, tracker.take()), []string{"reply 1 OK "})

	steps := []struct {
		trans, members []service.NodeID
		ring           service.RingID
		logs, events   []string
	}{
		{nil, ids(1), ring(1, 4), []string{
			"INFO Sync members[1]: 1", "INFO Sync joined[1]: 1", "INFO Members[1]: 1",
		}, []string{
			"nodelist ring=1.4 members=[1] joined=[1] left=[]",
			"notify quorate=true ring=1.4 members=[1]",
		}},
		{ids(1), ids(1, 2, 3), ring(1, 8), []string{
			"INFO Sync members[3]: 1 2 3", "INFO Sync joined[2]: 2 3", "INFO Members[3]: 1 2 3",
		}, []string{
			"nodelist ring=1.8 members=[1 2 3] joined=[2 3] left=[]",
			"notify quorate=true ring=1.8 members=[1 2 3]",
		}},
		{ids(1, 2), ids(1, 2), ring(1, 0xc), []string{
			"INFO Sync members[2]: 1 2", "INFO Sync left[1]: 3", "INFO Members[2]: 1 2",
		}, []string{
			"nodelist ring=1.c members=[1 2] joined=[] left=[3]",
			"notify quorate=true ring=1.c members=[1 2]",
		}},
		// Node 2 went and came back between two syncs: it is in the new
		// ring but not in the transitional list, so it both left and
		// joined (corosync's rule).
		{ids(1), ids(1, 2), ring(1, 0x10), []string{
			"INFO Sync members[2]: 1 2", "INFO Sync joined[1]: 2", "INFO Sync left[1]: 2", "INFO Members[2]: 1 2",
		}, []string{
			"nodelist ring=1.10 members=[1 2] joined=[2] left=[2]",
			"notify quorate=true ring=1.10 members=[1 2]",
		}},
	}
	for i, s := range steps {
		runSync(a, e, s.trans, s.members, s.ring, nil)
		eq(t, fmt.Sprintf("step %d logs", i), a.take(), s.logs)
		eq(t, fmt.Sprintf("step %d events", i), describe(t, tracker.take()), s.events)
	}
	if v := e.View(); !v.Quorate || v.Ring != ring(1, 0x10) || !slices.Equal(v.Members, ids(1, 2)) {
		t.Fatalf("view %+v", v)
	}
}

func TestSyncAbortKeepsOldMembers(t *testing.T) {
	a := newFakeAPI(1)
	e := New(a, Options{})
	runSync(a, e, nil, ids(1, 2), ring(1, 4), nil)
	a.take()
	// A sync to {1,2,3} is aborted; the next one still compares with {1,2}.
	e.SyncInit(ids(1, 2), ids(1, 2, 3), ring(1, 8))
	e.SyncAbort()
	a.take()
	runSync(a, e, ids(1, 2), ids(1, 2, 3, 4), ring(1, 0xc), nil)
	eq(t, "logs", a.take(), []string{
		"INFO Sync members[4]: 1 2 3 4", "INFO Sync joined[2]: 3 4", "INFO Members[4]: 1 2 3 4",
	})
}

func TestFormatListSplits(t *testing.T) {
	var many []service.NodeID
	for i := range 20 {
		many = append(many, service.NodeID(1000+i))
	}
	lines := formatList("Members", many)
	// " 1000" is 5 bytes: 12 fit in 63 bytes (60), the 13th would make 65.
	want := []string{
		"Members[20]: 1000 1001 1002 1003 1004 1005 1006 1007 1008 1009 1010 1011\\",
		"Members[20]: 1012 1013 1014 1015 1016 1017 1018 1019",
	}
	eq(t, "split", lines, want)
	eq(t, "empty", formatList("Members", nil), []string{"Members[0]:"})
	// Exactly at the boundary: 63 bytes of ids fit, 64 do not.
	b := []service.NodeID{4294967295, 4294967295, 4294967295, 4294967295, 4294967295, 429496729}
	// 5 × 11 + 10 = 65 ≥ 64: the sixth spills over.
	eq(t, "boundary", formatList("X", b), []string{
		"X[6]: 4294967295 4294967295 4294967295 4294967295 4294967295\\",
		"X[6]: 429496729",
	})
	b[5] = 42949672 // 55 + 9 = 64: still spills (needs room for the NUL)
	if l := formatList("X", b); len(l) != 2 {
		t.Errorf("64 bytes: %q", l)
	}
	b[5] = 4294967 // 55 + 8 = 63: fits
	if l := formatList("X", b); len(l) != 1 {
		t.Errorf("63 bytes: %q", l)
	}
}

// staticProvider is a provider that does not take part in sync.
type staticProvider struct{ q bool }

func (p *staticProvider) Quorate() bool { return p.q }
func (p *staticProvider) Name() string  { return "static" }

// syncProvider is a provider that syncs after the quorum service, as
// votequorum does.
type syncProvider struct{ staticProvider }

func (p *syncProvider) SyncInit(_, _ []service.NodeID, _ service.RingID) {}
func (p *syncProvider) SyncProcess() bool                                { return true }
func (p *syncProvider) SyncActivate()                                    {}
func (p *syncProvider) SyncAbort()                                       {}

func TestStaticProvider(t *testing.T) {
	a := newFakeAPI(1)
	p := &staticProvider{}
	e := New(a, Options{Provider: p})
	if e.Quorate() || e.Type() != TypeVotequorum {
		t.Fatalf("with provider: quorate %v type %v", e.Quorate(), e.Type())
	}
	c := &fakeConn{id: 1}
	e.Connect(c)
	e.Request(c, service.Request{ID: 1, Fn: FnTrackStart, Payload: AppendTrackStart(nil, TrackChangesOnly)})
	c.take()

	runSync(a, e, nil, ids(1), ring(1, 4), nil)
	eq(t, "inquorate start", a.take(), []string{"INFO Sync members[1]: 1", "INFO Sync joined[1]: 1", "INFO Members[1]: 1"})
	eq(t, "events", describe(t, c.take()), []string{
		"nodelist ring=1.4 members=[1] joined=[1] left=[]",
		"notify quorate=false ring=1.4 members=[1]",
	})

	// The provider becomes quorate outside a sync: published at once.
	p.q = true
	e.Update(true)
	eq(t, "quorate", a.take(), []string{
		"INFO This node is within the primary component and will provide service.", "INFO Members[1]: 1",
	})
	eq(t, "events", describe(t, c.take()), []string{"notify quorate=true ring=1.4 members=[1]"})
	// An unchanged decision is not published again.
	e.Update(true)
	if l := a.take(); len(l) != 0 {
		t.Errorf("unchanged update logged %q", l)
	}

	// Quorum is lost during a sync: held until SyncActivate.
	a.syncing = true
	e.SyncInit(ids(1), ids(1, 2), ring(1, 8))
	e.Update(false)
	p.q = false
	if !e.Quorate() {
		t.Fatal("decision applied during sync")
	}
	e.SyncProcess()
	e.SyncActivate()
	a.syncing = false
	eq(t, "lost", a.take(), []string{
		"INFO Sync members[2]: 1 2", "INFO Sync joined[1]: 2",
		"INFO This node is within the non-primary component and will NOT provide any services.",
		"INFO Members[2]: 1 2",
	})
	eq(t, "events", describe(t, c.take()), []string{
		"nodelist ring=1.8 members=[1 2] joined=[2] left=[]",
		"notify quorate=false ring=1.8 members=[1 2]",
	})
	if st := e.Stats(); st.Held != 1 {
		t.Errorf("held %d", st.Held)
	}

	// Removing the provider makes the node quorate.
	e.SetProvider(nil)
	eq(t, "no provider", a.take(), []string{
		"INFO This node is within the primary component and will provide service.", "INFO Members[2]: 1 2",
	})
	if e.Type() != TypeNone {
		t.Error("type after removing the provider")
	}
}

// TestSyncingProvider: votequorum activates after the quorum service; the
// view is published once, from its Update, as corosync publishes it from
// votequorum's sync_activate.
func TestSyncingProvider(t *testing.T) {
	a := newFakeAPI(2)
	p := &syncProvider{}
	e := New(a, Options{Provider: p})
	c := &fakeConn{id: 1}
	e.Connect(c)
	e.Request(c, service.Request{ID: 1, Fn: FnTrackStart, Payload: AppendTrackStart(nil, TrackChanges)})
	eq(t, "trackstart CHANGES sends the current state", describe(t, c.take()), []string{
		"reply 1 OK ",
		"notify quorate=false ring=0.0 members=[]",
		"nodelist ring=0.0 members=[] joined=[] left=[]",
	})

	runSync(a, e, nil, ids(2), ring(2, 4), func() { e.Update(false) })
	eq(t, "start", a.take(), []string{"INFO Sync members[1]: 2", "INFO Sync joined[1]: 2", "INFO Members[1]: 2"})
	eq(t, "events", describe(t, c.take()), []string{
		"nodelist ring=2.4 members=[2] joined=[2] left=[]",
		"notify quorate=false ring=2.4 members=[2]",
	})

	// Joining a quorate partition: one "primary" line and one Members line.
	runSync(a, e, ids(2), ids(1, 2, 3), ring(1, 8), func() {
		if got := a.take(); !slices.Equal(got, []string{"INFO Sync members[3]: 1 2 3", "INFO Sync joined[2]: 1 3"}) {
			t.Errorf("published before the provider's activation: %q", got)
		}
		p.q = true
		e.Update(true)
	})
	eq(t, "quorate", a.take(), []string{
		"INFO This node is within the primary component and will provide service.",
		"INFO Members[3]: 1 2 3",
	})
	eq(t, "events", describe(t, c.take()), []string{
		"nodelist ring=1.8 members=[1 2 3] joined=[1 3] left=[]",
		"notify quorate=true ring=1.8 members=[1 2 3]",
	})

	// A new ring with the same decision is still published by Update.
	runSync(a, e, ids(1, 2), ids(1, 2), ring(1, 0xc), func() { e.Update(true) })
	eq(t, "same decision", a.take(), []string{"INFO Sync members[2]: 1 2", "INFO Sync left[1]: 3", "INFO Members[2]: 1 2"})
}

func TestLibRequests(t *testing.T) {
	a := newFakeAPI(3)
	e := New(a, Options{})
	runSync(a, e, nil, ids(1, 3), ring(1, 0x2c), nil)
	c := &fakeConn{id: 5}
	if st := e.Connect(c); st != service.OK {
		t.Fatal(st)
	}
	if st := e.Connect(c); st != service.ErrExist {
		t.Fatalf("second connect: %v", st)
	}
	steps := []struct {
		fn      uint16
		payload []byte
		want    []string
	}{
		{FnGetQuorate, nil, []string{"reply 9 OK 01"}},
		{FnGetType, nil, []string{"reply 9 OK 00000000"}},
		{FnGetView, nil, []string{"reply 9 OK " + "01" + "01000000" + "2c00000000000000" + "02000000" + "01000000" + "03000000"}},
		{FnTrackStop, nil, []string{"reply 9 does not exist "}},
		{FnTrackStart, []byte{1}, []string{"reply 9 invalid argument "}},
		{FnTrackStart, AppendTrackStart(nil, 8), []string{"reply 9 invalid argument "}},
		{FnTrackStart, AppendTrackStart(nil, TrackCurrent), []string{
			"reply 9 OK ", "notify quorate=true ring=1.2c members=[1 3]", "nodelist ring=1.2c members=[1 3] joined=[] left=[]",
		}},
		{FnTrackStart, AppendTrackStart(nil, TrackChangesOnly), []string{"reply 9 OK "}},
		{FnTrackStart, AppendTrackStart(nil, TrackChanges), []string{"reply 9 already exists "}},
		{FnTrackStop, nil, []string{"reply 9 OK "}},
		{99, nil, []string{"reply 9 not supported "}},
	}
	for i, s := range steps {
		e.Request(c, service.Request{ID: 9, Fn: s.fn, Payload: s.payload})
		eq(t, fmt.Sprintf("step %d fn %d", i, s.fn), describe(t, c.take()), s.want)
	}
	// A request with id 0 wants no reply.
	e.Request(c, service.Request{Fn: FnGetQuorate})
	if out := c.take(); len(out) != 0 {
		t.Errorf("id 0 answered: %v", out)
	}
	// After Disconnect the client gets no events; a stray request is
	// refused.
	e.Request(c, service.Request{ID: 1, Fn: FnTrackStart, Payload: AppendTrackStart(nil, TrackChangesOnly)})
	c.take()
	e.Disconnect(c)
	runSync(a, e, ids(1, 3), ids(1, 3), ring(1, 0x30), nil)
	if out := c.take(); len(out) != 0 {
		t.Errorf("events after disconnect: %v", describe(t, out))
	}
	e.Request(c, service.Request{ID: 2, Fn: FnGetQuorate})
	eq(t, "after disconnect", describe(t, c.take()), []string{"reply 2 bad handle "})
}

// TestNotifyOrder: events go to tracking clients in connection-id order,
// whatever the order of Connect.
func TestNotifyOrder(t *testing.T) {
	a := newFakeAPI(1)
	e := New(a, Options{})
	var order []uint64
	var conns []*orderConn
	for _, id := range []uint64{30, 10, 20} {
		c := &orderConn{fakeConn: fakeConn{id: id}, order: &order}
		conns = append(conns, c)
		e.Connect(c)
		e.Request(c, service.Request{Fn: FnTrackStart, Payload: AppendTrackStart(nil, TrackChangesOnly)})
	}
	runSync(a, e, nil, ids(1), ring(1, 4), nil)
	want := []uint64{10, 20, 30, 10, 20, 30}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	_ = conns
}

type orderConn struct {
	fakeConn
	order *[]uint64
}

func (c *orderConn) Event(kind uint16, hdr, body []byte) {
	*c.order = append(*c.order, c.id)
	c.fakeConn.Event(kind, hdr, body)
}

func TestExecDropped(t *testing.T) {
	a := newFakeAPI(1)
	e := New(a, Options{})
	e.Exec(service.Exec{From: 2, Fn: 0, Data: make([]byte, 16)})
	if l := a.takeAll(); len(l) != 1 || !strings.HasPrefix(l[0], "DEBUG quorum: dropping exec message") {
		t.Errorf("logs %q", l)
	}
}

// TestHeldAcrossAbort: a decision held during a sync that is aborted is
// applied when the next sync activates.
func TestHeldAcrossAbort(t *testing.T) {
	a := newFakeAPI(1)
	p := &staticProvider{q: true}
	e := New(a, Options{Provider: p})
	runSync(a, e, nil, ids(1, 2), ring(1, 4), nil)
	a.take()
	a.syncing = true
	e.SyncInit(ids(1, 2), ids(1, 2, 3), ring(1, 8))
	e.Update(false)
	e.SyncAbort()
	e.Update(false) // still syncing: held
	if !e.Quorate() {
		t.Fatal("applied during sync")
	}
	e.SyncInit(ids(1, 2), ids(1, 2), ring(1, 0xc))
	e.SyncProcess()
	e.SyncActivate()
	a.syncing = false
	if e.Quorate() {
		t.Fatal("held decision lost")
	}
	eq(t, "logs", a.take(), []string{
		"INFO Sync members[3]: 1 2 3", "INFO Sync joined[1]: 3",
		"INFO Sync members[2]: 1 2",
		"INFO This node is within the non-primary component and will NOT provide any services.",
		"INFO Members[2]: 1 2",
	})
}

// setProvider decides in its own sync and publishes views with Set, as
// votequorum does.
type setProvider struct{ q bool }

func (p *setProvider) Quorate() bool       { return p.q }
func (p *setProvider) Name() string        { return "corosync_votequorum" }
func (p *setProvider) DecidesInSync() bool { return true }

// TestSetPublishesTheProvidersView: with a provider that publishes its
// own views, the service's sync activation publishes nothing; Set
// publishes exactly the ring and members it is given (corosync's
// quorum_callback), even during or after another sync.
func TestSetPublishesTheProvidersView(t *testing.T) {
	a := newFakeAPI(1)
	e := New(a, Options{Provider: &setProvider{}})
	e.SyncInit(nil, []service.NodeID{1, 2}, service.RingID{Rep: 1, Seq: 8})
	e.SyncActivate()
	if v := e.View(); v.Ring != (service.RingID{}) || v.Quorate {
		t.Fatalf("view published at the service's own activation: %+v", v)
	}
	e.Set(true, service.RingID{Rep: 1, Seq: 8}, []service.NodeID{1, 2})
	if v := e.View(); v.Ring != (service.RingID{Rep: 1, Seq: 8}) || !v.Quorate || len(v.Members) != 2 {
		t.Fatalf("view after Set: %+v", v)
	}
	// A new ring's sync: a decision in the old ring keeps the old ring.
	e.SyncInit([]service.NodeID{1}, []service.NodeID{1}, service.RingID{Rep: 1, Seq: 12})
	e.SyncActivate()
	e.Set(false, service.RingID{Rep: 1, Seq: 8}, []service.NodeID{1, 2})
	if v := e.View(); v.Ring.Seq != 8 || v.Quorate {
		t.Fatalf("view: %+v", v)
	}
	e.Set(false, service.RingID{Rep: 1, Seq: 12}, []service.NodeID{1})
	if v := e.View(); v.Ring.Seq != 12 || len(v.Members) != 1 {
		t.Fatalf("view: %+v", v)
	}
}
