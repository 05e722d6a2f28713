package ipc

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corogo/corogo/internal/service"
)

// The goroutine shell under testing/synctest: in-memory connections
// (net.Pipe, synchronous: a write blocks until the peer reads) and a fake
// clock, so timeouts are exact and leaks show as goroutines left in the
// bubble.

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// pipeListener hands out the server ends of net.Pipe connections.
type pipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client end of a new connection.
func (l *pipeListener) dial() net.Conn {
	a, b := net.Pipe()
	l.ch <- b
	return a
}

type pipeServer struct {
	*Server
	ln     *pipeListener
	h      *testHandler
	cancel context.CancelFunc
	done   chan error
}

// startPipeServer serves a test handler on in-memory connections whose
// peers present uid 1000.
func startPipeServer(t *testing.T, opts ServerOptions) *pipeServer {
	opts.Path = "pipe"
	opts.Logger = testLogger(t)
	if err := opts.validate(); err != nil {
		t.Fatal(err)
	}
	ln := &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
	s := newServer(opts, ln)
	s.credOf = func(net.Conn) (service.Cred, error) { return service.Cred{PID: 7, UID: 1000, GID: 1000}, nil }
	ctx, cancel := context.WithCancel(context.Background())
	ps := &pipeServer{Server: s, ln: ln, h: newTestHandler(), cancel: cancel, done: make(chan error, 1)}
	go func() { ps.done <- s.Serve(ctx, ps.h) }()
	return ps
}

func (ps *pipeServer) stop(t *testing.T) {
	ps.cancel()
	if err := <-ps.done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// rawPipe is a hand-driven client on a pipe.
func rawPipe(t *testing.T, ps *pipeServer) *rawConn {
	nc := ps.ln.dial()
	return &rawConn{t: t, nc: nc, fr: newFrameReader(nc, 4096, MaxMaxFrame)}
}

func TestSynctestHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := startPipeServer(t, ServerOptions{})
		r := rawPipe(t, ps)
		time.Sleep(handshakeTimeout - time.Millisecond)
		synctest.Wait()
		if st := ps.Stats(); st.Open != 1 || st.ProtocolErrors != 0 {
			t.Fatalf("before the timeout: %+v", st)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if st := ps.Stats(); st.Open != 0 || st.ProtocolErrors != 1 {
			t.Fatalf("after the timeout: %+v", st)
		}
		if _, err := r.nc.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("read after the timeout: %v", err)
		}
		ps.stop(t)
	})
}

// Close flushes for closeFlushTimeout at most, then the connection ends
// with the reason given.
func TestSynctestCloseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := startPipeServer(t, ServerOptions{})
		r := rawPipe(t, ps)
		go r.nc.Write(AppendHello(nil, Hello{Version: Version, Service: 2}))
		hd, _ := r.mustRead()
		if hd.Kind != KindWelcome || hd.Status != service.OK {
			t.Fatalf("%+v", hd)
		}
		conn := ps.h.waitOpened(t)
		conn.Event(1, make([]byte, 100), nil) // the client never reads it
		reason := errors.New("bye")
		conn.Close(reason)
		time.Sleep(closeFlushTimeout - time.Millisecond)
		synctest.Wait()
		if len(ps.h.closed) != 0 {
			t.Fatal("closed before the flush deadline")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if cc := <-ps.h.closed; cc.c != conn || cc.err != reason {
			t.Fatalf("Closed(%v, %v)", cc.c, cc.err)
		}
		r.nc.Close()
		ps.stop(t)
	})
}

// The backlog bound is exact: with the writer blocked on a peer that does
// not read, frames are accepted up to MaxBacklog bytes (the one being
// written included) and the next one cuts the connection off.
func TestSynctestBacklogBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := startPipeServer(t, ServerOptions{MaxFrame: 4096, MaxBacklog: 4096})
		r := rawPipe(t, ps)
		go r.nc.Write(AppendHello(nil, Hello{Version: Version, Service: 2}))
		r.mustRead()
		conn := ps.h.waitOpened(t)
		payload := make([]byte, 1024) // 1040-byte frames
		for i := range 3 {
			conn.Event(1, payload, nil)
			synctest.Wait()
			if q := conn.Queued(); q != (i+1)*1040 {
				t.Fatalf("queued %d after %d events", q, i+1)
			}
		}
		if ps.Stats().BacklogCutoffs != 0 {
			t.Fatal("cut off too early")
		}
		conn.Event(1, payload, nil) // 4160 > 4096
		synctest.Wait()
		cc := <-ps.h.closed
		if !errors.Is(cc.err, ErrBacklog) || ps.Stats().BacklogCutoffs != 1 {
			t.Fatalf("Closed with %v, stats %+v", cc.err, ps.Stats())
		}
		conn.Event(1, payload, nil) // dropped, no second report
		synctest.Wait()
		if ps.Stats().BacklogCutoffs != 1 || len(ps.h.closed) != 0 {
			t.Fatal("reported twice")
		}
		r.nc.Close()
		ps.stop(t)
	})
}

// Stopping the server ends every connection, handler calls in progress
// included, and leaves no goroutine behind; clients see the end.
func TestSynctestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ps := startPipeServer(t, ServerOptions{NodeID: 3})
		ctx := context.Background()
		var clients []*Client
		for range 5 {
			c, err := newClient(ctx, ps.ln.dial(), "pipe", 2)
			if err != nil {
				t.Fatal(err)
			}
			if c.NodeID() != 3 {
				t.Fatalf("node id %d", c.NodeID())
			}
			clients = append(clients, c)
		}
		// One connection has a batch the daemon holds.
		if err := clients[0].Send(ctx, fnNoDone); err != nil {
			t.Fatal(err)
		}
		if err := clients[0].Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range clients[1:] {
			if st, _, err := c.Call(ctx, fnEcho, []byte("x")); err != nil || st != service.OK {
				t.Fatalf("Call: %v %v", st, err)
			}
		}
		synctest.Wait()
		ps.stop(t)
		for range clients {
			if cc := <-ps.h.closed; !errors.Is(cc.err, ErrServerClosed) {
				t.Fatalf("Closed with %v", cc.err)
			}
		}
		for _, c := range clients {
			for range c.Events() {
			}
			if !errors.Is(c.Err(), ErrDisconnected) {
				t.Fatalf("client Err %v", c.Err())
			}
			if _, _, err := c.Call(ctx, fnEcho); err == nil {
				t.Fatal("Call after the server stopped succeeded")
			}
			c.Close()
		}
		close(ps.h.release)
		if st := ps.Stats(); st.Open != 0 || st.Total != 5 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// A client's handshake is bounded when its context has no deadline.
func TestSynctestClientHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		go io.Copy(io.Discard, b) // a "server" that never answers
		start := time.Now()
		_, err := newClient(context.Background(), a, "pipe", 2)
		if err == nil || time.Since(start) != handshakeTimeout {
			t.Fatalf("newClient: %v after %v", err, time.Since(start))
		}
		a.Close()
		b.Close()
	})
}
