package cfg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// logRec records log lines as "LEVEL msg".
type logRec struct{ lines *[]string }

func (h logRec) Enabled(context.Context, slog.Level) bool { return true }
func (h logRec) Handle(_ context.Context, r slog.Record) error {
	*h.lines = append(*h.lines, r.Level.String()+" "+r.Message)
	return nil
}
func (h logRec) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logRec) WithGroup(string) slog.Handler      { return h }

type sent struct {
	from service.NodeID
	msg  []byte
	g    totem.Guarantee
}

// ring is a loopback network of cfg engines: Send queues, deliver hands
// the queue to every node's Exec in order.
type ring struct {
	nodes []*node
	queue []sent
}

type node struct {
	r         *ring
	id        service.NodeID
	e         *Engine
	lines     []string
	log       *slog.Logger
	shutdowns []string
	reloadErr error
	reloads   int
	sendErr   error
}

func (r *ring) add(id service.NodeID, status []LinkStatus) *node {
	n := &node{r: r, id: id}
	n.log = slog.New(logRec{&n.lines})
	n.e = New(n, Options{
		OnShutdown: func(reason string) { n.shutdowns = append(n.shutdowns, reason) },
		OnReload:   func() error { n.reloads++; return n.reloadErr },
		Status:     func() []LinkStatus { return status },
	})
	r.nodes = append(r.nodes, n)
	return n
}

func (n *node) NodeID() service.NodeID { return n.id }
func (n *node) Send(msg []byte, g totem.Guarantee) error {
	if n.sendErr != nil {
		return n.sendErr
	}
	n.r.queue = append(n.r.queue, sent{n.id, slices.Clone(msg), g})
	return nil
}
func (n *node) SendVec(g totem.Guarantee, parts ...[]byte) error {
	return n.Send(slices.Concat(parts...), g)
}
func (n *node) MaxMessage() int                          { return 1 << 20 }
func (n *node) Ring() (service.RingID, []service.NodeID) { return service.RingID{}, nil }
func (n *node) Syncing() bool                            { return false }
func (n *node) Logger() *slog.Logger                     { return n.log }

// take returns the log lines since the last call, debug ones included
// when debug is set.
func (n *node) take(debug bool) []string {
	var out []string
	for _, l := range n.lines {
		if debug || !strings.HasPrefix(l, "DEBUG ") {
			out = append(out, l)
		}
	}
	n.lines = nil
	return out
}

func (r *ring) deliver() {
	for len(r.queue) > 0 {
		m := r.queue[0]
		r.queue = r.queue[1:]
		h, err := service.ParseHeader(m.msg, false)
		if err != nil || h.Service != service.CFG {
			panic(fmt.Sprintf("bad message %x", m.msg))
		}
		for _, n := range r.nodes {
			n.e.Exec(service.Exec{From: m.from, Fn: h.Fn, Data: m.msg, Guarantee: m.g})
		}
	}
}

type replyRec struct {
	id      uint32
	status  service.Status
	payload []byte
}

type fakeConn struct {
	id  uint64
	out []replyRec
}

func (c *fakeConn) ID() uint64         { return c.id }
func (c *fakeConn) Cred() service.Cred { return service.Cred{} }
func (c *fakeConn) Reply(id uint32, st service.Status, p []byte) {
	c.out = append(c.out, replyRec{id, st, slices.Clone(p)})
}
func (c *fakeConn) Event(uint16, []byte, []byte) {}
func (c *fakeConn) Close(error)                  {}

