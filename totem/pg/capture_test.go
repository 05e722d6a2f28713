package pg

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/pcap"
	"github.com/corogo/corogo/totem/wire"
)

const samplePcap = "../../../shared/spec/corosync-udpu-sample.pcap"

// The sample is three scenarios concatenated (corosync-wire.md §7.1); ring
// ids are only unique within one. scenarioOf maps a frame number to it.
func scenarioOf(frame int) int {
	switch {
	case frame <= 1436:
		return 1
	case frame <= 1608:
		return 2
	}
	return 3
}

type msgKey struct {
	scenario int
	ring     wire.RingID
	seq      uint32
}

// capMsg is one SRP message of a ring's sequence: a totempg packet from an
// originator, or a recovery wrapper (which takes a seq of the new ring but
// whose content belongs to the old ring).
type capMsg struct {
	from    uint32
	swapped bool
	payload []byte
	wrapper bool
	frame   int
}

type capRing struct {
	scenario int
	ring     wire.RingID
}

// captureRings reads the sample and returns every ring's messages by seq,
// deduplicated (fan-out copies and retransmissions), with the rings in order.
func captureRings(t *testing.T) (map[capRing]map[uint32]capMsg, []capRing) {
	t.Helper()
	if _, err := os.Stat(samplePcap); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("capture %s not found; skipping the check against real corosync packets", samplePcap)
	}
	dgrams, err := pcap.ReadUDP(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	rings := map[capRing]map[uint32]capMsg{}
	add := func(sc int, h *wire.McastHeader, m capMsg) {
		r := capRing{sc, h.RingID}
		if rings[r] == nil {
			rings[r] = map[uint32]capMsg{}
		}
		if old, ok := rings[r][h.Seq]; ok {
			if old.wrapper != m.wrapper || old.from != m.from || !bytes.Equal(old.payload, m.payload) {
				t.Errorf("frames %d and %d: ring %v seq %d differ", old.frame, m.frame, h.RingID, h.Seq)
			}
			return
		}
		rings[r][h.Seq] = m
	}
	var outer, inner wire.McastHeader
	for _, d := range dgrams {
		h, err := wire.PeekHeader(d.Payload)
		if err != nil || h.Type != wire.TypeMcast {
			continue
		}
		if err := outer.Unmarshal(d.Payload); err != nil {
			t.Fatalf("frame %d: %v", d.Frame, err)
		}
		sc := scenarioOf(d.Frame)
		switch outer.Encapsulated {
		case wire.NotEncapsulated:
			add(sc, &outer, capMsg{outer.NodeID, outer.Swapped, wire.McastPayload(d.Payload), false, d.Frame})
		case wire.Encapsulated:
			add(sc, &outer, capMsg{outer.NodeID, outer.Swapped, nil, true, d.Frame})
			in := wire.McastPayload(d.Payload)
			if err := inner.Unmarshal(in); err != nil {
				t.Fatalf("frame %d: inner MCAST: %v", d.Frame, err)
			}
			if inner.Encapsulated != wire.NotEncapsulated {
				t.Fatalf("frame %d: inner MCAST has encapsulated %d", d.Frame, inner.Encapsulated)
			}
			add(sc, &inner, capMsg{inner.NodeID, inner.Swapped, wire.McastPayload(in), false, d.Frame})
		}
	}
	order := make([]capRing, 0, len(rings))
	for r := range rings {
		order = append(order, r)
	}
	slices.SortFunc(order, func(a, b capRing) int {
		return cmp.Or(cmp.Compare(a.scenario, b.scenario), cmp.Compare(a.ring.Seq, b.ring.Seq), cmp.Compare(a.ring.Rep, b.ring.Rep))
	})
	return rings, order
}

// deliverable returns a ring's messages contiguous from seq 1, in order, or
// nil when seq 1 is not in the capture.
func deliverable(msgs map[uint32]capMsg) []capMsg {
	var out []capMsg
	for seq := uint32(1); ; seq++ {
		m, ok := msgs[seq]
		if !ok {
			return out
		}
		out = append(out, m)
	}
}

