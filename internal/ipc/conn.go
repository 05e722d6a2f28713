package ipc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/corogo/corogo/internal/service"
)

// Conn is one client connection, as the server's Handler sees it. It
// implements service.Conn: Reply and Event copy their payload into the
// connection's output queue and never block; a writer goroutine drains
// the queue with one write per batch of frames. A connection whose queue
// would exceed ServerOptions.MaxBacklog is cut off.
type Conn struct {
	srv     *Server
	nc      net.Conn
	id      uint64
	cred    service.Cred
	credErr error
	svc     uint16 // set before Open, read-only after

	// Reader goroutine only.
	fr     *frameReader
	batch  []service.Request
	doneCh chan struct{}
	doneFn func()

	wake       chan struct{} // output queued or closing requested
	dead       chan struct{} // closed by shutdown
	writerDone chan struct{}

	// mu guards the output queue and the connection's state. It is never
	// held while calling the Handler or doing I/O.
	mu        sync.Mutex
	out       []byte // frames queued and not yet taken by the writer
	outFrames int    // frames in out
	queued    int    // bytes in out plus bytes being written
	held      bool   // the WELCOME is not decided yet: do not write
	closing   bool   // Close was called: the writer ends once out is flushed
	reason    error  // Close's reason
	ended     bool   // shutdown ran: no more output, the socket is closed
	err       error  // why the connection ended
}

var _ service.Conn = (*Conn)(nil)

