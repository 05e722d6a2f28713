package sim

import (
	"fmt"

	"github.com/corogo/corogo/totem"
)

// Invariant names a checked property (see the package documentation).
type Invariant string

// The invariants.
const (
	AgreedOrder      Invariant = "agreed-order"      // 1
	Integrity        Invariant = "integrity"         // 2
	SelfDelivery     Invariant = "self-delivery"     // 3
	VirtualSynchrony Invariant = "virtual-synchrony" // 4
	ConfChanges      Invariant = "configuration"     // 5
	SafeDelivery     Invariant = "safe-delivery"     // 6
	Liveness         Invariant = "liveness"          // 7
	WireAccepted     Invariant = "wire"              // a node rejected a datagram another produced
	NoPanic          Invariant = "panic"             // the core (or harness) panicked
	Flood            Invariant = "flood"             // the nodes flooded the network (a message storm)
)

// Violation is a broken invariant.
type Violation struct {
	Invariant Invariant
	// Time is the tick at which it was found.
	Time int64
	// Node and Inc name the incarnation concerned, when one is.
	Node totem.NodeID
	Inc  int
	// Detail explains what was seen.
	Detail string
}

// Error formats the violation on one line.
func (v *Violation) Error() string {
	who := ""
	if v.Node != 0 {
		who = fmt.Sprintf(" n%d.%d", v.Node, v.Inc)
	}
	return fmt.Sprintf("violation of %s at t=%dms%s: %s", v.Invariant, v.Time, who, v.Detail)
}
