package totem

import (
	"errors"
	"slices"

	"github.com/corogo/corogo/totem/pg"
	"github.com/corogo/corogo/totem/wire"
)

// Node is one Totem SRP participant: a pure state machine. It is not safe
// for concurrent use; the runtime calls it from one goroutine.
type Node struct {
	cfg    Config
	id     NodeID
	timers Timers
	ticks  tickTimers // timeouts in ticks
	now    int64      // ticks since NewNode

	state State

	// Membership (corosync's my_proc_list, my_failed_list, ...), sorted.
	procList     []NodeID
	failedList   []NodeID
	consensusSet []NodeID
	membList     []NodeID // current ring, ascending
	newMembList  []NodeID // the commit token's members
	transMemb    []NodeID
	deliverMemb  []NodeID
	leftMemb     []NodeID
	leftByLeave  []NodeID // nodes that announced a clean leave (for the log)
	failedToRecv bool

	ringID         RingID
	oldRingID      RingID
	tokenRingIDSeq uint64

	// Old ring state saved on entering COMMIT (corosync old_ring_state_*).
	oldRingSaved   bool
	oldAru         uint32
	oldHighSeqRecv uint32
	oldSafePoint   uint32

	// Ordering state of the current ring.
	aru           uint32 // my_aru
	highSeqRecv   uint32 // my_high_seq_received
	highDelivered uint32 // my_high_delivered
	lastReleased  uint32
	lastAru       uint32 // aru of the previous token
	safePoint     uint32 // every member holds every message up to here
	tokenSeq      uint32 // my_token_seq: last token_seq processed
	lastSeq       uint32 // my_last_seq: token.seq at the previous token
	installSeq    uint32
	receivedFlg   bool
	globalSeqno   uint32 // this_seqno counter, never reset
	retransFlgCnt int
	rotationCnt   int
	setRetransFlg bool
	originatedOrf bool
	orfDiscard    bool

	// Flow control.
	trc int // messages I sent at my previous visit
	pbl int // my backlog at my previous visit
	cbl int // my backlog now

	// Token hold and failure detection.
	seqUnchanged int
	tokenHeld    bool
	aruCount     int

	// Queues.
	pool        bufPool
	regular     *sortQueue
	recovery    *sortQueue
	newMsgs     fifo // packed totempg packets waiting for the token, as MCAST frames
	retransQ    fifo // recovery wrappers waiting for the token
	packer      *pg.Packer
	packerSafe  bool
	itemLog     itemLog
	queuedPkts  uint64 // packets the packer has emitted
	stampedPkts uint64 // packets that got a sequence number
	assembler   *pg.Assembler

	// The last token sent, kept for retransmission.
	lastToken       []byte
	lastTokenTarget NodeID
	commitToken     wire.CommitToken
	tokenTarget     NodeID

	// Decoding scratch, reused.
	orf   wire.OrfToken
	mcast wire.McastHeader
	join  wire.MembJoin
	ct    wire.CommitToken
	md    wire.MergeDetect
	thc   wire.TokenHoldCancel

	// Output.
	rd        Ready
	arena     []byte // bytes of control frames and delivered data, reset at Advance
	persisted bool   // ring seq persisted at least once

	// Delivery context for the assembler callback.
	curFrom      NodeID
	curRing      RingID
	curSeq       uint32
	curGuarantee Guarantee
	curSwapped   bool
	deliverFn    func(item []byte)
	emitFn       func(pkt []byte)

	stats      Stats
	timerTable []timerEntry
}

// tickTimers holds each timer's deadline in ticks; 0 means disarmed.
type tickTimers struct {
	token, tokenRetransmit, hold, join, consensus, merge, warning, sendJoin int64
	// durations in ticks
	dToken, dRetransmit, dHold, dJoin, dConsensus, dMerge, dWarning int64
}