// TestCapture reassembles every totempg item of the real corosync capture
// and checks its group header and service header.
func TestCapture(t *testing.T) {
	rings, order := captureRings(t)
	var asm *Assembler
	scenario := 0
	var items, packets, skipped, cpg3022 int
	counts := map[string]int{}
	for _, r := range order {
		if r.scenario != scenario {
			scenario, asm = r.scenario, NewAssembler(0)
		}
		msgs := deliverable(rings[r])
		if len(msgs) == 0 {
			skipped++
			t.Logf("scenario %d ring %v: %d messages, seq 1 not captured: skipped", r.scenario, r.ring, len(rings[r]))
			checkExcerpt(t, r, rings[r])
			continue
		}
		if len(msgs) < len(rings[r]) {
			t.Logf("scenario %d ring %v: delivering %d of %d messages (gap)", r.scenario, r.ring, len(msgs), len(rings[r]))
		}
		for _, m := range msgs {
			if m.wrapper {
				continue
			}
			packets++
			err := asm.Deliver(m.from, m.payload, m.swapped, func(item []byte) {
				items++
				g, payload, err := ParseGroups(item, m.swapped)
				if err != nil {
					t.Errorf("frame %d: %v", m.frame, err)
					return
				}
				if !g.Is(GroupA) && !g.Is(GroupSync) {
					t.Errorf("frame %d: item for groups %q", m.frame, g.Bytes())
					return
				}
				// Both groups' messages start with a 16-byte request header:
				// id @0, size @8 (int32, 8-byte slots), size = whole message.
				if len(payload) < 16 {
					t.Errorf("frame %d: %d-byte service message", m.frame, len(payload))
					return
				}
				id := binary.LittleEndian.Uint32(payload[0:])
				size := int32(binary.LittleEndian.Uint32(payload[8:]))
				if int(size) != len(payload) {
					t.Errorf("frame %d: group %q id %#x: size field %d, message %d bytes", m.frame, g.Name(0), id, size, len(payload))
				}
				name := string(g.Name(0))
				if g.Is(GroupA) {
					name += "/" + serviceName(id)
					if id == 2<<16|3 && len(payload) >= 184 && binary.LittleEndian.Uint32(payload[152:]) == 3022 {
						cpg3022++
						if r.scenario != 1 || len(payload) != 184+3022 {
							t.Errorf("frame %d: 3022-byte CPG message in scenario %d, %d bytes", m.frame, r.scenario, len(payload))
						}
					}
				}
				counts[name]++
			})
			if err != nil {
				t.Errorf("frame %d (ring %v, node %d): %v", m.frame, r.ring, m.from, err)
			}
		}
	}
	t.Logf("%d rings skipped, %d packets, %d items: %v", skipped, packets, items, counts)
	if cpg3022 == 0 {
		t.Error("the 3022-byte CPG MCAST of scenario 1 was not reassembled")
	}
	if items < 100 {
		t.Errorf("only %d items reassembled", items)
	}
}

// checkExcerpt delivers the longest contiguous run of a ring whose start
// is not in the capture, as a node that joins mid-stream would see it: an
// originator whose first packet continues an item not seen must be thrown
// away (once), and everything after that must reassemble into valid items.
func checkExcerpt(t *testing.T, r capRing, msgs map[uint32]capMsg) {
	t.Helper()
	run := longestRun(msgs)
	a := NewAssembler(0)
	seen := map[uint32]bool{}
	items, thrown := 0, 0
	for _, m := range run {
		if m.wrapper {
			continue
		}
		first := !seen[m.from]
		seen[m.from] = true
		err := a.Deliver(m.from, m.payload, m.swapped, func(item []byte) {
			items++
			g, payload, err := ParseGroups(item, m.swapped)
			switch {
			case err != nil || !g.Is(GroupA) && !g.Is(GroupSync):
				t.Errorf("frame %d: bad item after throw-away: %v", m.frame, err)
			case len(payload) < 16 || int(int32(binary.LittleEndian.Uint32(payload[8:]))) != len(payload):
				t.Errorf("frame %d: service message of %d bytes with a wrong size field", m.frame, len(payload))
			}
		})
		if err != nil {
			if !first || ReasonOf(err) != ReasonContinuation {
				t.Errorf("frame %d (ring %v): %v", m.frame, r.ring, err)
			}
			thrown++
		}
	}
	t.Logf("scenario %d ring %v: %d contiguous messages delivered as an excerpt: %d items, %d originators started mid-item",
		r.scenario, r.ring, len(run), items, thrown)
	if items == 0 {
		t.Errorf("ring %v excerpt: nothing delivered", r.ring)
	}
}

