package totem

import (
	"slices"

	"github.com/corogo/corogo/totem/wire"
)

// recoveryEnter is memb_state_recovery_enter (corosync-wire.md §3.6): the
// commit token has been round once; work out the transitional membership
// and queue the old ring's messages that some transitional member lacks.
func (n *Node) recoveryEnter() {
	ct := &n.commitToken
	n.orfDiscard = false
	n.recovery.reinit(0)
	n.retransQ.drain(&n.pool)
	lowRingAru := n.oldHighSeqRecv

	n.commitTokenSend()
	n.tokenSeq = 0xFFFFFFFF // the first token carries token_seq 0

	n.transMemb = n.transMemb[:0]
	n.deliverMemb = n.deliverMemb[:0]
	localReceived := true
	for i, a := range ct.Addr {
		id := NodeID(a)
		m := &ct.MembList[i]
		if m.RingID == n.oldRingID && setHas(n.membList, id) {
			n.transMemb = setAdd(n.transMemb, id)
		}
		if m.RingID == n.oldRingID && m.ReceivedFlg == 0 {
			n.deliverMemb = setAdd(n.deliverMemb, id)
			localReceived = false
		}
	}
	if !localReceived && n.cfg.Faults&FaultSkipRecoveryResend == 0 {
		for i := range ct.MembList {
			m := &ct.MembList[i]
			if m.RingID != n.oldRingID {
				continue
			}
			if seqLT(m.Aru, lowRingAru) {
				lowRingAru = m.Aru
			}
		}
		n.originateOldMessages(lowRingAru)
	}

	n.aru = 0
	n.aruCount = 0
	n.seqUnchanged = 0
	n.highSeqRecv = 0
	n.installSeq = 0
	n.lastReleased = 0
	n.lastAru = 0
	n.safePoint = 0
	n.retransFlgCnt = 0
	n.rotationCnt = 0
	n.resetTokenTimeout()
	n.resetTokenRetransmitTimeout()
	n.setState(StateRecovery, 0)
	n.stats.RecoveryEntered++
}

// originateOldMessages wraps every old-ring message with seq in
// (low, oldHighSeqRecv] into a recovery MCAST for the new ring.
func (n *Node) originateOldMessages(low uint32) {
	span := n.oldHighSeqRecv - low
	if span == 0 || span >= sortQueueSize {
		return
	}
	for i := uint32(1); i <= span; i++ {
		old := n.regular.get(low + i)
		if old == nil {
			continue
		}
		h := &n.mcast
		*h = wire.McastHeader{}
		h.Type = wire.TypeMcast
		h.Encapsulated = wire.Encapsulated
		h.NodeID = n.id
		h.SystemFrom = n.id
		h.RingID = n.ringID
		buf := h.AppendTo(n.pool.get())
		buf = append(buf, old...)
		n.retransQ.push(buf)
	}
}

// orfTokenSendInitial is orf_token_send_initial: the representative starts
// the new ring's token.
func (n *Node) orfTokenSendInitial() {
	t := &n.orf
	*t = wire.OrfToken{RtrList: t.RtrList[:0]}
	t.Type = wire.TypeOrfToken
	t.NodeID = n.id
	t.Seq = 0
	t.TokenSeq = 0
	n.setRetransFlg = n.retransQ.len() > 0
	t.RetransFlg = b2u(n.setRetransFlg)
	t.Aru = 0xFFFFFFFF
	t.AruAddr = n.id
	t.RingID = n.ringID
	n.tokenStore(t, true)
}

// tokenStore keeps the token for retransmission and sends it unless held.
func (n *Node) tokenStore(t *wire.OrfToken, forward bool) {
	n.lastToken = t.AppendTo(n.lastToken[:0])
	n.lastTokenTarget = n.tokenTarget
	if forward {
		n.sendLastToken()
		n.stats.OrfTokenTx++
	}
}

// recoveryToRegular moves the recovered old-ring messages into the regular
// queue (deliver_messages_from_recovery_to_regular).
func (n *Node) recoveryToRegular() {
	var inner wire.McastHeader
	for i := uint32(1); seqLTE(i, n.aru) && i < sortQueueSize; i++ {
		buf := n.recovery.get(i)
		if buf == nil || len(buf) < 2*wire.McastHeaderSize {
			continue
		}
		if buf[4] != wire.Encapsulated {
			continue
		}
		payload := buf[wire.McastHeaderSize:]
		if inner.Unmarshal(payload) != nil || inner.Type != wire.TypeMcast {
			continue
		}
		if inner.RingID != n.oldRingID || !n.regular.inRange(inner.Seq) || n.regular.has(inner.Seq) {
			continue
		}
		cp := append(n.pool.get(), payload...)
		n.regular.add(inner.Seq, cp)
		n.receipt(inner.RingID, inner.Seq)
		if seqLT(n.oldHighSeqRecv, inner.Seq) {
			n.oldHighSeqRecv = inner.Seq
		}
	}
}