// NewNode validates cfg and returns a node that restores its ring sequence
// from ps. The node does nothing until Start.
func NewNode(cfg Config, ps PersistentState) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Nodelist = slices.Clone(cfg.Nodelist)
	slices.Sort(cfg.Nodelist)
	n := &Node{cfg: cfg, id: cfg.NodeID, state: StateStopped}
	n.setTimers()
	n.pool.size = cfg.NetMTU + wire.McastHeaderSize
	n.regular = newSortQueue(&n.pool)
	n.recovery = newSortQueue(&n.pool)
	n.regular.reinit(0)
	n.recovery.reinit(0)
	n.packer = pg.NewPacker(cfg.PGPayloadLimit())
	n.assembler = pg.NewAssembler(cfg.MaxMessageSize)
	n.deliverFn = n.deliverItem
	n.emitFn = n.queuePacket
	n.buildTimerTable()
	n.stats.DroppedReasons = map[string]uint64{}

	seq := uint64(0)
	if ps.Valid {
		seq = ps.RingSeq
	} else {
		n.persist(0)
	}
	n.ringID = RingID{Rep: n.id, Seq: seq + 1}
	n.oldRingID = n.ringID
	n.tokenRingIDSeq = n.ringID.Seq
	// No ring yet: the first transitional configuration is empty and the
	// first regular one lists every member as joined, this node included,
	// as corosync's do.
	n.membList = nil
	n.aru, n.highSeqRecv, n.highDelivered, n.lastReleased = 0, 0, 0, 0
	n.safePoint = 0
	return n, nil
}

// setTimers derives the timer durations in ticks from n.cfg.
func (n *Node) setTimers() {
	cfg := n.cfg
	n.timers = cfg.EffectiveTimers()
	t := &n.ticks
	t.dToken = cfg.ticks(n.timers.Token)
	t.dRetransmit = cfg.ticks(n.timers.TokenRetransmit)
	t.dHold = cfg.ticks(n.timers.Hold)
	t.dJoin = cfg.ticks(n.timers.Join)
	t.dConsensus = cfg.ticks(n.timers.Consensus)
	t.dMerge = cfg.ticks(n.timers.Merge)
	t.dWarning = 0
	if n.timers.TokenWarning > 0 {
		t.dWarning = cfg.ticks(n.timers.TokenWarning)
	}
}

// Reconfigure applies a reloaded configuration at run time, as corosync's
// configuration reload does: the timers and counters, and the nodelist.
// Timers already armed keep their deadline; the new durations apply from
// their next arming. The node id, the MTU, the tick and the message size
// limits cannot change at run time: a cfg that changes them is refused.
func (n *Node) Reconfigure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	old := n.cfg
	if cfg.NodeID != old.NodeID || cfg.NetMTU != old.NetMTU || cfg.TickInterval != old.TickInterval ||
		cfg.MaxMessageSize != old.MaxMessageSize {
		return errors.New("totem: nodeid, netmtu, tick and message size cannot change at run time")
	}
	cfg.Nodelist = slices.Clone(cfg.Nodelist)
	slices.Sort(cfg.Nodelist)
	n.cfg = cfg
	n.setTimers()
	return nil
}

// Start is corosync's "interface up": the node enters GATHER with its
// singleton ring id.
func (n *Node) Start() {
	if n.state != StateStopped {
		return
	}
	n.gatherEnter(gatherFromInterfaceUp)
}

// Tick advances the node's clock by one Config.TickInterval and fires the
// timers that expire.
func (n *Node) Tick() {
	if n.state == StateStopped {
		return
	}
	n.now++
	for _, tm := range n.timerTable {
		if *tm.deadline != 0 && n.now >= *tm.deadline {
			*tm.deadline = 0
			tm.fire()
		}
	}
}

// timerEntry pairs a deadline with its handler; Tick fires them in
// corosync's order of precedence.
type timerEntry struct {
	deadline *int64
	fire     func()
}

func (n *Node) buildTimerTable() {
	t := &n.ticks
	n.timerTable = []timerEntry{
		{&t.sendJoin, n.sendJoinNow},
		{&t.join, n.joinTimeout},
		{&t.warning, func() {
			n.notice(Notice{Type: NoticeTokenWarning, Value: n.timers.TokenWarning.Milliseconds()})
		}},
		{&t.consensus, n.consensusTimeout},
		{&t.token, n.tokenTimeout},
		{&t.tokenRetransmit, n.tokenRetransmitTimeout},
		{&t.hold, n.holdTimeout},
		{&t.merge, n.mergeTimeout},
	}
}

