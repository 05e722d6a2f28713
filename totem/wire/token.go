package wire

import "slices"

// MessageType returns TypeOrfToken.
func (m *OrfToken) MessageType() MessageType { return TypeOrfToken }

// Size returns the encoded length: 57 + 16 per retransmit request.
func (m *OrfToken) Size() int { return OrfTokenSize + RtrItemSize*len(m.RtrList) }

// Unmarshal decodes an ORF token (corosync-wire.md §2.4) in either byte
// order. rtr_list_entries must be 0..MaxRtrEntries and the entries must fit
// in b; trailing bytes are ignored. RtrList's capacity is reused. On error m
// is left unchanged and the error is a *DecodeError.
func (m *OrfToken) Unmarshal(b []byte) error {
	h, err := unmarshalHeader(b, TypeOrfToken, OrfTokenSize)
	if err != nil {
		return err
	}
	s := h.Swapped
	n := u32(b[53:], s)
	if n > MaxRtrEntries {
		return decodeErr(ReasonBadCount, TypeOrfToken, len(b), "rtr_list_entries %d (as int %d) outside 0..%d", n, int32(n), MaxRtrEntries)
	}
	if need := OrfTokenSize + RtrItemSize*int(n); len(b) < need {
		return decodeErr(ReasonTruncated, TypeOrfToken, len(b), "%d rtr entries need %d bytes", n, need)
	}
	m.Header = h
	m.Seq = u32(b[13:], s)
	m.TokenSeq = u32(b[17:], s)
	m.Aru = u32(b[21:], s)
	m.AruAddr = u32(b[25:], s)
	m.RingID = ringID(b[29:], s)
	m.Backlog = u32(b[41:], s)
	m.FCC = u32(b[45:], s)
	m.RetransFlg = u32(b[49:], s)
	m.RtrList = resize(m.RtrList, int(n))
	for i := range m.RtrList {
		p := b[OrfTokenSize+RtrItemSize*i:]
		m.RtrList[i] = RtrItem{RingID: ringID(p, s), Seq: u32(p[RingIDSize:], s)}
	}
	return nil
}

// AppendTo appends the token little-endian, with rtr_list_entries =
// len(RtrList). It writes whatever RtrList holds: keeping it within
// MaxRtrEntries is the caller's job, since a longer list does not decode.
func (m *OrfToken) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, m.Size())
	dst = appendHeader(dst, TypeOrfToken, &m.Header)
	dst = le.AppendUint32(dst, m.Seq)
	dst = le.AppendUint32(dst, m.TokenSeq)
	dst = le.AppendUint32(dst, m.Aru)
	dst = le.AppendUint32(dst, m.AruAddr)
	dst = appendRingID(dst, m.RingID)
	dst = le.AppendUint32(dst, m.Backlog)
	dst = le.AppendUint32(dst, m.FCC)
	dst = le.AppendUint32(dst, m.RetransFlg)
	dst = le.AppendUint32(dst, uint32(len(m.RtrList)))
	for _, r := range m.RtrList {
		dst = appendRingID(dst, r.RingID)
		dst = le.AppendUint32(dst, r.Seq)
	}
	return dst
}

// MessageType returns TypeCommitToken.
func (m *CommitToken) MessageType() MessageType { return TypeCommitToken }

// Size returns the encoded length: 41 + 28 per member.
func (m *CommitToken) Size() int { return CommitTokenSize + (4+CommitMembSize)*len(m.Addr) }

// Unmarshal decodes a commit token (corosync-wire.md §2.7) in either byte
// order. addr_entries must be 0..MaxProcessors, memb_index at most
// addr_entries, and both arrays must fit in b; trailing bytes are ignored.
// Unlike corosync, which logs a commit token shorter than 41 bytes but goes
// on, Unmarshal rejects it. Addr's and MembList's capacities are reused. On
// error m is left unchanged and the error is a *DecodeError.
func (m *CommitToken) Unmarshal(b []byte) error {
	h, err := unmarshalHeader(b, TypeCommitToken, CommitTokenSize)
	if err != nil {
		return err
	}
	s := h.Swapped
	idx := u32(b[33:], s)
	n := u32(b[37:], s)
	if n > MaxProcessors {
		return decodeErr(ReasonBadCount, TypeCommitToken, len(b), "addr_entries %d (as int %d) outside 0..%d", n, int32(n), MaxProcessors)
	}
	if idx > n {
		return decodeErr(ReasonBadCount, TypeCommitToken, len(b), "memb_index %d (as int %d) above addr_entries %d", idx, int32(idx), n)
	}
	if need := CommitTokenSize + (4+CommitMembSize)*int(n); len(b) < need {
		return decodeErr(ReasonTruncated, TypeCommitToken, len(b), "%d members need %d bytes", n, need)
	}
	m.Header = h
	m.TokenSeq = u32(b[13:], s)
	m.RingID = ringID(b[17:], s)
	m.RetransFlg = u32(b[29:], s)
	m.MembIndex = idx
	m.Addr = resize(m.Addr, int(n))
	for i := range m.Addr {
		m.Addr[i] = u32(b[CommitTokenSize+4*i:], s)
	}
	m.MembList = resize(m.MembList, int(n))
	base := CommitTokenSize + 4*int(n)
	for i := range m.MembList {
		p := b[base+CommitMembSize*i:]
		m.MembList[i] = CommitMemb{
			RingID:        ringID(p, s),
			Aru:           u32(p[12:], s),
			HighDelivered: u32(p[16:], s),
			ReceivedFlg:   u32(p[20:], s),
		}
	}
	return nil
}

// AppendTo appends the token little-endian, with addr_entries = len(Addr).
// It writes one memb_list entry per Addr entry: MembList entries beyond
// len(Addr) are not written and missing ones are written as zeros, which is
// how corosync sends entries not yet filled in.
func (m *CommitToken) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, m.Size())
	dst = appendHeader(dst, TypeCommitToken, &m.Header)
	dst = le.AppendUint32(dst, m.TokenSeq)
	dst = appendRingID(dst, m.RingID)
	dst = le.AppendUint32(dst, m.RetransFlg)
	dst = le.AppendUint32(dst, m.MembIndex)
	dst = le.AppendUint32(dst, uint32(len(m.Addr)))
	for _, a := range m.Addr {
		dst = le.AppendUint32(dst, a)
	}
	for i := range m.Addr {
		var e CommitMemb
		if i < len(m.MembList) {
			e = m.MembList[i]
		}
		dst = appendRingID(dst, e.RingID)
		dst = le.AppendUint32(dst, e.Aru)
		dst = le.AppendUint32(dst, e.HighDelivered)
		dst = le.AppendUint32(dst, e.ReceivedFlg)
	}
	return dst
}