func serviceName(id uint32) string {
	names := map[uint32]string{
		0<<16 | 0: "cmap.mcast", 2<<16 | 0: "cpg.procjoin", 2<<16 | 1: "cpg.procleave",
		2<<16 | 2: "cpg.joinlist", 2<<16 | 3: "cpg.mcast", 2<<16 | 5: "cpg.downlist",
		2<<16 | 6: "cpg.partial_mcast", 5<<16 | 0: "votequorum.nodeinfo",
	}
	if n, ok := names[id]; ok {
		return n
	}
	return "other"
}

// corosyncParts splits an item into the parts (iovecs) corosync passed to
// totempg for it: the group count and lengths, each group name, then the
// service's buffers. CPG MCAST and PARTIAL_MCAST send their exec header and
// the application data separately, cmap its 48-byte header and each key
// item; every other message is one buffer.
func corosyncParts(t *testing.T, item []byte) [][]byte {
	t.Helper()
	g, payload, err := ParseGroups(item, false)
	if err != nil {
		t.Fatal(err)
	}
	off := 2 + 2*g.Count()
	parts := [][]byte{item[:off]}
	for i := range g.Count() {
		parts = append(parts, g.Name(i))
	}
	split := 0
	if g.Is(GroupA) && len(payload) >= 4 {
		switch binary.LittleEndian.Uint32(payload) {
		case 2<<16 | 3:
			split = 184
		case 2<<16 | 6:
			split = 200
		case 0<<16 | 0:
			split = 48
		}
	}
	if split > 0 && split < len(payload) {
		return append(parts, payload[:split], payload[split:])
	}
	return append(parts, payload)
}

type capItem struct {
	data       []byte
	start, end int // indexes of the packets holding its first and last bytes
}

// TestCaptureRepack re-packs every originator's reassembled items with a
// Packer and checks that it produces the captured packets byte for byte. The
// only freedom is when the token arrived: a pending packet is flushed when
// the next captured packet is an unfragmented one holding exactly the
// pending items. Everything else (when a packet is emitted full, how items
// are cut, the fragment numbers) must come from the Packer.
//
// One more constraint makes the test tell "the tail of a large item is sent
// at once" from "the tail is buffered like any small item": corosync's sync
// worker sends a service's sync messages and then the sync BARRIER in one
// call, so no token can arrive between a CPG DOWNLIST or JOINLIST and the
// BARRIER that follows it. Had the DOWNLIST's 173-byte tail been buffered,
// the BARRIER would share its packet; the capture shows them apart.
func TestCaptureRepack(t *testing.T) {
	rings, order := captureRings(t)
	type stream struct {
		scenario int
		ring     wire.RingID // set for an excerpt ring
		from     uint32
	}
	streams := map[stream][][]byte{}
	var keys []stream
	add := func(k stream, m capMsg) {
		if streams[k] == nil {
			keys = append(keys, k)
		}
		streams[k] = append(streams[k], m.payload)
	}
	for _, r := range order {
		msgs := deliverable(rings[r])
		if len(msgs) == 0 {
			// A ring whose start is not captured: its longest contiguous run.
			msgs = longestRun(rings[r])
			for _, m := range msgs {
				if !m.wrapper {
					add(stream{r.scenario, r.ring, m.from}, m)
				}
			}
			continue
		}
		for _, m := range msgs {
			if !m.wrapper {
				add(stream{r.scenario, wire.RingID{}, m.from}, m)
			}
		}
	}
	total := 0
	for _, k := range keys {
		label := fmt.Sprintf("scenario %d node %d", k.scenario, k.from)
		if k.ring != (wire.RingID{}) {
			label += fmt.Sprintf(" ring %v excerpt", k.ring)
		}
		n := repack(t, label, streams[k])
		t.Logf("%s: %d of %d packets reproduced", label, n, len(streams[k]))
		total += n
	}
	t.Logf("%d captured packets from %d streams reproduced byte for byte", total, len(keys))
	if total < 150 {
		t.Errorf("only %d packets compared", total)
	}
}

