package cpg_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/corogo/corogo/cpg"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	proto "github.com/corogo/corogo/internal/service/cpg"
)

// rawHandler is a scripted daemon: it answers the requests a client makes
// at Dial and JOIN, and lets the test decide what a MCAST does.
type rawHandler struct {
	mcast func(c *ipc.Conn, r service.Request) (hold bool)

	mu   sync.Mutex
	held []func()
	free bool // released: hold nothing any more
}

func (h *rawHandler) Open(*ipc.Conn, uint16) service.Status { return service.OK }
func (h *rawHandler) Closed(*ipc.Conn, error)               {}
func (h *rawHandler) Requests(c *ipc.Conn, batch []service.Request, done func()) {
	hold := false
	for _, r := range batch {
		switch r.Fn {
		case proto.ReqMaxAtomic:
			c.Reply(r.ID, service.OK, proto.AppendMaxAtomicReply(nil, 1<<20))
		case proto.ReqJoin:
			c.Reply(r.ID, service.OK, nil)
		case proto.ReqMcast:
			hold = h.mcast(c, r) || hold
		default:
			c.Reply(r.ID, service.ErrNotSupport, nil)
		}
	}
	h.mu.Lock()
	if hold && !h.free {
		h.held = append(h.held, done)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	done()
}

// release lets the server read on, for good.
func (h *rawHandler) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.free = true
	for _, d := range h.held {
		d()
	}
	h.held = nil
}

// rawServer serves h on a fresh socket until the test ends.
func rawServer(t *testing.T, h *rawHandler) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cpgraw")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	srv, err := ipc.Listen(ipc.ServerOptions{Path: path, NodeID: 9})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { srv.Serve(ctx, h); close(served) }()
	t.Cleanup(func() {
		h.release()
		cancel()
		<-served
		os.RemoveAll(dir)
	})
	return path
}

// TestSendError: a pipelined message the daemon refuses comes back as a
// *SendError event.
func TestSendError(t *testing.T) {
	h := &rawHandler{mcast: func(c *ipc.Conn, r service.Request) bool {
		c.Event(proto.EvError, proto.AppendErrorEvent(nil, proto.ErrorEvent{Fn: proto.ReqMcast, Status: service.ErrNotExist}), nil)
		return false
	}}
	c, err := cpg.Dial(testCtx(t), cpg.WithSocket(rawServer(t, h)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	join(t, c, "g")
	mcast(t, c, "g", "x")
	ev, ok := next(t, c).(*cpg.SendError)
	if !ok {
		t.Fatal("no SendError")
	}
	var se *cpg.StatusError
	if !errors.Is(ev.Err, cpg.ErrNotJoined) || !errors.As(ev.Err, &se) || se.Op != "mcast" {
		t.Fatalf("SendError %v", ev.Err)
	}
}

// TestTryMcastFullSocket: when the daemon stops reading (without flow
// control) TryMcast gives up instead of blocking, and Mcast waits for
// its context.
func TestTryMcastFullSocket(t *testing.T) {
	h := &rawHandler{mcast: func(*ipc.Conn, service.Request) bool { return true }}
	c, err := cpg.Dial(testCtx(t), cpg.WithSocket(rawServer(t, h)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	join(t, c, "g")
	defer h.release()
	data := make([]byte, 64<<10)
	// TryMcast gives up as soon as the transport would wait, also for a
	// writer that is merely busy: go on until it keeps giving up.
	sent, refused := 0, 0
	for refused < 20 {
		start := time.Now()
		err := c.TryMcast("g", cpg.Agreed, data)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("TryMcast took %v", d)
		}
		switch {
		case errors.Is(err, cpg.ErrTryAgain):
			refused++
			time.Sleep(5 * time.Millisecond)
		case err != nil:
			t.Fatal(err)
		default:
			refused = 0
			if sent++; sent > 10000 {
				t.Fatal("the socket never fills")
			}
		}
	}
	if c.FlowControl() {
		t.Fatal("flow control on")
	}
	short, cancel := context.WithTimeout(testCtx(t), 30*time.Millisecond)
	defer cancel()
	if err := c.Mcast(short, "g", cpg.Agreed, data); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Mcast on a full socket: %v", err)
	}
}

// TestMalformedEvent: an event that does not decode ends the connection.
func TestMalformedEvent(t *testing.T) {
	h := &rawHandler{mcast: func(c *ipc.Conn, r service.Request) bool {
		c.Event(proto.EvDeliver, []byte{1, 2, 3}, nil)
		return false
	}}
	c, err := cpg.Dial(testCtx(t), cpg.WithSocket(rawServer(t, h)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.LocalNodeID() != 9 {
		t.Fatalf("node id %d", c.LocalNodeID())
	}
	join(t, c, "g")
	mcast(t, c, "g", "x")
	select {
	case ev, ok := <-c.Events():
		if ok {
			t.Fatalf("event %s", describe(ev))
		}
	case <-time.After(wait):
		t.Fatal("events not closed")
	}
	if err := c.Err(); !errors.Is(err, proto.ErrMalformed) {
		t.Fatalf("Err %v", err)
	}
}

// TestMaxNameLen: the client's bound is the daemon's.
func TestMaxNameLen(t *testing.T) {
	if cpg.MaxNameLen != proto.MaxNameLen {
		t.Fatalf("MaxNameLen %d, the daemon's %d", cpg.MaxNameLen, proto.MaxNameLen)
	}
}
