package cmap

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/spectest/capture"
)

// capItem is one service message of group "a" found in the capture, after
// totempg reassembly.
type capItem struct {
	frame, scenario int
	from            uint32
	swapped         bool
	msg             []byte
}

// captureService returns the capture's service messages (see
// internal/spectest/capture).
func captureService(t *testing.T, svc service.ID) []capItem {
	t.Helper()
	var out []capItem
	for _, it := range capture.ServiceItems(t, svc) {
		out = append(out, capItem{it.Frame, it.Scenario, it.From, it.Swapped, it.Msg})
	}
	return out
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
