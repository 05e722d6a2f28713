package totem

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/totem/wire"
)

func TestEffectiveTimersMatchCorosync(t *testing.T) {
	for _, tc := range []struct {
		nodes                              int
		token, retransmit, hold, consensus int64 // ms
	}{
		{2, 3000, 714, 561, 3600},
		{3, 3650, 869, 685, 4380},
		{5, 4950, 1178, 932, 5940},
	} {
		ids := make([]NodeID, tc.nodes)
		for i := range ids {
			ids[i] = NodeID(i + 1)
		}
		cfg := DefaultConfig(1, ids)
		tm := cfg.EffectiveTimers()
		got := []int64{tm.Token.Milliseconds(), tm.TokenRetransmit.Milliseconds(), tm.Hold.Milliseconds(), tm.Consensus.Milliseconds()}
		want := []int64{tc.token, tc.retransmit, tc.hold, tc.consensus}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("N=%d: timers %v, want %v (token, token_retransmit, hold, consensus)", tc.nodes, got, want)
				break
			}
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("N=%d: default config invalid: %v", tc.nodes, err)
		}
	}
	// token 300, coefficient 0: the settings of the failover benchmark.
	cfg := DefaultConfig(1, []NodeID{1, 2, 3})
	cfg.Token, cfg.TokenCoefficient = 300*time.Millisecond, 0
	tm := cfg.EffectiveTimers()
	if tm.Token != 300*time.Millisecond || tm.Consensus != 360*time.Millisecond || tm.TokenRetransmit != 71*time.Millisecond {
		t.Errorf("token 300: %+v", tm)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := DefaultConfig(9, []NodeID{1, 2, 2})
	cfg.WindowSize = 10
	cfg.MaxMessages = 20
	cfg.Join = time.Millisecond
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"twice", "not in the nodelist", "max_messages", "join timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := NewNode(cfg, PersistentState{}); err == nil {
		t.Error("NewNode accepted an invalid config")
	}
}

