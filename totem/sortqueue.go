package totem

// bufPool recycles message buffers so the hot path does not allocate.
// Buffers released while a Ready is outstanding may still be referenced by
// its frames, so they are parked until Advance.
type bufPool struct {
	size   int
	free   [][]byte
	parked [][]byte
}

func (p *bufPool) get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, p.size)
}

func (p *bufPool) put(b []byte) {
	if b != nil {
		p.parked = append(p.parked, b)
	}
}

// advance makes parked buffers reusable.
func (p *bufPool) advance() {
	p.free = append(p.free, p.parked...)
	clear(p.parked)
	p.parked = p.parked[:0]
}

// sortQueue stores one ring's messages by sequence number (corosync's sq):
// a window of sortQueueSize sequence numbers starting at head.
type sortQueue struct {
	head  uint32 // lowest sequence number not yet released
	slots []sqSlot
	pool  *bufPool
}

type sqSlot struct {
	buf  []byte // the whole SRP MCAST datagram; nil when empty
	miss uint16 // token visits on which this seq was found missing
}

func newSortQueue(pool *bufPool) *sortQueue {
	return &sortQueue{slots: make([]sqSlot, sortQueueSize), pool: pool}
}

func (q *sortQueue) slot(seq uint32) *sqSlot { return &q.slots[seq&(sortQueueSize-1)] }

// reinit empties the queue; head becomes start+1 (seq start is "before the
// first message").
func (q *sortQueue) reinit(start uint32) {
	for i := range q.slots {
		if q.slots[i].buf != nil {
			q.pool.put(q.slots[i].buf)
		}
		q.slots[i] = sqSlot{}
	}
	q.head = start + 1
}

// inRange reports whether seq fits the queue's window.
func (q *sortQueue) inRange(seq uint32) bool { return seq-q.head < sortQueueSize }

// get returns the stored message with seq, or nil.
func (q *sortQueue) get(seq uint32) []byte {
	if !q.inRange(seq) {
		return nil
	}
	return q.slot(seq).buf
}

// has reports whether seq is stored.
func (q *sortQueue) has(seq uint32) bool { return q.get(seq) != nil }

// add stores buf at seq; the queue owns buf afterwards.
func (q *sortQueue) add(seq uint32, buf []byte) {
	s := q.slot(seq)
	if s.buf != nil {
		q.pool.put(s.buf)
	}
	s.buf = buf
	s.miss = 0
}

// missCount increments and returns seq's miss counter.
func (q *sortQueue) missCount(seq uint32) int {
	s := q.slot(seq)
	if s.miss < 0xffff {
		s.miss++
	}
	return int(s.miss)
}

// release frees every message up to and including seq.
func (q *sortQueue) release(seq uint32) {
	for seqLTE(q.head, seq) {
		s := q.slot(q.head)
		if s.buf != nil {
			q.pool.put(s.buf)
		}
		*s = sqSlot{}
		q.head++
	}
}

// moveFrom makes q a copy of o (which is emptied): corosync's sq_copy when
// the recovery queue becomes the regular queue.
func (q *sortQueue) moveFrom(o *sortQueue) {
	q.reinit(0)
	q.slots, o.slots = o.slots, q.slots
	q.head = o.head
	o.reinit(0)
}

// fifo is a queue of message buffers.
type fifo struct {
	items [][]byte
	head  int
}

func (f *fifo) len() int      { return len(f.items) - f.head }
func (f *fifo) push(b []byte) { f.items = append(f.items, b) }
func (f *fifo) peek() []byte  { return f.items[f.head] }
func (f *fifo) pop() []byte {
	b := f.items[f.head]
	f.items[f.head] = nil
	f.head++
	if f.head == len(f.items) {
		f.items = f.items[:0]
		f.head = 0
	} else if f.head > 1024 && f.head*2 > len(f.items) {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items = f.items[:n]
		f.head = 0
	}
	return b
}

// drain empties the queue into the pool.
func (f *fifo) drain(p *bufPool) {
	for f.len() > 0 {
		p.put(f.pop())
	}
}
