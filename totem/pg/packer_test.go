package pg

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"
)

// step is one operation on a Packer in a table test.
type step struct {
	add    []int    // AddVec with parts of these sizes (nil: no add)
	groups []string // with add: AddGroups(groups, parts) instead of AddVec
	flush  bool     // Flush
	want   []string // packets emitted by this step (desc form)
}

func runSteps(t *testing.T, limit int, steps []step) *Packer {
	t.Helper()
	p := NewPacker(limit)
	var s sink
	for i, st := range steps {
		switch {
		case st.flush:
			p.Flush(s.emit)
		case st.groups != nil:
			parts := make([][]byte, len(st.add))
			for j, n := range st.add {
				parts[j] = fill(n, byte(i))
			}
			if err := p.AddGroups(st.groups, parts, s.emit); err != nil {
				t.Fatal(err)
			}
		default:
			parts := make([][]byte, len(st.add))
			for j, n := range st.add {
				parts[j] = fill(n, byte(i))
			}
			p.AddVec(parts, s.emit)
		}
		pkts := s.take()
		for _, pkt := range pkts {
			if len(pkt) > p.Limit() {
				t.Errorf("step %d: packet of %d bytes exceeds limit %d", i, len(pkt), p.Limit())
			}
		}
		if got := descAll(t, pkts); !slices.Equal(got, st.want) {
			t.Errorf("step %d: emitted %q, want %q", i, got, st.want)
		}
	}
	return p
}

