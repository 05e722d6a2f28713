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

// queue is a FIFO that reuses its backing array.
type queue[T any] struct {
	items []T
	head  int
}

func (q *queue[T]) len() int  { return len(q.items) - q.head }
func (q *queue[T]) push(v T)  { q.items = append(q.items, v) }
func (q *queue[T]) front() *T { return &q.items[q.head] }
func (q *queue[T]) rest() []T { return q.items[q.head:] }
func (q *queue[T]) pop() T {
	v := q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items = q.items[:0]
		q.head = 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	return v
}

// fifo is a queue of message buffers.
type fifo struct{ queue[[]byte] }

// drain empties the queue into the pool.
func (f *fifo) drain(p *bufPool) {
	for f.len() > 0 {
		p.put(f.pop())
	}
}