func (c *fakeConn) take() []string {
	var s []string
	for _, r := range c.out {
		s = append(s, fmt.Sprintf("%d %v %x", r.id, r.status, r.payload))
	}
	c.out = nil
	return s
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestIdentity(t *testing.T) {
	n := (&ring{}).add(1, nil)
	if n.e.ID() != service.CFG || n.e.Name() != "corosync configuration service" {
		t.Fatalf("%v %q", n.e.ID(), n.e.Name())
	}
}

func TestKillNode(t *testing.T) {
	r := &ring{}
	n1, n2, n3 := r.add(1, nil), r.add(2, nil), r.add(3, nil)
	c := &fakeConn{id: 5}
	req, _ := AppendKillNodeRequest(nil, KillNodeRequest{NodeID: 3, Reason: "Killed by corosync-cfgtool"})
	n1.e.Request(c, service.Request{ID: 1, Fn: FnKillNode, Payload: req})
	eq(t, "reply", c.take(), []string{"1 OK "})
	if len(r.queue) != 1 || r.queue[0].g != totem.Safe || len(r.queue[0].msg) != KillNodeSize {
		t.Fatalf("queue %+v", r.queue)
	}
	r.deliver()
	eq(t, "node 3 logs", n3.take(true), []string{
		"DEBUG request to kill node 3(us=3)",
		"INFO Killed by node 1: Killed by corosync-cfgtool",
	})
	eq(t, "node 3 shutdown", n3.shutdowns, []string{"killed by node 1: Killed by corosync-cfgtool"})
	eq(t, "node 2 logs", n2.take(true), []string{"DEBUG request to kill node 3(us=2)"})
	if len(n1.shutdowns)+len(n2.shutdowns) != 0 {
		t.Error("other nodes shut down")
	}

	// Errors: a reason too long, a bad payload, a full queue.
	long, _ := AppendKillNodeRequest(nil, KillNodeRequest{NodeID: 3})
	long = append(long[:4], 0, 1)
	long = append(long, strings.Repeat("r", 256)...)
	n1.e.Request(c, service.Request{ID: 2, Fn: FnKillNode, Payload: long})
	n1.e.Request(c, service.Request{ID: 3, Fn: FnKillNode, Payload: []byte{1}})
	n1.sendErr = totem.ErrTryAgain
	n1.e.Request(c, service.Request{ID: 4, Fn: FnKillNode, Payload: req})
	eq(t, "errors", c.take(), []string{"2 name too long ", "3 invalid argument ", "4 try again "})
}

func TestShutdown(t *testing.T) {
	r := &ring{}
	n1, n2 := r.add(1, nil), r.add(2, nil)
	c := &fakeConn{id: 5}
	n2.e.Request(c, service.Request{ID: 1, Fn: FnShutdown, Payload: AppendShutdownRequest(nil, ShutdownRequest)})
	eq(t, "reply", c.take(), []string{"1 OK "})
	if len(n2.shutdowns) != 0 {
		t.Fatal("shut down before its message was delivered")
	}
	r.deliver()
	for _, n := range []*node{n1, n2} {
		eq(t, fmt.Sprintf("node %d logs", n.id), n.take(false), []string{"INFO Node 2 was shut down by sysadmin"})
	}
	eq(t, "node 2 shutdown", n2.shutdowns, []string{"shut down by sysadmin"})
	if len(n1.shutdowns) != 0 {
		t.Error("node 1 shut down")
	}

	n1.e.Request(c, service.Request{ID: 2, Fn: FnShutdown, Payload: AppendShutdownRequest(nil, 7)})
	eq(t, "bad flags", c.take(), []string{"2 invalid argument "})
	// The ring is down: shut down without announcing it.
	n1.sendErr = totem.ErrStopped
	n1.e.Request(c, service.Request{ID: 3, Fn: FnShutdown, Payload: AppendShutdownRequest(nil, ShutdownImmediate)})
	eq(t, "ring down", c.take(), []string{"3 OK "})
	if len(n1.shutdowns) != 1 {
		t.Errorf("shutdowns %q", n1.shutdowns)
	}
}

func TestReload(t *testing.T) {
	r := &ring{}
	n1, n2, n3 := r.add(1, nil), r.add(2, nil), r.add(3, nil)
	n3.reloadErr = errors.New("parse error at line 3")
	c1, c2 := &fakeConn{id: 5}, &fakeConn{id: 6}
	n1.e.Request(c1, service.Request{ID: 10, Fn: FnReload})
	n1.e.Request(c2, service.Request{ID: 20, Fn: FnReload})
	n1.e.Request(c1, service.Request{ID: 11, Fn: FnReload})
	n3.e.Request(&fakeConn{id: 5}, service.Request{ID: 30, Fn: FnReload}) // same conn id, other node
	if len(c1.out)+len(c2.out) != 0 {
		t.Fatal("replied before the reload ran")
	}
	r.deliver()
	eq(t, "c1", c1.take(), []string{"10 OK ", "11 OK "})
	eq(t, "c2", c2.take(), []string{"20 OK "})
	for _, n := range []*node{n1, n2, n3} {
		if n.reloads != 4 {
			t.Errorf("node %d ran %d reloads", n.id, n.reloads)
		}
	}
	logs := n3.take(false)
	eq(t, "node 3 logs", logs[:2], []string{"INFO Config reload requested by node 1", "ERROR Unable to reload config file: parse error at line 3"})
	if st := n3.e.Stats(); st.Reloads != 4 || st.ReloadFailures != 4 {
		t.Errorf("stats %+v", st)
	}

	// A failing node answers its own client with ErrLibrary.
	c3 := &fakeConn{id: 7}
	n3.e.Request(c3, service.Request{ID: 1, Fn: FnReload})
	r.deliver()
	eq(t, "c3", c3.take(), []string{"1 library error "})

	// A client that leaves before its reload runs gets nothing; the reload
	// still runs. A full queue answers at once.
	n1.e.Request(c1, service.Request{ID: 12, Fn: FnReload})
	n1.e.Disconnect(c1)
	r.deliver()
	if len(c1.out) != 0 || n2.reloads != 6 {
		t.Errorf("after disconnect: %v, %d reloads", c1.take(), n2.reloads)
	}
	n1.sendErr = totem.ErrTryAgain
	n1.e.Request(c1, service.Request{ID: 13, Fn: FnReload})
	eq(t, "full", c1.take(), []string{"13 try again "})

	// No OnReload: the reload fails.
	n4 := New(n1, Options{})
	n1.sendErr = nil
	n4.Exec(service.Exec{From: 2, Fn: ExecReloadConfig, Data: AppendReloadConfig(nil, Source{NodeID: 2})})
	if st := n4.Stats(); st.ReloadFailures != 1 {
		t.Errorf("no OnReload: %+v", st)
	}
}

func TestStatusRequests(t *testing.T) {
	status := []LinkStatus{
		{LinkNo: 1, NodeID: 1, Transport: "knet", Addr: "10.1.0.1", RemoteAddr: "10.1.0.1", Enabled: true, Connected: true},
		sampleLinks[1],
		sampleLinks[0],
		{LinkNo: 0, NodeID: 3, Transport: "udpu", Addr: "10.77.0.1", RemoteAddr: "10.77.0.3", Enabled: true, Connected: true},
	}
	n := (&ring{}).add(1, status)
	c := &fakeConn{id: 1}
	n.e.Request(c, service.Request{ID: 1, Fn: FnRingStatusGet})
	ls, err := DecodeLinks(c.out[0].payload)
	c.out = nil
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, l := range ls {
		order = append(order, fmt.Sprintf("%d/%d", l.LinkNo, l.NodeID))
	}
	eq(t, "sorted by link and node", order, []string{"0/1", "0/2", "0/3", "1/1"})

	n.e.Request(c, service.Request{ID: 2, Fn: FnLocalGet})
	eq(t, "local", c.take(), []string{"2 OK 01000000"})

	for _, tc := range []struct {
		id        service.NodeID
		st        service.Status
		reachable bool
		links     int
	}{
		{1, service.OK, true, 2}, {2, service.OK, false, 1}, {3, service.OK, true, 1}, {9, service.ErrNotExist, false, 0},
	} {
		n.e.Request(c, service.Request{ID: 3, Fn: FnNodeStatusGet, Payload: AppendNodeID(nil, tc.id)})
		r := c.out[0]
		c.out = nil
		if r.status != tc.st {
			t.Errorf("node %d: %v", tc.id, r.status)
			continue
		}
		if tc.st != service.OK {
			continue
		}
		s, err := DecodeNodeStatus(r.payload)
		if err != nil || s.NodeID != tc.id || s.Reachable != tc.reachable || len(s.Links) != tc.links {
			t.Errorf("node %d: %+v %v", tc.id, s, err)
		}
	}
	n.e.Request(c, service.Request{ID: 4, Fn: FnNodeStatusGet, Payload: []byte{1}})
	n.e.Request(c, service.Request{ID: 5, Fn: 99})
	n.e.Request(c, service.Request{Fn: FnLocalGet})
	eq(t, "errors", c.take(), []string{"4 invalid argument ", "5 not supported "})
}

func TestExecIgnoredAndMalformed(t *testing.T) {
	n := (&ring{}).add(1, nil)
	n.e.Exec(service.Exec{From: 2, Fn: ExecRingReenable, Data: AppendRingReenable(nil, Source{NodeID: 2})})
	n.e.Exec(service.Exec{From: 2, Fn: ExecCryptoReconfig, Data: AppendCryptoReconfig(nil, 1)})
	n.e.Exec(service.Exec{From: 2, Fn: ExecKillNode, Data: make([]byte, 40)})
	n.e.Exec(service.Exec{From: 2, Fn: 9, Data: make([]byte, 16)})
	k, _ := AppendKillNode(nil, KillNode{NodeID: 1, Reason: "big endian"})
	n.e.Exec(service.Exec{From: 2, Fn: ExecKillNode, Data: swap(k, []int{24}, []int{16}, nil), Swapped: true})
	if st := n.e.Stats(); st.Received != 3 || st.Malformed != 1 || st.UnknownFn != 1 {
		t.Errorf("stats %+v", st)
	}
	eq(t, "killed by a big-endian node", n.shutdowns, []string{"killed by node 2: big endian"})
	// Without OnShutdown the request is logged.
	e := New(n, Options{})
	e.Exec(service.Exec{From: 1, Fn: ExecShutdown, Data: AppendShutdown(nil)})
	logs := n.take(false)
	if !strings.HasPrefix(logs[len(logs)-1], "WARN cfg: shutdown requested") {
		t.Errorf("logs %q", logs)
	}
}
