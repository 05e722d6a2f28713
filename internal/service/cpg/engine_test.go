package cpg

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// single is one engine whose sent messages come back only when loop is
// called: a one-node ring with the delivery step under the test's control.
type single struct {
	t   *testing.T
	api *fakeAPI
	e   *Engine
}

func newSingle(t *testing.T, node uint32) *single {
	api := newFakeAPI(node)
	return &single{t: t, api: api, e: New(api, Options{})}
}

func (s *single) conn(id uint64, pid int32) *fakeConn {
	c := newConn(id, pid)
	if st := s.e.Connect(c); st != service.OK {
		s.t.Fatalf("connect: %v", st)
	}
	return c
}

// do sends a request and returns the reply's status.
func (s *single) do(c *fakeConn, r service.Request) service.Status {
	s.t.Helper()
	s.e.Request(c, r)
	return c.lastReply(s.t).status
}

func (s *single) loop() { s.t.Helper(); loop(s.t, s.api, s.e) }

// exec delivers a message from another node.
func (s *single) exec(from uint32, msg []byte) {
	s.t.Helper()
	h, _ := service.ParseHeader(msg, false)
	s.e.Exec(service.Exec{From: from, Fn: h.Fn, Data: msg})
}

func expectEvents(t *testing.T, c *fakeConn, want ...string) {
	t.Helper()
	got := describe(t, c.takeEvents())
	if !slices.Equal(got, want) {
		t.Fatalf("conn %d events\n got %q\nwant %q", c.id, got, want)
	}
}

func TestEngineName(t *testing.T) {
	e := New(newFakeAPI(1), Options{})
	if e.Name() != "corosync cluster closed process group service v1.01" || e.ID() != service.CPG {
		t.Fatal(e.Name(), e.ID())
	}
}

// TestJoinOnDelivery: a join is answered at once, but the membership and
// the confchg change only when our own PROCJOIN is delivered.
func TestJoinOnDelivery(t *testing.T) {
	s := newSingle(t, 1)
	c := s.conn(10, 100)
	if st := s.do(c, joinReq(1, "g", 0)); st != service.OK {
		t.Fatal(st)
	}
	sent := s.api.sent
	if len(sent) != 1 {
		t.Fatalf("%d messages sent", len(sent))
	}
	pj, err := DecodeProcJoin(sent[0].data, false)
	if err != nil || pj.Leave || pj.PID != 100 || string(pj.Group) != "g" || pj.Reason != ReasonJoin || sent[0].g != totem.Agreed {
		t.Fatalf("%+v %v", pj, err)
	}
	if len(s.e.Groups()) != 0 || len(c.events) != 0 {
		t.Fatalf("state changed before delivery: %v %v", s.e.Groups(), c.events)
	}
	s.loop()
	expectEvents(t, c, "confchg g members[1/100] left[] joined[1/100:1]")
	if got := s.e.Groups(); len(got) != 1 || got[0].Name != "g" || !slices.Equal(got[0].Members, []Member{{1, 100}}) {
		t.Fatalf("groups %+v", got)
	}
	// A pid given in the request overrides the peer's.
	c2 := s.conn(11, 200)
	if st := s.do(c2, joinReq(2, "g", 777)); st != service.OK {
		t.Fatal(st)
	}
	s.loop()
	expectEvents(t, c, "confchg g members[1/100 1/777] left[] joined[1/777:1]")
	expectEvents(t, c2, "confchg g members[1/100 1/777] left[] joined[1/777:1]")
}

func TestJoinErrors(t *testing.T) {
	s := newSingle(t, 1)
	c := s.conn(10, 100)
	for name, tc := range map[string]struct {
		req  service.Request
		want service.Status
	}{
		"empty name": {joinReq(1, "", 0), service.ErrInvalidArg},
		"long name":  {joinReq(1, strings.Repeat("x", 129), 0), service.ErrNameTooLon},
		"garbage":    {service.Request{ID: 1, Fn: ReqJoin, Payload: []byte{1, 2}}, service.ErrInvalidArg},
	} {
		if st := s.do(c, tc.req); st != tc.want {
			t.Errorf("%s: %v, want %v", name, st, tc.want)
		}
	}
	if st := s.do(c, joinReq(1, strings.Repeat("x", 128), 0)); st != service.OK {
		t.Fatalf("128-byte name: %v", st)
	}
	if st := s.do(c, joinReq(1, "g", 0)); st != service.OK {
		t.Fatal(st)
	}
	if st := s.do(c, joinReq(1, "g", 0)); st != service.ErrExist {
		t.Errorf("same conn twice (join pending): %v", st)
	}
	s.loop()
	if st := s.do(c, joinReq(1, "g", 5)); st != service.ErrExist {
		t.Errorf("same conn twice: %v", st)
	}
	other := s.conn(11, 100)
	if st := s.do(other, joinReq(1, "g", 0)); st != service.ErrExist {
		t.Errorf("same pid, other conn: %v", st)
	}
	noPid := s.conn(12, 0)
	if st := s.do(noPid, joinReq(1, "g", 0)); st != service.ErrInvalidArg {
		t.Errorf("no pid: %v", st)
	}
	s.api.syncing = true
	if st := s.do(other, joinReq(1, "h", 0)); st != service.ErrTryAgain {
		t.Errorf("syncing: %v", st)
	}
	s.api.syncing = false
	s.api.room = 0
	if st := s.do(other, joinReq(1, "h", 0)); st != service.ErrTryAgain {
		t.Errorf("queue full: %v", st)
	}
	s.api.room = -1
	if st := s.do(other, joinReq(1, "h", 0)); st != service.OK {
		t.Errorf("retry: %v", st)
	}
	s.api.fail = totem.ErrStopped
	if st := s.do(noPid, joinReq(1, "h", 9)); st != service.ErrLibrary {
		t.Errorf("stopped: %v", st)
	}
	s.api.fail = nil

	// A process whose PROCLEAVE is in flight cannot join again yet.
	s.loop()
	s.e.Disconnect(c)
	c3 := s.conn(13, 100)
	if st := s.do(c3, joinReq(1, "g", 0)); st != service.ErrTryAgain {
		t.Errorf("pending procleave: %v", st)
	}
	s.loop()
	if st := s.do(c3, joinReq(1, "g", 0)); st != service.OK {
		t.Errorf("after procleave: %v", st)
	}
}

