package wire

import "slices"

// MessageType returns TypeMembJoin.
func (m *MembJoin) MessageType() MessageType { return TypeMembJoin }

// Size returns the encoded length: 33 + 4 per proc and failed entry.
func (m *MembJoin) Size() int { return MembJoinSize + 4*(len(m.ProcList)+len(m.FailedList)) }

// IsLeave reports whether the join is a leave message: header nodeid 0
// (corosync-wire.md §3.13).
func (m *MembJoin) IsLeave() bool { return m.NodeID == 0 }

// Unmarshal decodes a join or leave message (corosync-wire.md §2.6) in either
// byte order. proc_list_entries and failed_list_entries must each be at most
// MaxProcessors and both lists must fit in b; trailing bytes are ignored.
// ProcList's and FailedList's capacities are reused. On error m is left
// unchanged and the error is a *DecodeError.
func (m *MembJoin) Unmarshal(b []byte) error {
	h, err := unmarshalHeader(b, TypeMembJoin, MembJoinSize)
	if err != nil {
		return err
	}
	s := h.Swapped
	np := u32(b[17:], s)
	nf := u32(b[21:], s)
	if np > MaxProcessors || nf > MaxProcessors {
		return decodeErr(ReasonBadCount, TypeMembJoin, len(b), "proc_list_entries %d, failed_list_entries %d: limit %d", np, nf, MaxProcessors)
	}
	if need := MembJoinSize + 4*(int(np)+int(nf)); len(b) < need {
		return decodeErr(ReasonTruncated, TypeMembJoin, len(b), "%d proc and %d failed entries need %d bytes", np, nf, need)
	}
	m.Header = h
	m.SystemFrom = u32(b[13:], s)
	m.RingSeq = u64(b[25:], s)
	m.ProcList = resize(m.ProcList, int(np))
	for i := range m.ProcList {
		m.ProcList[i] = u32(b[MembJoinSize+4*i:], s)
	}
	base := MembJoinSize + 4*int(np)
	m.FailedList = resize(m.FailedList, int(nf))
	for i := range m.FailedList {
		m.FailedList[i] = u32(b[base+4*i:], s)
	}
	return nil
}

// AppendTo appends the join little-endian, with the counts taken from the
// list lengths.
func (m *MembJoin) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, m.Size())
	dst = appendHeader(dst, TypeMembJoin, &m.Header)
	dst = le.AppendUint32(dst, m.SystemFrom)
	dst = le.AppendUint32(dst, uint32(len(m.ProcList)))
	dst = le.AppendUint32(dst, uint32(len(m.FailedList)))
	dst = le.AppendUint64(dst, m.RingSeq)
	for _, p := range m.ProcList {
		dst = le.AppendUint32(dst, p)
	}
	for _, f := range m.FailedList {
		dst = le.AppendUint32(dst, f)
	}
	return dst
}

// MessageType returns TypeMergeDetect.
func (m *MergeDetect) MessageType() MessageType { return TypeMergeDetect }

// Size returns MergeDetectSize.
func (m *MergeDetect) Size() int { return MergeDetectSize }

// Unmarshal decodes a merge detect (corosync-wire.md §2.8) in either byte
// order; trailing bytes are ignored. On error m is left unchanged and the
// error is a *DecodeError.
func (m *MergeDetect) Unmarshal(b []byte) error {
	h, err := unmarshalHeader(b, TypeMergeDetect, MergeDetectSize)
	if err != nil {
		return err
	}
	m.Header = h
	m.SystemFrom = u32(b[13:], h.Swapped)
	m.RingID = ringID(b[17:], h.Swapped)
	return nil
}

// AppendTo appends the merge detect little-endian.
func (m *MergeDetect) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, MergeDetectSize)
	dst = appendHeader(dst, TypeMergeDetect, &m.Header)
	dst = le.AppendUint32(dst, m.SystemFrom)
	return appendRingID(dst, m.RingID)
}

// MessageType returns TypeTokenHoldCancel.
func (m *TokenHoldCancel) MessageType() MessageType { return TypeTokenHoldCancel }

// Size returns TokenHoldCancelSize.
func (m *TokenHoldCancel) Size() int { return TokenHoldCancelSize }

// Unmarshal decodes a token hold cancel (corosync-wire.md §2.9) in either
// byte order; trailing bytes are ignored. On error m is left unchanged and
// the error is a *DecodeError.
func (m *TokenHoldCancel) Unmarshal(b []byte) error {
	h, err := unmarshalHeader(b, TypeTokenHoldCancel, TokenHoldCancelSize)
	if err != nil {
		return err
	}
	m.Header = h
	m.RingID = ringID(b[13:], h.Swapped)
	return nil
}

// AppendTo appends the token hold cancel little-endian.
func (m *TokenHoldCancel) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, TokenHoldCancelSize)
	dst = appendHeader(dst, TypeTokenHoldCancel, &m.Header)
	return appendRingID(dst, m.RingID)
}
