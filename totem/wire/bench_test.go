package wire_test

import (
	"testing"

	"github.com/corogo/corogo/totem/wire"
)

// benchOrf is a token like sample frame 1469, with three retransmit requests.
var benchOrf = func() []byte {
	r := wire.RingID{Rep: 1, Seq: 0x22}
	return (&wire.OrfToken{
		Header: wire.Header{NodeID: 2}, Seq: 0xbd, TokenSeq: 0xbf, Aru: 0x18, AruAddr: 3, RingID: r,
		Backlog: 0x68, FCC: 0x21, RtrList: []wire.RtrItem{{r, 0x19}, {r, 0x23}, {r, 0x30}},
	}).AppendTo(nil)
}()

// benchMcast is a full-size MCAST: 45-byte header and 1,410 bytes of payload.
var benchMcast = append((&wire.McastHeader{
	Header: wire.Header{Encapsulated: wire.NotEncapsulated, NodeID: 1}, SystemFrom: 1, Seq: 4, ThisSeqno: 3,
	RingID: wire.RingID{Rep: 1, Seq: 5},
}).AppendTo(nil), make([]byte, 1410)...)

// TestNoAllocs checks the allocation contract: decoding into a reused struct
// and encoding into a buffer with capacity allocate nothing.
func TestNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	for _, ty := range allTypes {
		b := good(ty)
		m := newMessage(ty)
		if err := m.Unmarshal(b); err != nil { // first decode sizes the lists
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _ = m.Unmarshal(b) }); n != 0 {
			t.Errorf("%v Unmarshal: %v allocs", ty, n)
		}
		if n := testing.AllocsPerRun(100, func() { buf = m.AppendTo(buf[:0]) }); n != 0 {
			t.Errorf("%v AppendTo: %v allocs", ty, n)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = wire.PeekHeader(b) }); n != 0 {
			t.Errorf("PeekHeader: %v allocs", n)
		}
	}
	// Shrinking and growing within capacity does not allocate either.
	var m wire.OrfToken
	short := (&wire.OrfToken{}).AppendTo(nil)
	if err := m.Unmarshal(benchOrf); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = m.Unmarshal(short)
		_ = m.Unmarshal(benchOrf)
	}); n != 0 {
		t.Errorf("ORF token shrink/grow: %v allocs", n)
	}
	if len(m.RtrList) != 3 {
		t.Fatalf("RtrList has %d entries", len(m.RtrList))
	}
}

// TestReuseResetsLists checks that decoding into a used struct leaves no
// stale entries behind.
func TestReuseResetsLists(t *testing.T) {
	var j wire.MembJoin
	if err := j.Unmarshal(goodJoin); err != nil {
		t.Fatal(err)
	}
	leave := (&wire.MembJoin{SystemFrom: 3, ProcList: []uint32{1}, FailedList: nil}).AppendTo(nil)
	if err := j.Unmarshal(leave); err != nil {
		t.Fatal(err)
	}
	if len(j.ProcList) != 1 || j.ProcList[0] != 1 || len(j.FailedList) != 0 || !j.IsLeave() {
		t.Errorf("stale data after reuse: %+v", j)
	}
	var c wire.CommitToken
	if err := c.Unmarshal(goodCommit); err != nil {
		t.Fatal(err)
	}
	if err := c.Unmarshal((&wire.CommitToken{}).AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	if len(c.Addr) != 0 || len(c.MembList) != 0 || c.MembIndex != 0 {
		t.Errorf("stale data after reuse: %+v", c)
	}
}

// TestCommitTokenShortMembList checks that AppendTo pads missing memb_list
// entries with zeros and drops extra ones, so the encoding always decodes.
func TestCommitTokenShortMembList(t *testing.T) {
	m := wire.CommitToken{Addr: []uint32{1, 2, 3}, MembIndex: 1,
		MembList: []wire.CommitMemb{{Aru: 7}}}
	b := m.AppendTo(nil)
	if len(b) != wire.CommitTokenSize+3*28 || len(b) != m.Size() {
		t.Fatalf("encoded %d bytes", len(b))
	}
	var got wire.CommitToken
	if err := got.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if len(got.MembList) != 3 || got.MembList[0].Aru != 7 || got.MembList[2] != (wire.CommitMemb{}) {
		t.Errorf("decoded %+v", got.MembList)
	}
	m.MembList = make([]wire.CommitMemb, 5)
	if n := len(m.AppendTo(nil)); n != wire.CommitTokenSize+3*28 {
		t.Errorf("extra memb_list entries were written: %d bytes", n)
	}
}

func BenchmarkOrfTokenUnmarshal(b *testing.B) {
	var m wire.OrfToken
	b.ReportAllocs()
	b.SetBytes(int64(len(benchOrf)))
	for b.Loop() {
		if err := m.Unmarshal(benchOrf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOrfTokenAppendTo(b *testing.B) {
	var m wire.OrfToken
	if err := m.Unmarshal(benchOrf); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchOrf)))
	for b.Loop() {
		buf = m.AppendTo(buf[:0])
	}
}

func BenchmarkMcastHeaderUnmarshal(b *testing.B) {
	var m wire.McastHeader
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(benchMcast); err != nil {
			b.Fatal(err)
		}
		_ = wire.McastPayload(benchMcast)
	}
}

func BenchmarkMcastHeaderAppendTo(b *testing.B) {
	var m wire.McastHeader
	if err := m.Unmarshal(benchMcast); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1500)
	payload := wire.McastPayload(benchMcast)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMcast)))
	for b.Loop() {
		buf = append(m.AppendTo(buf[:0]), payload...)
	}
}

func BenchmarkMembJoinUnmarshal(b *testing.B) {
	var m wire.MembJoin
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(goodJoin); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCommitTokenUnmarshal(b *testing.B) {
	var m wire.CommitToken
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Unmarshal(goodCommit); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPeekHeader(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.PeekHeader(benchOrf); err != nil {
			b.Fatal(err)
		}
	}
}