func TestLeave(t *testing.T) {
	s := newSingle(t, 1)
	a, b := s.conn(10, 100), s.conn(11, 101)
	if st := s.do(a, leaveReq(1, "g")); st != service.ErrNotExist {
		t.Errorf("not joined: %v", st)
	}
	s.do(a, joinReq(1, "g", 0))
	if st := s.do(a, leaveReq(1, "g")); st != service.ErrTryAgain {
		t.Errorf("join pending (corosync: BUSY): %v", st)
	}
	s.do(b, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	b.takeEvents()
	if st := s.do(a, leaveReq(1, "g")); st != service.OK {
		t.Fatal(st)
	}
	if st := s.do(a, leaveReq(1, "g")); st != service.ErrNotExist {
		t.Errorf("leave twice: %v", st)
	}
	if st := s.do(a, mcastReq(1, "g", "x")); st != service.ErrNotExist {
		t.Errorf("mcast while leaving: %v", st)
	}
	if len(a.events) != 0 || len(s.e.Groups()[0].Members) != 2 {
		t.Fatal("left before delivery")
	}
	pl, err := DecodeProcJoin(s.api.sent[0].data, false)
	if err != nil || !pl.Leave || pl.Reason != ReasonLeave || pl.PID != 100 {
		t.Fatalf("%+v %v", pl, err)
	}
	s.loop()
	// The leaver gets the confchg that lists it as left, then nothing.
	expectEvents(t, a, "confchg g members[1/101] left[1/100:2] joined[]")
	expectEvents(t, b, "confchg g members[1/101] left[1/100:2] joined[]")
	s.do(b, mcastReq(1, "g", "after"))
	s.loop()
	expectEvents(t, a)
	expectEvents(t, b, `deliver g from 1/101 g0 "after"`)
	// The connection can join again.
	if st := s.do(a, joinReq(1, "g", 0)); st != service.OK {
		t.Fatal(st)
	}
}

// TestMcast: every local member of the group gets its own copy, the
// sender included; other groups get nothing.
func TestMcast(t *testing.T) {
	s := newSingle(t, 1)
	a, b, o := s.conn(10, 100), s.conn(11, 101), s.conn(12, 102)
	s.do(a, joinReq(1, "g", 0))
	s.do(b, joinReq(1, "g", 0))
	s.do(o, joinReq(1, "other", 0))
	s.loop()
	a.takeEvents()
	b.takeEvents()
	o.takeEvents()

	if st := s.do(a, mcastReq(7, "g", "hello")); st != service.OK {
		t.Fatal(st)
	}
	s.e.Request(b, service.Request{Fn: ReqMcast, Payload: AppendMcastRequest(nil, McastRequest{Guarantee: totem.Safe, Group: []byte("g"), Data: []byte("pipelined")})})
	if len(b.replies) != 0 {
		t.Fatal("id 0 got a reply")
	}
	if s.api.sent[1].g != totem.Safe {
		t.Fatal("guarantee not passed on")
	}
	mc, err := DecodeMcast(s.api.sent[0].data, false)
	if err != nil || mc.PID != 100 || mc.Source.NodeID != 1 || mc.Source.Conn != 10 || string(mc.Data) != "hello" {
		t.Fatalf("%+v %v", mc, err)
	}
	s.loop()
	want := []string{`deliver g from 1/100 g0 "hello"`, `deliver g from 1/101 g1 "pipelined"`}
	expectEvents(t, a, want...)
	expectEvents(t, b, want...)
	expectEvents(t, o)

	if st := s.do(o, mcastReq(1, "g", "x")); st != service.ErrNotExist {
		t.Errorf("not joined: %v", st)
	}
	s.e.Request(o, mcastReq(0, "g", "x"))
	expectEvents(t, o, "error fn 3: does not exist")
	for name, tc := range map[string]struct {
		req  service.Request
		want service.Status
	}{
		"guarantee": {service.Request{ID: 1, Fn: ReqMcast, Payload: AppendMcastRequest(nil, McastRequest{Guarantee: 2, Group: []byte("g")})}, service.ErrInvalidArg},
		"too big":   {mcastReq(1, "g", strings.Repeat("x", DefaultMaxMessage+1)), service.ErrMsgTooBig},
		"long name": {mcastReq(1, strings.Repeat("x", 129), "x"), service.ErrNameTooLon},
		"garbage":   {service.Request{ID: 1, Fn: ReqMcast, Payload: []byte{0}}, service.ErrInvalidArg},
	} {
		if st := s.do(a, tc.req); st != tc.want {
			t.Errorf("%s: %v, want %v", name, st, tc.want)
		}
	}
	if st := s.do(a, mcastReq(1, "g", strings.Repeat("x", DefaultMaxMessage))); st != service.OK {
		t.Errorf("1 MiB: %v", st)
	}
	if s.e.Stats().Delivered != 2 || s.e.Stats().Copies != 4 {
		t.Errorf("stats %+v", s.e.Stats())
	}
}

// TestMcastWhileJoining: corosync accepts a MCAST before the join is
// delivered; it is delivered after the PROCJOIN.
func TestMcastWhileJoining(t *testing.T) {
	s := newSingle(t, 1)
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	if st := s.do(a, mcastReq(2, "g", "early")); st != service.OK {
		t.Fatal(st)
	}
	s.loop()
	expectEvents(t, a, "confchg g members[1/100] left[] joined[1/100:1]", `deliver g from 1/100 g0 "early"`)
}

// TestUnknownNode: a MCAST from a node with no process in the group is
// not delivered.
func TestUnknownNode(t *testing.T) {
	s := newSingle(t, 1)
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	s.exec(2, must(AppendMcast(nil, Mcast{Group: []byte("g"), PID: 5, Source: Source{NodeID: 2}, Data: []byte("x")})))
	expectEvents(t, a)
	if s.e.Stats().DroppedUnknown != 1 {
		t.Fatalf("%+v", s.e.Stats())
	}
	// A process of node 2 in another group does not help.
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Group: []byte("h"), PID: 5, Reason: ReasonJoin})))
	s.exec(2, must(AppendMcast(nil, Mcast{Group: []byte("g"), PID: 5, Data: []byte("x")})))
	expectEvents(t, a)
	// Any process of node 2 in the group does, whatever the pid.
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 6, Reason: ReasonJoin})))
	s.exec(2, must(AppendMcast(nil, Mcast{Group: []byte("g"), PID: 5, Data: []byte("y")})))
	expectEvents(t, a, "confchg g members[1/100 2/6] left[] joined[2/6:1]", `deliver g from 2/5 g0 "y"`)
	// A duplicate PROCJOIN changes nothing; a PROCLEAVE of a process
	// nobody knew still notifies, as corosync does.
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 6, Reason: ReasonJoin})))
	s.exec(3, must(AppendProcJoin(nil, ProcJoin{Leave: true, Group: []byte("g"), PID: 9, Reason: ReasonLeave})))
	expectEvents(t, a, "confchg g members[1/100 2/6] left[3/9:2] joined[]")
	if s.e.Stats().DroppedUnknown != 2 {
		t.Fatalf("%+v", s.e.Stats())
	}
}

