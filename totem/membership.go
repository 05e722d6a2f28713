package totem

import (
	"slices"

	"github.com/corogo/corogo/totem/wire"
)

// gatherFrom is corosync's reason code for entering GATHER, as logged in
// "entering GATHER state from N".
type gatherFrom int

const (
	gatherFromConsensusTimeout      gatherFrom = 0
	gatherFromTokenLostOperational  gatherFrom = 2
	gatherFromConsensusExpired      gatherFrom = 3
	gatherFromTokenLostCommit       gatherFrom = 4
	gatherFromTokenLostRecovery     gatherFrom = 5
	gatherFromFailedToReceive       gatherFrom = 6
	gatherFromForeignMsgOperational gatherFrom = 7
	gatherFromForeignMsgGather      gatherFrom = 8
	gatherFromMergeOperational      gatherFrom = 9
	gatherFromMergeGather           gatherFrom = 10
	gatherFromMergeDuringJoin       gatherFrom = 11
	gatherFromJoinOperational       gatherFrom = 12
	gatherFromJoinCommit            gatherFrom = 13
	gatherFromJoinRecovery          gatherFrom = 14
	gatherFromInterfaceUp           gatherFrom = 15
)

// setState records a state change and its notice.
func (n *Node) setState(s State, reason int) {
	old := n.state
	n.state = s
	n.notice(Notice{Type: NoticeStateChange, State: s, OldState: old, Value: int64(reason), Ring: n.ringID})
}

// gatherEnter is memb_state_gather_enter (corosync-wire.md §3.4).
func (n *Node) gatherEnter(from gatherFrom) {
	n.orfDiscard = true
	n.originatedOrf = false
	n.procList = setAdd(n.procList, n.id)
	n.sendJoin()
	n.arm(&n.ticks.join, n.ticks.dJoin)
	n.arm(&n.ticks.consensus, n.ticks.dConsensus)
	n.ticks.tokenRetransmit = 0
	n.ticks.token = 0
	n.ticks.warning = 0
	n.ticks.merge = 0
	n.ticks.hold = 0
	n.consensusSet = append(n.consensusSet[:0], n.id)
	n.setState(StateGather, int(from))
	n.stats.GatherEntered++
}

// sendJoin sends a join now, or after a random delay when send_join is set.
func (n *Node) sendJoin() {
	if n.cfg.SendJoin > 0 && n.cfg.Rand != nil {
		d := n.cfg.ticks(n.cfg.SendJoin)
		n.ticks.sendJoin = n.now + int64(n.cfg.Rand(int(d)+1))
		if n.ticks.sendJoin == n.now {
			n.ticks.sendJoin = 0
			n.sendJoinNow()
		}
		return
	}
	n.sendJoinNow()
}

func (n *Node) sendJoinNow() {
	if n.state == StateStopped && n.stats.GatherEntered > 0 {
		return
	}
	j := &n.join
	*j = wire.MembJoin{ProcList: append(j.ProcList[:0], n.procList...), FailedList: append(j.FailedList[:0], n.failedList...)}
	j.Type = wire.TypeMembJoin
	j.NodeID = n.id
	j.SystemFrom = n.id
	j.RingSeq = n.ringID.Seq
	start := len(n.arena)
	n.arena = j.AppendTo(n.arena)
	n.broadcast(n.encoded(start))
	n.stats.MembJoinTx++
}

// joinTimeout re-sends the join while gathering (memb_timer_function_state_gather).
func (n *Node) joinTimeout() {
	n.ticks.join = 0
	if n.state == StateGather || n.state == StateCommit {
		n.sendJoin()
		n.arm(&n.ticks.join, n.ticks.dJoin)
	}
}

// consensusAgreed reports whether every node of proc − failed has agreed.
func (n *Node) consensusAgreed() bool {
	count := 0
	for _, id := range n.procList {
		if setHas(n.failedList, id) {
			continue
		}
		count++
		if !setHas(n.consensusSet, id) {
			return false
		}
	}
	// A node that failed to receive forms a singleton ring whatever is left
	// of proc − failed (it put itself in the failed list).
	return count > 0 || n.failedToRecv
}

