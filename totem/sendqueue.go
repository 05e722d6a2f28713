package totem

import "github.com/corogo/corogo/totem/pg"

// The send path. Send packs application messages ("items") into totempg
// packets at once, as corosync does, and queues the packets as MCAST frames
// until the token arrives. An item may span packets. If a configuration
// change falls between the packets of one item, the members of the new ring
// would hold different beginnings of it (a node that joined lacks the part
// stamped in the old ring), so every node drops partial items when it
// installs a regular configuration, and the sender re-packs the item whole
// in the new ring. To do that, the sender keeps each item until the packet
// holding its last byte has been stamped.

// sendItem is an item whose last packet has not been stamped yet.
type sendItem struct {
	data  []byte
	chunk *itemChunk // where data lives; nil for a large item
	safe  bool
	first uint64 // index of the packet holding its first byte
	last  uint64 // index of the packet holding its last byte
}

// itemChunkSize is the size of the buffers small items are copied into.
// Items are stamped in the order they were queued, so a chunk is filled
// front to back and recycled once its last item is stamped: queued items
// take their own size in memory, not a packet buffer each.
const itemChunkSize = 64 << 10

// itemChunk is a buffer holding consecutive small items.
type itemChunk struct {
	buf  []byte // cap itemChunkSize; len = bytes handed out
	live int    // items in it not yet freed
}

// itemLog is the FIFO of unstamped items.
type itemLog struct {
	queue[sendItem]
	cur   *itemChunk   // the chunk new small items go to
	spare []*itemChunk // empty chunks
	big   [][]byte     // free buffers for large items
}

// copyItem copies msg into item storage.
func (n *Node) copyItem(msg []byte) ([]byte, *itemChunk) {
	b, c := n.allocItem(len(msg))
	return append(b, msg...), c
}

// allocItem returns empty item storage with room for size bytes.
func (n *Node) allocItem(size int) ([]byte, *itemChunk) {
	l := &n.itemLog
	if size > itemChunkSize/4 {
		for i := len(l.big) - 1; i >= 0 && i >= len(l.big)-4; i-- {
			if cap(l.big[i]) >= size {
				b := l.big[i]
				l.big = append(l.big[:i], l.big[i+1:]...)
				return b[:0], nil
			}
		}
		return make([]byte, 0, size), nil
	}
	c := l.cur
	if c == nil || len(c.buf)+size > cap(c.buf) {
		if k := len(l.spare); k > 0 {
			c = l.spare[k-1]
			l.spare = l.spare[:k-1]
		} else {
			c = &itemChunk{buf: make([]byte, 0, itemChunkSize)}
		}
		l.cur = c
	}
	start := len(c.buf)
	c.buf = c.buf[:start+size]
	c.live++
	return c.buf[start : start : start+size], c
}

// freeItem releases an item's storage.
func (n *Node) freeItem(it *sendItem) {
	l := &n.itemLog
	c := it.chunk
	if c == nil {
		if len(l.big) < 8 && it.data != nil {
			l.big = append(l.big, it.data)
		}
		return
	}
	c.live--
	if c.live > 0 {
		return
	}
	c.buf = c.buf[:0]
	if c != l.cur && len(l.spare) < 8 {
		l.spare = append(l.spare, c)
	}
}

// packItem hands one item to the packer and records which packets hold it.
func (n *Node) packItem(it *sendItem) {
	if it.safe != n.packerSafe && n.packer.Pending() > 0 {
		n.packer.Flush(n.emitFn)
	}
	n.packerSafe = it.safe
	it.first = n.queuedPkts
	n.packer.Add(it.data, n.emitFn)
	it.last = n.queuedPkts
	if n.packer.Pending() == 0 {
		it.last--
	}
}

// stamped records that one queued packet got its sequence number, and
// forgets the items that are now wholly on the ring.
func (n *Node) stamped() {
	n.stampedPkts++
	l := &n.itemLog
	for l.len() > 0 && l.front().last < n.stampedPkts {
		it := l.pop()
		n.freeItem(&it)
	}
}

// repackAfterConfChange re-packs the unsent items when the oldest one was
// partly stamped in the previous ring, so that it goes out whole.
func (n *Node) repackAfterConfChange() {
	l := &n.itemLog
	if l.len() == 0 || l.front().first >= n.stampedPkts {
		return
	}
	n.newMsgs.drain(&n.pool)
	n.packer = pg.NewPacker(n.cfg.PGPayloadLimit())
	n.queuedPkts = n.stampedPkts
	items := l.rest()
	for i := range items {
		n.packItem(&items[i])
	}
}