// TestSwappedExec: a big-endian node's messages are understood.
func TestSwappedExec(t *testing.T) {
	s := newSingle(t, 1)
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	for _, m := range [][]byte{
		must(AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 0x01020304, Reason: ReasonJoin})),
		must(AppendMcast(nil, Mcast{Group: []byte("g"), PID: 0x01020304, Source: Source{NodeID: 2}, Data: []byte("be")})),
	} {
		sw := swapExec(t, m)
		h, _ := service.ParseHeader(sw, true)
		s.e.Exec(service.Exec{From: 2, Fn: h.Fn, Data: sw, Swapped: true})
	}
	expectEvents(t, a, "confchg g members[1/100 2/16909060] left[] joined[2/16909060:1]", `deliver g from 2/16909060 g0 "be"`)
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestMalformedExec: bad messages are dropped and counted.
func TestMalformedExec(t *testing.T) {
	s := newSingle(t, 1)
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	pj := must(AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 5}))
	mc := must(AppendMcast(nil, Mcast{Group: []byte("g"), Data: []byte("abc")}))
	bad := [][]byte{nil, pj[:100], mc[:186], mc[:20], bytes.Repeat([]byte{0xff}, 300)}
	for _, m := range bad {
		for fn := range uint16(9) {
			s.e.Exec(service.Exec{From: 2, Fn: fn, Data: m})
		}
	}
	// A PROCJOIN delivered as fn 1 disagrees with its header.
	s.e.Exec(service.Exec{From: 2, Fn: FnProcLeave, Data: pj})
	expectEvents(t, a)
	// fn 4 (DOWNLIST_OLD) is ignored, not counted.
	if got, want := s.e.Stats().Malformed, uint64(len(bad)*8+1); got != want {
		t.Fatalf("malformed %d, want %d", got, want)
	}
}

