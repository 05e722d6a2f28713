package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/corogo/corogo/totem"
)

// faultNames are the -faults names of totem's deliberate bugs.
func faultNames() []struct {
	name  string
	fault totem.Fault
} {
	return []struct {
		name  string
		fault totem.Fault
	}{
		{"skip-retransmit", totem.FaultSkipRetransmit},
		{"skip-recovery-resend", totem.FaultSkipRecoveryResend},
		{"deliver-over-gaps", totem.FaultDeliverOverGaps},
		{"ignore-safe", totem.FaultIgnoreSafe},
		{"duplicate-delivery", totem.FaultDuplicateDelivery},
	}
}

// parseFaults parses a fault mask: a number, or names separated by commas.
func parseFaults(s string) (totem.Fault, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(s, 0, 32); err == nil {
		return totem.Fault(n), nil
	}
	var f totem.Fault
	for _, name := range strings.Split(s, ",") {
		found := false
		for _, fn := range faultNames() {
			if fn.name == strings.TrimSpace(name) {
				f |= fn.fault
				found = true
			}
		}
		if !found {
			var names []string
			for _, fn := range faultNames() {
				names = append(names, fn.name)
			}
			return 0, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(names, ", "))
		}
	}
	return f, nil
}
