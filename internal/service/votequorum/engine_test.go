package votequorum

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/spectest/capture"
)

func settings(n int) Settings {
	return Settings{
		Votes: 1, Expected: uint32(n), NodelistExpected: uint32(n), NodeCount: n, LMSWindow: DefaultLMSWindow,
		QdeviceTimeout: DefaultQdeviceTimeout, QdeviceSyncTimeout: DefaultQdeviceSyncTimeout,
		QdeviceCanOperate: true,
	}
}

func cluster(t *testing.T, s Settings, ids ...uint32) *testNet {
	t.Helper()
	tn := newNet(t, s)
	for _, id := range ids {
		tn.start(id, 0, s)
	}
	tn.form()
	return tn
}

func wantQuorate(t *testing.T, tn *testNet, want ...uint32) {
	t.Helper()
	if got := tn.quorate(); !slices.Equal(got, want) {
		t.Fatalf("quorate nodes %v, want %v\n%s", got, want, tn.show())
	}
}

func wantShow(t *testing.T, tn *testNet, want string) {
	t.Helper()
	if got := tn.show(); got != want {
		t.Fatalf("show:\n%s\nwant:\n%s", got, want)
	}
}

func TestMajority(t *testing.T) {
	tn := cluster(t, settings(3), 1, 2, 3)
	wantShow(t, tn, "1:q=1 v=1 e=3 h=3 t=3 Q=2\n2:q=1 v=1 e=3 h=3 t=3 Q=2\n3:q=1 v=1 e=3 h=3 t=3 Q=2\n")
	tn.kill(3)
	tn.form()
	wantShow(t, tn, "1:q=1 v=1 e=3 h=3 t=2 Q=2\n2:q=1 v=1 e=3 h=3 t=2 Q=2\n")
	tn.kill(2)
	tn.form()
	wantShow(t, tn, "1:q=0 v=1 e=3 h=3 t=1 Q=2\n")
	// Node 2 comes back: quorum again.
	tn.start(2, 0, settings(3))
	tn.form()
	wantQuorate(t, tn, 1, 2)
}

func TestEvenSplit(t *testing.T) {
	tn := cluster(t, settings(4), 1, 2, 3, 4)
	wantQuorate(t, tn, 1, 2, 3, 4)
	tn.move(1, 3, 4)
	tn.form()
	wantQuorate(t, tn)
	// Heal.
	tn.move(0, 3, 4)
	tn.form()
	wantQuorate(t, tn, 1, 2, 3, 4)
}

func TestAutoTieBreaker(t *testing.T) {
	for _, tc := range []struct {
		name string
		atb  ATB
		list []uint32
		want []uint32
	}{
		{"lowest", ATBLowest, nil, []uint32{1, 2}},
		{"highest", ATBHighest, nil, []uint32{3, 4}},
		{"list", ATBList, []uint32{3, 1}, []uint32{3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settings(4)
			s.ATB, s.ATBNodes = tc.atb, tc.list
			tn := cluster(t, s, 1, 2, 3, 4)
			tn.move(1, 3, 4)
			tn.form()
			wantQuorate(t, tn, tc.want...)
		})
	}
}

func TestTwoNode(t *testing.T) {
	s := settings(2)
	s.TwoNode, s.WaitForAll = true, true
	tn := cluster(t, s, 1, 2)
	wantShow(t, tn, "1:q=1 v=1 e=2 h=2 t=2 Q=1\n2:q=1 v=1 e=2 h=2 t=2 Q=1\n")
	// A split: both stay quorate (the fence race decides).
	tn.move(1, 2)
	tn.form()
	wantQuorate(t, tn, 1, 2)
	// Node 2 restarts alone: wait_for_all holds it back.
	tn.kill(2)
	tn.start(2, 1, s)
	tn.form()
	wantQuorate(t, tn, 1)
	tn.move(0, 2)
	tn.form()
	wantQuorate(t, tn, 1, 2)
}