func TestInfoRequests(t *testing.T) {
	s := newSingle(t, 7)
	a, b := s.conn(10, 100), s.conn(11, 101)
	s.do(a, joinReq(1, "zz", 0))
	s.do(b, joinReq(1, "aa", 0))
	s.do(a, joinReq(1, "aa", 300))
	s.loop()
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Group: []byte("aa"), PID: 1})))

	req := func(fn uint16, payload []byte) reply {
		s.e.Request(a, service.Request{ID: 9, Fn: fn, Payload: payload})
		return a.lastReply(t)
	}
	r := req(ReqMembership, AppendMembershipRequest(nil, MembershipRequest{Group: []byte("aa")}))
	if m, err := DecodeMembershipReply(r.payload); r.status != service.OK || err != nil || !slices.Equal(m, []Member{{2, 1}, {7, 101}, {7, 300}}) {
		t.Errorf("membership %v %v %v", r.status, m, err)
	}
	r = req(ReqMembership, AppendMembershipRequest(nil, MembershipRequest{Group: []byte("none")}))
	if m, err := DecodeMembershipReply(r.payload); r.status != service.OK || err != nil || len(m) != 0 {
		t.Errorf("membership of unknown group %v %v %v", r.status, m, err)
	}
	r = req(ReqLocalGet, nil)
	if n, err := DecodeLocalGetReply(r.payload); err != nil || n != 7 {
		t.Errorf("local get %v %v", n, err)
	}
	iter := func(mode IterMode, group string) []string {
		r := req(ReqIterate, AppendIterateRequest(nil, IterateRequest{Mode: mode, Group: []byte(group)}))
		if r.status != service.OK {
			t.Fatalf("iterate %d: %v", mode, r.status)
		}
		l, err := DecodeIterateReply(r.payload)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range l {
			out = append(out, string(e.Group)+"/"+addrs([]Address{{NodeID: e.NodeID, PID: e.PID}}))
		}
		return out
	}
	if got := iter(IterNameOnly, ""); !slices.Equal(got, []string{"aa/0/0", "zz/0/0"}) {
		t.Errorf("name only %q", got)
	}
	if got := iter(IterAll, ""); !slices.Equal(got, []string{"aa/2/1", "aa/7/101", "aa/7/300", "zz/7/100"}) {
		t.Errorf("all %q", got)
	}
	if got := iter(IterOneGroup, "zz"); !slices.Equal(got, []string{"zz/7/100"}) {
		t.Errorf("one group %q", got)
	}
	for _, p := range [][]byte{
		AppendIterateRequest(nil, IterateRequest{Mode: 9}),
		AppendIterateRequest(nil, IterateRequest{Mode: IterAll, Group: []byte("x")}),
		AppendIterateRequest(nil, IterateRequest{Mode: IterOneGroup}),
	} {
		if r := req(ReqIterate, p); r.status == service.OK {
			t.Errorf("iterate %x accepted", p)
		}
	}
	r = req(ReqFlowState, nil)
	if on, err := DecodeFlowStateReply(r.payload); err != nil || on {
		t.Errorf("flow state %v %v", on, err)
	}
	r = req(ReqMaxAtomic, nil)
	if n, err := DecodeMaxAtomicReply(r.payload); err != nil || n != DefaultMaxMessage {
		t.Errorf("max atomic %v %v", n, err)
	}
	for _, fn := range []uint16{ReqLocalGet, ReqFlowState, ReqMaxAtomic} {
		if r := req(fn, []byte{1}); r.status != service.ErrInvalidArg {
			t.Errorf("fn %d with payload: %v", fn, r.status)
		}
	}
	if r := req(0, nil); r.status != service.ErrNotSupport {
		t.Errorf("fn 0: %v", r.status)
	}
	if r := req(99, nil); r.status != service.ErrNotSupport {
		t.Errorf("fn 99: %v", r.status)
	}
	stranger := newConn(99, 1)
	s.e.Request(stranger, service.Request{ID: 1, Fn: ReqLocalGet})
	if r := stranger.lastReply(t); r.status != service.ErrBadHandle {
		t.Errorf("unknown conn: %v", r.status)
	}
	if st := s.e.Connect(newConn(10, 1)); st != service.ErrExist {
		t.Errorf("duplicate conn id: %v", st)
	}
	if opts := New(newFakeAPI(1), Options{MaxMessage: 5000}).opts; opts.MaxMessage != 5000 || opts.MaxReassembly != 5000 {
		t.Errorf("options %+v", opts)
	}
}