// NextTimer returns the number of ticks until the next armed timer fires,
// or ok = false when no timer is armed.
func (n *Node) NextTimer() (ticks int64, ok bool) {
	if n.state == StateStopped {
		return 0, false
	}
	t := &n.ticks
	next := int64(-1)
	for _, d := range [...]int64{t.token, t.tokenRetransmit, t.hold, t.join, t.consensus, t.merge, t.warning, t.sendJoin} {
		if d != 0 && (next < 0 || d < next) {
			next = d
		}
	}
	if next < 0 {
		return 0, false
	}
	if next <= n.now {
		return 1, true
	}
	return next - n.now, true
}

// Send queues an application message for ordered delivery to every member,
// this node included. The message is copied.
func (n *Node) Send(msg []byte, g Guarantee) error {
	if n.state == StateStopped {
		return ErrStopped
	}
	if len(msg) > n.cfg.MaxMessageSize {
		return ErrMessageTooBig
	}
	limit := n.cfg.PGPayloadLimit()
	need := (len(msg)+limit-1)/limit + 1
	if n.newMsgs.len()+need > n.cfg.SendQueueLimit {
		return ErrTryAgain
	}
	l := &n.itemLog
	data, chunk := n.copyItem(msg)
	l.push(sendItem{data: data, chunk: chunk, safe: g == Safe})
	n.packItem(&l.items[len(l.items)-1])
	n.tokenHoldCancelSend()
	return nil
}

// SendVec is Send for a message given in parts, which are concatenated.
func (n *Node) SendVec(g Guarantee, parts ...[]byte) error {
	if len(parts) == 1 {
		return n.Send(parts[0], g)
	}
	if n.state == StateStopped {
		return ErrStopped
	}
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	if size > n.cfg.MaxMessageSize {
		return ErrMessageTooBig
	}
	limit := n.cfg.PGPayloadLimit()
	need := (size+limit-1)/limit + 1
	if n.newMsgs.len()+need > n.cfg.SendQueueLimit {
		return ErrTryAgain
	}
	buf, chunk := n.allocItem(size)
	for _, p := range parts {
		buf = append(buf, p...)
	}
	l := &n.itemLog
	l.push(sendItem{data: buf, chunk: chunk, safe: g == Safe})
	n.packItem(&l.items[len(l.items)-1])
	n.tokenHoldCancelSend()
	return nil
}

// SendRoom reports how many more packets the send queue takes before Send
// returns ErrTryAgain.
func (n *Node) SendRoom() int { return max(n.cfg.SendQueueLimit-n.newMsgs.len(), 0) }

// queuePacket wraps one totempg packet into an MCAST frame and queues it
// until the token arrives (corosync's totemsrp_mcast).
func (n *Node) queuePacket(pkt []byte) {
	h := &n.mcast
	*h = wire.McastHeader{}
	h.Type = wire.TypeMcast
	h.Encapsulated = wire.NotEncapsulated
	h.NodeID = n.id
	h.SystemFrom = n.id
	if n.packerSafe {
		h.Guarantee = uint32(Safe)
	}
	buf := h.AppendTo(n.pool.get())
	buf = append(buf, pkt...)
	n.newMsgs.push(buf)
	n.queuedPkts++
	n.stats.McastTx++
}

