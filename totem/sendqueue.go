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
	safe  bool
	first uint64 // index of the packet holding its first byte
	last  uint64 // index of the packet holding its last byte
}

// itemLog is the FIFO of unstamped items.
type itemLog struct {
	queue[sendItem]
	big [][]byte // free buffers larger than the pool's
}

// copyItem copies msg into a recycled buffer.
func (n *Node) copyItem(msg []byte) []byte {
	return append(n.allocItem(len(msg)), msg...)
}

// allocItem returns an empty recycled buffer with room for size bytes.
func (n *Node) allocItem(size int) []byte {
	if size <= n.pool.size {
		return n.pool.get()
	}
	l := &n.itemLog
	for i := len(l.big) - 1; i >= 0 && i >= len(l.big)-4; i-- {
		if cap(l.big[i]) >= size {
			b := l.big[i]
			l.big = append(l.big[:i], l.big[i+1:]...)
			return b[:0]
		}
	}
	return make([]byte, 0, size)
}

func (n *Node) freeItem(b []byte) {
	if cap(b) <= n.pool.size {
		n.pool.put(b)
		return
	}
	if len(n.itemLog.big) < 8 {
		n.itemLog.big = append(n.itemLog.big, b)
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
		n.freeItem(l.pop().data)
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