// TestFlowControl: a full send queue holds pipelined MCASTs in order,
// turns flow control on and stops replies-wanted requests; Resume drains
// in order and turns it off.
func TestFlowControl(t *testing.T) {
	s := newSingle(t, 1)
	a, b := s.conn(10, 100), s.conn(11, 101)
	s.do(a, joinReq(1, "g", 0))
	s.do(b, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	b.takeEvents()

	s.api.room = 1
	for i := range 4 {
		s.e.Request(a, mcastReq(0, "g", string(rune('a'+i))))
	}
	if !s.e.Held(a) || s.e.Held(b) {
		t.Fatal("held state")
	}
	expectEvents(t, a, "flow true")
	if st := s.do(a, mcastReq(5, "g", "wants reply")); st != service.ErrTryAgain {
		t.Errorf("mcast with reply while held: %v", st)
	}
	if st := s.do(a, leaveReq(5, "g")); st != service.ErrTryAgain {
		t.Errorf("leave while held: %v", st)
	}
	if st := s.do(b, mcastReq(5, "g", "b-refused")); st != service.ErrTryAgain {
		t.Errorf("mcast with reply, queue full: %v", st)
	}
	s.e.Request(b, mcastReq(0, "g", "b1"))
	expectEvents(t, b, "flow true")
	s.e.Request(a, service.Request{ID: 3, Fn: ReqFlowState})
	if on, _ := DecodeFlowStateReply(a.lastReply(t).payload); !on {
		t.Error("flow state off while held")
	}
	if st := s.e.Stats(); st.FlowHolds != 2 || st.Held != 4 {
		t.Errorf("stats %+v", st)
	}
	s.e.Resume() // still full
	if !s.e.Held(a) {
		t.Fatal("released without room")
	}
	s.api.room = 2
	s.e.Resume()
	if !s.e.Held(a) || !s.e.Held(b) {
		t.Fatal("released too early")
	}
	s.api.room = -1
	s.e.Resume()
	if s.e.Held(a) || s.e.Held(b) || s.e.Stats().Held != 0 {
		t.Fatal("still held")
	}
	s.loop()
	var want []string
	for _, d := range []string{"a", "b", "c", "d", "b1"} {
		from := "100"
		if d == "b1" {
			from = "101"
		}
		want = append(want, `deliver g from 1/`+from+` g0 "`+d+`"`)
	}
	expectEvents(t, a, append([]string{"flow false"}, want...)...)
	expectEvents(t, b, append([]string{"flow false"}, want...)...)
}

// TestSyncHolds: during a sync JOIN, LEAVE and MCAST-with-reply get
// TRY_AGAIN; a pipelined MCAST is held until the sync is over.
func TestSyncHolds(t *testing.T) {
	s := newSingle(t, 1)
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	s.api.syncing = true
	if st := s.do(a, mcastReq(1, "g", "x")); st != service.ErrTryAgain {
		t.Errorf("mcast: %v", st)
	}
	if st := s.do(a, leaveReq(1, "g")); st != service.ErrTryAgain {
		t.Errorf("leave: %v", st)
	}
	s.e.Request(a, mcastReq(0, "g", "held"))
	if !s.e.Held(a) || len(s.api.sent) != 0 {
		t.Fatal("not held")
	}
	s.e.Resume()
	if len(s.api.sent) != 0 {
		t.Fatal("sent during sync")
	}
	// Information requests are served during sync.
	s.e.Request(a, service.Request{ID: 2, Fn: ReqLocalGet})
	if r := a.lastReply(t); r.status != service.OK {
		t.Error(r.status)
	}
	s.api.syncing = false
	s.e.Resume()
	s.loop()
	expectEvents(t, a, "flow true", "flow false", `deliver g from 1/100 g0 "held"`)
}

// TestDisconnect: a client that goes away leaves its groups with reason
// PROCDOWN, after its held messages.
func TestDisconnect(t *testing.T) {
	s := newSingle(t, 1)
	a, b := s.conn(10, 100), s.conn(11, 101)
	s.do(a, joinReq(1, "g", 0))
	s.do(a, joinReq(1, "h", 0))
	s.do(b, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	b.takeEvents()
	s.api.room = 0
	s.e.Request(a, mcastReq(0, "g", "last words"))
	s.e.Disconnect(a)
	s.e.Disconnect(a) // twice is harmless
	if s.e.Held(a) {
		t.Fatal("a gone conn is not held")
	}
	s.api.room = -1
	s.e.Resume()
	var kinds []string
	for _, m := range s.api.sent {
		h, _ := service.ParseHeader(m.data, false)
		switch h.Fn {
		case FnMcast:
			kinds = append(kinds, "mcast")
		case FnProcLeave:
			pl, _ := DecodeProcJoin(m.data, false)
			kinds = append(kinds, "leave "+string(pl.Group)+" "+pl.Reason.String())
		}
	}
	if !slices.Equal(kinds, []string{"mcast", "leave g process down", "leave h process down"}) {
		t.Fatalf("sent %q", kinds)
	}
	s.loop()
	expectEvents(t, a, "flow true") // from before it went: nothing after
	expectEvents(t, b, `deliver g from 1/100 g0 "last words"`, "confchg g members[1/101] left[1/100:5] joined[]")
	if got := s.e.Groups(); len(got) != 1 || got[0].Name != "g" {
		t.Fatalf("groups %+v", got)
	}
	// A client leaving explicitly and then disconnecting sends no
	// PROCDOWN.
	s.do(b, leaveReq(1, "g"))
	s.e.Disconnect(b)
	if n := len(s.api.sent); n != 1 {
		t.Fatalf("%d messages", n)
	}
	s.loop()
	if len(s.e.Groups()) != 0 || len(s.e.groups) != 0 {
		t.Fatalf("groups left: %+v", s.e.Groups())
	}
}

// TestPartialSend: a message whose MCAST exceeds API.MaxMessage goes as
// PARTIAL_MCAST fragments, handed over consecutively, and comes back as
// one message.
func TestPartialSend(t *testing.T) {
	s := newSingle(t, 1)
	s.api.maxMsg = 1000
	a, b := s.conn(10, 100), s.conn(11, 101)
	s.do(a, joinReq(1, "g", 0))
	s.do(b, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	b.takeEvents()
	data := make([]byte, 2500)
	for i := range data {
		data[i] = byte(i)
	}
	if st := s.do(a, mcastReq(1, "g", string(data[:1000-McastHeaderSize]))); st != service.OK {
		t.Fatal(st)
	}
	if h, _ := service.ParseHeader(s.api.sent[0].data, false); h.Fn != FnMcast {
		t.Fatal("a message that fits was fragmented")
	}
	s.loop()
	a.takeEvents()
	b.takeEvents()
	if st := s.do(a, mcastReq(1, "g", string(data))); st != service.OK {
		t.Fatal(st)
	}
	var types []PartialType
	total := 0
	for _, m := range s.api.sent {
		if len(m.data) > 1000 {
			t.Fatalf("fragment of %d bytes", len(m.data))
		}
		pm, err := DecodePartialMcast(m.data, false)
		if err != nil || pm.MsgLen != 2500 || pm.PID != 100 {
			t.Fatalf("%+v %v", pm, err)
		}
		types = append(types, pm.Type)
		total += len(pm.Data)
	}
	// 800-byte fragments.
	if !slices.Equal(types, []PartialType{PartialFirst, PartialContinued, PartialContinued, PartialLast}) || total != 2500 {
		t.Fatalf("types %v total %d", types, total)
	}
	s.loop()
	for _, c := range []*fakeConn{a, b} {
		evs := c.takeEvents()
		if len(evs) != 1 {
			t.Fatalf("%d events", len(evs))
		}
		d, err := DecodeDeliverEvent(evs[0].payload)
		if err != nil || !bytes.Equal(d.Data, data) || d.PID != 100 || d.NodeID != 1 {
			t.Fatalf("deliver %v", err)
		}
	}
	if st := s.e.Stats(); st.PartialReassembled != 1 || st.Delivered != 2 {
		t.Fatalf("%+v", st)
	}

	// With room for one fragment, a pipelined message's other fragments
	// are held and follow in order.
	s.api.room = 1
	s.e.Request(a, mcastReq(0, "g", string(data)))
	if len(s.api.sent) != 1 || !s.e.Held(a) {
		t.Fatal("not held after the first fragment")
	}
	s.api.room = -1
	s.e.Resume()
	if len(s.api.sent) != 4 {
		t.Fatalf("%d fragments", len(s.api.sent))
	}
	s.loop()
	if evs := describe(t, a.takeEvents()); len(evs) != 3 || evs[0] != "flow true" || evs[1] != "flow false" {
		t.Fatalf("%q", evs)
	}
	// With reply wanted and no room, it fails whole.
	s.api.room = 0
	if st := s.do(a, mcastReq(1, "g", string(data))); st != service.ErrTryAgain {
		t.Fatal(st)
	}
	s.api.room = -1
	// A MaxMessage too small for any fragment.
	s.api.maxMsg = PartialMcastHeaderSize
	if st := s.do(a, mcastReq(1, "g", string(data))); st != service.ErrMsgTooBig {
		t.Fatal(st)
	}
}

// TestPartialReceive covers reassembly of other nodes' fragments.
func TestPartialReceive(t *testing.T) {
	s := newSingle(t, 1)
	s.e = New(s.api, Options{MaxMessage: 100, MaxReassembly: 1000})
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.loop()
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 5})))
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 6})))
	a.takeEvents()
	frag := func(pid uint32, total int, t PartialType, data string) {
		s.exec(2, must(AppendPartialMcast(nil, PartialMcast{Group: []byte("g"), MsgLen: uint32(total), PID: pid, Type: t, Data: []byte(data)})))
	}
	// Two processes interleaved.
	frag(5, 6, PartialFirst, "ab")
	frag(6, 4, PartialFirst, "xy")
	frag(5, 6, PartialContinued, "cd")
	frag(6, 4, PartialLast, "zw")
	frag(5, 6, PartialLast, "ef")
	expectEvents(t, a, `deliver g from 2/6 g0 "xyzw"`, `deliver g from 2/5 g0 "abcdef"`)
	// A continuation without its first fragment, a last fragment that
	// does not complete the message, a too-large message, a restart.
	frag(5, 6, PartialContinued, "cd")
	frag(5, 6, PartialLast, "ef")
	frag(5, 6, PartialFirst, "ab")
	frag(5, 6, PartialLast, "ef")
	frag(5, 2000, PartialFirst, "ab")
	frag(5, 2000, PartialLast, "ab")
	frag(5, 6, PartialFirst, "ab")
	frag(5, 6, PartialFirst, "12")
	frag(5, 6, PartialContinued, "34")
	frag(5, 7, PartialLast, "56")
	frag(5, 6, PartialFirst, "12")
	frag(5, 6, PartialLast, "3456")
	expectEvents(t, a, `deliver g from 2/5 g0 "123456"`)
	st := s.e.Stats()
	if st.PartialReassembled != 3 || st.PartialDropped != 6 || st.Malformed != 2 {
		t.Fatalf("%+v", st)
	}
	// The sender leaves mid-message: its reassembly is dropped.
	frag(6, 4, PartialFirst, "xy")
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Leave: true, Group: []byte("g"), PID: 6, Reason: ReasonProcDown})))
	frag(6, 4, PartialLast, "zw")
	if st := s.e.Stats(); st.PartialDropped != 8 {
		t.Fatalf("%+v", st)
	}
	// Unknown node: reassembled, then not delivered.
	s.exec(3, must(AppendPartialMcast(nil, PartialMcast{Group: []byte("g"), MsgLen: 2, PID: 1, Type: PartialFirst, Data: []byte("a")})))
	s.exec(3, must(AppendPartialMcast(nil, PartialMcast{Group: []byte("g"), MsgLen: 2, PID: 1, Type: PartialLast, Data: []byte("b")})))
	a.takeEvents()
	if st := s.e.Stats(); st.DroppedUnknown != 1 {
		t.Fatalf("%+v", st)
	}
	// A group nobody here joined is ignored without state.
	s.exec(2, must(AppendPartialMcast(nil, PartialMcast{Group: []byte("zz"), MsgLen: 2, PID: 5, Type: PartialFirst, Data: []byte("a")})))
	if len(s.e.groups) != 1 {
		t.Fatal("state for an unknown group")
	}
}

