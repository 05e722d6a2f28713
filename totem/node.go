package totem

// Node is one Totem SRP participant: a pure state machine. It is not safe
// for concurrent use; the runtime calls it from one goroutine.
type Node struct {
	cfg Config
}

// NewNode validates cfg and returns a node that restores its ring sequence
// from ps. The node does nothing until Start.
func NewNode(cfg Config, ps PersistentState) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg}, nil
}

// Start is corosync's "interface up": the node forms a singleton ring id and
// enters GATHER.
func (n *Node) Start() {}

// Step hands the node one received datagram. The node does not keep data
// after Step returns. A malformed datagram is dropped, counted in Stats and
// reported as an error; the node's state is unchanged by it.
func (n *Node) Step(data []byte) error { return nil }

// Tick advances the node's clock by one Config.TickInterval.
func (n *Node) Tick() {}

// NextTimer returns the number of ticks until the next armed timer fires,
// or ok = false when no timer is armed.
func (n *Node) NextTimer() (ticks int64, ok bool) { return 0, false }

// Send queues an application message for ordered delivery to every member,
// this node included. The message is copied.
func (n *Node) Send(msg []byte, g Guarantee) error { return nil }

// Leave sends corosync's leave message (clean shutdown) and stops the node.
func (n *Node) Leave() {}

// HasReady reports whether Ready would return anything.
func (n *Node) HasReady() bool { return false }

// Ready returns what the runtime must do. The result and everything it
// references stay valid until Advance.
func (n *Node) Ready() *Ready { return &Ready{} }

// Advance tells the node that the last Ready has been acted on.
func (n *Node) Advance() {}

// Status returns a snapshot of the protocol state.
func (n *Node) Status() Status { return Status{} }

// Stats returns the node's counters.
func (n *Node) Stats() Stats { return Stats{} }

// Stats counts protocol activity, with corosync's stats.srp names where
// one exists.
type Stats struct {
	OrfTokenTx, OrfTokenRx                uint64
	MembMergeDetectTx, MembMergeDetectRx  uint64
	MembJoinTx, MembJoinRx                uint64
	McastTx, McastRetx, McastRx           uint64
	MembCommitTokenTx, MembCommitTokenRx  uint64
	TokenHoldCancelTx, TokenHoldCancelRx  uint64
	OperationalEntered, GatherEntered     uint64
	CommitEntered, RecoveryEntered        uint64
	OperationalTokenLost, GatherTokenLost uint64
	CommitTokenLost, RecoveryTokenLost    uint64
	ConsensusTimeouts                     uint64
	// RxMsgDropped counts datagrams dropped as malformed, by reason.
	RxMsgDropped   uint64
	DroppedReasons map[string]uint64
	// Delivered counts application messages delivered.
	Delivered uint64
}