func newConn(s *Server, nc net.Conn, cred service.Cred, credErr error) *Conn {
	c := &Conn{
		srv:        s,
		nc:         nc,
		id:         s.nextID.Add(1),
		cred:       cred,
		credErr:    credErr,
		fr:         newFrameReader(nc, handshakeBuffer, helloMaxFrame),
		doneCh:     make(chan struct{}, 1),
		wake:       make(chan struct{}, 1),
		dead:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if credErr != nil {
		// Never mistake unknown credentials for root's.
		c.cred = service.Cred{PID: -1, UID: ^uint32(0), GID: ^uint32(0)}
	}
	c.doneFn = func() {
		select {
		case c.doneCh <- struct{}{}:
		default:
		}
	}
	return c
}

// ID identifies the connection for as long as the server runs (ids start
// at 1).
func (c *Conn) ID() uint64 { return c.id }

// Cred are the peer's SO_PEERCRED credentials, read at accept.
func (c *Conn) Cred() service.Cred { return c.cred }

// Service is the service id from the client's HELLO.
func (c *Conn) Service() uint16 { return c.svc }

// Queued returns the bytes of output queued and not yet written.
func (c *Conn) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// String identifies the connection in logs.
func (c *Conn) String() string {
	return fmt.Sprintf("ipc conn %d (pid %d)", c.id, c.cred.PID)
}

// Reply queues the REPLY to request reqID. A reply too large for one frame
// is replaced by an empty one with status ErrMsgTooBig. Replies to
// requests without an id (0) are sent too; clients ignore them unless
// their status is an error.
func (c *Conn) Reply(reqID uint32, status service.Status, payload []byte) {
	if HeaderSize+len(payload) > c.srv.opts.MaxFrame {
		status, payload = service.ErrMsgTooBig, nil
	}
	c.queue(Header{Kind: KindReply, ID: reqID, Status: status}, payload, nil)
}

// Event queues an EVENT of the given kind whose payload is hdr followed by
// body. An event too large for one frame is a service bug that the client
// could not read: the connection is closed instead.
func (c *Conn) Event(kind uint16, hdr, body []byte) {
	if n := HeaderSize + len(hdr) + len(body); n > c.srv.opts.MaxFrame {
		err := fmt.Errorf("ipc: event %d of %d bytes: %w (%d)", kind, n, ErrFrameTooBig, c.srv.opts.MaxFrame)
		if c.shutdown(err) {
			c.srv.log.Warn("closing client connection", "conn", c.id, "pid", c.cred.PID, "err", err)
		}
		return
	}
	c.queue(Header{Kind: KindEvent, Fn: kind}, hdr, body)
}

// Close closes the connection once the output queued so far is written
// (or after a short deadline), logging why. Later Reply and Event calls
// are dropped, and no more requests are read. Handler.Closed gets reason
// (ErrClosed when nil).
func (c *Conn) Close(reason error) {
	if reason == nil {
		reason = ErrClosed
	}
	if c.closeGraceful(reason) {
		c.srv.log.Info("closing client connection", "conn", c.id, "pid", c.cred.PID, "reason", reason)
	}
}

// queue appends one frame to the output queue, or cuts the connection off
// when its backlog would exceed the bound.
func (c *Conn) queue(h Header, a, b []byte) {
	n := HeaderSize + len(a) + len(b)
	h.Length = uint32(n)
	c.mu.Lock()
	if c.closing || c.ended {
		c.mu.Unlock()
		return
	}
	if c.queued+n > c.srv.opts.MaxBacklog {
		queued := c.queued
		c.mu.Unlock()
		c.cutOff(queued, n)
		return
	}
	wake := len(c.out) == 0
	c.out = AppendHeader(c.out, h)
	c.out = append(c.out, a...)
	c.out = append(c.out, b...)
	c.outFrames++
	c.queued += n
	c.mu.Unlock()
	if wake {
		c.signal()
	}
}

// signal wakes the writer.
func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// cutOff ends a connection whose output backlog is exceeded.
func (c *Conn) cutOff(queued, n int) {
	err := fmt.Errorf("%w: %d bytes queued, a frame of %d would exceed the bound of %d", ErrBacklog, queued, n, c.srv.opts.MaxBacklog)
	if c.shutdown(err) {
		c.srv.cutoffs.Add(1)
		c.srv.log.Warn("client cut off: it does not read its output",
			"conn", c.id, "pid", c.cred.PID, "uid", c.cred.UID, "queued", queued, "max_backlog", c.srv.opts.MaxBacklog)
	}
}

// closeGraceful asks the writer to close the connection once the queue is
// flushed, within closeFlushTimeout. It reports whether it started the
// close.
func (c *Conn) closeGraceful(reason error) bool {
	c.mu.Lock()
	if c.closing || c.ended {
		c.mu.Unlock()
		return false
	}
	c.closing = true
	c.held = false
	c.reason = reason
	c.mu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	c.signal()
	return true
}

// shutdown ends the connection now: queued output is dropped and the
// socket closed. The first call records err as the reason and returns
// true.
func (c *Conn) shutdown(err error) bool {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return false
	}
	c.ended = true
	c.err = err
	c.out, c.outFrames = nil, 0
	c.mu.Unlock()
	c.nc.Close()
	close(c.dead)
	return true
}

// writeLoop is the writer goroutine: it takes everything queued, writes it
// with one call, and repeats; the written buffer becomes the next queue
// buffer, so a steady stream allocates nothing.
func (c *Conn) writeLoop() {
	defer c.srv.wg.Done()
	defer close(c.writerDone)
	var spare []byte
	underused := 0
	for {
		select {
		case <-c.wake:
		case <-c.dead:
			return
		}
		for {
			c.mu.Lock()
			if c.ended {
				c.mu.Unlock()
				return
			}
			if c.held {
				c.mu.Unlock()
				break
			}
			buf, frames := c.out, c.outFrames
			c.out, c.outFrames = spare[:0], 0
			closing, reason := c.closing, c.reason
			c.mu.Unlock()
			if len(buf) == 0 {
				spare = buf
				if closing {
					c.shutdown(reason)
					return
				}
				break
			}
			_, err := c.nc.Write(buf)
			c.mu.Lock()
			c.queued -= len(buf)
			closing, reason = c.closing, c.reason
			c.mu.Unlock()
			if err != nil {
				if !closing {
					reason = fmt.Errorf("ipc: writing to client: %w", err)
				}
				c.shutdown(reason)
				return
			}
			c.srv.framesOut.Add(uint64(frames))
			c.srv.bytesOut.Add(uint64(len(buf)))
			spare = shrink(buf, &underused)
		}
	}
}