// The first join of a fresh node 1 is byte for byte frame 1 of the capture
// (corosync-wire.md §7.2), and the ring id file is created holding 0.
func TestFirstJoinMatchesCorosync(t *testing.T) {
	nd, err := NewNode(DefaultConfig(1, []NodeID{1, 2, 3}), PersistentState{})
	if err != nil {
		t.Fatal(err)
	}
	nd.Start()
	rd := nd.Ready()
	if !rd.PersistRingSeq || rd.RingSeq != 0 {
		t.Errorf("fresh node persists %v %d, want true 0", rd.PersistRingSeq, rd.RingSeq)
	}
	want := []byte{0x70, 0xc0, 3, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	if len(rd.Frames) != 1 || rd.Frames[0].To != Broadcast || !bytes.Equal(rd.Frames[0].Data, want) {
		t.Fatalf("first frames %+v, want one broadcast %x", rd.Frames, want)
	}
	if st := nd.Status(); st.State != StateGather || st.RingID != (RingID{Rep: 1, Seq: 1}) {
		t.Errorf("status %+v", st)
	}
}

func TestRestartAnnouncesPersistedSeqPlusOne(t *testing.T) {
	nd, err := NewNode(DefaultConfig(2, []NodeID{1, 2}), PersistentState{RingSeq: 0x20, Valid: true})
	if err != nil {
		t.Fatal(err)
	}
	nd.Start()
	var j wire.MembJoin
	if err := j.Unmarshal(nd.Ready().Frames[0].Data); err != nil {
		t.Fatal(err)
	}
	if j.RingSeq != 0x21 || nd.Ready().PersistRingSeq {
		t.Errorf("join ring_seq %#x persist %v; want 0x21 and no rewrite", j.RingSeq, nd.Ready().PersistRingSeq)
	}
}

func TestSingleNodeFormsRing5(t *testing.T) {
	m := newMiniNet(t, 1, nil)
	m.run(1000)
	st := m.nodes[1].Status()
	if st.State != StateOperational || st.RingID != (RingID{Rep: 1, Seq: 5}) {
		t.Fatalf("status %+v, want OPERATIONAL on 1.5", st)
	}
	// As corosync: the first transitional configuration is empty and the
	// first regular one has every member joined, this node included.
	want := []string{
		"trans=true ring=1.5 members=[] joined=[] left=[]",
		"trans=false ring=1.5 members=[1] joined=[1] left=[]",
	}
	if strings.Join(m.confs[1], "\n") != strings.Join(want, "\n") {
		t.Errorf("confchgs:\n%s\nwant:\n%s", strings.Join(m.confs[1], "\n"), strings.Join(want, "\n"))
	}
	if err := m.nodes[1].Send([]byte("alone"), Safe); err != nil {
		t.Fatal(err)
	}
	m.collect(1)
	m.run(100)
	if len(m.delivered[1]) != 1 {
		t.Errorf("single node delivered %v", m.delivered[1])
	}
}

func TestLeaveMessageAndFastReform(t *testing.T) {
	m := newMiniNet(t, 3, nil)
	m.run(1000)
	m.nodes[3].Leave()
	rd := m.nodes[3].Ready()
	var j wire.MembJoin
	if err := j.Unmarshal(rd.Frames[0].Data); err != nil {
		t.Fatal(err)
	}
	if j.NodeID != 0 || j.SystemFrom != 3 || len(j.ProcList) != 2 || len(j.FailedList) != 1 || j.FailedList[0] != 3 {
		t.Fatalf("leave message %+v", j)
	}
	m.collect(3)
	m.down[3] = true
	start := m.now
	for m.now-start < 3000 {
		m.run(1)
		if st := m.nodes[1].Status(); st.State == StateOperational && len(st.Members) == 2 {
			break
		}
	}
	// Without the leave message this takes token (200 ms) + consensus (240 ms).
	if took := m.now - start; took > 100 {
		t.Errorf("re-forming after a leave took %d ms", took)
	}
	if !strings.Contains(m.confs[1][len(m.confs[1])-2], "left=[3]") {
		t.Errorf("transitional config %q does not list 3 as left", m.confs[1][len(m.confs[1])-2])
	}
	var membership *Notice
	for i := range m.notices[1] {
		if m.notices[1][i].Type == NoticeMembership {
			membership = &m.notices[1][i]
		}
	}
	if membership == nil || len(membership.Left) != 1 || len(membership.Failed) != 0 {
		t.Errorf("membership notice %+v: a clean leave is not a failure", membership)
	}
}

// A safe message is not delivered anywhere before every member holds it.
func TestSafeDeliveryWaitsForEveryMember(t *testing.T) {
	m := newMiniNet(t, 3, nil)
	m.run(1000)
	lost := 0
	m.drop = func(p pkt) bool {
		if p.to == 3 && len(p.data) > 4 && p.data[3] == byte(wire.TypeMcast) && lost < 3 {
			lost++
			return true
		}
		return false
	}
	has3 := false
	m.onDeliver = func(id NodeID, e Event) {
		if e.Guarantee != Safe {
			t.Errorf("node %d: guarantee %v", id, e.Guarantee)
		}
		if id != 3 && !has3 && !m.nodes[3].regular.has(e.MsgSeq) {
			t.Errorf("node %d delivered safe seq %d before node 3 held it", id, e.MsgSeq)
		}
	}
	if err := m.nodes[1].Send([]byte("safe"), Safe); err != nil {
		t.Fatal(err)
	}
	m.collect(1)
	m.run(2000)
	for _, id := range m.ids {
		if len(m.delivered[id]) != 1 {
			t.Errorf("node %d delivered %v", id, m.delivered[id])
		}
	}
	if lost == 0 {
		t.Error("no message was dropped: the test proves nothing")
	}
}

// A lost message is requested on the token and re-sent; order is kept.
func TestLostMessageIsRetransmitted(t *testing.T) {
	m := newMiniNet(t, 3, nil)
	m.run(1000)
	lost := false
	m.drop = func(p pkt) bool {
		if !lost && p.to == 2 && p.from == 1 && p.data[3] == byte(wire.TypeMcast) {
			lost = true
			return true
		}
		return false
	}
	for i := 0; i < 10; i++ {
		if err := m.nodes[1].Send([]byte{byte('a' + i)}, Agreed); err != nil {
			t.Fatal(err)
		}
		m.collect(1)
		m.run(1)
	}
	m.run(1000)
	var retx uint64
	for _, id := range m.ids {
		retx += m.nodes[id].Stats().McastRetx
	}
	if !lost || retx == 0 {
		t.Errorf("lost %v, retransmitted %d", lost, retx)
	}
	for _, id := range m.ids {
		if strings.Join(m.delivered[id], ",") != strings.Join(m.delivered[1], ",") || len(m.delivered[id]) != 10 {
			t.Errorf("node %d delivered %v; node 1 %v", id, m.delivered[id], m.delivered[1])
		}
	}
}

func TestIdleRepHoldsTokenAndSendCancelsHold(t *testing.T) {
	m := newMiniNet(t, 3, nil)
	m.run(1000)
	if !m.nodes[1].Status().Holding {
		t.Fatal("idle representative does not hold the token")
	}
	// A non-representative with the held flag sends TOKEN_HOLD_CANCEL on Send.
	nd := m.nodes[2]
	if !nd.tokenHeld {
		t.Fatal("node 2 did not set its held flag")
	}
	if err := nd.Send([]byte("x"), Agreed); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range nd.Ready().Frames {
		if f.Data[3] == byte(wire.TypeTokenHoldCancel) {
			found = true
		}
	}
	if !found {
		t.Error("no TOKEN_HOLD_CANCEL sent")
	}
	m.collect(2)
	start := m.now
	for len(m.delivered[3]) == 0 && m.now-start < 1000 {
		m.run(1)
	}
	if took := m.now - start; took > 5 {
		t.Errorf("delivery after hold cancel took %d ms (hold is %v)", took, m.nodes[1].timers.Hold)
	}
}

func TestMalformedDatagramsAreCountedAndHarmless(t *testing.T) {
	m := newMiniNet(t, 2, nil)
	m.run(1000)
	before := m.nodes[1].Status()
	for _, d := range [][]byte{nil, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 60), {0x70, 0xc0, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}} {
		if err := m.nodes[1].Step(d); err == nil {
			t.Errorf("Step(%x) accepted", d)
		}
	}
	st := m.nodes[1].Stats()
	if st.RxMsgDropped != 4 || len(st.DroppedReasons) == 0 {
		t.Errorf("dropped %d reasons %v", st.RxMsgDropped, st.DroppedReasons)
	}
	after := m.nodes[1].Status()
	if before.State != after.State || before.RingID != after.RingID {
		t.Errorf("state changed: %+v -> %+v", before, after)
	}
}