// consensusExpired is memb_state_consensus_timeout_expired.
func (n *Node) consensusExpired() {
	n.stats.ConsensusTimeouts++
	if n.consensusAgreed() {
		n.consensusSet = append(n.consensusSet[:0], n.id)
		n.resetTokenTimeout()
		return
	}
	for _, id := range n.procList {
		if !setHas(n.consensusSet, id) {
			n.failedList = setAdd(n.failedList, id)
		}
	}
	n.gatherEnter(gatherFromConsensusTimeout)
}

func (n *Node) consensusTimeout() {
	if n.state != StateGather {
		return
	}
	n.notice(Notice{Type: NoticeConsensusTimeout, Ring: n.ringID})
	n.consensusExpired()
}

// tokenTimeout is timer_function_orf_token_timeout.
func (n *Node) tokenTimeout() {
	switch n.state {
	case StateOperational:
		n.notice(Notice{Type: NoticeTokenLost, Ring: n.ringID,
			Value: n.timers.Token.Milliseconds(), Value2: n.timers.Consensus.Milliseconds()})
		n.gatherEnter(gatherFromTokenLostOperational)
		n.stats.OperationalTokenLost++
	case StateGather:
		n.consensusExpired()
		n.gatherEnter(gatherFromConsensusExpired)
		n.stats.GatherTokenLost++
	case StateCommit:
		n.forgetStaleFailures()
		n.gatherEnter(gatherFromTokenLostCommit)
		n.stats.CommitTokenLost++
	case StateRecovery:
		n.recoveryTokenLoss()
		n.orfDiscard = true
	}
}

// forgetStaleFailures empties the failed list when a committed ring
// attempt is abandoned. Deviation: corosync keeps the list of the gather
// that led to the attempt, and clears it only on entering OPERATIONAL. Two
// groups that abandon attempts at the same moment then hand each other
// those stale lists in their joins ("I am in your failed list, so you are
// in mine"), split again, and can do so forever, as the simulator showed
// with seven nodes. A node that is really gone is found again by the next
// consensus timeout. A node that failed to receive stays in its own list.
func (n *Node) forgetStaleFailures() {
	n.failedList = n.failedList[:0]
	if n.failedToRecv {
		n.failedList = append(n.failedList, n.id)
	}
}

// recoveryTokenLoss is memb_recovery_state_token_loss: restore the old
// ring's receive state and gather again.
func (n *Node) recoveryTokenLoss() {
	n.aru = n.oldAru
	n.highSeqRecv = n.oldHighSeqRecv
	n.forgetStaleFailures()
	n.gatherEnter(gatherFromTokenLostRecovery)
	n.stats.RecoveryTokenLost++
}

func (n *Node) resetTokenTimeout() {
	n.arm(&n.ticks.token, n.ticks.dToken)
	if n.ticks.dWarning > 0 {
		n.arm(&n.ticks.warning, n.ticks.dWarning)
	}
}

func (n *Node) resetTokenRetransmitTimeout() {
	n.arm(&n.ticks.tokenRetransmit, n.ticks.dRetransmit)
}

// handleJoin is message_handler_memb_join.
func (n *Node) handleJoin(j *wire.MembJoin) {
	n.stats.MembJoinRx++
	if n.tokenRingIDSeq < j.RingSeq {
		n.tokenRingIDSeq = j.RingSeq
	}
	if j.NodeID == 0 && len(j.FailedList) > 0 {
		n.leftByLeave = setAdd(n.leftByLeave, j.FailedList[len(j.FailedList)-1])
	}
	switch n.state {
	case StateOperational:
		if !n.joinIsStale(j) {
			n.joinProcess(j)
		}
	case StateGather:
		n.joinProcess(j)
	case StateCommit:
		if setHas(n.newMembList, j.SystemFrom) && j.RingSeq >= n.ringID.Seq {
			n.forgetStaleFailures()
			n.joinProcess(j)
			n.gatherEnter(gatherFromJoinCommit)
		}
	case StateRecovery:
		if setHas(n.newMembList, j.SystemFrom) && j.RingSeq >= n.ringID.Seq {
			n.forgetStaleFailures()
			n.joinProcess(j)
			n.aru = n.oldAru
			n.highSeqRecv = n.oldHighSeqRecv
			n.gatherEnter(gatherFromJoinRecovery)
		}
	}
}

