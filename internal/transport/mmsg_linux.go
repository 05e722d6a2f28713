//go:build linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeBatch is the most datagrams handed to one sendmmsg call; a longer
// Send is split. (The kernel's limit, UIO_MAXIOV, is 1024.)
const writeBatch = 256

// maxReadBatch is the most datagrams one recvmmsg call may return.
const maxReadBatch = 1024

func sendmmsg(fd int, hdrs []unix.Mmsghdr) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	return int(r), e
}

func recvmmsg(fd int, hdrs []unix.Mmsghdr) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
	return int(r), e
}

// counters are the Stats, updated once per batch.
type counters struct {
	txDatagrams, rxDatagrams, txErrors, rxErrors, rxUnlisted, rxTruncated atomic.Uint64
}

func (c *counters) stats() Stats {
	return Stats{
		TxDatagrams: c.txDatagrams.Load(),
		RxDatagrams: c.rxDatagrams.Load(),
		TxErrors:    c.txErrors.Load(),
		RxErrors:    c.rxErrors.Load(),
		RxUnlisted:  c.rxUnlisted.Load(),
		RxTruncated: c.rxTruncated.Load(),
	}
}

// writer queues datagrams for one socket and sends them with sendmmsg. Its
// arrays are allocated once; queueing and flushing do not allocate. It is
// used by one goroutine at a time (Send).
type writer struct {
	s    *sock
	c    *counters
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	n    int // queued
	off  int // sent or failed so far, during flush
	// err is the first failure of the current Send.
	err error
	// fn is w.write bound once, so that RawConn.Write does not allocate.
	fn func(fd uintptr) bool
}

func newWriter(s *sock, c *counters) *writer {
	w := &writer{
		s:    s,
		c:    c,
		hdrs: make([]unix.Mmsghdr, writeBatch),
		iovs: make([]unix.Iovec, writeBatch),
	}
	for i := range w.hdrs {
		w.hdrs[i].Hdr.Iov = &w.iovs[i]
		w.hdrs[i].Hdr.SetIovlen(1)
	}
	w.fn = w.write
	return w
}

// add queues data for dst (nil: the socket is connected), flushing first
// when the batch is full. dst and data must stay valid until the flush.
func (w *writer) add(dst *rawAddr, data []byte) {
	if w.n == len(w.hdrs) {
		w.flush()
	}
	h := &w.hdrs[w.n]
	if dst != nil {
		h.Hdr.Name = &dst.b[0]
		h.Hdr.Namelen = dst.n
	} else {
		h.Hdr.Name, h.Hdr.Namelen = nil, 0
	}
	iov := &w.iovs[w.n]
	iov.Base = unsafe.SliceData(data)
	iov.SetLen(len(data))
	w.n++
}

// flush sends every queued datagram. A datagram the kernel refuses is
// counted and skipped; the first refusal is kept in w.err. When the
// socket's buffer is full, the goroutine waits in the netpoller.
func (w *writer) flush() {
	if w.n == 0 {
		return
	}
	w.off = 0
	if err := w.s.rc.Write(w.fn); err != nil {
		// Closed: everything not yet sent is lost.
		w.c.txErrors.Add(uint64(w.n - w.off))
		if w.err == nil {
			w.err = net.ErrClosed
		}
	}
	for i := range w.n {
		w.hdrs[i].Hdr.Name = nil
		w.iovs[i].Base = nil
	}
	w.n = 0
}

// write is the RawConn.Write callback: it returns false to wait for the
// socket to become writable.
func (w *writer) write(fd uintptr) bool {
	for w.off < w.n {
		sent, errno := sendmmsg(int(fd), w.hdrs[w.off:w.n])
		switch {
		case errno == 0:
			w.c.txDatagrams.Add(uint64(sent))
			w.off += sent
		case errno == unix.EAGAIN:
			return false
		case errno == unix.EINTR:
		default:
			// The datagram at w.off failed; skip it.
			w.c.txErrors.Add(1)
			if w.err == nil {
				w.err = w.describe(w.off, errno)
			}
			w.off++
		}
	}
	return true
}

func (w *writer) describe(i int, errno unix.Errno) error {
	h := &w.hdrs[i]
	size := w.iovs[i].Len
	if h.Hdr.Name == nil {
		return fmt.Errorf("transport: send %d bytes on %v: %w", size, w.s.addr, errno)
	}
	ra := (*rawAddr)(unsafe.Pointer(h.Hdr.Name))
	return fmt.Errorf("transport: send %d bytes from %v to %v: %w", size, w.s.addr, ra.addrPort(h.Hdr.Namelen, nil), errno)
}

// takeErr returns and clears the first failure since the last call.
func (w *writer) takeErr() error {
	err := w.err
	w.err = nil
	return err
}

// filter decides which received datagrams are kept.
type filter interface {
	// listed reports whether a (zone stripped) is a member's address.
	listed(a netip.Addr) bool
}