func TestFailedToReceive(t *testing.T) {
	m := newMiniNet(t, 3, func(c *Config) { c.FailRecvConst = 20 })
	m.run(1000)
	// Node 3 never gets node 1's messages again.
	m.drop = func(p pkt) bool { return p.to == 3 && p.data[3] == byte(wire.TypeMcast) && p.from == 1 }
	for i := 0; i < 5; i++ {
		_ = m.nodes[1].Send([]byte("x"), Agreed)
		m.collect(1)
	}
	m.run(3000)
	found := false
	for _, nt := range m.notices[3] {
		if nt.Type == NoticeFailedToReceive {
			found = true
		}
	}
	if !found {
		t.Fatal("node 3 never declared FAILED TO RECEIVE")
	}
}

func TestCommitTokenClearsReceivedFlagOfLowerAru(t *testing.T) {
	nd, _ := NewNode(DefaultConfig(2, []NodeID{1, 2}), PersistentState{})
	old := RingID{Rep: 1, Seq: 9}
	nd.oldRingID = old
	nd.oldAru, nd.aru, nd.highSeqRecv = 7, 7, 7
	nd.commitToken = wire.CommitToken{
		RingID: RingID{Rep: 1, Seq: 13}, MembIndex: 1, Addr: []uint32{1, 2},
		MembList: []wire.CommitMemb{{RingID: old, Aru: 9, HighDelivered: 9, ReceivedFlg: 1}, {}},
	}
	nd.commitTokenUpdate()
	me := nd.commitToken.MembList[1]
	if me.Aru != 7 || me.ReceivedFlg != 0 || nd.receivedFlg {
		t.Errorf("entry %+v received %v: a lower aru than a peer's must clear received_flg", me, nd.receivedFlg)
	}
	if nd.commitToken.MembIndex != 2 {
		t.Errorf("memb_index %d", nd.commitToken.MembIndex)
	}
}

func TestSendErrors(t *testing.T) {
	cfg := DefaultConfig(1, []NodeID{1})
	cfg.MaxMessageSize = 100
	cfg.SendQueueLimit = 3
	nd, _ := NewNode(cfg, PersistentState{})
	if err := nd.Send([]byte("x"), Agreed); !errors.Is(err, ErrStopped) {
		t.Errorf("Send before Start: %v", err)
	}
	nd.Start()
	if err := nd.Send(make([]byte, 101), Agreed); !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("oversized Send: %v", err)
	}
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = nd.Send(make([]byte, 100), Safe)
		nd.packer.Flush(nd.emitFn)
	}
	if !errors.Is(err, ErrTryAgain) {
		t.Errorf("full queue: %v", err)
	}
}