// operationalEnter is memb_state_operational_enter: deliver the old ring's
// remaining messages around the transitional configuration, then the
// regular configuration (extended virtual synchrony).
func (n *Node) operationalEnter() {
	n.originatedOrf = false
	n.consensusSet = n.consensusSet[:0]
	n.oldRingSaved = false
	n.recoveryToRegular()

	// Messages before the first gap, and not past an unconfirmed safe one,
	// belong to the old regular configuration.
	firstGap := n.deliverOld(false, n.oldHighSeqRecv, 0)

	left := setSubtract(n.membList, n.transMemb)
	joined := setSubtract(n.newMembList, n.transMemb)
	n.membList = slices.Clone(n.newMembList)
	n.lastReleased = 0
	n.setRetransFlg = false

	n.confChange(&ConfChange{Transitional: true, RingID: n.ringID,
		Members: slices.Clone(n.transMemb), Left: left})

	// The rest, skipping gaps; after the first gap only messages of
	// transitional members (corosync's deliver list).
	n.deliverOld(true, n.oldHighSeqRecv, firstGap)

	n.confChange(&ConfChange{RingID: n.ringID, Members: slices.Clone(n.newMembList), Joined: joined})
	// Items whose beginning was stamped in the old ring are dropped by every
	// member and re-sent whole by their senders (sendqueue.go).
	n.assembler.Reset()
	n.repackAfterConfChange()

	n.regular.moveFrom(n.recovery)
	n.lastAru = 0
	n.procList = append(n.procList[:0], n.newMembList...)
	n.failedList = n.failedList[:0]
	n.highDelivered = n.aru
	n.regular.release(n.highDelivered)
	n.lastReleased = n.highDelivered
	n.safePoint = 0

	var failed []NodeID
	for _, id := range left {
		if !setHas(n.leftByLeave, id) {
			failed = append(failed, id)
		}
	}
	n.leftByLeave = n.leftByLeave[:0]
	n.setState(StateOperational, 0)
	n.notice(Notice{Type: NoticeMembership, Ring: n.ringID, Members: slices.Clone(n.newMembList),
		Joined: joined, Left: left, Failed: failed})
	n.stats.OperationalEntered++
	n.receivedFlg = true
	n.oldRingID = n.ringID
}

// confChange queues a configuration change event.
func (n *Node) confChange(c *ConfChange) {
	n.rd.Events = append(n.rd.Events, Event{Type: EventConfChange, Conf: c})
}

// deliverOld delivers old-ring messages from highDelivered+1 to end. The
// first pass (skip false) stops at the first gap or unconfirmed safe
// message and returns the first gap; the second pass skips gaps and, past
// firstGap, delivers only messages of transitional members.
func (n *Node) deliverOld(skip bool, end uint32, firstGap uint32) uint32 {
	var h wire.McastHeader
	stopped := false
	for seq := n.highDelivered + 1; seqLTE(seq, end); seq++ {
		if !n.regular.inRange(seq) {
			break
		}
		buf := n.regular.get(seq)
		if !skip {
			if buf == nil {
				return seq
			}
			if stopped {
				continue // looking for the first gap only
			}
			if h.Unmarshal(buf) != nil {
				n.highDelivered = seq
				continue
			}
			if h.Guarantee == uint32(Safe) && seqLT(n.oldSafePoint, seq) && n.cfg.Faults&FaultIgnoreSafe == 0 {
				stopped = true
				continue
			}
			n.highDelivered = seq
			n.deliverMessage(buf, &h)
			continue
		}
		n.highDelivered = seq
		if buf == nil || h.Unmarshal(buf) != nil {
			continue
		}
		if firstGap != 0 && seqLT(firstGap, seq) && !setHas(n.transMemb, h.SystemFrom) {
			continue
		}
		n.deliverMessage(buf, &h)
	}
	return 0
}

// deliverMessage hands one stored SRP message to totempg reassembly.
func (n *Node) deliverMessage(buf []byte, h *wire.McastHeader) {
	if h.Encapsulated == wire.Encapsulated || len(buf) < wire.McastHeaderSize {
		return
	}
	n.curFrom = h.NodeID
	n.curRing = h.RingID
	n.curSeq = h.Seq
	n.curGuarantee = Agreed
	n.curSwapped = h.Swapped
	if h.Guarantee == uint32(Safe) {
		n.curGuarantee = Safe
	}
	if err := n.assembler.Deliver(h.NodeID, buf[wire.McastHeaderSize:], h.Swapped, n.deliverFn); err != nil {
		n.dropped(err)
	}
	if n.cfg.Faults&FaultDuplicateDelivery != 0 && h.Seq%97 == 0 {
		n.assembler.Forget(h.NodeID)
		_ = n.assembler.Deliver(h.NodeID, buf[wire.McastHeaderSize:], h.Swapped, n.deliverFn)
	}
}

// deliverItem is the assembler's callback: one complete application message.
func (n *Node) deliverItem(item []byte) {
	start := len(n.arena)
	n.arena = append(n.arena, item...)
	n.rd.Events = append(n.rd.Events, Event{
		Type: EventDeliver, From: n.curFrom, Guarantee: n.curGuarantee, Swapped: n.curSwapped,
		Data: n.encoded(start), MsgRing: n.curRing, MsgSeq: n.curSeq,
	})
	n.stats.Delivered++
}