func TestWaitForAll(t *testing.T) {
	s := settings(3)
	s.WaitForAll = true
	tn := newNet(t, s)
	tn.start(1, 0, s)
	tn.start(2, 0, s)
	tn.form()
	wantQuorate(t, tn) // 2 of 3, but not all seen yet
	tn.start(3, 0, s)
	tn.form()
	wantQuorate(t, tn, 1, 2, 3)
	tn.kill(3)
	tn.form()
	wantQuorate(t, tn, 1, 2) // once all were seen, a majority is enough

	// Cancel wait_for_all on a fresh pair.
	tn2 := newNet(t, s)
	tn2.start(1, 0, s)
	tn2.start(2, 0, s)
	tn2.form()
	wantQuorate(t, tn2)
	tn2.nodes[1].e.Request(tn2.nodes[1].conn, service.Request{ID: 1, Fn: FnCancelWaitForAll})
	tn2.deliver()
	wantQuorate(t, tn2, 1, 2)
}

func TestLastManStanding(t *testing.T) {
	s := settings(5)
	s.LastManStanding = true
	s.WaitForAll = true
	s.LMSWindow = 10 * time.Second
	tn := cluster(t, s, 1, 2, 3, 4, 5)
	wantQuorate(t, tn, 1, 2, 3, 4, 5)
	tn.kill(4, 5)
	tn.form()
	wantShow(t, tn, "1:q=1 v=1 e=5 h=5 t=3 Q=3\n2:q=1 v=1 e=5 h=5 t=3 Q=3\n3:q=1 v=1 e=5 h=5 t=3 Q=3\n")
	tn.advance(9 * time.Second)
	wantShow(t, tn, "1:q=1 v=1 e=5 h=5 t=3 Q=3\n2:q=1 v=1 e=5 h=5 t=3 Q=3\n3:q=1 v=1 e=5 h=5 t=3 Q=3\n")
	tn.advance(2 * time.Second)
	wantShow(t, tn, "1:q=1 v=1 e=3 h=3 t=3 Q=2\n2:q=1 v=1 e=3 h=3 t=3 Q=2\n3:q=1 v=1 e=3 h=3 t=3 Q=2\n")
	tn.kill(3)
	tn.form()
	tn.advance(11 * time.Second)
	wantShow(t, tn, "1:q=1 v=1 e=2 h=2 t=2 Q=2\n2:q=1 v=1 e=2 h=2 t=2 Q=2\n")
	// Without auto_tie_breaker two is the floor.
	tn.kill(2)
	tn.form()
	tn.advance(11 * time.Second)
	wantQuorate(t, tn)
}

func TestLastManStandingWithTieBreaker(t *testing.T) {
	s := settings(4)
	s.LastManStanding, s.WaitForAll, s.ATB = true, true, ATBLowest
	tn := cluster(t, s, 1, 2, 3, 4)
	tn.kill(4)
	tn.form()
	tn.advance(11 * time.Second)
	tn.kill(3)
	tn.form()
	tn.advance(11 * time.Second)
	wantShow(t, tn, "1:q=1 v=1 e=2 h=2 t=2 Q=2\n2:q=1 v=1 e=2 h=2 t=2 Q=2\n")
	tn.kill(2)
	tn.form()
	wantQuorate(t, tn, 1) // the tie breaker keeps the lowest node
	tn.advance(11 * time.Second)
	wantShow(t, tn, "1:q=1 v=1 e=1 h=1 t=1 Q=1\n")
}

func TestAllowDownscale(t *testing.T) {
	s := settings(4)
	s.AllowDownscale, s.EVTracking = true, true
	tn := cluster(t, s, 1, 2, 3, 4)
	wantQuorate(t, tn, 1, 2, 3, 4)
	// A clean leave lowers expected votes; a death does not.
	tn.nodes[4].e.Leave()
	tn.deliver()
	tn.kill(4)
	tn.form()
	// Expected votes follow the nodes present (3), but corosync keeps the
	// quorum at a majority of the expected votes barrier (4): 3.
	wantShow(t, tn, "1:q=1 v=1 e=3 h=3 t=3 Q=3\n2:q=1 v=1 e=3 h=3 t=3 Q=3\n3:q=1 v=1 e=3 h=3 t=3 Q=3\n")
	if got := tn.nodes[1].ev.V; got != 4 {
		t.Errorf("ev_tracking barrier %d, want 4", got)
	}
	// A death is not a leave: expected votes stay.
	tn.kill(3)
	tn.form()
	for _, id := range []uint32{1, 2} {
		if in, _ := tn.nodes[id].e.Info(0); in.ExpectedVotes != 3 {
			t.Errorf("node %d: expected votes %d after a death, want 3", id, in.ExpectedVotes)
		}
	}
}