// TestTrackTotem: totem confchgs go to the connections that asked, after
// each sync, and at once with Initial.
func TestTrackTotem(t *testing.T) {
	s := newSingle(t, 1)
	a, b := s.conn(10, 100), s.conn(11, 101)
	track := func(c *fakeConn, on, initial bool) {
		s.e.Request(c, service.Request{ID: 1, Fn: ReqTrackTotem, Payload: AppendTrackTotemRequest(nil, TrackTotemRequest{On: on, Initial: initial})})
		if r := c.lastReply(t); r.status != service.OK {
			t.Fatal(r.status)
		}
	}
	track(a, true, true) // no ring synchronised yet: nothing
	expectEvents(t, a)
	ring := service.RingID{Rep: 1, Seq: 8}
	s.e.SyncInit([]uint32{1}, []uint32{1, 2}, ring)
	s.e.SyncProcess()
	s.e.SyncActivate()
	expectEvents(t, a, "totem 1.8 [1 2]")
	expectEvents(t, b)
	track(b, true, true)
	expectEvents(t, b, "totem 1.8 [1 2]")
	track(a, false, false)
	s.e.SyncInit([]uint32{1, 2}, []uint32{1, 2}, service.RingID{Rep: 1, Seq: 12})
	s.e.SyncProcess()
	s.e.SyncActivate()
	expectEvents(t, a)
	expectEvents(t, b, "totem 1.c [1 2]")
	s.e.Request(b, service.Request{ID: 1, Fn: ReqTrackTotem, Payload: []byte{8}})
	if r := b.lastReply(t); r.status != service.ErrInvalidArg {
		t.Fatal(r.status)
	}
}

