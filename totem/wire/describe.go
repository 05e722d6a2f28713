package wire

import (
	"fmt"
	"strings"
)

// maxDescribeDepth bounds how many nested recovery wrappers Describe follows.
const maxDescribeDepth = 2

// Describe returns a one-line description of any datagram for traces, such
// as
//
//	ORF_TOKEN node=1 ring=1.9 seq=0x0 token_seq=0x0 aru=0xffffffff aru_addr=1 backlog=0 fcc=0 retrans_flg=0 rtr=[]
//
// Node ids and counts are decimal; sequence numbers are hex, and ring ids are
// "rep.seq" in hex, as corosync logs them. A big-endian sender is marked
// "(BE)", bytes beyond the message "+N trailing", and an invalid datagram is
// described by its decode error. The inner message of a recovery wrapper is
// described after "inner:". Describe never panics.
func Describe(b []byte) string {
	var sb strings.Builder
	describe(&sb, b, 0)
	return sb.String()
}

func describe(sb *strings.Builder, b []byte, depth int) {
	m, err := Decode(b)
	if err != nil {
		fmt.Fprintf(sb, "invalid datagram (%d bytes): %v", len(b), err)
		return
	}
	h := headerOf(m)
	sb.WriteString(h.Type.String())
	if h.Swapped {
		sb.WriteString(" (BE)")
	}
	fmt.Fprintf(sb, " node=%d", h.NodeID)
	switch m := m.(type) {
	case *OrfToken:
		fmt.Fprintf(sb, " ring=%v seq=%#x token_seq=%#x aru=%#x aru_addr=%d backlog=%d fcc=%d retrans_flg=%d rtr=[",
			m.RingID, m.Seq, m.TokenSeq, m.Aru, m.AruAddr, m.Backlog, m.FCC, m.RetransFlg)
		for i, r := range m.RtrList {
			if i > 0 {
				sb.WriteByte(' ')
			}
			fmt.Fprintf(sb, "%v:%#x", r.RingID, r.Seq)
		}
		sb.WriteByte(']')
	case *McastHeader:
		kind := ""
		switch m.Encapsulated {
		case Encapsulated:
			kind = " (recovery)"
		case NotEncapsulated:
		default:
			kind = " (unknown)"
		}
		fmt.Fprintf(sb, " encap=%d%s system_from=%d ring=%v seq=%#x this_seqno=%#x guarantee=%d",
			m.Encapsulated, kind, m.SystemFrom, m.RingID, m.Seq, m.ThisSeqno, m.Guarantee)
		if m.NodeIDPad != 0 {
			fmt.Fprintf(sb, " node_id=%d", m.NodeIDPad)
		}
		payload := McastPayload(b)
		fmt.Fprintf(sb, " payload=%d", len(payload))
		if m.Encapsulated == Encapsulated {
			if depth >= maxDescribeDepth {
				sb.WriteString(" inner: ...")
			} else {
				sb.WriteString(" inner: ")
				describe(sb, payload, depth+1)
			}
		}
		return // the payload is the rest of the datagram: nothing trails
	case *MembJoin:
		if m.IsLeave() {
			sb.WriteString(" leave")
		}
		fmt.Fprintf(sb, " system_from=%d ring_seq=%#x proc=%v failed=%v", m.SystemFrom, m.RingSeq, m.ProcList, m.FailedList)
	case *CommitToken:
		fmt.Fprintf(sb, " ring=%v token_seq=%#x retrans_flg=%d memb_index=%d addr=%v memb=[",
			m.RingID, m.TokenSeq, m.RetransFlg, m.MembIndex, m.Addr)
		for i, e := range m.MembList {
			if i > 0 {
				sb.WriteByte(' ')
			}
			fmt.Fprintf(sb, "{%v aru=%#x high=%#x rcvd=%d}", e.RingID, e.Aru, e.HighDelivered, e.ReceivedFlg)
		}
		sb.WriteByte(']')
	case *MergeDetect:
		fmt.Fprintf(sb, " system_from=%d ring=%v", m.SystemFrom, m.RingID)
	case *TokenHoldCancel:
		fmt.Fprintf(sb, " ring=%v", m.RingID)
	}
	if extra := len(b) - m.Size(); extra > 0 {
		fmt.Fprintf(sb, " +%d trailing", extra)
	}
}

// headerOf returns the common header of a decoded message.
func headerOf(m Message) Header {
	switch m := m.(type) {
	case *OrfToken:
		return m.Header
	case *McastHeader:
		return m.Header
	case *MembJoin:
		return m.Header
	case *CommitToken:
		return m.Header
	case *MergeDetect:
		return m.Header
	case *TokenHoldCancel:
		return m.Header
	}
	return Header{}
}
