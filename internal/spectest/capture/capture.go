// Package capture extracts the service messages from the captured
// corosync traffic (shared/spec's sample pcap) for golden tests of the
// services: MCASTs deduplicated per ring, delivered in seq order through
// a totempg Assembler, as a node would.
package capture

import (
	"cmp"
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/pcap"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/spectest"
	"github.com/corogo/corogo/totem/pg"
	"github.com/corogo/corogo/totem/wire"
)

// Item is one service message of group "a" found in the capture, after
// totempg reassembly.
type Item struct {
	Frame, Scenario int
	From            uint32
	Swapped         bool
	Msg             []byte
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

// ServiceItems walks the real corosync capture as totem/pg's capture
// test does: every ring's MCASTs deduplicated by seq (fan-out copies,
// retransmissions, recovery re-sends), delivered in seq order through a
// totempg Assembler, and returns the group "a" items of service svc.
// Rings whose seq 1 is not captured are delivered from their longest
// contiguous run with an assembler of their own.
func ServiceItems(t testing.TB, svc service.ID) []Item {
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
	var out []Item
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
				out = append(out, Item{m.frame, k.scenario, m.from, m.swapped, slices.Clone(payload)})
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