// TestSyncProcess: DOWNLIST then JOINLIST, retried where a full queue
// stopped them; JOINLIST only with local processes, split when large.
func TestSyncProcess(t *testing.T) {
	s := newSingle(t, 1)
	// No local processes: a DOWNLIST only.
	s.e.SyncInit([]uint32{1}, []uint32{1}, service.RingID{Rep: 1, Seq: 4})
	if !s.e.SyncProcess() {
		t.Fatal("not done")
	}
	sent := s.api.take()
	if len(sent) != 1 {
		t.Fatalf("%d messages", len(sent))
	}
	dl, err := DecodeDownList(sent[0].data, false)
	if err != nil || dl.OldMembers != 0 || len(dl.Left) != 0 {
		t.Fatalf("%+v %v", dl, err)
	}
	s.e.SyncActivate()

	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.do(a, joinReq(1, "h", 300))
	s.loop()
	s.exec(2, must(AppendProcJoin(nil, ProcJoin{Group: []byte("g"), PID: 5})))

	// Ring {1,2,3} → {1,2}, but the last activated ring was {1}: the
	// downlist is empty; next time it is not.
	s.e.SyncInit([]uint32{1}, []uint32{1, 2, 3}, service.RingID{Rep: 1, Seq: 8})
	s.api.room = 0
	if s.e.SyncProcess() {
		t.Fatal("done with a full queue")
	}
	s.api.room = 1
	if s.e.SyncProcess() {
		t.Fatal("done after the downlist only")
	}
	s.api.room = -1
	if !s.e.SyncProcess() || !s.e.SyncProcess() {
		t.Fatal("not done")
	}
	sent = s.api.take()
	if len(sent) != 2 {
		t.Fatalf("%d messages", len(sent))
	}
	jl, err := DecodeJoinList(sent[1].data, false)
	if err != nil || len(jl.Entries) != 2 || jl.Entries[0].PID != 100 || string(jl.Entries[0].Group) != "g" ||
		jl.Entries[1].PID != 300 || string(jl.Entries[1].Group) != "h" {
		t.Fatalf("%+v %v", jl, err)
	}
	s.e.SyncActivate()

	// 12 local processes, 10 per JOINLIST when MaxMessage is a DOWNLIST's
	// size.
	for i := range 10 {
		s.do(a, joinReq(1, "x"+string(rune('a'+i)), 0))
	}
	s.loop()
	s.e.SyncInit([]uint32{1, 2}, []uint32{1, 2}, service.RingID{Rep: 1, Seq: 12})
	s.api.maxMsg = DownListSize
	s.e.SyncProcess()
	sent = s.api.take()
	dl, err = DecodeDownList(sent[0].data, false)
	if err != nil || dl.OldMembers != 3 || !slices.Equal(dl.Left, []uint32{3}) || len(sent) != 3 {
		t.Fatalf("%+v %v, %d messages", dl, err, len(sent))
	}
	n := 0
	for _, m := range sent[1:] {
		jl, err := DecodeJoinList(m.data, false)
		if err != nil {
			t.Fatal(err)
		}
		n += len(jl.Entries)
	}
	if n != 12 {
		t.Fatalf("%d entries", n)
	}
}