// joinIsStale is check_memb_join_sanity: in OPERATIONAL a join naming me
// as failed, or an old join from a current member, is ignored.
func (n *Node) joinIsStale(j *wire.MembJoin) bool {
	if j.NodeID == 0 {
		return false
	}
	if slices.Contains(j.FailedList, n.id) {
		return true
	}
	return setHas(n.membList, j.SystemFrom) && j.RingSeq < n.ringID.Seq
}

// joinProcess is memb_join_process: the set rules of corosync-wire.md §3.4.
func (n *Node) joinProcess(j *wire.MembJoin) {
	gatherEntered := false
	switch {
	case setEqualUnsorted(j.ProcList, n.procList) && setEqualUnsorted(j.FailedList, n.failedList):
		if j.NodeID != 0 {
			n.consensusSet = setAdd(n.consensusSet, j.SystemFrom)
		}
		if n.consensusAgreed() && n.failedToRecv {
			n.failedToRecv = false
			n.procList = append(n.procList[:0], n.id)
			n.failedList = n.failedList[:0]
			n.commitTokenCreate()
			n.commitEnter()
			return
		}
		if n.consensusAgreed() && n.lowestInConfig() {
			n.commitTokenCreate()
			n.commitEnter()
			return
		}
	case setSubsetUnsorted(j.ProcList, n.procList) && setSubsetUnsorted(j.FailedList, n.failedList):
		// Nothing new.
	case setHas(n.failedList, j.SystemFrom):
		// Ignore a node I consider failed.
	default:
		procBefore, failedBefore := len(n.procList), len(n.failedList)
		for _, id := range j.ProcList {
			n.procList = setAdd(n.procList, id)
		}
		if slices.Contains(j.FailedList, n.id) {
			n.failedList = setAdd(n.failedList, j.SystemFrom)
		} else if setHas(n.membList, j.SystemFrom) {
			if !setHas(n.failedList, j.SystemFrom) {
				for _, id := range j.FailedList {
					n.failedList = setAdd(n.failedList, id)
				}
			} else {
				for _, id := range j.FailedList {
					if !setHas(n.membList, id) {
						n.failedList = setAdd(n.failedList, id)
					}
				}
			}
		}
		// Deviation: corosync re-enters GATHER here even when the join
		// taught it nothing (a failed list it may not adopt because the
		// sender was not in its old ring). Two such nodes answer each
		// other's joins forever, and every re-entry restarts the consensus
		// timer that would end it. We re-enter only on a real change.
		if len(n.procList) != procBefore || len(n.failedList) != failedBefore {
			n.gatherEnter(gatherFromMergeDuringJoin)
			gatherEntered = true
		}
	}
	if !gatherEntered && n.state == StateOperational {
		n.gatherEnter(gatherFromJoinOperational)
	}
}

// lowestInConfig reports whether I am the lowest node of proc − failed.
func (n *Node) lowestInConfig() bool {
	for _, id := range n.procList {
		if !setHas(n.failedList, id) {
			return id == n.id
		}
	}
	return false
}

// commitTokenCreate is memb_state_commit_token_create: the representative
// builds the commit token for proc − failed.
func (n *Node) commitTokenCreate() {
	members := setSubtract(n.procList, n.failedList)
	ct := &n.commitToken
	*ct = wire.CommitToken{Addr: ct.Addr[:0], MembList: ct.MembList[:0]}
	ct.Type = wire.TypeCommitToken
	ct.NodeID = n.id
	ct.RingID = RingID{Rep: n.id, Seq: n.tokenRingIDSeq + 4}
	ct.Addr = append(ct.Addr, members...)
	for range members {
		ct.MembList = append(ct.MembList, wire.CommitMemb{})
	}
}

// oldRingStateSave keeps the old ring's state across failed attempts.
func (n *Node) oldRingStateSave() {
	if n.oldRingSaved {
		return
	}
	n.oldRingSaved = true
	n.oldRingID = n.ringID
	n.oldAru = n.aru
	n.oldHighSeqRecv = n.highSeqRecv
	n.oldSafePoint = n.safePoint
}

