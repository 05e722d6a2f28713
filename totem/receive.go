package totem

import (
	"github.com/corogo/corogo/totem/wire"
)

// Step hands the node one received datagram. The node does not keep data
// after Step returns. A malformed datagram is dropped, counted in Stats and
// reported as an error; the node's state is unchanged by it.
func (n *Node) Step(data []byte) error {
	if n.state == StateStopped {
		return ErrStopped
	}
	h, err := wire.PeekHeader(data)
	if err != nil {
		n.dropped(err)
		return err
	}
	switch h.Type {
	case wire.TypeOrfToken:
		if err := n.orf.Unmarshal(data); err != nil {
			n.dropped(err)
			return err
		}
		n.handleOrfToken(&n.orf)
	case wire.TypeMcast:
		if err := n.mcast.Unmarshal(data); err != nil {
			n.dropped(err)
			return err
		}
		n.handleMcast(data, &n.mcast)
	case wire.TypeMembJoin:
		if err := n.join.Unmarshal(data); err != nil {
			n.dropped(err)
			return err
		}
		n.handleJoin(&n.join)
	case wire.TypeCommitToken:
		if err := n.ct.Unmarshal(data); err != nil {
			n.dropped(err)
			return err
		}
		n.handleCommitToken(&n.ct)
	case wire.TypeMergeDetect:
		if err := n.md.Unmarshal(data); err != nil {
			n.dropped(err)
			return err
		}
		n.handleMergeDetect(&n.md)
	case wire.TypeTokenHoldCancel:
		if err := n.thc.Unmarshal(data); err != nil {
			n.dropped(err)
			return err
		}
		n.handleTokenHoldCancel(&n.thc)
	}
	return nil
}

// handleMcast is message_handler_mcast (corosync-wire.md §3.9).
func (n *Node) handleMcast(data []byte, h *wire.McastHeader) {
	n.stats.McastRx++
	if h.RingID != n.ringID {
		switch n.state {
		case StateOperational:
			n.procList = setAdd(n.procList, h.SystemFrom)
			n.gatherEnter(gatherFromForeignMsgOperational)
		case StateGather:
			if !setHas(n.procList, h.SystemFrom) {
				n.procList = setAdd(n.procList, h.SystemFrom)
				n.gatherEnter(gatherFromForeignMsgGather)
			}
		default:
			n.stats.RxMsgDropped++
		}
		return
	}
	// Deviation from corosync, which files a message by its encapsulation
	// alone: a message is stored only where it belongs. Normal messages of
	// the ring go to the regular queue while it is operational (and while
	// gathering after it, to help recovery); recovery wrappers go to the
	// recovery queue in RECOVERY. Anything else is a late copy.
	encap := h.Encapsulated == wire.Encapsulated
	var sq *sortQueue
	switch {
	case n.state == StateOperational && !encap:
		sq = n.regular
	case n.state == StateGather && !encap && !n.oldRingSaved:
		sq = n.regular
	case n.state == StateRecovery && encap:
		sq = n.recovery
	default:
		return
	}
	if sq.inRange(h.Seq) && !sq.has(h.Seq) {
		cp := append(n.pool.get(), data...)
		if seqLT(n.highSeqRecv, h.Seq) {
			n.highSeqRecv = h.Seq
		}
		sq.add(h.Seq, cp)
		n.receipt(h.RingID, h.Seq)
	}
	if sq == n.currentQueue() {
		n.updateAru()
	}
	if n.state == StateOperational {
		n.messagesDeliver()
	}
}

// handleMergeDetect is message_handler_memb_merge_detect.
func (n *Node) handleMergeDetect(md *wire.MergeDetect) {
	n.stats.MembMergeDetectRx++
	if md.RingID == n.ringID {
		return
	}
	switch n.state {
	case StateOperational:
		n.procList = setAdd(n.procList, md.SystemFrom)
		n.gatherEnter(gatherFromMergeOperational)
	case StateGather:
		if !setHas(n.procList, md.SystemFrom) {
			n.procList = setAdd(n.procList, md.SystemFrom)
			n.gatherEnter(gatherFromMergeGather)
		}
	}
}

// handleTokenHoldCancel is message_handler_token_hold_cancel.
func (n *Node) handleTokenHoldCancel(thc *wire.TokenHoldCancel) {
	n.stats.TokenHoldCancelRx++
	if thc.RingID != n.ringID {
		return
	}
	n.seqUnchanged = 0
	if n.ringID.Rep == n.id {
		n.tokenRetransmitTimeout()
	}
}
