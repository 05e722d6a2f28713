package totem

import (
	"encoding/binary"
	"slices"

	"github.com/corogo/corogo/totem/wire"
)

// handleOrfToken processes the ordering token in OPERATIONAL and RECOVERY
// (corosync-wire.md §3.8).
func (n *Node) handleOrfToken(t *wire.OrfToken) {
	n.stats.OrfTokenRx++
	if n.orfDiscard || n.state == StateCommit || n.state == StateGather {
		return
	}
	// Deviation: the ring and duplicate checks come first, so a stray token
	// of an old ring cannot disturb the idle and merge bookkeeping.
	if t.RingID != n.ringID || seqLTE(t.TokenSeq, n.tokenSeq) {
		return
	}

	// Merge and idle detection.
	if t.Seq == n.lastSeq {
		if n.ticks.merge == 0 {
			n.arm(&n.ticks.merge, n.ticks.dMerge)
		}
		n.seqUnchanged++
	} else {
		n.ticks.merge = 0
		n.ticks.hold = 0
		n.seqUnchanged = 0
	}
	n.lastSeq = t.Seq

	rep := n.ringID.Rep == n.id
	n.tokenHeld = (rep && n.seqUnchanged > n.cfg.SeqnoUnchangedConst) ||
		(!rep && n.seqUnchanged >= n.cfg.SeqnoUnchangedConst)
	forward := !(rep && n.tokenHeld)

	lastAru := n.lastAru
	n.lastAru = t.Aru
	if n.state == StateOperational {
		stable := seqMin(t.Aru, lastAru)
		if seqLT(n.safePoint, stable) {
			n.safePoint = stable
		}
		n.messagesFree(stable)
		// The token-received callback: totempg flushes its packed buffer.
		if n.packer.Pending() > 0 {
			n.packer.Flush(n.emitFn)
		}
	}

	allowed := n.fccCalculate(t)
	retx := n.orfTokenRtr(t, &allowed)
	if n.tokenHeld && (len(t.RtrList) > 0 || retx > 0) {
		n.tokenHeld = false
		forward = true
	}
	n.fccRtrLimit(t, &allowed)
	sent := n.orfTokenMcast(t, allowed)
	n.fccTokenUpdate(t, retx+sent)

	// The aru rule.
	if seqLT(n.aru, t.Aru) || t.AruAddr == n.id || t.AruAddr == 0 {
		t.Aru = n.aru
		if t.Aru == t.Seq {
			t.AruAddr = 0
		} else {
			t.AruAddr = n.id
		}
	}
	if t.Aru == lastAru && t.AruAddr != 0 {
		n.aruCount++
	} else {
		n.aruCount = 0
	}
	if n.aruCount > n.cfg.FailRecvConst && t.AruAddr == n.id {
		n.notice(Notice{Type: NoticeFailedToReceive, Ring: n.ringID})
		n.failedToRecv = true
		n.failedList = setAdd(n.failedList, n.id)
		n.gatherEnter(gatherFromFailedToReceive)
		return
	}

	n.tokenSeq = t.TokenSeq
	t.TokenSeq++
	if n.state == StateRecovery {
		n.recoveryTokenRules(t)
	}
	t.NodeID = n.id
	n.tokenStore(t, forward)

	if n.state == StateOperational {
		n.messagesDeliver()
	}
	n.resetTokenTimeout()
	n.resetTokenRetransmitTimeout()
	if rep && n.tokenHeld {
		n.arm(&n.ticks.hold, n.ticks.dHold)
	}
}