// commitEnter is memb_state_commit_enter.
func (n *Node) commitEnter() {
	n.oldRingStateSave()
	n.commitTokenUpdate()
	ct := &n.commitToken
	n.tokenTarget = NodeID(ct.Addr[int(ct.MembIndex)%len(ct.Addr)])
	n.ringID = ct.RingID
	n.persist(n.ringID.Seq)
	n.tokenRingIDSeq = n.ringID.Seq
	n.ticks.join = 0
	n.ticks.consensus = 0
	n.ticks.sendJoin = 0
	n.resetTokenTimeout()
	n.resetTokenRetransmitTimeout()
	n.setState(StateCommit, 0)
	n.stats.CommitEntered++
	n.trc, n.pbl, n.cbl = 0, 0, 0
	n.commitTokenSend()
}

// commitTokenUpdate fills in my entry (memb_state_commit_token_update).
func (n *Node) commitTokenUpdate() {
	ct := &n.commitToken
	n.newMembList = append(n.newMembList[:0], ct.Addr...)
	idx := int(ct.MembIndex)
	me := &ct.MembList[idx]
	me.RingID = n.oldRingID
	me.Aru = n.oldAru
	n.receivedFlg = n.aru == n.highSeqRecv
	me.ReceivedFlg = b2u(n.receivedFlg)
	me.HighDelivered = n.highDelivered
	high := me.Aru
	for i := 0; i <= idx; i++ {
		if ct.MembList[i].RingID == me.RingID && seqLT(high, ct.MembList[i].Aru) {
			high = ct.MembList[i].Aru
		}
	}
	for i := 0; i <= idx; i++ {
		if ct.MembList[i].RingID == me.RingID && seqLT(ct.MembList[i].Aru, high) {
			ct.MembList[i].ReceivedFlg = 0
			if i == idx {
				n.receivedFlg = false
			}
		}
	}
	ct.NodeID = n.id
	ct.MembIndex++
}

// commitTokenSend sends the commit token to the target and keeps a copy
// for retransmission.
func (n *Node) commitTokenSend() {
	ct := &n.commitToken
	ct.TokenSeq++
	ct.NodeID = n.id
	n.lastToken = ct.AppendTo(n.lastToken[:0])
	n.lastTokenTarget = n.tokenTarget
	n.sendLastToken()
	n.stats.MembCommitTokenTx++
	n.resetTokenRetransmitTimeout()
}

// sendLastToken (re)sends the stored token to its target.
func (n *Node) sendLastToken() {
	if n.lastTokenTarget == 0 || len(n.lastToken) == 0 {
		return
	}
	start := len(n.arena)
	n.arena = append(n.arena, n.lastToken...)
	n.unicast(n.lastTokenTarget, n.encoded(start))
}

// handleCommitToken is message_handler_memb_commit_token.
func (n *Node) handleCommitToken(ct *wire.CommitToken) {
	n.stats.MembCommitTokenRx++
	if len(ct.Addr) == 0 || len(ct.MembList) != len(ct.Addr) {
		return
	}
	switch n.state {
	case StateGather:
		members := setSubtract(n.procList, n.failedList)
		if setEqualUnsorted(ct.Addr, members) && len(ct.Addr) == len(members) &&
			ct.RingID.Seq > n.ringID.Seq && int(ct.MembIndex) < len(ct.Addr) &&
			NodeID(ct.Addr[ct.MembIndex]) == n.id {
			n.copyCommitToken(ct)
			n.commitEnter()
		}
	case StateCommit:
		if ct.RingID == n.ringID && int(ct.MembIndex) == len(ct.Addr) {
			n.copyCommitToken(ct)
			n.recoveryEnter()
		}
	case StateRecovery:
		if n.ringID.Rep == n.id && ct.RingID == n.ringID && !n.originatedOrf {
			n.originatedOrf = true
			n.orfTokenSendInitial()
			n.resetTokenTimeout()
			n.resetTokenRetransmitTimeout()
		}
	}
}

func (n *Node) copyCommitToken(ct *wire.CommitToken) {
	d := &n.commitToken
	addr, ml := d.Addr[:0], d.MembList[:0]
	*d = *ct
	d.Addr = append(addr, ct.Addr...)
	d.MembList = append(ml, ct.MembList...)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