// Leave sends corosync's leave message (clean shutdown) and stops the node.
func (n *Node) Leave() {
	if n.state == StateStopped {
		return
	}
	failed := setAdd(slices.Clone(n.failedList), n.id)
	proc := setSubtract(n.procList, []NodeID{n.id})
	j := &n.join
	*j = wire.MembJoin{ProcList: j.ProcList[:0], FailedList: j.FailedList[:0]}
	j.Type = wire.TypeMembJoin
	j.NodeID = 0
	j.SystemFrom = n.id
	j.RingSeq = n.ringID.Seq
	j.ProcList = append(j.ProcList, proc...)
	// corosync lists the leaver last in the failed list.
	for _, id := range failed {
		if id != n.id {
			j.FailedList = append(j.FailedList, id)
		}
	}
	j.FailedList = append(j.FailedList, n.id)
	start := len(n.arena)
	n.arena = j.AppendTo(n.arena)
	n.broadcast(n.encoded(start))
	n.stats.MembJoinTx++
	n.state = StateStopped
	n.ticks = tickTimers{dToken: n.ticks.dToken, dRetransmit: n.ticks.dRetransmit, dHold: n.ticks.dHold,
		dJoin: n.ticks.dJoin, dConsensus: n.ticks.dConsensus, dMerge: n.ticks.dMerge, dWarning: n.ticks.dWarning}
}

// HasReady reports whether Ready would return anything.
func (n *Node) HasReady() bool { return !n.rd.IsEmpty() }

// Ready returns what the runtime must do. The result and everything it
// references stay valid until Advance.
func (n *Node) Ready() *Ready { return &n.rd }

// Advance tells the node that the last Ready has been acted on.
func (n *Node) Advance() {
	clear(n.rd.Frames)
	n.rd.Frames = n.rd.Frames[:0]
	clear(n.rd.Events)
	n.rd.Events = n.rd.Events[:0]
	clear(n.rd.Notices)
	n.rd.Notices = n.rd.Notices[:0]
	n.rd.Receipts = n.rd.Receipts[:0]
	n.rd.PersistRingSeq = false
	n.arena = n.arena[:0]
	n.pool.advance()
}

// Status returns a snapshot of the protocol state.
func (n *Node) Status() Status {
	return Status{
		NodeID:  n.id,
		State:   n.state,
		RingID:  n.ringID,
		Members: slices.Clone(n.membList),
		Aru:     n.aru,
		HighSeq: n.highSeqRecv,
		Backlog: n.newMsgs.len(),
		Rep:     n.ringID.Rep == n.id,
		Holding: n.tokenHeld,
	}
}

// Stats returns a copy of the node's counters.
func (n *Node) Stats() Stats {
	s := n.stats
	s.DroppedReasons = make(map[string]uint64, len(n.stats.DroppedReasons))
	for k, v := range n.stats.DroppedReasons {
		s.DroppedReasons[k] = v
	}
	return s
}

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
	// RxMsgDropped counts datagrams dropped as malformed or out of place.
	RxMsgDropped uint64
	// DroppedReasons counts malformed datagrams by decode reason.
	DroppedReasons map[string]uint64
	// Delivered counts application messages delivered.
	Delivered uint64
}

// --- output helpers ---

// encoded returns the bytes appended to the arena since start.
func (n *Node) encoded(start int) []byte { return n.arena[start:len(n.arena):len(n.arena)] }

func (n *Node) broadcast(b []byte) {
	n.rd.Frames = append(n.rd.Frames, Frame{To: Broadcast, Data: b})
}

func (n *Node) unicast(to NodeID, b []byte) {
	n.rd.Frames = append(n.rd.Frames, Frame{To: to, Token: true, Data: b})
}

// broadcastStored sends a stored message buffer (owned by a queue).
func (n *Node) broadcastStored(b []byte) {
	n.rd.Frames = append(n.rd.Frames, Frame{To: Broadcast, Data: b})
}

func (n *Node) persist(seq uint64) {
	n.rd.PersistRingSeq = true
	n.rd.RingSeq = seq
}

func (n *Node) notice(nt Notice) { n.rd.Notices = append(n.rd.Notices, nt) }

func (n *Node) receipt(ring RingID, seq uint32) {
	if n.cfg.ReportReceipts {
		n.rd.Receipts = append(n.rd.Receipts, MsgRef{Ring: ring, Seq: seq})
	}
}

func (n *Node) dropped(err error) {
	n.stats.RxMsgDropped++
	n.stats.DroppedReasons[wire.ReasonOf(err).String()]++
}

// timer helpers
func (n *Node) arm(deadline *int64, d int64) { *deadline = n.now + d }