// repack reassembles one originator's packets and re-packs the items,
// comparing every packet. If the stream starts inside an item, it starts at
// the first packet whose first piece ends an item and was buffered (the
// packet holds more than that piece), with the Packer primed in the state
// corosync was in: that piece buffered, awaiting more.
func repack(t *testing.T, label string, pkts [][]byte) int {
	t.Helper()
	dec := func(pkt []byte) Packet {
		p, err := DecodePacket(pkt, false)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		return p
	}
	for len(pkts) > 0 {
		if h := dec(pkts[0]); h.Continuation == 0 || h.Count > 1 {
			break
		}
		pkts = pkts[1:]
	}
	if len(pkts) == 0 {
		return 0
	}
	p := NewPacker(DefaultPacketLimit)
	primed := false
	if h := dec(pkts[0]); h.Continuation != 0 {
		tail := h.Item(0)
		p.data = append(p.data, tail...)
		p.lens = append(p.lens, uint16(len(tail)))
		p.cont = h.Continuation
		primed = true
	}

	// Reassemble, remembering where each item starts and ends.
	var items []capItem
	var partial []byte
	start := -1
	for i, pkt := range pkts {
		h := dec(pkt)
		for j, piece := range h.Items() {
			if i == 0 && j == 0 && primed {
				continue
			}
			if j > 0 || h.Continuation == 0 {
				start = i
			}
			partial = append(partial, piece...)
			if j == int(h.Count)-1 && h.Fragmented != 0 {
				break
			}
			items = append(items, capItem{partial, start, i})
			partial, start = nil, -1
		}
	}
	end := len(pkts) // packets before the first incomplete item
	if start >= 0 {
		end = start
	}

	next := 0
	emit := func(pkt []byte) {
		if next >= end {
			t.Fatalf("%s: extra packet %s", label, desc(t, pkt))
		}
		if !bytes.Equal(pkt, pkts[next]) {
			t.Fatalf("%s packet %d: got %s, captured %s", label, next, desc(t, pkt), desc(t, pkts[next]))
		}
		next++
	}
	var prev []byte
	for _, it := range items {
		if it.end >= end {
			break
		}
		if p.PendingItems() > 0 && next < end && !(isBarrier(it.data) && isCPGSync(prev)) {
			if h := dec(pkts[next]); h.Fragmented == 0 && int(h.Count) == p.PendingItems() {
				p.Flush(emit) // the token arrived
			}
		}
		p.AddVec(corosyncParts(t, it.data), emit)
		prev = it.data
	}
	want := end
	if end == len(pkts) {
		p.Flush(emit)
	} else {
		// The stream ends inside an item: the packet before the one where
		// that item starts goes out only when later items push it out.
		want = max(end-1, 0)
	}
	if next < want {
		t.Fatalf("%s: reproduced %d of %d packets", label, next, want)
	}
	return next
}

// longestRun returns the longest run of consecutive seqs of a ring.
func longestRun(msgs map[uint32]capMsg) []capMsg {
	var seqs []uint32
	for seq := range msgs {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	var best []capMsg
	for lo := 0; lo < len(seqs); {
		hi := lo + 1
		for hi < len(seqs) && seqs[hi] == seqs[hi-1]+1 {
			hi++
		}
		if hi-lo > len(best) {
			best = best[:0]
			for _, seq := range seqs[lo:hi] {
				best = append(best, msgs[seq])
			}
		}
		lo = hi
	}
	return best
}

// isBarrier reports a sync BARRIER (group "sync", id 0).
func isBarrier(item []byte) bool {
	g, payload, err := ParseGroups(item, false)
	return err == nil && g.Is(GroupSync) && len(payload) >= 4 && binary.LittleEndian.Uint32(payload) == 0
}

// isCPGSync reports a CPG DOWNLIST or JOINLIST, which only cpg's sync_process
// sends.
func isCPGSync(item []byte) bool {
	g, payload, err := ParseGroups(item, false)
	if err != nil || !g.Is(GroupA) || len(payload) < 4 {
		return false
	}
	id := binary.LittleEndian.Uint32(payload)
	return id == 2<<16|5 || id == 2<<16|2
}