// TestSyncActivate walks corosync's four steps on one node.
func TestSyncActivate(t *testing.T) {
	s := newSingle(t, 1)
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.do(a, joinReq(1, "h", 0))
	s.loop()
	s.e.SyncInit([]uint32{1}, []uint32{1, 2, 3}, service.RingID{Rep: 1, Seq: 4})
	s.e.SyncProcess()
	s.api.take()
	// Joinlists of nodes 2 and 3 (and our own, ignored).
	s.exec(2, must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 20, Group: []byte("g")}, {PID: 21, Group: []byte("g")}}})))
	s.exec(3, must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 30, Group: []byte("h")}, {PID: 31, Group: []byte("g")}}})))
	s.exec(1, must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 100, Group: []byte("g")}, {PID: 999, Group: []byte("g")}}})))
	a.takeEvents()
	s.e.SyncActivate()
	expectEvents(t, a,
		"confchg g members[1/100 2/20 2/21 3/31] left[] joined[2/20:4 2/21:4 3/31:4]",
		"confchg h members[1/100 3/30] left[] joined[3/30:4]")

	// Node 3 leaves; node 2 restarted in between (it stays in the
	// transitional list) and now announces only pid 22.
	s.e.SyncInit([]uint32{1, 2}, []uint32{1, 2}, service.RingID{Rep: 1, Seq: 8})
	s.e.SyncProcess()
	s.exec(2, must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 22, Group: []byte("g")}}})))
	s.e.SyncActivate()
	expectEvents(t, a,
		"confchg g members[1/100 2/20 2/21] left[3/31:3] joined[]",
		"confchg h members[1/100] left[3/30:3] joined[]",
		"confchg g members[1/100 2/20 2/21 2/22] left[] joined[2/22:4]",
		"confchg g members[1/100 2/21 2/22] left[2/20:5] joined[]",
		"confchg g members[1/100 2/22] left[2/21:5] joined[]")

	// A joinlist delivered before the sync's CPG round (a stale one of an
	// interrupted sync) is discarded by SyncInit: node 2's process 22,
	// listed by no joinlist of this sync, is a zombie and goes; an abort
	// discards the sync's joinlists too.
	s.exec(2, must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 22, Group: []byte("g")}, {PID: 23, Group: []byte("g")}}})))
	s.e.SyncInit([]uint32{1, 2}, []uint32{1, 2}, service.RingID{Rep: 1, Seq: 12})
	s.e.SyncActivate()
	expectEvents(t, a, "confchg g members[1/100] left[2/22:5] joined[]")
	s.e.SyncInit([]uint32{1, 2}, []uint32{1, 2}, service.RingID{Rep: 1, Seq: 16})
	s.exec(2, must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 22, Group: []byte("g")}, {PID: 23, Group: []byte("g")}, {PID: 24, Group: []byte("g")}}})))
	s.e.SyncAbort()
	s.e.SyncInit([]uint32{1, 2}, []uint32{1, 2}, service.RingID{Rep: 1, Seq: 20})
	s.exec(2, must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 22, Group: []byte("g")}, {PID: 23, Group: []byte("g")}}})))
	s.e.SyncActivate()
	expectEvents(t, a, "confchg g members[1/100 2/22 2/23] left[] joined[2/22:4 2/23:4]")
	// DOWNLIST from others is only logged.
	s.exec(2, must(AppendDownList(nil, DownList{OldMembers: 3, Left: []uint32{1}})))
	expectEvents(t, a)
	if got := s.e.Groups(); len(got) != 2 || len(got[0].Members) != 3 || len(got[1].Members) != 1 {
		t.Fatalf("%+v", got)
	}
}

// TestSendErrors: send failures other than a full queue are reported.
func TestSendErrors(t *testing.T) {
	s := newSingle(t, 1)
	a := s.conn(10, 100)
	s.do(a, joinReq(1, "g", 0))
	s.loop()
	a.takeEvents()
	s.api.fail = totem.ErrStopped
	if st := s.do(a, mcastReq(1, "g", "x")); st != service.ErrLibrary {
		t.Errorf("mcast: %v", st)
	}
	s.e.Request(a, mcastReq(0, "g", "x"))
	expectEvents(t, a, "error fn 3: library error")
	if s.e.SyncProcess(); len(s.api.sent) != 0 {
		t.Error("sent")
	}
	s.api.fail = nil
	// A held message that then fails is dropped with an error event.
	s.api.room = 0
	s.e.Request(a, mcastReq(0, "g", "y"))
	s.api.room = -1
	s.api.fail = totem.ErrStopped
	s.e.Resume()
	expectEvents(t, a, "flow true", "error fn 3: library error", "flow false")
	if s.e.Held(a) {
		t.Fatal("held")
	}
	if !errors.Is(s.api.fail, totem.ErrStopped) {
		t.Fatal()
	}
}
