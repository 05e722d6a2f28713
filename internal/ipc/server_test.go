package ipc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/service"
)

func TestRoundTrip(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{NodeID: 42}, h)
	c := dial(t, ts.Addr(), uint16(service.CPG))
	if c.NodeID() != 42 || c.MaxFrame() != DefaultMaxFrame || c.Service() != uint16(service.CPG) {
		t.Fatalf("NodeID %d, MaxFrame %d, Service %d", c.NodeID(), c.MaxFrame(), c.Service())
	}
	conn := h.waitOpened(t)
	if conn.Service() != uint16(service.CPG) {
		t.Fatalf("server side service %d", conn.Service())
	}
	if cr := conn.Cred(); cr.PID != int32(os.Getpid()) || cr.UID != uint32(os.Getuid()) || cr.GID != uint32(os.Getgid()) {
		t.Fatalf("Cred %+v, want pid %d uid %d gid %d", cr, os.Getpid(), os.Getuid(), os.Getgid())
	}
	ctx := context.Background()

	st, p, err := c.Call(ctx, fnEcho, []byte("hello, "), []byte("world"))
	if err != nil || st != service.OK || string(p) != "hello, world" {
		t.Fatalf("Call = %v, %q, %v", st, p, err)
	}
	st, p, err = c.Call(ctx, 77)
	if err != nil || st != service.ErrInvalidArg || len(p) != 0 {
		t.Fatalf("Call(77) = %v, %q, %v", st, p, err)
	}
	// A maximum-size request and reply.
	big := bytes.Repeat([]byte{0xab}, c.MaxFrame()-HeaderSize)
	st, p, err = c.Call(ctx, fnEcho, big)
	if err != nil || st != service.OK || !bytes.Equal(p, big) {
		t.Fatalf("big Call = %v, %d bytes, %v", st, len(p), err)
	}
	if _, _, err := c.Call(ctx, fnEcho, big, []byte{1}); !errors.Is(err, ErrFrameTooBig) {
		t.Fatalf("oversized Call: %v", err)
	}

	// Events, sent without replies and then in order.
	for i := range 100 {
		if err := c.Send(ctx, fnEvent, fmt.Appendf(nil, "event %03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		select {
		case ev := <-c.Events():
			if want := fmt.Sprintf("event %03d", i); ev.Fn != 7 || string(ev.Payload) != want {
				t.Fatalf("event %d = %d %q, want 7 %q", i, ev.Fn, ev.Payload, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d missing", i)
		}
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if cc := h.waitClosed(t); cc.c != conn || cc.err != nil {
		t.Fatalf("Closed(%v, %v), want a clean close", cc.c, cc.err)
	}
	if _, ok := <-c.Events(); ok {
		t.Fatal("Events not closed after Close")
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err after Close: %v", c.Err())
	}
	if _, _, err := c.Call(ctx, fnEcho); !errors.Is(err, ErrClosed) {
		t.Fatalf("Call after Close: %v", err)
	}
	st2 := ts.Stats()
	if st2.Total != 1 || st2.FramesIn != 104 || st2.FramesOut != 104 || st2.BytesIn == 0 || st2.BytesOut == 0 {
		t.Fatalf("stats %+v", st2)
	}
	eventually(t, "Open 0", func() bool { return ts.Stats().Open == 0 })
}

func TestManyClients(t *testing.T) {
	const clients, calls = 50, 100
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := Dial(ctx, ts.Addr(), 2)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			// Concurrent calls from several goroutines of one client.
			var cwg sync.WaitGroup
			for g := range 4 {
				cwg.Go(func() {
					for j := range calls / 4 {
						want := fmt.Sprintf("client %d goroutine %d call %d", i, g, j)
						st, p, err := c.Call(ctx, fnEcho, []byte(want))
						if err != nil || st != service.OK || string(p) != want {
							errs <- fmt.Errorf("client %d: Call = %v %q %v", i, st, p, err)
							return
						}
						if err := c.Send(ctx, fnCount); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			cwg.Wait()
			if err := c.Flush(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, "every Send counted", func() bool { return h.counted() == clients*calls })
	eventually(t, "every connection closed", func() bool { return ts.Stats().Open == 0 })
	if st := ts.Stats(); st.Total != clients || st.ProtocolErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAccessRefused(t *testing.T) {
	h := newTestHandler()
	var seen []service.Cred
	var mu sync.Mutex
	s, err := Listen(ServerOptions{Path: sockPath(t), Logger: testLogger(t), Allow: func(c service.Cred) bool {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Present as a non-root peer even when the test runs as root.
	var credMu sync.Mutex
	credOf := func(nc net.Conn) (service.Cred, error) {
		c, err := peerCred(nc)
		c.UID = 4242
		return c, err
	}
	s.credOf = func(nc net.Conn) (service.Cred, error) {
		credMu.Lock()
		defer credMu.Unlock()
		return credOf(nc)
	}
	setCred := func(f func(net.Conn) (service.Cred, error)) {
		credMu.Lock()
		credOf = f
		credMu.Unlock()
	}
	ts := serveServer(t, s, h)
	_, err = Dial(context.Background(), ts.Addr(), 2)
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("Dial: %v, want access denied", err)
	}
	var re *RefusedError
	if !errors.As(err, &re) || re.Status != service.ErrAccess || !strings.Contains(err.Error(), "access denied") {
		t.Fatalf("Dial: %v", err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].UID != 4242 || seen[0].PID != int32(os.Getpid()) {
		t.Fatalf("Allow saw %+v", seen)
	}
	mu.Unlock()
	if st := ts.Stats(); st.Refused != 1 {
		t.Fatalf("stats %+v", st)
	}
	select {
	case c := <-h.opened:
		t.Fatalf("Open called for a refused peer %v", c)
	default:
	}

	// Root is always admitted.
	setCred(func(net.Conn) (service.Cred, error) { return service.Cred{PID: 1, UID: 0, GID: 4242}, nil })
	dial(t, ts.Addr(), 2)
	// Unknown credentials are not root's.
	setCred(func(net.Conn) (service.Cred, error) { return service.Cred{}, errors.New("no creds") })
	if _, err := Dial(context.Background(), ts.Addr(), 2); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("Dial without credentials: %v", err)
	}
}

func TestUnknownServiceAndVersion(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	_, err := Dial(context.Background(), ts.Addr(), 99)
	if !errors.Is(err, ErrNoService) {
		t.Fatalf("Dial(99): %v", err)
	}
	t.Log(err)

	r := dialRaw(t, ts.Addr())
	r.write(AppendHello(nil, Hello{Version: 2, Service: 2}))
	hd, f := r.mustRead()
	if hd.Kind != KindWelcome || hd.Status != service.ErrNotSupport {
		t.Fatalf("WELCOME %+v", hd)
	}
	w, err := ParseWelcome(f[HeaderSize:])
	if err != nil || w.Version != Version {
		t.Fatalf("WELCOME %+v %v", w, err)
	}
	r.expectEOF()
	re := &RefusedError{Path: ts.Addr(), Service: 2, Status: hd.Status, Version: w.Version}
	if !errors.Is(re, ErrVersion) || !strings.Contains(re.Error(), "version") {
		t.Fatalf("%v", re)
	}
	if st := ts.Stats(); st.Rejected != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStaleSocketRemoved(t *testing.T) {
	path := sockPath(t)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	if _, err := Dial(context.Background(), path, 2); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "nothing listens on "+path) {
		t.Fatalf("Dial to a stale socket: %v", err)
	}
	h := newTestHandler()
	ts := startServer(t, ServerOptions{Path: path}, h)
	c := dial(t, ts.Addr(), 2)
	if _, _, err := c.Call(context.Background(), fnEcho); err != nil {
		t.Fatal(err)
	}
}

func TestLiveSocketRefused(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	_, err := Listen(ServerOptions{Path: ts.Addr()})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "another daemon is listening on "+ts.Addr()) {
		t.Fatalf("second Listen: %v", err)
	}
	// The first server is untouched.
	c := dial(t, ts.Addr(), 2)
	if _, _, err := c.Call(context.Background(), fnEcho); err != nil {
		t.Fatal(err)
	}

	// A path that is not a socket is never removed.
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(ServerOptions{Path: file}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen on a file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "data" {
		t.Fatalf("file changed: %q %v", b, err)
	}
}

func TestListenCreatesDirAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "d", "s")
	s, err := Listen(ServerOptions{Path: path, Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || !di.IsDir() {
		t.Fatalf("dir: %v", err)
	}
	s.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close without Serve left the socket: %v", err)
	}
	if err := s.Serve(context.Background(), newTestHandler()); err == nil {
		t.Fatal("Serve after Close succeeded")
	}

	s, err = Listen(ServerOptions{Path: sockPath(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Lstat(s.Addr()); err != nil || fi.Mode().Perm() != DefaultMode {
		t.Fatalf("default mode %v %v", fi.Mode(), err)
	}
}

func TestListenOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []ServerOptions{
		{Path: "/" + strings.Repeat("x", 120)},
		{Path: filepath.Join(dir, "a"), MaxFrame: 100},
		{Path: filepath.Join(dir, "b"), MaxFrame: MaxMaxFrame + 1},
		{Path: filepath.Join(dir, "c"), MaxFrame: 1 << 20, MaxBacklog: 1 << 19},
		{Path: filepath.Join(dir, "d"), Mode: os.ModeDir | 0o600},
	} {
		if s, err := Listen(o); err == nil {
			s.Close()
			t.Errorf("Listen(%+v) succeeded", o)
		}
	}
}

func TestMalformedFrames(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	good := dial(t, ts.Addr(), 2)
	goodConn := h.waitOpened(t)

	hdr := func(length uint32, kind Kind, id uint32) []byte {
		return AppendHeader(nil, Header{Length: length, Kind: kind, ID: id})
	}
	for _, tc := range []struct {
		name   string
		hello  bool // send a good HELLO first
		frame  []byte
		status service.Status
		id     uint32
		kind   Kind // of the answer
	}{
		{"length below header", true, hdr(8, KindRequest, 11), service.ErrInvalidArg, 11, KindReply},
		{"unknown kind", true, hdr(16, 9, 12), service.ErrInvalidArg, 12, KindReply},
		{"second HELLO", true, AppendHello(nil, Hello{Version: 1, Service: 2}), service.ErrInvalidArg, 0, KindReply},
		{"REPLY from client", true, hdr(16, KindReply, 13), service.ErrInvalidArg, 13, KindReply},
		{"oversized", true, hdr(DefaultMaxFrame+1, KindRequest, 14), service.ErrMsgTooBig, 14, KindReply},
		{"REQUEST before HELLO", false, request(fnEcho, 15, nil), service.ErrInvalidArg, 15, KindReply},
		{"oversized before HELLO", false, hdr(4096, KindHello, 16), service.ErrMsgTooBig, 16, KindReply},
		{"bad magic", false, append(hdr(28, KindHello, 0), "XXXX\x01\x00\x02\x00\x00\x00\x00\x00"...), service.ErrInvalidArg, 0, KindWelcome},
		{"short HELLO", false, append(hdr(20, KindHello, 0), "CGIP"...), service.ErrInvalidArg, 0, KindWelcome},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.Stats().ProtocolErrors
			r := dialRaw(t, ts.Addr())
			if tc.hello {
				r.hello(2)
				h.waitOpened(t)
				// A good request first: it is still served.
				r.write(request(fnEcho, 1, []byte("ok")))
			}
			r.write(tc.frame)
			if tc.hello {
				hd, f := r.mustRead()
				if hd.Kind != KindReply || hd.ID != 1 || string(f[HeaderSize:]) != "ok" {
					t.Fatalf("reply to the good request: %+v %q", hd, f)
				}
			}
			hd, _ := r.mustRead()
			if hd.Kind != tc.kind || hd.Status != tc.status || hd.ID != tc.id {
				t.Fatalf("answer %+v, want %s status %v id %d", hd, tc.kind, tc.status, tc.id)
			}
			r.expectEOF()
			if tc.hello {
				cc := h.waitClosed(t)
				if !errors.Is(cc.err, ErrProtocol) {
					t.Fatalf("Closed with %v, want a protocol error", cc.err)
				}
			}
			if got := ts.Stats().ProtocolErrors; got != before+1 {
				t.Fatalf("ProtocolErrors %d, want %d", got, before+1)
			}
			// The other client is untouched, and new ones are served.
			if st, _, err := good.Call(context.Background(), fnEcho); err != nil || st != service.OK {
				t.Fatalf("good client: %v %v", st, err)
			}
			c := dial(t, ts.Addr(), 2)
			if st, _, err := c.Call(context.Background(), fnEcho); err != nil || st != service.OK {
				t.Fatalf("new client: %v %v", st, err)
			}
			c.Close()
			h.waitOpened(t)
			h.waitClosed(t)
		})
	}
	h.mu.Lock()
	_, ok := h.conns[goodConn.ID()]
	h.mu.Unlock()
	if !ok {
		t.Fatal("the good connection was closed")
	}
}

// The client learns why the server closed it.
func TestClientSeesProtocolError(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{MaxFrame: 4096}, h)
	c := dial(t, ts.Addr(), 2)
	if c.MaxFrame() != 4096 {
		t.Fatalf("MaxFrame %d", c.MaxFrame())
	}
	// Break the protocol behind the client's back.
	c.mu.Lock()
	c.out = AppendHeader(c.out, Header{Length: 5000, Kind: KindRequest, ID: 0})
	c.mu.Unlock()
	c.wake <- struct{}{}
	select {
	case _, ok := <-c.Events():
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed")
	}
	if err := c.Err(); !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "message too big") {
		t.Fatalf("Err = %v", err)
	}
}

func TestSlowClientCutOff(t *testing.T) {
	const backlog = 1 << 20
	h := newTestHandler()
	ts := startServer(t, ServerOptions{MaxBacklog: backlog, MaxFrame: 64 << 10}, h)

	slow := dialRaw(t, ts.Addr())
	slow.hello(2)
	slowConn := h.waitOpened(t)
	fast := dial(t, ts.Addr(), 2)
	fastConn := h.waitOpened(t)

	payload := bytes.Repeat([]byte{'e'}, 1024)
	const events = 20000 // 20 MiB to each, far beyond the slow one's backlog
	received := make(chan int)
	go func() {
		n := 0
		for ev := range fast.Events() {
			if binary.LittleEndian.Uint32(ev.Payload) != uint32(n) {
				t.Errorf("event %d out of order", n)
			}
			n++
			if n == events {
				break
			}
		}
		received <- n
	}()
	start := time.Now()
	var produceTime time.Duration
	for i := range events {
		binary.LittleEndian.PutUint32(payload, uint32(i))
		t0 := time.Now()
		slowConn.Event(1, payload, nil)
		fastConn.Event(1, payload, nil)
		produceTime += time.Since(t0)
		// Pace on the reading client only, as a daemon would.
		for fastConn.Queued() > backlog/2 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	select {
	case n := <-received:
		if n != events {
			t.Fatalf("fast client got %d events", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fast client stalled")
	}
	cc := h.waitClosed(t)
	if cc.c != slowConn || !errors.Is(cc.err, ErrBacklog) {
		t.Fatalf("Closed(%v, %v), want the slow client cut off", cc.c, cc.err)
	}
	if st := ts.Stats(); st.BacklogCutoffs != 1 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d events to each of 2 clients in %v; Event calls took %v in all", events, time.Since(start), produceTime)
	// The slow client gets what was written, then the end.
	slow.expectEOF()
	if err := fast.Err(); err != nil {
		t.Fatalf("fast client: %v", err)
	}
}

func TestServeCancel(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	c := dial(t, ts.Addr(), 2)
	conn := h.waitOpened(t)
	if _, _, err := c.Call(context.Background(), fnEcho); err != nil {
		t.Fatal(err)
	}
	if err := ts.stop(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(ts.Addr()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if cc := h.waitClosed(t); cc.c != conn || !errors.Is(cc.err, ErrServerClosed) {
		t.Fatalf("Closed(%v, %v)", cc.c, cc.err)
	}
	select {
	case _, ok := <-c.Events():
		if ok {
			t.Fatal("event after stop")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Events not closed")
	}
	if _, _, err := c.Call(context.Background(), fnEcho); err == nil || !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Call after stop: %v", err)
	}
	if !errors.Is(c.Err(), ErrDisconnected) {
		t.Fatalf("Err: %v", c.Err())
	}
	if _, err := Dial(context.Background(), ts.Addr(), 2); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "no socket at "+ts.Addr()) {
		t.Fatalf("Dial after stop: %v", err)
	}
	if st := ts.Stats(); st.Open != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDialNotRunning(t *testing.T) {
	path := sockPath(t)
	_, err := Dial(context.Background(), path, 2)
	if !errors.Is(err, ErrNotRunning) || err.Error() != "corosyncd is not running (no socket at "+path+"): no such file or directory" {
		t.Fatalf("Dial: %v", err)
	}
	t.Setenv(EnvSocket, path)
	if _, err := Dial(context.Background(), "", 2); !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Dial via %s: %v", EnvSocket, err)
	}
}

func TestSendBackpressure(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	c := dial(t, ts.Addr(), 2)
	ctx := context.Background()
	// The daemon holds the first batch: the server stops reading, the
	// socket fills up, and Send must block until its context ends.
	if err := c.Send(ctx, fnNoDone); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 4096)
	sent := 0
	for {
		sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Send(sctx, fnCount, payload)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if sent > 100000 {
			t.Fatal("Send never blocked")
		}
	}
	t.Logf("Send blocked after %d frames of 4 KiB", sent)
	// Releasing the batch lets everything through.
	close(h.release)
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all Sends delivered", func() bool { return h.counted() == sent })
	if st, _, err := c.Call(ctx, fnEcho); err != nil || st != service.OK {
		t.Fatalf("Call: %v %v", st, err)
	}
}

func TestCallContext(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	c := dial(t, ts.Addr(), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// fnNoDone never replies.
	if _, _, err := c.Call(ctx, fnNoDone); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call: %v", err)
	}
	close(h.release)
	if st, _, err := c.Call(context.Background(), fnEcho); err != nil || st != service.OK {
		t.Fatalf("Call: %v %v", st, err)
	}
	c.mu.Lock()
	n := len(c.calls)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d calls still registered", n)
	}
}

func TestConnCloseFlushes(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	c := dial(t, ts.Addr(), 2)
	conn := h.waitOpened(t)
	for i := range 3000 {
		conn.Event(3, fmt.Appendf(nil, "%d", i), nil)
	}
	reason := errors.New("service shutting down")
	conn.Close(reason)
	conn.Event(3, []byte("dropped"), nil)
	n := 0
	for ev := range c.Events() {
		if string(ev.Payload) != fmt.Sprint(n) {
			t.Fatalf("event %d: %q", n, ev.Payload)
		}
		n++
	}
	if n != 3000 {
		t.Fatalf("%d events before the close", n)
	}
	if cc := h.waitClosed(t); cc.c != conn || cc.err != reason {
		t.Fatalf("Closed(%v, %v)", cc.c, cc.err)
	}
	if !errors.Is(c.Err(), ErrDisconnected) {
		t.Fatalf("Err %v", c.Err())
	}
	if ts.Stats().BacklogCutoffs != 0 {
		t.Fatal("cut off")
	}
}

// An application that never reads Events does not block Call, and Close
// still returns.
func TestUnreadEventsDoNotBlockCall(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	c := dial(t, ts.Addr(), 2)
	conn := h.waitOpened(t)
	for range 5000 {
		conn.Event(1, []byte("x"), nil)
	}
	for range 10 {
		if st, _, err := c.Call(context.Background(), fnEcho); err != nil || st != service.OK {
			t.Fatalf("Call: %v %v", st, err)
		}
	}
	done := make(chan struct{})
	go func() {
		c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked")
	}
	for range c.Events() {
	}
}

// Output queued from Open follows the WELCOME; an Open that refuses drops
// it.
func TestEventFromOpen(t *testing.T) {
	h := newTestHandler()
	h.open = func(c *Conn, svc uint16) service.Status {
		c.Event(5, []byte("from open"), nil)
		if svc == 50 {
			return service.ErrTryAgain
		}
		return service.OK
	}
	ts := startServer(t, ServerOptions{}, h)
	c := dial(t, ts.Addr(), 2)
	select {
	case ev := <-c.Events():
		if ev.Fn != 5 || string(ev.Payload) != "from open" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	_, err := Dial(context.Background(), ts.Addr(), 50)
	var re *RefusedError
	if !errors.As(err, &re) || re.Status != service.ErrTryAgain {
		t.Fatalf("Dial(50): %v", err)
	}
}

func TestHandshakePipelined(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{}, h)
	r := dialRaw(t, ts.Addr())
	// HELLO and requests in one write.
	b := AppendHello(nil, Hello{Version: 1, Service: 2})
	for i := range 10 {
		b = append(b, request(fnEcho, uint32(i+1), []byte{byte(i)})...)
	}
	r.write(b)
	hd, _ := r.mustRead()
	if hd.Kind != KindWelcome || hd.Status != service.OK {
		t.Fatalf("%+v", hd)
	}
	for i := range 10 {
		hd, f := r.mustRead()
		if hd.Kind != KindReply || hd.ID != uint32(i+1) || f[HeaderSize] != byte(i) {
			t.Fatalf("reply %d: %+v", i, hd)
		}
	}
	// A client that goes away in the middle of a frame.
	r.write(request(fnEcho, 99, []byte("abc"))[:10])
	r.nc.(*net.UnixConn).CloseWrite()
	h.waitOpened(t)
	cc := h.waitClosed(t)
	if !errors.Is(cc.err, io.ErrUnexpectedEOF) {
		t.Fatalf("Closed with %v", cc.err)
	}
}

// A reply too large for a frame becomes ErrMsgTooBig; an event too large
// closes the connection (the client could not read it).
func TestOversizedOutput(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{MaxFrame: 1024}, h)
	c := dial(t, ts.Addr(), 2)
	conn := h.waitOpened(t)
	st, _, err := c.Call(context.Background(), fnEcho, make([]byte, 1024-HeaderSize))
	if err != nil || st != service.OK {
		t.Fatalf("max-size echo: %v %v", st, err)
	}
	conn.Event(1, make([]byte, 1000), make([]byte, 100))
	cc := h.waitClosed(t)
	if cc.c != conn || !errors.Is(cc.err, ErrFrameTooBig) {
		t.Fatalf("Closed(%v, %v)", cc.c, cc.err)
	}
	for range c.Events() {
	}
	if !errors.Is(c.Err(), ErrDisconnected) {
		t.Fatalf("Err %v", c.Err())
	}
}

func TestReplyTooBig(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, ServerOptions{MaxFrame: 1024}, h)
	r := dialRaw(t, ts.Addr())
	r.hello(2)
	conn := h.waitOpened(t)
	conn.Reply(9, service.OK, make([]byte, 1024))
	hd, f := r.mustRead()
	if hd.Kind != KindReply || hd.ID != 9 || hd.Status != service.ErrMsgTooBig || len(f) != HeaderSize {
		t.Fatalf("%+v, %d bytes", hd, len(f))
	}
}

// The socket's mode is enforced by the kernel: without write permission a
// non-root process cannot connect, and Dial says so.
func TestDialPermissionDenied(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root ignores socket permissions")
	}
	h := newTestHandler()
	ts := startServer(t, ServerOptions{Mode: 0o400}, h)
	_, err := Dial(context.Background(), ts.Addr(), 2)
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), ts.Addr()) {
		t.Fatalf("Dial: %v", err)
	}
	t.Log(err)
}
