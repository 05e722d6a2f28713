package ipc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/service"
)

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendHeader(nil, Header{Length: 16, Kind: KindRequest, Fn: 1, ID: 2}))
	f.Add(AppendHello(nil, Hello{Version: 1, Service: 2}))
	f.Add(AppendWelcome(nil, service.OK, Welcome{Version: 1, MaxFrame: DefaultMaxFrame}))
	f.Add(AppendHeader(nil, Header{Length: 8, Kind: KindRequest}))
	f.Add(AppendHeader(nil, Header{Length: DefaultMaxFrame + 1, Kind: KindRequest}))
	f.Add(AppendHeader(nil, Header{Length: 16, Kind: 6}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, max := range []int{0, MinMaxFrame} {
			h, err := ParseHeader(b, max)
			if max == 0 {
				max = DefaultMaxFrame
			}
			if len(b) < HeaderSize {
				if !errors.Is(err, ErrShortHeader) {
					t.Fatalf("%d bytes: %v", len(b), err)
				}
				continue
			}
			if got := AppendHeader(nil, h); !bytes.Equal(got, b[:HeaderSize]) {
				t.Fatalf("re-encoded % x, input % x", got, b[:HeaderSize])
			}
			var want error
			switch {
			case h.Length < HeaderSize:
				want = ErrFrameLength
			case int64(h.Length) > int64(max):
				want = ErrFrameTooBig
			case h.Kind == 0 || h.Kind > KindEvent:
				want = ErrFrameKind
			}
			if want == nil {
				if err != nil {
					t.Fatalf("%+v: %v", h, err)
				}
				continue
			}
			var fe *FrameError
			if !errors.Is(err, want) || !errors.As(err, &fe) || fe.Header != h || err.Error() == "" {
				t.Fatalf("%+v: %v, want %v", h, err, want)
			}
		}
	})
}

func FuzzHello(f *testing.F) {
	f.Add(AppendHello(nil, Hello{Version: 1, Service: 2})[HeaderSize:])
	f.Add([]byte("CGIP"))
	f.Add([]byte("CGIX\x01\x00\x02\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := ParseHello(p)
		if err != nil {
			if !errors.Is(err, ErrShortPayload) && !errors.Is(err, ErrBadMagic) {
				t.Fatalf("unexpected error %v", err)
			}
			if len(p) >= HelloSize && string(p[:4]) == Magic {
				t.Fatalf("valid payload refused: %v", err)
			}
			return
		}
		if len(p) < HelloSize || string(p[:4]) != Magic {
			t.Fatalf("accepted % x", p)
		}
		if got := AppendHello(nil, h)[HeaderSize:]; !bytes.Equal(got, p[:HelloSize]) {
			t.Fatalf("re-encoded % x, input % x", got, p[:HelloSize])
		}
	})
}

func FuzzWelcome(f *testing.F) {
	f.Add(AppendWelcome(nil, service.OK, Welcome{Version: 1, Service: 2, NodeID: 3, MaxFrame: DefaultMaxFrame})[HeaderSize:])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, p []byte) {
		w, err := ParseWelcome(p)
		if err != nil {
			if !errors.Is(err, ErrShortPayload) || len(p) >= WelcomeSize {
				t.Fatalf("%d bytes: %v", len(p), err)
			}
			return
		}
		if got := AppendWelcome(nil, service.OK, w)[HeaderSize:]; !bytes.Equal(got, p[:WelcomeSize]) {
			t.Fatalf("re-encoded % x, input % x", got, p[:WelcomeSize])
		}
	})
}

// echoHandler answers every request with an id, and turns fnEvent
// requests into events. It keeps no per-connection state, so fuzzing can
// open millions of connections.
type echoHandler struct{ opens, closes atomic.Int64 }

func (h *echoHandler) Open(c *Conn, svc uint16) service.Status {
	if svc == 99 {
		return service.ErrNotExist
	}
	h.opens.Add(1)
	return service.OK
}

func (h *echoHandler) Requests(c *Conn, batch []service.Request, done func()) {
	for _, r := range batch {
		if r.Fn == fnEvent {
			c.Event(7, r.Payload, nil)
		}
		if r.ID != 0 {
			c.Reply(r.ID, service.OK, r.Payload)
		}
	}
	done()
}

func (h *echoHandler) Closed(c *Conn, err error) { h.closes.Add(1) }

// FuzzServerStream feeds arbitrary bytes to a live server connection, then
// checks that the server closed that connection, sent only well-formed
// frames, forgot the connection, and serves a good client.
func FuzzServerStream(f *testing.F) {
	hello := AppendHello(nil, Hello{Version: 1, Service: 2})
	f.Add([]byte{})
	f.Add(hello)
	f.Add(append(append([]byte(nil), hello...), request(fnEcho, 1, []byte("abc"))...))
	f.Add(append(append([]byte(nil), hello...), request(fnEvent, 0, []byte("ev"))...))
	f.Add(append(append([]byte(nil), hello...), hello...))
	f.Add(append(append([]byte(nil), hello...), AppendHeader(nil, Header{Length: 1 << 30, Kind: KindRequest, ID: 5})...))
	f.Add(append(append([]byte(nil), hello...), request(fnEcho, 1, []byte("abc"))[:10]...))
	f.Add(request(fnEcho, 1, nil))
	f.Add(AppendHello(nil, Hello{Version: 2, Service: 2}))
	f.Add(AppendHello(nil, Hello{Version: 1, Service: 99}))
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte("\x10\x00\x01\x0f\x00\x10\x00\x00\x00\x00")) // part of a header, then EOF

	h := &echoHandler{}
	ts := startServer(f, ServerOptions{MaxFrame: 64 << 10}, h)
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("unix", ts.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		uc := nc.(*net.UnixConn)
		uc.SetDeadline(time.Now().Add(10 * time.Second))
		written := make(chan struct{})
		go func() {
			uc.Write(data) // the server may close first
			uc.CloseWrite()
			close(written)
		}()
		// Whatever comes back is well-formed, and then the server closes.
		fr := newFrameReader(uc, 4096, MaxMaxFrame)
		for {
			_, _, err := fr.next()
			if err == errNeedMore {
				if err := fr.fill(); err != nil {
					if errors.Is(err, net.ErrClosed) || isTimeout(err) {
						t.Fatalf("server did not close the connection: %v", err)
					}
					break // EOF or reset
				}
				continue
			}
			if err != nil {
				t.Fatalf("server sent a bad frame: %v", err)
			}
		}
		<-written

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Dial(ctx, ts.Addr(), 2)
		if err != nil {
			t.Fatalf("good client after the input: %v", err)
		}
		st, p, err := c.Call(ctx, fnEcho, []byte("ok"))
		c.Close()
		if err != nil || st != service.OK || string(p) != "ok" {
			t.Fatalf("good client: %v %q %v", st, p, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for ts.Stats().Open != 0 || h.opens.Load() != h.closes.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("connections not released: %+v, %d opens, %d closes", ts.Stats(), h.opens.Load(), h.closes.Load())
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