// run is the reader goroutine: handshake, then requests, then the end.
func (c *Conn) run(h Handler) {
	defer c.srv.wg.Done()
	opened, graceful, err := c.serve(h)
	if graceful {
		c.closeGraceful(err)
	} else {
		c.shutdown(err)
	}
	<-c.writerDone
	c.mu.Lock()
	err = c.err
	c.mu.Unlock()
	if opened {
		c.srv.log.Debug("client disconnected", "conn", c.id, "pid", c.cred.PID, "err", err)
		h.Closed(c, err)
	}
	c.srv.forget(c)
}

// serve runs the connection until it ends. It reports whether Open
// admitted it, why it ends, and whether queued output (a WELCOME or an
// error REPLY) should be flushed before the socket is closed.
func (c *Conn) serve(h Handler) (opened, graceful bool, err error) {
	if graceful, err := c.handshake(h); err != nil {
		return false, graceful, err
	}
	for {
		batch := c.batch[:0]
		size := 0
		var perr error
		var phdr Header
		for len(batch) < maxBatchFrames && size < maxBatchBytes {
			hd, frame, err := c.fr.next()
			if err == errNeedMore {
				break
			}
			if err != nil {
				perr, phdr = err, hd
				break
			}
			if hd.Kind != KindRequest {
				perr, phdr = fmt.Errorf("%s from a client", hd.Kind), hd
				break
			}
			batch = append(batch, service.Request{ID: hd.ID, Fn: hd.Fn, Payload: frame[HeaderSize:]})
			size += len(frame)
		}
		c.batch = batch
		if len(batch) > 0 {
			c.mu.Lock()
			stop := c.closing || c.ended
			c.mu.Unlock()
			if stop {
				return true, true, nil
			}
			c.srv.framesIn.Add(uint64(len(batch)))
			c.srv.bytesIn.Add(uint64(size))
			h.Requests(c, batch, c.doneFn)
			select {
			case <-c.doneCh:
			case <-c.dead:
				return true, false, nil
			}
			clear(batch)
		}
		if perr != nil {
			return true, true, c.protocolError(phdr, perr)
		}
		if len(batch) > 0 {
			continue
		}
		if err := c.fr.fill(); err != nil {
			return true, false, c.readError(err)
		}
	}
}