// recoveryTokenRules decides when RECOVERY is over (corosync-wire.md §3.6).
func (n *Node) recoveryTokenRules(t *wire.OrfToken) {
	if n.retransQ.len() > 0 {
		if t.RetransFlg == 0 {
			t.RetransFlg = 1
			n.setRetransFlg = true
		}
	} else if t.RetransFlg == 1 && n.setRetransFlg {
		t.RetransFlg = 0
		n.setRetransFlg = false
	}
	if t.RetransFlg == 0 {
		n.retransFlgCnt++
	} else {
		n.retransFlgCnt = 0
	}
	if n.retransFlgCnt == 2 {
		n.installSeq = t.Seq
	}
	if n.retransFlgCnt >= 2 && !n.receivedFlg && seqLTE(n.installSeq, n.aru) {
		n.receivedFlg = true
		n.deliverMemb = append(n.deliverMemb[:0], n.transMemb...)
	}
	if n.retransFlgCnt >= 3 && seqLTE(n.installSeq, t.Aru) {
		n.rotationCnt++
	} else {
		n.rotationCnt = 0
	}
	if n.rotationCnt == 2 {
		n.operationalEnter()
		n.rotationCnt = 0
		n.retransFlgCnt = 0
	}
}

// backlog is the number of SRP messages waiting for the token.
func (n *Node) backlog() int {
	if n.state == StateRecovery {
		return n.retransQ.len()
	}
	return n.newMsgs.len()
}

// fccCalculate is corosync's fcc_calculate (corosync-wire.md §3.12).
func (n *Node) fccCalculate(t *wire.OrfToken) int {
	allowed := n.cfg.MaxMessages
	window := n.cfg.WindowSize
	if int(t.FCC) >= window {
		allowed = 0
	} else if allowed > window-int(t.FCC) {
		allowed = window - int(t.FCC)
	}
	n.cbl = n.backlog()
	if denom := int(t.Backlog) + n.cbl - n.pbl; denom > 0 {
		if calc := window * n.pbl / denom; calc > 0 && allowed > calc {
			allowed = calc
		}
	}
	return allowed
}

// fccRtrLimit keeps the in-flight span inside the sort queue.
func (n *Node) fccRtrLimit(t *wire.OrfToken, allowed *int) {
	limit := n.lastReleased + sortQueueSize - uint32(*allowed) - uint32(n.cfg.WindowSize)
	if seqLT(limit, t.Seq) {
		*allowed = 0
	}
}

// fccTokenUpdate replaces my previous contribution to fcc and backlog.
func (n *Node) fccTokenUpdate(t *wire.OrfToken, sent int) {
	t.FCC += uint32(sent - n.trc)
	t.Backlog += uint32(n.cbl - n.pbl)
	n.trc = sent
	n.pbl = n.cbl
}

// queues returns the sort queue of the current state.
func (n *Node) currentQueue() *sortQueue {
	if n.state == StateRecovery {
		return n.recovery
	}
	return n.regular
}

// orfTokenRtr serves the token's retransmission requests and adds mine.
func (n *Node) orfTokenRtr(t *wire.OrfToken, allowed *int) int {
	sq := n.currentQueue()
	served := 0
	for i := 0; served < *allowed && i < len(t.RtrList); {
		it := t.RtrList[i]
		if it.RingID != n.ringID || n.cfg.Faults&FaultSkipRetransmit != 0 {
			i++
			continue
		}
		buf := sq.get(it.Seq)
		if buf == nil {
			i++
			continue
		}
		n.broadcastStored(buf)
		n.stats.McastRetx++
		t.RtrList = slices.Delete(t.RtrList, i, i+1)
		served++
	}
	*allowed -= served

	span := t.Seq - n.aru
	if span >= sortQueueSize {
		return served
	}
	for i := uint32(1); len(t.RtrList) < wire.MaxRtrEntries && i <= span; i++ {
		seq := n.aru + i
		if !sq.inRange(seq) {
			break
		}
		if sq.has(seq) {
			continue
		}
		if sq.missCount(seq) < n.cfg.MissCountConst {
			continue
		}
		listed := false
		for _, it := range t.RtrList {
			if it.Seq == seq {
				listed = true
				break
			}
		}
		if !listed {
			t.RtrList = append(t.RtrList, wire.RtrItem{RingID: n.ringID, Seq: seq})
		}
	}
	return served
}

// MCAST header offsets patched when a queued message gets its number.
const (
	offMcastSeq       = 17
	offMcastThisSeqno = 21
	offMcastRingRep   = 25
	offMcastRingSeq   = 29
)

