package cmap

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/pcap"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/spectest"
	"github.com/corogo/corogo/totem/pg"
	"github.com/corogo/corogo/totem/wire"
)

// capItem is one service message of group "a" found in the capture, after
// totempg reassembly.
type capItem struct {
	frame, scenario int
	from            uint32
	swapped         bool
	msg             []byte
}

// scenarioOf maps a sample frame number to its scenario (corosync-wire.md
// §7.1): ring ids are only unique within one.
func scenarioOf(frame int) int {
	switch {
	case frame <= 1436:
		return 1
	case frame <= 1608:
		return 2
	}
	return 3
}

// captureService walks the real corosync capture as totem/pg's capture
// test does: every ring's MCASTs deduplicated by seq (fan-out copies,
// retransmissions, recovery re-sends), delivered in seq order through a
// totempg Assembler, and returns the group "a" items of service svc.
// Rings whose seq 1 is not captured are delivered from their longest
// contiguous run with an assembler of their own.
func captureService(t *testing.T, svc service.ID) []capItem {
	t.Helper()
	dgrams, err := pcap.ReadUDP(spectest.Path(t, spectest.Sample))
	if err != nil {
		t.Fatal(err)
	}
	type ringKey struct {
		scenario int
		ring     wire.RingID
	}
	type capMsg struct {
		from    uint32
		swapped bool
		payload []byte
		frame   int
	}
	rings := map[ringKey]map[uint32]capMsg{}
	add := func(sc int, h *wire.McastHeader, m capMsg) {
		k := ringKey{sc, h.RingID}
		if rings[k] == nil {
			rings[k] = map[uint32]capMsg{}
		}
		if _, ok := rings[k][h.Seq]; !ok {
			rings[k][h.Seq] = m
		}
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
			add(sc, &outer, capMsg{outer.NodeID, outer.Swapped, wire.McastPayload(d.Payload), d.Frame})
		case wire.Encapsulated:
			in := wire.McastPayload(d.Payload)
			if err := inner.Unmarshal(in); err != nil {
				t.Fatalf("frame %d: inner MCAST: %v", d.Frame, err)
			}
			add(sc, &inner, capMsg{inner.NodeID, inner.Swapped, wire.McastPayload(in), d.Frame})
		}
	}
	order := make([]ringKey, 0, len(rings))
	for k := range rings {
		order = append(order, k)
	}
	slices.SortFunc(order, func(a, b ringKey) int {
		return cmp.Or(cmp.Compare(a.scenario, b.scenario), cmp.Compare(a.ring.Seq, b.ring.Seq), cmp.Compare(a.ring.Rep, b.ring.Rep))
	})
	var out []capItem
	var asm *pg.Assembler
	scenario := 0
	for _, k := range order {
		msgs := rings[k]
		seqs := make([]uint32, 0, len(msgs))
		for s := range msgs {
			seqs = append(seqs, s)
		}
		slices.Sort(seqs)
		if k.scenario != scenario {
			scenario, asm = k.scenario, pg.NewAssembler(0)
		}
		a := asm
		if seqs[0] != 1 {
			a = pg.NewAssembler(0)
		}
		for _, s := range longestRun(seqs) {
			m := msgs[s]
			_ = a.Deliver(m.from, m.payload, m.swapped, func(item []byte) {
				g, payload, err := pg.ParseGroups(item, m.swapped)
				if err != nil || !g.Is(pg.GroupA) {
					return
				}
				h, err := service.ParseHeader(payload, m.swapped)
				if err != nil || h.Service != svc {
					return
				}
				out = append(out, capItem{m.frame, k.scenario, m.from, m.swapped, slices.Clone(payload)})
			})
		}
	}
	return out
}

// longestRun returns the longest run of consecutive seqs in sorted seqs.
func longestRun(seqs []uint32) []uint32 {
	var best []uint32
	for lo := 0; lo < len(seqs); {
		hi := lo + 1
		for hi < len(seqs) && seqs[hi] == seqs[hi-1]+1 {
			hi++
		}
		if hi-lo > len(best) {
			best = seqs[lo:hi]
		}
		lo = hi
	}
	return best
}

// TestCaptureSyncMessages finds the cmap MCASTs real corosync nodes sent
// during their syncs (totem.config_version unset: type 0, length 0, 328
// bytes) and checks that our encoding of the same message, and what our
// engine sends in SyncProcess, are byte-identical.
func TestCaptureSyncMessages(t *testing.T) {
	items := captureService(t, service.CMAP)
	want, err := AppendMcast(nil, ConfigVersionMcast(ReasonSync, 0))
	if err != nil {
		t.Fatal(err)
	}
	a := newRing(t)
	n := a.add(1, 0)
	n.e.SyncInit(nil, []service.NodeID{1}, service.RingID{Rep: 1, Seq: 4})
	if !n.e.SyncProcess() {
		t.Fatal("SyncProcess did not finish")
	}
	engineSent := a.queue[0].msg

	froms := map[uint32]int{}
	for _, it := range items {
		if it.swapped {
			t.Errorf("frame %d: swapped cmap message from a little-endian capture", it.frame)
		}
		if len(it.msg) != 328 {
			t.Errorf("frame %d: %d-byte cmap message", it.frame, len(it.msg))
			continue
		}
		if !bytes.Equal(it.msg, want) {
			t.Errorf("frame %d: captured and encoded differ\ncaptured %s\nencoded  %s", it.frame, hex.EncodeToString(it.msg), hex.EncodeToString(want))
		}
		m, err := DecodeMcast(it.msg, false)
		if err != nil {
			t.Errorf("frame %d: %v", it.frame, err)
			continue
		}
		if v, ok := m.ConfigVersion(); m.Reason != ReasonSync || len(m.Items) != 1 || !ok || v != 0 || m.Items[0].Type != TypeNotExist {
			t.Errorf("frame %d: decoded %+v", it.frame, m)
		}
		froms[it.from]++
	}
	if !bytes.Equal(engineSent, want) {
		t.Errorf("engine's sync message differs:\n got %x\nwant %x", engineSent, want)
	}
	t.Logf("%d cmap sync messages from nodes %v", len(items), froms)
	if len(items) < 3 || len(froms) < 2 {
		t.Fatalf("only %d cmap messages from %d nodes found", len(items), len(froms))
	}
	// The size field and the header part, spelled out (corosync-wire.md
	// §5.3): id 0, size 328, reason 0, one item, key length 20.
	if got := binary.LittleEndian.Uint32(want[8:]); got != 328 {
		t.Errorf("size field %d", got)
	}
}
