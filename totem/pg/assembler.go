package pg

import "fmt"

// Assembler unpacks totempg packets and reassembles fragmented items, per
// originator, as corosync's totempg_deliver_fn does (see the package
// documentation for where it deliberately differs).
//
// Packets must be given in the order Totem SRP delivers them (agreed order).
// Items that lie whole in a packet are passed to the deliver callback as
// sub-slices of the packet, without copying; a fragmented item is collected
// in a buffer kept per originator and reused. Either slice is valid only
// during the callback, which must not call back into the Assembler.
//
// An Assembler is not safe for concurrent use. Once its buffers have grown to
// the largest item seen, Deliver does not allocate unless it drops something.
type Assembler struct {
	maxItem int
	nodes   map[uint32]*assembly
	free    []*assembly
	drops   [NumReasons]uint64
}

// assembly is one originator's reassembly state.
type assembly struct {
	buf []byte // bytes of the partial item so far
	// lastFrag is the fragment number that ended the originator's last
	// packet, or 0 if that packet ended with a complete item.
	lastFrag uint8
	// discard is set while the partial item is being thrown away; the pieces
	// that continue it are skipped until it ends.
	discard bool
}

// NewAssembler returns an Assembler that discards items longer than maxItem
// bytes (group header included). maxItem ≤ 0 selects DefaultMaxItem (1 MiB,
// corosync's MESSAGE_SIZE_MAX).
func NewAssembler(maxItem int) *Assembler {
	if maxItem <= 0 {
		maxItem = DefaultMaxItem
	}
	return &Assembler{maxItem: maxItem, nodes: make(map[uint32]*assembly)}
}

// MaxItem returns the largest item the Assembler delivers.
func (a *Assembler) MaxItem() int { return a.maxItem }

// Deliver takes one totempg packet from originator from (the nodeid in the
// MCAST header, not the IP sender) and calls deliver for each item it
// completes, in order. swapped reports that the SRP message arrived in the
// other byte order.
//
// A malformed packet (see DecodePacket) is dropped whole: nothing is
// delivered and no state changes, for this or any other originator. Otherwise
// Deliver delivers what it can and returns a non-nil error if it had to drop
// something:
//
//   - ReasonContinuation: the packet's continuation does not match the last
//     fragment number from this originator (or a fragmented item was not
//     continued). The partial item and the unmatched piece are thrown away,
//     and so are the further pieces of that item; the other items of the
//     packet are delivered.
//   - ReasonTooBig: an item exceeds maxItem; it is thrown away likewise.
//
// Every drop is counted (see Drops); the error describes the first one.
func (a *Assembler) Deliver(from uint32, pkt []byte, swapped bool, deliver func(item []byte)) error {
	p, err := DecodePacket(pkt, swapped)
	if err != nil {
		e := err.(*Error)
		e.Op, e.From = "deliver", from
		a.drops[e.Reason]++
		return e
	}
	var first error
	st := a.nodes[from] // nil until this originator fragments
	count := int(p.Count)
	off := 0
	for i := 0; i < count; i++ {
		n := p.ItemLen(i)
		piece := p.data[off : off+n]
		off += n
		continues := i == count-1 && p.Fragmented != 0 // the piece continues in the next packet

		if i == 0 && p.Continuation != 0 {
			// The piece continues a fragmented item.
			switch {
			case st != nil && st.lastFrag != 0 && st.lastFrag == p.Continuation:
				if !st.discard {
					if len(st.buf)+n > a.maxItem {
						a.drop(&first, from, ReasonTooBig, "fragmented item exceeds %d bytes", a.maxItem)
						st.buf, st.discard = st.buf[:0], true
					} else {
						st.buf = append(st.buf, piece...)
					}
				}
			default:
				last := uint8(0)
				if st != nil {
					last = st.lastFrag
				}
				a.drop(&first, from, ReasonContinuation, "continuation %d, last fragment %d", p.Continuation, last)
				st = a.state(from)
				st.buf, st.discard = st.buf[:0], true
			}
			if continues {
				st.lastFrag = p.Fragmented
				continue
			}
			if !st.discard {
				deliver(st.buf)
			}
			st.buf, st.discard, st.lastFrag = st.buf[:0], false, 0
			continue
		}

		if i == 0 && st != nil && st.lastFrag != 0 {
			// The last packet ended in a fragment that this one does not continue.
			if !st.discard {
				a.drop(&first, from, ReasonContinuation, "fragment %d not continued (continuation 0)", st.lastFrag)
			}
			st.buf, st.discard, st.lastFrag = st.buf[:0], false, 0
		}
		if continues {
			st = a.state(from)
			st.lastFrag = p.Fragmented
			if n > a.maxItem {
				a.drop(&first, from, ReasonTooBig, "fragmented item exceeds %d bytes", a.maxItem)
				st.buf, st.discard = st.buf[:0], true
			} else {
				st.buf, st.discard = append(st.buf[:0], piece...), false
			}
			continue
		}
		if n > a.maxItem {
			a.drop(&first, from, ReasonTooBig, "item of %d bytes exceeds %d", n, a.maxItem)
			continue
		}
		deliver(piece)
	}
	return first
}

// drop counts a drop and records the first error of a Deliver call.
func (a *Assembler) drop(first *error, from uint32, r Reason, format string, args ...any) {
	a.drops[r]++
	if *first == nil {
		*first = &Error{Op: "deliver", From: from, Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
}

// state returns the originator's state, creating it (from the free list if
// possible).
func (a *Assembler) state(from uint32) *assembly {
	if st := a.nodes[from]; st != nil {
		return st
	}
	var st *assembly
	if k := len(a.free); k > 0 {
		st = a.free[k-1]
		a.free[k-1] = nil
		a.free = a.free[:k-1]
	} else {
		st = new(assembly)
	}
	a.nodes[from] = st
	return st
}

// Pending returns the number of bytes of a partial item held for the
// originator (0 if none, or if the partial item is being thrown away).
func (a *Assembler) Pending(from uint32) int {
	if st := a.nodes[from]; st != nil && !st.discard {
		return len(st.buf)
	}
	return 0
}

// Forget drops the originator's partial item, if any: it left the
// configuration (corosync frees the assembly buffers of the nodes in a
// configuration change's left list). Its buffer is kept for reuse.
func (a *Assembler) Forget(from uint32) {
	st := a.nodes[from]
	if st == nil {
		return
	}
	delete(a.nodes, from)
	a.release(st)
}

// Reset drops every partial item.
func (a *Assembler) Reset() {
	for from, st := range a.nodes {
		delete(a.nodes, from)
		a.release(st)
	}
}

func (a *Assembler) release(st *assembly) {
	*st = assembly{buf: st.buf[:0]}
	a.free = append(a.free, st)
}

// Drops returns how many times data was dropped for reason r since the
// Assembler was created: malformed packets count once each, thrown-away and
// oversized items once per item.
func (a *Assembler) Drops(r Reason) uint64 {
	if r >= NumReasons {
		return 0
	}
	return a.drops[r]
}