func TestRuntimeChanges(t *testing.T) {
	tn := cluster(t, settings(3), 1, 2, 3)
	n1 := tn.nodes[1]
	// Expected votes 2 with 3 votes present: quorum 2 (refused only when
	// the quorum would exceed the votes present).
	n1.e.Request(n1.conn, service.Request{ID: 1, Fn: FnSetExpected, Payload: AppendSetExpected(nil, 5)})
	if r := n1.conn.last(t); r.status != service.OK {
		t.Fatalf("setexpected 5: %v", r.status)
	}
	tn.deliver()
	wantShow(t, tn, "1:q=1 v=1 e=5 h=5 t=3 Q=3\n2:q=1 v=1 e=5 h=5 t=3 Q=3\n3:q=1 v=1 e=5 h=5 t=3 Q=3\n")
	n1.e.Request(n1.conn, service.Request{ID: 2, Fn: FnSetExpected, Payload: AppendSetExpected(nil, 9)})
	if r := n1.conn.last(t); r.status != service.ErrInvalidArg {
		t.Fatalf("setexpected 9: %v, want invalid", r.status)
	}
	n1.e.Request(n1.conn, service.Request{ID: 3, Fn: FnSetExpected, Payload: AppendSetExpected(nil, 3)})
	tn.deliver()
	wantShow(t, tn, "1:q=1 v=1 e=3 h=3 t=3 Q=2\n2:q=1 v=1 e=3 h=3 t=3 Q=2\n3:q=1 v=1 e=3 h=3 t=3 Q=2\n")
	// Votes of node 2 to 3: total 5.
	n1.e.Request(n1.conn, service.Request{ID: 4, Fn: FnSetVotes, Payload: AppendSetVotes(nil, 2, 3)})
	if r := n1.conn.last(t); r.status != service.OK {
		t.Fatalf("setvotes: %v", r.status)
	}
	tn.deliver()
	wantShow(t, tn, "1:q=1 v=1 e=5 h=5 t=5 Q=3\n2:q=1 v=3 e=5 h=5 t=5 Q=3\n3:q=1 v=1 e=5 h=5 t=5 Q=3\n")
	n1.e.Request(n1.conn, service.Request{ID: 5, Fn: FnSetVotes, Payload: AppendSetVotes(nil, 9, 3)})
	if r := n1.conn.last(t); r.status != service.ErrNameNotFound {
		t.Fatalf("setvotes unknown node: %v", r.status)
	}
}

