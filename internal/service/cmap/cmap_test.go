package cmap

import (
	"fmt"
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

func TestIdentity(t *testing.T) {
	n := newRing(t).add(1, 0)
	if n.e.ID() != service.CMAP || n.e.Name() != "corosync configuration map access" {
		t.Fatalf("%v %q", n.e.ID(), n.e.Name())
	}
}

// TestConfigVersionCheck follows corosync's cmap_sync_activate rules.
func TestConfigVersionCheck(t *testing.T) {
	r := newRing(t)
	n1, n2, n3 := r.add(1, 5), r.add(2, 5), r.add(3, 0)

	// Each starts alone: a single-node sync (no transitional members) does
	// nothing and keeps the first-sync flag.
	for _, n := range []*node{n1, n2, n3} {
		r.sync([]*node{n}, nil)
		if got := n.take(); !slices.Contains(got, "DEBUG Single node sync -> no action") {
			t.Errorf("node %d: %q", n.id, got)
		}
	}
	// 1 and 2 merge with the same version: no shutdown.
	r.sync([]*node{n1, n2}, map[service.NodeID][]service.NodeID{1: {1}, 2: {2}})
	for _, n := range []*node{n1, n2} {
		if len(n.mismatch) != 0 || len(n.takeAbove("DEBUG")) != 0 {
			t.Errorf("node %d: mismatch %v", n.id, n.mismatch)
		}
	}
	// 3 has no version: no action, whatever the others have.
	r.sync([]*node{n1, n2, n3}, map[service.NodeID][]service.NodeID{1: {1, 2}, 2: {1, 2}, 3: {3}})
	if got := n3.take(); !slices.Contains(got, "DEBUG My config version is 0 -> no action") {
		t.Errorf("node 3: %q", got)
	}
	if got := n1.take(); !slices.Contains(got, "DEBUG Not first sync -> no action") {
		t.Errorf("node 1: %q", got)
	}
	if got := n1.e.MemberConfigVersions(); !slices.Equal(got, []MemberConfigVersion{{1, 5}, {2, 5}, {3, 0}}) {
		t.Errorf("member versions %v", got)
	}

	// A node with an older version joins: it shuts down; the others (not
	// their first sync, or the highest) do not.
	n4 := r.add(4, 3)
	r.sync([]*node{n4}, nil)
	n4.take()
	r.sync([]*node{n1, n2, n3, n4}, map[service.NodeID][]service.NodeID{1: {1, 2, 3}, 2: {1, 2, 3}, 3: {1, 2, 3}, 4: {4}})
	if !slices.Equal(n4.mismatch, [][2]uint64{{3, 5}}) {
		t.Errorf("node 4 mismatch %v", n4.mismatch)
	}
	if got := n4.takeAbove("DEBUG"); !slices.Equal(got, []string{"ERROR Received config version (5) is different than my config version (3)! Exiting"}) {
		t.Errorf("node 4 logs %q", got)
	}
	for _, n := range []*node{n1, n2, n3} {
		if len(n.mismatch) != 0 {
			t.Errorf("node %d mismatch %v", n.id, n.mismatch)
		}
	}

	// A node with a newer version joins: the highest others sent (5) is
	// lower than its own, but corosync's check is "different from the
	// highest, which starts at my own": 7 is the highest, no shutdown.
	n5 := r.add(5, 7)
	r.sync([]*node{n5}, nil)
	r.sync([]*node{n1, n5}, map[service.NodeID][]service.NodeID{1: {1}, 5: {5}})
	if len(n5.mismatch) != 0 || len(n1.mismatch) != 0 {
		t.Errorf("newer joiner: n5 %v n1 %v", n5.mismatch, n1.mismatch)
	}
}

func TestSyncProcessTryAgain(t *testing.T) {
	r := newRing(t)
	n := r.add(1, 9)
	n.full = 2
	n.e.SyncInit(nil, []service.NodeID{1}, service.RingID{Rep: 1, Seq: 4})
	calls := 1
	for !n.e.SyncProcess() {
		calls++
	}
	if calls != 3 || len(r.queue) != 1 {
		t.Fatalf("%d calls, %d messages", calls, len(r.queue))
	}
	m, err := DecodeMcast(r.queue[0].msg, false)
	if v, ok := m.ConfigVersion(); err != nil || !ok || v != 9 || len(r.queue[0].msg) != 336 {
		t.Fatalf("sent %d bytes: %+v %v", len(r.queue[0].msg), m, err)
	}
	if st := n.e.Stats(); st.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestExecMalformedAndSwapped(t *testing.T) {
	r := newRing(t)
	n := r.add(1, 4)
	n.e.SyncInit([]service.NodeID{1}, []service.NodeID{1, 2}, service.RingID{Rep: 1, Seq: 8})
	good, _ := AppendMcast(nil, ConfigVersionMcast(ReasonSync, 6))
	for _, bad := range [][]byte{good[:40], good[:300], append(slices.Clone(good[:24]), 40)} {
		n.e.Exec(service.Exec{From: 2, Fn: ExecMcast, Data: bad})
	}
	n.e.Exec(service.Exec{From: 2, Fn: 3, Data: good})
	unknown := slices.Clone(good)
	unknown[16] = 9
	n.e.Exec(service.Exec{From: 2, Fn: ExecMcast, Data: unknown})
	if st := n.e.Stats(); st.Malformed != 3 || st.UnknownFn != 1 || st.UnknownReason != 1 || st.Received != 1 {
		t.Errorf("stats %+v", st)
	}
	// The same message from a big-endian node.
	n.e.Exec(service.Exec{From: 2, Fn: ExecMcast, Data: swapMcast(good), Swapped: true})
	n.e.SyncActivate()
	if !slices.Equal(n.mismatch, [][2]uint64{{4, 6}}) {
		t.Errorf("mismatch %v", n.mismatch)
	}
}

// swapMcast converts a little-endian MCAST of fixed-size items into the
// other byte order.
func swapMcast(le []byte) []byte {
	b := slices.Clone(le)
	rev := func(p []byte) { reverse(p) }
	rev(b[0:4])
	rev(b[8:12])
	off := McastHeaderSize
	for range int(b[offNoItems]) {
		rev(b[off : off+2])
		vlen := int(b[off+offItemLen])
		rev(b[off+offItemLen : off+offItemLen+8])
		if ValueType(b[off+offItemType]).Size() > 1 {
			rev(b[off+ItemHeaderSize : off+ItemHeaderSize+vlen])
		}
		off += int(align8(uint64(ItemHeaderSize + vlen)))
	}
	return b
}

func TestConfigVersionChanged(t *testing.T) {
	r := newRing(t)
	n1, n2 := r.add(1, 1), r.add(2, 1)
	n1.version = 2
	if err := n1.e.ConfigVersionChanged(); err != nil {
		t.Fatal(err)
	}
	r.deliver([]*node{n1, n2})
	if got := n2.e.MemberConfigVersions(); !slices.Equal(got, []MemberConfigVersion{{1, 2}}) {
		t.Errorf("versions %v", got)
	}
	n1.full = 1
	if err := n1.e.ConfigVersionChanged(); err == nil {
		t.Error("no error on a full queue")
	}
	if got := n1.takeAbove("DEBUG"); !slices.Equal(got, []string{"ERROR Can't inform other nodes about new config version"}) {
		t.Errorf("logs %q", got)
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

func (c *fakeConn) last(t *testing.T) replyRec {
	t.Helper()
	if len(c.out) != 1 {
		t.Fatalf("%d replies", len(c.out))
	}
	r := c.out[0]
	c.out = nil
	return r
}

func storeOf(n int) []KV {
	var kvs []KV
	// Unsorted on purpose, with a duplicate key (the first one wins).
	for i := n - 1; i >= 0; i-- {
		kvs = append(kvs, KV{Key: fmt.Sprintf("runtime.members.%d.ip", i), Type: TypeString, Value: fmt.Sprintf("r(0) ip(10.0.0.%d)", i)})
	}
	kvs = append(kvs,
		KV{Key: "totem.config_version", Type: TypeUint64, Value: uint64(3)},
		KV{Key: "totem.transport", Type: TypeString, Value: "udpu"},
		KV{Key: "totem.transport", Type: TypeString, Value: "knet"},
		KV{Key: "totem.token", Type: TypeUint32, Value: 3000},
	)
	return kvs
}

func TestGet(t *testing.T) {
	api := newRing(t).add(1, 0)
	e := New(api, Options{Snapshot: func() []KV { return storeOf(3) }})
	if e.configVersion() != 3 {
		t.Errorf("config version from the snapshot: %d", e.configVersion())
	}
	c := &fakeConn{id: 1}
	get := func(key string) replyRec {
		p, err := AppendGet(nil, key)
		if err != nil {
			t.Fatal(err)
		}
		e.Request(c, service.Request{ID: 4, Fn: FnGet, Payload: p})
		return c.last(t)
	}
	r := get("totem.token")
	kv, err := DecodeGetReply("totem.token", r.payload)
	if r.status != service.OK || err != nil || FormatValue(kv) != "totem.token (u32) = 3000" {
		t.Errorf("get: %v %v %q", r.status, err, FormatValue(kv))
	}
	if r := get("nope"); r.status != service.ErrNotExist {
		t.Errorf("absent key: %v", r.status)
	}
	e.Request(c, service.Request{ID: 5, Fn: FnGet, Payload: []byte{9}})
	if r := c.last(t); r.status != service.ErrInvalidArg {
		t.Errorf("bad payload: %v", r.status)
	}
	e.Request(c, service.Request{ID: 5, Fn: 77})
	if r := c.last(t); r.status != service.ErrNotSupport {
		t.Errorf("unknown fn: %v", r.status)
	}
}

// iterAll pages through a prefix as the client library will.
func iterAll(t *testing.T, e *Engine, prefix string, max uint32) ([]string, int) {
	t.Helper()
	c := &fakeConn{id: 1}
	var lines []string
	after := ""
	pages := 0
	for {
		p, err := AppendIter(nil, IterRequest{Prefix: prefix, After: after, Max: max})
		if err != nil {
			t.Fatal(err)
		}
		e.Request(c, service.Request{ID: 1, Fn: FnIter, Payload: p})
		r := c.last(t)
		if r.status != service.OK {
			t.Fatalf("iter: %v", r.status)
		}
		if len(r.payload) > e.opts.MaxReply {
			t.Fatalf("reply of %d bytes > %d", len(r.payload), e.opts.MaxReply)
		}
		rep, err := DecodeIterReply(r.payload)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, kv := range rep.Entries {
			lines = append(lines, FormatValue(kv))
			after = kv.Key
		}
		if !rep.More {
			return lines, pages
		}
		if len(rep.Entries) == 0 {
			t.Fatal("more without entries")
		}
	}
}

func TestIterPaging(t *testing.T) {
	api := newRing(t).add(1, 0)
	e := New(api, Options{Snapshot: func() []KV { return storeOf(40) }, MaxReply: 200})
	lines, pages := iterAll(t, e, "", 0)
	if len(lines) != 43 {
		t.Fatalf("%d keys", len(lines))
	}
	if !slices.IsSorted(lines) || lines[len(lines)-1] != "totem.transport (str) = udpu" {
		t.Errorf("order or duplicate: %q", lines[len(lines)-3:])
	}
	if pages < 5 {
		t.Errorf("200-byte pages: only %d", pages)
	}
	// By count, with a prefix.
	e.opts.MaxReply = DefaultMaxReply
	lines, pages = iterAll(t, e, "totem.", 2)
	want := []string{"totem.config_version (u64) = 3", "totem.token (u32) = 3000", "totem.transport (str) = udpu"}
	if !slices.Equal(lines, want) || pages != 2 {
		t.Errorf("prefix: %q in %d pages", lines, pages)
	}
	if lines, _ := iterAll(t, e, "nothing.", 0); len(lines) != 0 {
		t.Errorf("empty prefix: %q", lines)
	}
	// One entry larger than a page.
	e.opts.MaxReply = 20
	c := &fakeConn{}
	p, _ := AppendIter(nil, IterRequest{Prefix: "totem.transport"})
	e.Request(c, service.Request{ID: 1, Fn: FnIter, Payload: p})
	if r := c.last(t); r.status != service.ErrMsgTooBig {
		t.Errorf("entry too big: %v", r.status)
	}
}

func TestNoSnapshot(t *testing.T) {
	e := New(newRing(t).add(1, 0), Options{})
	if lines, _ := iterAll(t, e, "", 0); len(lines) != 0 {
		t.Errorf("%q", lines)
	}
	if e.configVersion() != 0 {
		t.Error("config version")
	}
}
