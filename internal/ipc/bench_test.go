package ipc

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/service"
)

// benchHandler hands out the connections and counts requests.
type benchHandler struct {
	conns chan *Conn
	n     atomic.Int64
}

func (h *benchHandler) Open(c *Conn, svc uint16) service.Status {
	h.conns <- c
	return service.OK
}

func (h *benchHandler) Requests(c *Conn, batch []service.Request, done func()) {
	for _, r := range batch {
		if r.ID != 0 {
			c.Reply(r.ID, service.OK, r.Payload)
		}
	}
	h.n.Add(int64(len(batch)))
	done()
}

func (h *benchHandler) Closed(c *Conn, err error) {}

func benchServer(b *testing.B) (*testServer, *benchHandler) {
	h := &benchHandler{conns: make(chan *Conn, 16)}
	return startServer(b, ServerOptions{}, h), h
}

// pace keeps a connection's queue under 1 MiB, as a daemon producing
// events for a reading client would.
func pace(c *Conn) {
	for c.Queued() > 1<<20 {
		runtime.Gosched()
	}
}

// BenchmarkEventThroughput measures Conn.Event to a client that reads
// frames as fast as it can with a plain frame reader: the server's side
// (queue, coalesced writes) and the kernel. allocs/op counts the whole
// process and should be 0.
func BenchmarkEventThroughput(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ts, h := benchServer(b)
			nc, err := net.Dial("unix", ts.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			nc.Write(AppendHello(nil, Hello{Version: 1, Service: 2}))
			conn := <-h.conns
			var frames atomic.Int64
			readerDone := make(chan struct{})
			go func() {
				defer close(readerDone)
				fr := newFrameReader(nc, 256<<10, MaxMaxFrame)
				for {
					_, _, err := fr.next()
					if err == errNeedMore {
						if fr.fill() != nil {
							return
						}
						continue
					}
					if err != nil {
						return
					}
					frames.Add(1)
				}
			}()
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				conn.Event(1, payload, nil)
				if i&255 == 255 {
					pace(conn)
				}
			}
			for frames.Load() < int64(b.N)+1 { // + the WELCOME
				runtime.Gosched()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			nc.Close()
			<-readerDone
		})
	}
}

// BenchmarkClientEvents is the same stream received through Client.Events
// (one allocation per event: its payload, which the application owns).
func BenchmarkClientEvents(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ts, h := benchServer(b)
			c := dial(b, ts.Addr(), 2)
			conn := <-h.conns
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			received := make(chan int)
			go func() {
				n := 0
				for range c.Events() {
					n++
					if n == b.N {
						break
					}
				}
				received <- n
			}()
			for i := range b.N {
				conn.Event(1, payload, nil)
				if i&255 == 255 {
					pace(conn)
				}
			}
			if r := <-received; r != b.N {
				b.Fatalf("received %d of %d events: %v", r, b.N, c.Err())
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkSend measures Client.Send of small requests (no reply) to a
// daemon that consumes them at once.
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ts, h := benchServer(b)
			c := dial(b, ts.Addr(), 2)
			<-h.conns
			ctx := context.Background()
			payload := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := c.Send(ctx, 1, payload); err != nil {
					b.Fatal(err)
				}
			}
			for h.n.Load() < int64(b.N) {
				runtime.Gosched()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
		})
	}
}

// BenchmarkCall measures one Call round trip.
func BenchmarkCall(b *testing.B) {
	ts, h := benchServer(b)
	c := dial(b, ts.Addr(), 2)
	<-h.conns
	ctx := context.Background()
	payload := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Call(ctx, 1, payload); err != nil {
			b.Fatal(err)
		}
	}
}