// orfTokenMcast sends up to allowed queued messages, numbering them.
func (n *Node) orfTokenMcast(t *wire.OrfToken, allowed int) int {
	q, sq := &n.newMsgs, n.regular
	if n.state == StateRecovery {
		q, sq = &n.retransQ, n.recovery
		n.resetTokenRetransmitTimeout()
	}
	sent := 0
	for ; sent < allowed && q.len() > 0; sent++ {
		buf := q.pop()
		t.Seq++
		binary.LittleEndian.PutUint32(buf[offMcastSeq:], t.Seq)
		binary.LittleEndian.PutUint32(buf[offMcastThisSeqno:], n.globalSeqno)
		binary.LittleEndian.PutUint32(buf[offMcastRingRep:], n.ringID.Rep)
		binary.LittleEndian.PutUint64(buf[offMcastRingSeq:], n.ringID.Seq)
		n.globalSeqno++
		sq.add(t.Seq, buf)
		n.receipt(n.ringID, t.Seq)
		n.broadcastStored(buf)
		n.highSeqRecv = t.Seq
		if q == &n.newMsgs {
			n.stamped()
		}
	}
	n.updateAru()
	return sent
}

// updateAru advances my aru over contiguous received messages.
func (n *Node) updateAru() {
	sq := n.currentQueue()
	for seqLT(n.aru, n.highSeqRecv) && sq.has(n.aru+1) {
		n.aru++
	}
}

// messagesFree releases messages every member holds (messages_free).
func (n *Node) messagesFree(release uint32) {
	if seqLT(n.highDelivered, release) {
		release = n.highDelivered
	}
	if seqLT(release, n.lastReleased) || release-n.lastReleased >= sortQueueSize {
		return
	}
	n.regular.release(release)
	n.lastReleased = release
}

// messagesDeliver delivers contiguous messages in agreed order; a safe
// message also waits until every member holds it.
func (n *Node) messagesDeliver() {
	var h wire.McastHeader
	for {
		seq := n.highDelivered + 1
		if seqLT(n.highSeqRecv, seq) {
			return
		}
		buf := n.regular.get(seq)
		if buf == nil {
			if n.cfg.Faults&FaultDeliverOverGaps != 0 && seqLT(seq, n.highSeqRecv) {
				n.highDelivered = seq
				continue
			}
			return
		}
		if h.Unmarshal(buf) != nil {
			n.highDelivered = seq
			continue
		}
		if h.Guarantee == uint32(Safe) && seqLT(n.safePoint, seq) && n.cfg.Faults&FaultIgnoreSafe == 0 {
			return
		}
		n.highDelivered = seq
		n.deliverMessage(buf, &h)
	}
}

// tokenRetransmitTimeout resends the last token (COMMIT, RECOVERY, OPERATIONAL).
func (n *Node) tokenRetransmitTimeout() {
	switch n.state {
	case StateCommit, StateOperational, StateRecovery:
		n.sendLastToken()
		n.resetTokenRetransmitTimeout()
	}
}

// holdTimeout releases a held token.
func (n *Node) holdTimeout() {
	if n.state == StateOperational || n.state == StateRecovery {
		n.sendLastToken()
		n.stats.OrfTokenTx++
	}
}

// mergeTimeout: an idle representative looks for other rings.
func (n *Node) mergeTimeout() {
	if n.state != StateOperational || n.ringID.Rep != n.id {
		return
	}
	md := wire.MergeDetect{SystemFrom: n.id, RingID: n.ringID}
	md.Type = wire.TypeMergeDetect
	md.NodeID = n.id
	start := len(n.arena)
	n.arena = md.AppendTo(n.arena)
	n.broadcast(n.encoded(start))
	n.stats.MembMergeDetectTx++
}

// tokenHoldCancelSend asks the representative to release a held token.
func (n *Node) tokenHoldCancelSend() {
	if !n.tokenHeld {
		return
	}
	n.tokenHeld = false
	thc := wire.TokenHoldCancel{RingID: n.ringID}
	thc.Type = wire.TypeTokenHoldCancel
	thc.NodeID = n.id
	start := len(n.arena)
	n.arena = thc.AppendTo(n.arena)
	n.broadcast(n.encoded(start))
	n.stats.TokenHoldCancelTx++
}
