package cpgsim

import "fmt"

// Invariant names a checked property (see the package documentation).
type Invariant string

// The invariants, numbered as in the package documentation, and the
// harness guards.
const (
	AgreedOrder      Invariant = "cpg-agreed-order"      // 1
	Integrity        Invariant = "cpg-integrity"         // 2
	ViewConsistency  Invariant = "cpg-view-consistency"  // 3
	SenderMembership Invariant = "cpg-sender-membership" // 4
	Liveness         Invariant = "cpg-liveness"          // 5
	// Replies: the engine answered a request, or sent an event, in a way
	// that contradicts the client's state (a harness guard).
	Replies Invariant = "cpg-replies"
	// NoPanic: the core, the host, the engine or the harness panicked.
	NoPanic Invariant = "panic"
	// Flood: the nodes flooded the network (a message storm).
	Flood Invariant = "flood"
)

// Violation is a broken invariant.
type Violation struct {
	Invariant Invariant
	// Time is the tick at which it was found.
	Time int64
	// Who names the node incarnation or process concerned, when one is
	// (e.g. "n2.1" or "n2.1/p104").
	Who string
	// Detail explains what was seen.
	Detail string
}

// Error formats the violation on one line.
func (v *Violation) Error() string {
	who := ""
	if v.Who != "" {
		who = " " + v.Who
	}
	return fmt.Sprintf("violation of %s at t=%dms%s: %s", v.Invariant, v.Time, who, v.Detail)
}