func TestPackerTable(t *testing.T) {
	a := []string{GroupA}
	tests := []struct {
		name  string
		limit int
		steps []step
	}{
		{
			name: "small items packed until the token",
			steps: []step{
				{groups: a, add: []int{32}},
				{groups: []string{GroupSync}, add: []int{32}},
				{groups: a, add: []int{168}},
				{flush: true, want: []string{"f0 c0 [37 40 173]"}},
				{flush: true}, // nothing pending: no packet
			},
		},
		{
			// §7.2: the CPG downlist, 1568 bytes + the 5-byte group header, starting a
			// fresh packet: 1400 + 173, the tail sent at once (not kept for packing).
			name: "downlist 1568+5 -> 1400 + 173",
			steps: []step{
				{groups: a, add: []int{1568}, want: []string{"f1 c0 [1400]", "f0 c1 [173]"}},
				{flush: true},
			},
		},
		{
			// The 3022-byte CPG MCAST of scenario 1: group header, 184-byte exec header
			// and the data as separate parts, 5+184+3022 = 3211 = 1400+1400+411.
			name: "3 pieces (1,0) (2,1) (0,2)",
			steps: []step{
				{groups: a, add: []int{184, 3022}, want: []string{"f1 c0 [1400]", "f2 c1 [1400]", "f0 c2 [411]"}},
			},
		},
		{
			name: "fragment after packed items fills to the limit",
			steps: []step{
				{groups: a, add: []int{100}},
				// 1402−4 = 1398 of room: 105 + 5 + 1288 of the 1568.
				{groups: a, add: []int{1568}, want: []string{"f1 c0 [105 1293]", "f0 c1 [280]"}},
				{groups: a, add: []int{32}},
				{flush: true, want: []string{"f0 c0 [37]"}},
			},
		},
		{
			name: "item exactly filling a packet goes out at once",
			steps: []step{
				{add: []int{1400}, want: []string{"f0 c0 [1400]"}},
				{add: []int{1398}, want: []string{"f0 c0 [1398]"}}, // within 2 bytes: also at once
				{add: []int{1397}}, // 3 bytes to spare: buffered
				{flush: true, want: []string{"f0 c0 [1397]"}},
			},
		},
		{
			name: "second item just fitting",
			steps: []step{
				{add: []int{1000}},
				// room for 2 items: 1402-4 = 1398; 1000+396 = 1396 = room-2: not < room-2.
				{add: []int{396}, want: []string{"f0 c0 [1000 396]"}},
				{add: []int{1000}},
				{add: []int{395}}, // 1395 < 1396: buffered
				{flush: true, want: []string{"f0 c0 [1000 395]"}},
			},
		},
		{
			// A non-last part that fits only within the last 2 bytes makes a
			// fragmented packet 1 byte short of the limit; as one part the same
			// bytes fill the packet and the tail goes out at once.
			name: "part boundary near the limit",
			steps: []step{
				{add: []int{1399, 10}, want: []string{"f1 c0 [1399]"}},
				{flush: true, want: []string{"f0 c1 [10]"}},
				{add: []int{1409}, want: []string{"f1 c0 [1400]", "f0 c1 [9]"}},
			},
		},
		{
			// The tail of a part that was large (≥ limit−12) is emitted at once;
			// the tail of a small part that did not fit is buffered, and the next
			// packet carries its continuation.
			name: "tail of a small part is buffered",
			steps: []step{
				{add: []int{1300}},
				{add: []int{200}, want: []string{"f1 c0 [1300 98]"}},
				{add: []int{50}},
				{flush: true, want: []string{"f0 c1 [102 50]"}},
				{add: []int{10}},
				{flush: true, want: []string{"f0 c0 [10]"}},
			},
		},
		{
			name: "fragment counter runs on without buffered parts and restarts at 1 after one",
			steps: []step{
				{add: []int{3000}, want: []string{"f1 c0 [1400]", "f2 c1 [1400]", "f0 c2 [200]"}},
				{add: []int{1500}, want: []string{"f3 c0 [1400]", "f0 c3 [100]"}},
				{groups: a, add: []int{1500}, want: []string{"f1 c0 [1400]", "f0 c1 [105]"}},
			},
		},
		{
			name:  "small limit",
			limit: 40, // room 30 for one item, 28 for two
			steps: []step{
				{add: []int{10}},
				{add: []int{20}, want: []string{"f1 c0 [10 18]"}},
				{flush: true, want: []string{"f0 c1 [2]"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, tc.limit, tc.steps)
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPackerFullPacketsAreExactlyLimit(t *testing.T) {
	p := NewPacker(0)
	var s sink
	p.Add(fill(5, 0), s.emit)
	p.Add(fill(20000, 1), s.emit)
	pkts := s.take()
	for i, pkt := range pkts[:len(pkts)-1] {
		if len(pkt) != DefaultPacketLimit {
			t.Errorf("packet %d: %d bytes, want %d", i, len(pkt), DefaultPacketLimit)
		}
	}
}

func TestPackerCounterWrap(t *testing.T) {
	p := NewPacker(0)
	var s sink
	const pieces = 600
	p.Add(fill(pieces*1400, 3), s.emit)
	pkts := s.take()
	if len(pkts) != pieces {
		t.Fatalf("%d packets, want %d", len(pkts), pieces)
	}
	prev := uint8(0)
	for k, pkt := range pkts {
		want := uint8(k%255 + 1) // 1..255, then 1 again: 0 is skipped
		if k == pieces-1 {
			want = 0
		}
		if pkt[4] != want || pkt[5] != prev {
			t.Fatalf("packet %d: fragmented %d continuation %d, want %d %d", k, pkt[4], pkt[5], want, prev)
		}
		prev = pkt[4]
	}
}

func TestPackerPending(t *testing.T) {
	p := NewPacker(0)
	var s sink
	if p.Pending() != 0 || p.PendingItems() != 0 {
		t.Fatal("new packer has pending data")
	}
	p.Add(fill(10, 0), s.emit)
	p.Add(nil, s.emit) // ignored
	p.AddVec([][]byte{nil, fill(3, 0), {}}, s.emit)
	if got, want := p.Pending(), HeaderSize+2*2+13; got != want {
		t.Errorf("Pending = %d, want %d", got, want)
	}
	if p.PendingItems() != 2 {
		t.Errorf("PendingItems = %d, want 2", p.PendingItems())
	}
	p.Flush(s.emit)
	pkts := s.take()
	if len(pkts) != 1 || len(pkts[0]) != HeaderSize+2*2+13 {
		t.Fatalf("flush emitted %d packets", len(pkts))
	}
	if p.Pending() != 0 {
		t.Errorf("Pending after flush = %d", p.Pending())
	}
}

func TestNewPackerLimits(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, DefaultPacketLimit}, {-1, DefaultPacketLimit}, {1, MinPacketLimit},
		{MinPacketLimit, MinPacketLimit}, {65446, 65446}, {1 << 20, MaxPacketLimit},
	} {
		if got := NewPacker(tc.in).Limit(); got != tc.want {
			t.Errorf("NewPacker(%d).Limit() = %d, want %d", tc.in, got, tc.want)
		}
	}
	if PacketLimit(1500) != 1410 || PacketLimit(65536) != 65446 {
		t.Error("PacketLimit")
	}
}

func TestAddGroupsErrors(t *testing.T) {
	p := NewPacker(0)
	var s sink
	many := make([]string, MaxGroups+1)
	for i := range many {
		many[i] = "g"
	}
	err := p.AddGroups(many, [][]byte{{1}}, s.emit)
	if ReasonOf(err) != ReasonGroupHeader {
		t.Fatalf("AddGroups with %d groups: %v", len(many), err)
	}
	if p.Pending() != 0 {
		t.Fatal("failed AddGroups buffered data")
	}
}

// TestGoldenJoinlistBarrier builds the packet of sample frame 2035 (§7.2: a
// CPG JOINLIST and a sync BARRIER packed in one MCAST) and compares it with
// the captured bytes.
func TestGoldenJoinlistBarrier(t *testing.T) {
	const captured = "" +
		"0000000000000200ad00280001000100610200020000000000a8000000000000" +
		"0000000000000000000848000000000000050000000000000077626772700000" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"000000000000000000000000000000000000000000000000000100040073796e" +
		"6300000000000000002000000000000000010000003700000000000000000000" +
		"00"
	want, err := hex.DecodeString(captured)
	if err != nil {
		t.Fatal(err)
	}

	// JOINLIST: qb_ipc_response_header (id, size, error in 8-byte slots), then
	// one entry {pid u32 + pad, mar_cpg_name_t {length u32 + pad, value[128]}}.
	join := make([]byte, 168)
	binary.LittleEndian.PutUint32(join[0:], 2<<16|2) // cpg, fn 2
	binary.LittleEndian.PutUint32(join[8:], 168)
	binary.LittleEndian.PutUint32(join[24:], 18440)
	binary.LittleEndian.PutUint32(join[32:], 5)
	copy(join[40:], "wbgrp")
	// BARRIER: request header (id 0, size 32), ring id 1.37, 4 pad.
	barrier := make([]byte, 32)
	binary.LittleEndian.PutUint32(barrier[8:], 32)
	binary.LittleEndian.PutUint32(barrier[16:], 1)
	binary.LittleEndian.PutUint64(barrier[20:], 0x37)

	// Through AddGroups, as corosync sends them.
	p := NewPacker(0)
	var s sink
	must(t, p.AddGroups([]string{GroupA}, [][]byte{join}, s.emit))
	must(t, p.AddGroups([]string{GroupSync}, [][]byte{barrier}, s.emit))
	p.Flush(s.emit)
	pkts := s.take()
	if len(pkts) != 1 || !bytes.Equal(pkts[0], want) {
		t.Fatalf("AddGroups+Flush:\n got %x\nwant %x", pkts, want)
	}

	// Through AppendGroupHeader and Add.
	p.Add(append(AppendGroupHeader(nil, GroupA), join...), s.emit)
	p.Add(append(AppendGroupHeader(nil, GroupSync), barrier...), s.emit)
	p.Flush(s.emit)
	pkts = s.take()
	if len(pkts) != 1 || !bytes.Equal(pkts[0], want) {
		t.Fatalf("Add+Flush:\n got %x\nwant %x", pkts, want)
	}
}

func TestPackerNoAllocs(t *testing.T) {
	p := NewPacker(0)
	small := fill(64, 0)
	big := fill(64<<10, 0)
	hdr := fill(184, 0)
	n := 0
	emit := func(pkt []byte) { n += len(pkt) }
	groups := []string{GroupA}
	allocs := testing.AllocsPerRun(200, func() {
		p.Add(small, emit)
		p.Add(big, emit)
		_ = p.AddGroups(groups, [][]byte{hdr, small}, emit)
		p.AddVec([][]byte{hdr, small}, emit)
		p.Flush(emit)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocs per Add/Flush round, want 0", allocs)
	}
}
