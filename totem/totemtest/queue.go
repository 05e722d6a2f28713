package totemtest

import "github.com/corogo/corogo/totem"

// Datagram is a frame in flight.
type Datagram struct {
	// Due is the tick at which it arrives.
	Due int64
	// From and To are the sending and receiving nodes.
	From, To totem.NodeID
	// Data is the datagram; it may be shared by several Datagrams (fan-out
	// and duplicates) and must not be modified.
	Data []byte
	// Info is PeekFrame(Data).
	Info FrameInfo
	// order breaks ties between datagrams due at the same tick: first sent,
	// first delivered.
	order uint64
}

// dgQueue is a binary min-heap of datagrams ordered by (Due, order). It is
// typed, rather than container/heap, to avoid boxing every datagram.
type dgQueue []Datagram

func (q dgQueue) less(i, j int) bool {
	if q[i].Due != q[j].Due {
		return q[i].Due < q[j].Due
	}
	return q[i].order < q[j].order
}

func (q *dgQueue) push(d Datagram) {
	*q = append(*q, d)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *dgQueue) pop() Datagram {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = Datagram{} // release the data for the GC
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
