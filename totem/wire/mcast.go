package wire

import "slices"

// MessageType returns TypeMcast.
func (m *McastHeader) MessageType() MessageType { return TypeMcast }

// Size returns McastHeaderSize: the payload is not part of the struct.
func (m *McastHeader) Size() int { return McastHeaderSize }

// Unmarshal decodes the 45-byte header of an MCAST (corosync-wire.md §2.5)
// in either byte order; the payload is b[McastHeaderSize:] (see
// McastPayload). The encapsulated byte is kept as received and not checked:
// 2 means a totempg payload, 1 a recovery wrapper whose payload is a whole
// old-ring MCAST. On error m is left unchanged and the error is a
// *DecodeError.
func (m *McastHeader) Unmarshal(b []byte) error {
	h, err := unmarshalHeader(b, TypeMcast, McastHeaderSize)
	if err != nil {
		return err
	}
	s := h.Swapped
	m.Header = h
	m.SystemFrom = u32(b[13:], s)
	m.Seq = u32(b[17:], s)
	m.ThisSeqno = u32(b[21:], s)
	m.RingID = ringID(b[25:], s)
	m.NodeIDPad = u32(b[37:], s)
	m.Guarantee = u32(b[41:], s)
	return nil
}

// AppendTo appends the 45-byte header little-endian; the caller appends the
// payload after it.
func (m *McastHeader) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, McastHeaderSize)
	dst = appendHeader(dst, TypeMcast, &m.Header)
	dst = le.AppendUint32(dst, m.SystemFrom)
	dst = le.AppendUint32(dst, m.Seq)
	dst = le.AppendUint32(dst, m.ThisSeqno)
	dst = appendRingID(dst, m.RingID)
	dst = le.AppendUint32(dst, m.NodeIDPad)
	return le.AppendUint32(dst, m.Guarantee)
}

// McastPayload returns the payload of an MCAST datagram, the bytes after its
// 45-byte header, or nil when b is not longer than the header. It does not
// validate the header; call McastHeader.Unmarshal for that.
func McastPayload(b []byte) []byte {
	if len(b) <= McastHeaderSize {
		return nil
	}
	return b[McastHeaderSize:]
}