func TestQdevice(t *testing.T) {
	s := settings(2)
	s.Qdevice, s.QdeviceVotes, s.Expected = true, 1, 3
	tn := cluster(t, s, 1, 2)
	n1, n2 := tn.nodes[1], tn.nodes[2]
	reg := func(n *tnode) {
		n.e.Request(n.conn, service.Request{ID: 10, Fn: FnQdeviceRegister, Payload: AppendName(nil, "Qdisk")})
		tn.deliver()
		if r := n.conn.last(t); r.status != service.OK || r.req != 10 {
			t.Fatalf("register: %+v", r)
		}
	}
	poll := func(n *tnode, cast bool) service.Status {
		n.e.Request(n.conn, service.Request{ID: 11, Fn: FnQdevicePoll, Payload: AppendPoll(nil, Poll{Name: "Qdisk", CastVote: cast, Ring: n.ring})})
		tn.deliver()
		return n.conn.last(t).status
	}
	reg(n1)
	reg(n2)
	if st := poll(n1, true); st != service.OK {
		t.Fatalf("poll: %v", st)
	}
	poll(n2, true)
	wantShow(t, tn, "1:q=1 v=1 e=3 h=3 t=3 Q=2\n2:q=1 v=1 e=3 h=3 t=3 Q=2\n")
	in, _ := n1.e.Info(0)
	if want := InfoQdeviceRegistered | InfoQdeviceAlive | InfoQdeviceCastVote | InfoQuorate; in.Flags != want || in.QdeviceName != "Qdisk" || in.QdeviceVotes != 1 {
		t.Fatalf("info %+v, want flags %v", in, want)
	}
	// Split: only the side whose device casts its vote stays quorate.
	tn.move(1, 2)
	tn.form()
	// Both wait for the poll with the new ring id.
	poll(n1, true)
	poll(n2, false)
	tn.advance(0)
	wantQuorate(t, tn, 1)
	// A stale ring id is refused.
	n1.e.Request(n1.conn, service.Request{ID: 12, Fn: FnQdevicePoll, Payload: AppendPoll(nil, Poll{Name: "Qdisk", CastVote: true, Ring: service.RingID{Rep: 9, Seq: 1}})})
	if r := n1.conn.last(t); r.status != ErrMessage {
		t.Fatalf("stale poll: %v", r.status)
	}
	// The device stops polling: after the timeout its vote is gone.
	tn.advance(11 * time.Second)
	wantQuorate(t, tn)
	in, _ = n1.e.Info(0)
	if in.Flags&(InfoQdeviceAlive|InfoQdeviceCastVote) != 0 {
		t.Fatalf("flags after timeout %v", in.Flags)
	}
}

func TestQdeviceNodeInfoFromUnknownSenderDropped(t *testing.T) {
	tn := cluster(t, settings(3), 1)
	n := tn.nodes[1]
	msg := AppendNodeInfo(nil, NodeInfo{NodeID: 0, Votes: 5})
	n.e.Exec(service.Exec{From: 7, Fn: FnExecNodeInfo, Data: msg})
	if st := n.e.Stats(); st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	if in, _ := n.e.Info(0); in.QdeviceVotes != 0 {
		t.Fatalf("qdevice votes %d", in.QdeviceVotes)
	}
}

func TestSyncSendsOwnNodeInfoBeforeDevice(t *testing.T) {
	tn := newNet(t, settings(3))
	n := tn.start(1, 0, settings(3))
	tn.deliver()
	n.e.SyncInit(nil, []uint32{1}, service.RingID{Rep: 1, Seq: 4})
	n.e.SyncProcess()
	var ids []uint32
	for _, m := range tn.queue {
		ni, err := DecodeNodeInfo(m.msg, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ni.NodeID)
	}
	if !slices.Equal(ids, []uint32{1, 0}) {
		t.Fatalf("NODEINFO order %v, want [1 0]", ids)
	}
}

func TestTracking(t *testing.T) {
	tn := cluster(t, settings(3), 1, 2)
	n := tn.nodes[1]
	n.e.Request(n.conn, service.Request{ID: 1, Fn: FnTrackStart, Payload: AppendTrackStart(nil, TrackChanges, 42)})
	if len(n.conn.events) != 2 || n.conn.events[0].kind != EventNodeList || n.conn.events[1].kind != EventQuorum {
		t.Fatalf("initial events %+v", n.conn.events)
	}
	ev, err := DecodeQuorumEvent(n.conn.events[1].body)
	if err != nil || !ev.Quorate || ev.Context != 42 || len(ev.Nodes) != 2 {
		t.Fatalf("quorum event %+v %v", ev, err)
	}
	n.conn.events = nil
	tn.kill(2)
	tn.form()
	var kinds []uint16
	for _, e := range n.conn.events {
		kinds = append(kinds, e.kind)
	}
	if !slices.Contains(kinds, EventNodeList) || !slices.Contains(kinds, EventQuorum) {
		t.Fatalf("events after a change: %v", kinds)
	}
	last, _ := DecodeQuorumEvent(n.conn.events[len(n.conn.events)-1].body)
	if last.Quorate {
		t.Fatalf("still quorate after losing a node of 3: %+v", last)
	}
	n.e.Request(n.conn, service.Request{ID: 2, Fn: FnTrackStart, Payload: AppendTrackStart(nil, TrackChanges, 1)})
	if r := n.conn.last(t); r.status != service.ErrExist {
		t.Fatalf("second trackstart: %v", r.status)
	}
	n.e.Request(n.conn, service.Request{ID: 3, Fn: FnTrackStop})
	n.e.Request(n.conn, service.Request{ID: 4, Fn: FnTrackStop})
	if r := n.conn.last(t); r.status != service.ErrNotExist {
		t.Fatalf("second trackstop: %v", r.status)
	}
}