// readError describes a failed read; nil for a clean end of stream.
func (c *Conn) readError(err error) error {
	if errors.Is(err, io.EOF) {
		if c.fr.buffered() == 0 {
			return nil
		}
		return fmt.Errorf("ipc: client closed the connection within a frame: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("ipc: reading from client: %w", err)
}

// handshake reads the HELLO, decides and queues the WELCOME. A non-nil
// error ends the connection; graceful tells whether to flush first.
func (c *Conn) handshake(h Handler) (graceful bool, err error) {
	s := c.srv
	c.nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	var hd Header
	var frame []byte
	for {
		hd, frame, err = c.fr.next()
		if err == nil {
			break
		}
		if err != errNeedMore {
			return true, c.protocolError(hd, err)
		}
		if err := c.fr.fill(); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.protoErrs.Add(1)
				s.log.Info("client sent no HELLO", "conn", c.id, "pid", c.cred.PID, "timeout", handshakeTimeout)
				return false, fmt.Errorf("%w: no HELLO within %v", ErrProtocol, handshakeTimeout)
			}
			if err := c.readError(err); err != nil {
				return false, err
			}
			// Gone before saying anything: another daemon's probe, say.
			return false, io.EOF
		}
	}
	s.framesIn.Add(1)
	s.bytesIn.Add(uint64(len(frame)))
	if hd.Kind != KindHello {
		return true, c.protocolError(hd, fmt.Errorf("%s before HELLO", hd.Kind))
	}
	hello, perr := ParseHello(frame[HeaderSize:])
	w := Welcome{Version: Version, Service: hello.Service, NodeID: s.opts.NodeID, MaxFrame: uint32(s.opts.MaxFrame)}
	refuse := func(st service.Status, err error) (bool, error) {
		c.queueRaw(AppendWelcome(nil, st, w))
		return true, err
	}
	switch {
	case perr != nil:
		s.protoErrs.Add(1)
		s.log.Warn("bad HELLO from client", "conn", c.id, "pid", c.cred.PID, "err", perr)
		return refuse(service.ErrInvalidArg, fmt.Errorf("%w: %w", ErrProtocol, perr))
	case hello.Version != Version:
		s.rejected.Add(1)
		s.log.Info("client refused: protocol version mismatch", "conn", c.id, "pid", c.cred.PID, "version", hello.Version, "want", Version)
		return refuse(service.ErrNotSupport, fmt.Errorf("ipc: client speaks protocol version %d, not %d", hello.Version, Version))
	case !s.allowed(c):
		s.refused.Add(1)
		s.log.Info("client refused: access denied", "conn", c.id, "pid", c.cred.PID, "uid", c.cred.UID, "gid", c.cred.GID, "cred_err", c.credErr)
		return refuse(service.ErrAccess, fmt.Errorf("ipc: access denied to uid %d gid %d", c.cred.UID, c.cred.GID))
	}
	c.svc = hello.Service

	// Queue a WELCOME(OK) and hold the writer while Open runs, so that
	// output the daemon queues from Open follows the WELCOME.
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
	c.queueRaw(AppendWelcome(nil, service.OK, w))
	st := h.Open(c, hello.Service)
	if st != service.OK {
		c.mu.Lock()
		if !c.ended {
			c.out = AppendWelcome(c.out[:0], st, w)
			c.outFrames = 1
			c.queued = len(c.out)
		}
		c.mu.Unlock()
		s.rejected.Add(1)
		s.log.Debug("client refused by the service", "conn", c.id, "pid", c.cred.PID, "service", hello.Service, "status", st)
		return true, fmt.Errorf("ipc: service %d refused the client: %v", hello.Service, st)
	}
	c.mu.Lock()
	c.held = false
	c.mu.Unlock()
	c.signal()
	c.nc.SetReadDeadline(time.Time{})
	c.fr.max = s.opts.MaxFrame
	c.fr.resize(readBuffer)
	s.log.Debug("client connected", "conn", c.id, "pid", c.cred.PID, "uid", c.cred.UID, "service", hello.Service)
	return false, nil
}

// queueRaw queues one encoded frame, bypassing the backlog bound (it is
// used only for the handshake's single frame).
func (c *Conn) queueRaw(frame []byte) {
	c.mu.Lock()
	if c.closing || c.ended {
		c.mu.Unlock()
		return
	}
	c.out = append(c.out, frame...)
	c.outFrames++
	c.queued += len(frame)
	c.mu.Unlock()
	c.signal()
}

// protocolError answers a malformed frame with a REPLY carrying its id and
// ErrMsgTooBig (oversized) or ErrInvalidArg, counts and logs it, and
// returns the error that ends the connection.
func (c *Conn) protocolError(hd Header, err error) error {
	st := service.ErrInvalidArg
	if errors.Is(err, ErrFrameTooBig) {
		st = service.ErrMsgTooBig
	}
	c.queue(Header{Kind: KindReply, ID: hd.ID, Status: st}, nil, nil)
	c.srv.protoErrs.Add(1)
	c.srv.log.Warn("protocol error: closing client connection", "conn", c.id, "pid", c.cred.PID, "err", err)
	return fmt.Errorf("%w: %w", ErrProtocol, err)
}