// reader receives batches with recvmmsg from one or more sockets. With one
// socket it waits on that socket; with several it waits on an epoll
// instance holding them, itself registered with the netpoller. It is used
// by one goroutine at a time (Receive).
type reader struct {
	c       *counters
	wait    *sock // what the netpoller waits on
	fds     []int // sockets to drain, in order; nil: the fd of wait
	bufSize int
	block   func() filter // nil: keep every source

	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []rawAddr
	zone  zoneCache

	// State of the current Receive.
	batch []Datagram
	n, k  int // entries in play, entries filled
	flt   filter
	err   error
	fn    func(fd uintptr) bool
}

func newReader(c *counters, wait *sock, fds []int, bufSize int, block func() filter) *reader {
	r := &reader{c: c, wait: wait, fds: fds, bufSize: bufSize, block: block}
	r.fn = r.read
	return r
}

// receive fills batch[:n] and returns n ≥ 1, or an error.
func (r *reader) receive(batch []Datagram) (int, error) {
	if len(batch) == 0 {
		return 0, errors.New("transport: receive: empty batch")
	}
	n := min(len(batch), maxReadBatch)
	if len(r.hdrs) < n {
		// Once, or when a larger batch shows up.
		r.hdrs = make([]unix.Mmsghdr, n)
		r.iovs = make([]unix.Iovec, n)
		r.names = make([]rawAddr, n)
		for i := range r.hdrs {
			r.hdrs[i].Hdr.Iov = &r.iovs[i]
			r.hdrs[i].Hdr.SetIovlen(1)
			r.hdrs[i].Hdr.Name = &r.names[i].b[0]
		}
	}
	r.batch, r.n, r.k, r.err = batch[:n], n, 0, nil
	r.flt = nil
	if r.block != nil {
		r.flt = r.block()
	}
	r.prime(0)
	err := r.wait.rc.Read(r.fn)
	k := r.k
	r.batch, r.flt = nil, nil
	if k > 0 {
		return k, nil
	}
	if err != nil {
		return 0, err
	}
	return 0, r.err
}

// prime points entries from..n at their batch buffers, allocating a buffer
// where an entry has none big enough.
func (r *reader) prime(from int) {
	for i := from; i < r.n; i++ {
		d := &r.batch[i]
		if cap(d.Data) < r.bufSize {
			d.Data = make([]byte, r.bufSize)
		}
		d.Data = d.Data[:r.bufSize]
		r.iovs[i].Base = &d.Data[0]
		r.iovs[i].SetLen(r.bufSize)
		r.hdrs[i].Hdr.Namelen = uint32(len(r.names[i].b))
		r.hdrs[i].Hdr.Flags = 0
		r.hdrs[i].Len = 0
	}
}

// read is the RawConn.Read callback: it drains the sockets into the batch
// and returns false (wait for readiness) only when nothing was kept and
// every socket reported EAGAIN or a short read.
func (r *reader) read(fd uintptr) bool {
	if r.fds == nil {
		r.drain(int(fd))
	} else {
		for _, s := range r.fds {
			if r.k == r.n {
				break
			}
			r.drain(s)
		}
	}
	return r.k > 0 || r.err != nil
}

// drain reads one socket until the batch is full or the socket is empty.
func (r *reader) drain(fd int) {
	for r.k < r.n {
		want := r.n - r.k
		got, errno := recvmmsg(fd, r.hdrs[r.k:r.n])
		switch {
		case errno == unix.EAGAIN:
			return
		case errno == unix.EINTR:
			continue
		case errno != 0:
			// A pending socket error (such as an ICMP report); it is
			// consumed by this call.
			r.c.rxErrors.Add(1)
			if r.err == nil {
				r.err = fmt.Errorf("transport: receive on %v: %w", r.wait.addr, errno)
			}
			return
		}
		r.take(got)
		if got < want {
			return // the queue was empty when the call returned
		}
	}
}

// take keeps the acceptable datagrams among entries k..k+got, moves them
// to k.., and re-primes the rest.
func (r *reader) take(got int) {
	w := r.k
	var kept, unlisted, truncated uint64
	for i := r.k; i < r.k+got; i++ {
		h := &r.hdrs[i]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			truncated++
			continue
		}
		from := r.names[i].addrPort(h.Hdr.Namelen, &r.zone)
		if r.flt != nil && !r.flt.listed(from.Addr().WithZone("")) {
			unlisted++
			continue
		}
		if w != i {
			r.batch[w], r.batch[i] = r.batch[i], r.batch[w]
		}
		d := &r.batch[w]
		d.From = from
		d.Data = d.Data[:h.Len]
		w++
		kept++
	}
	r.k = w
	if kept > 0 {
		r.c.rxDatagrams.Add(kept)
	}
	if unlisted > 0 {
		r.c.rxUnlisted.Add(unlisted)
	}
	if truncated > 0 {
		r.c.rxTruncated.Add(truncated)
	}
	r.prime(w)
}