func TestBadRequests(t *testing.T) {
	tn := cluster(t, settings(3), 1)
	n := tn.nodes[1]
	for i, r := range []service.Request{
		{Fn: FnGetInfo}, {Fn: FnSetExpected, Payload: []byte{1}}, {Fn: FnQdeviceRegister, Payload: []byte{0, 0}},
		{Fn: FnTrackStart, Payload: AppendTrackStart(nil, 99, 0)}, {Fn: 999},
	} {
		r.ID = uint32(i + 1)
		n.e.Request(n.conn, r)
		if st := n.conn.last(t).status; st == service.OK {
			t.Errorf("request %d (fn %d) accepted", i, r.Fn)
		}
	}
}

// TestCaptureNodeInfo decodes every votequorum message real corosync
// nodes sent in the sample capture and re-encodes it byte for byte.
func TestCaptureNodeInfo(t *testing.T) {
	items := capture.ServiceItems(t, service.Votequorum)
	if len(items) == 0 {
		t.Skip("no votequorum messages in the capture")
	}
	var first, zero int
	for _, it := range items {
		h, err := service.ParseHeader(it.Msg, it.Swapped)
		if err != nil {
			t.Fatal(err)
		}
		if h.Fn != FnExecNodeInfo {
			t.Logf("frame %d: fn %d", it.Frame, h.Fn)
			continue
		}
		ni, err := DecodeNodeInfo(it.Msg, it.Swapped)
		if err != nil {
			t.Fatalf("frame %d: %v", it.Frame, err)
		}
		if got := AppendNodeInfo(nil, ni); !bytes.Equal(got, it.Msg) {
			t.Errorf("frame %d: re-encoded %x, captured %x", it.Frame, got, it.Msg)
		}
		if ni.NodeID == 0 {
			zero++
		}
		if ni.Flags&FlagFirst != 0 {
			first++
		}
	}
	if zero == 0 || first == 0 {
		t.Errorf("capture: %d device NODEINFOs, %d with FIRST; want some of each", zero, first)
	}
}

// TestReload: a configuration reload (corosync-cfgtool -R) that changes
// this node's votes and expected votes sends its NODEINFO and RECONFIGURE
// messages, and every node applies them.
func TestReload(t *testing.T) {
	tn := cluster(t, settings(3), 1, 2, 3)
	s := settings(3)
	s.Votes, s.Expected, s.NodelistExpected = 2, 5, 5
	tn.nodes[1].e.Reload(s)
	tn.deliver()
	wantShow(t, tn, "1:q=1 v=2 e=5 h=5 t=4 Q=3\n2:q=1 v=1 e=5 h=5 t=4 Q=3\n3:q=1 v=1 e=5 h=5 t=4 Q=3\n")
	// two_node at run time: three nodes present, so it does not apply.
	s2 := settings(3)
	s2.TwoNode = true
	tn.nodes[2].e.Reload(s2)
	tn.deliver()
	if in, _ := tn.nodes[2].e.Info(0); in.Flags&InfoTwoNode == 0 || in.Quorum != 3 {
		t.Fatalf("two_node reload: %+v", in)
	}
	// wait_for_all is not set again by a reload: the cluster stays quorate.
	s3 := settings(3)
	s3.WaitForAll = true
	tn.nodes[3].e.Reload(s3)
	tn.deliver()
	wantQuorate(t, tn, 1, 2, 3)
}
