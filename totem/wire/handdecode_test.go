package wire_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/corogo/corogo/totem/wire"
)

// The hand decodes of corosync-wire.md §7.2, checked field by field. Where
// the note prints the full hex, the test also checks that the sample's
// frame holds exactly those bytes.

func TestHandDecodeJoinFrame1(t *testing.T) {
	b := frame(t, 1)
	doc := unhex(t, `70 c0 | 03 | 03 | 00 | 01 00 00 00 | 00 00 00 00
		01 00 00 00 | 01 00 00 00 | 00 00 00 00
		01 00 00 00 00 00 00 00 | 01 00 00 00`)
	if !bytes.Equal(b, doc) {
		t.Fatalf("frame 1 is\n% x\nthe note says\n% x", b, doc)
	}
	var m wire.MembJoin
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := wire.MembJoin{
		Header:     wire.Header{Type: wire.TypeMembJoin, NodeID: 1},
		SystemFrom: 1, RingSeq: 1, ProcList: []uint32{1},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	if m.IsLeave() || m.Size() != 37 {
		t.Errorf("IsLeave %v Size %d", m.IsLeave(), m.Size())
	}
}

func TestHandDecodeLeaveFrame1066(t *testing.T) {
	b := frame(t, 1066)
	if len(b) != 45 {
		t.Fatalf("frame 1066 is %d bytes, want 45", len(b))
	}
	var m wire.MembJoin
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := wire.MembJoin{
		Header:     wire.Header{Type: wire.TypeMembJoin, NodeID: 0, TargetNodeID: m.TargetNodeID},
		SystemFrom: 3, RingSeq: 0x0d, ProcList: []uint32{1, 2}, FailedList: []uint32{3},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	if !m.IsLeave() {
		t.Errorf("header nodeid 0 must be a leave")
	}
}

func TestHandDecodeMcastFrame3(t *testing.T) {
	b := frame(t, 3)
	doc := unhex(t, `70 c0 03 01 02 | 01 00 00 00 | 00 00 00 00
		01 00 00 00 | 01 00 00 00 | 00 00 00 00
		01 00 00 00 05 00 00 00 00 00 00 00
		00 00 00 00 | 00 00 00 00
		00 00 | 00 00 | 00 | 00 | 01 00 | 25 00
		01 00 | 01 00 | 61
		00 00 05 00 00 00 00 00 | 20 00 00 00 00 00 00 00
		01 00 00 00 | 01 00 00 00 | 03 00 00 00 | 08 00 00 00`)
	if !bytes.Equal(b, doc) {
		t.Fatalf("frame 3 is\n% x\nthe note says\n% x", b, doc)
	}
	var m wire.McastHeader
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := wire.McastHeader{
		Header:     wire.Header{Type: wire.TypeMcast, Encapsulated: wire.NotEncapsulated, NodeID: 1},
		SystemFrom: 1, Seq: 1, ThisSeqno: 0, RingID: wire.RingID{Rep: 1, Seq: 5},
	}
	if m != want {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	if p := wire.McastPayload(b); len(p) != 92-45 || !bytes.Equal(p, b[45:]) {
		t.Errorf("payload is %d bytes", len(p))
	}
}

func TestHandDecodeMergeDetectFrame19(t *testing.T) {
	b := frame(t, 19)
	doc := unhex(t, `70 c0 03 02 00 | 01 00 00 00 | 71 f7 1b 20 | 01 00 00 00 | 01 00 00 00 05 00 00 00 00 00 00 00`)
	if !bytes.Equal(b, doc) {
		t.Fatalf("frame 19 is\n% x\nthe note says\n% x", b, doc)
	}
	var m wire.MergeDetect
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := wire.MergeDetect{
		Header:     wire.Header{Type: wire.TypeMergeDetect, NodeID: 1, TargetNodeID: 0x201bf771},
		SystemFrom: 1, RingID: wire.RingID{Rep: 1, Seq: 5},
	}
	if m != want {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
}

func TestHandDecodeCommitTokenFrame55(t *testing.T) {
	b := frame(t, 55)
	doc := unhex(t, `70 c0 03 04 00 | 01 00 00 00 | 00 00 00 00
		01 00 00 00 | 01 00 00 00 09 00 00 00 00 00 00 00
		00 00 00 00 | 01 00 00 00 | 02 00 00 00
		01 00 00 00 | 02 00 00 00
		01 00 00 00 05 00 00 00 00 00 00 00 | 08 00 00 00 | 08 00 00 00 | 01 00 00 00`)
	doc = append(doc, make([]byte, 24)...)
	if !bytes.Equal(b, doc) {
		t.Fatalf("frame 55 is\n% x\nthe note says\n% x", b, doc)
	}
	var m wire.CommitToken
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := wire.CommitToken{
		Header:   wire.Header{Type: wire.TypeCommitToken, NodeID: 1},
		TokenSeq: 1, RingID: wire.RingID{Rep: 1, Seq: 9}, RetransFlg: 0, MembIndex: 1,
		Addr: []uint32{1, 2},
		MembList: []wire.CommitMemb{
			{RingID: wire.RingID{Rep: 1, Seq: 5}, Aru: 8, HighDelivered: 8, ReceivedFlg: 1},
			{},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	if m.Size() != 97 {
		t.Errorf("Size %d, want 97", m.Size())
	}
}

func TestHandDecodeInitialOrfTokenFrame59(t *testing.T) {
	b := frame(t, 59)
	if len(b) != 57 || !bytes.Equal(b[9:13], []byte{0, 0, 0, 2}) {
		t.Fatalf("frame 59 is % x", b)
	}
	var m wire.OrfToken
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := wire.OrfToken{
		Header: wire.Header{Type: wire.TypeOrfToken, NodeID: 1, TargetNodeID: 0x02000000},
		Seq:    0, TokenSeq: 0, Aru: 0xFFFFFFFF, AruAddr: 1, RingID: wire.RingID{Rep: 1, Seq: 9},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	// The initial aru counts as just before the first sequence numbers.
	if !wire.SeqLess(m.Aru, m.Seq) || !wire.SeqLess(m.Aru, 1) {
		t.Errorf("aru 0xffffffff must compare below seq 0 and 1")
	}
}

func TestHandDecodeOrfTokenRtrFrame1469(t *testing.T) {
	b := frame(t, 1469)
	if len(b) != 105 {
		t.Fatalf("frame 1469 is %d bytes, want 105", len(b))
	}
	var m wire.OrfToken
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	ring := wire.RingID{Rep: 1, Seq: 0x22}
	want := wire.OrfToken{
		Header: wire.Header{Type: wire.TypeOrfToken, NodeID: m.NodeID, TargetNodeID: m.TargetNodeID},
		Seq:    0xbd, TokenSeq: 0xbf, Aru: 0x18, AruAddr: 3, RingID: ring,
		Backlog: 0x68, FCC: 0x21, RetransFlg: 0,
		RtrList: []wire.RtrItem{{ring, 0x19}, {ring, 0x23}, {ring, 0x30}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
}

func TestHandDecodeTokenHoldCancelFrame469(t *testing.T) {
	b := frame(t, 469)
	doc := unhex(t, `70 c0 03 05 00 | 02 00 00 00 | 00 00 00 00 | 01 00 00 00 0d 00 00 00 00 00 00 00`)
	if !bytes.Equal(b, doc) {
		t.Fatalf("frame 469 is\n% x\nthe note says\n% x", b, doc)
	}
	var m wire.TokenHoldCancel
	if err := m.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	want := wire.TokenHoldCancel{
		Header: wire.Header{Type: wire.TypeTokenHoldCancel, NodeID: 2},
		RingID: wire.RingID{Rep: 1, Seq: 0xd},
	}
	if m != want {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
	if m.RingID.String() != "1.d" {
		t.Errorf("ring prints as %q, want 1.d", m.RingID)
	}
}
