package cpg

import (
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/spectest/capture"
)

// capItem is one CPG exec message (service 2, group "a") found in the
// capture, after totempg reassembly.
type capItem struct {
	frame    int
	scenario int
	from     uint32
	swapped  bool
	msg      []byte
}

// captureCPG returns the capture's service messages (see
// internal/spectest/capture).
func captureCPG(t *testing.T) []capItem {
	t.Helper()
	var out []capItem
	for _, it := range capture.ServiceItems(t, service.CPG) {
		out = append(out, capItem{it.Frame, it.Scenario, it.From, it.Swapped, it.Msg})
	}
	return out
}
