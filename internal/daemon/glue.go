package daemon

import (
	"context"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/runner"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/host"
)

// ipcGlue connects the IPC server's connection goroutines to the host,
// which lives on the runner's goroutine. Every call into the host is
// submitted to that goroutine. A batch of requests is released (the
// server reads on) once the engines no longer hold messages of its
// connection: that is how a full send queue pushes back on a client.
type ipcGlue struct {
	r *runner.Runner
	h *host.Host

	// Run goroutine only:
	svc  map[*ipc.Conn]service.ID
	held map[*ipc.Conn]func() // connections whose batch waits for room
}

func newGlue(r *runner.Runner, h *host.Host) *ipcGlue {
	return &ipcGlue{r: r, h: h, svc: map[*ipc.Conn]service.ID{}, held: map[*ipc.Conn]func(){}}
}

// Open implements ipc.Handler.
func (g *ipcGlue) Open(c *ipc.Conn, svc uint16) service.Status {
	st := service.ErrLibrary
	err := g.r.Call(context.Background(), func() {
		st = g.h.Open(c, service.ID(svc))
		if st == service.OK {
			g.svc[c] = service.ID(svc)
		}
	})
	if err != nil {
		return service.ErrTryAgain
	}
	return st
}

// Requests implements ipc.Handler.
func (g *ipcGlue) Requests(c *ipc.Conn, batch []service.Request, done func()) {
	g.r.Submit(func() {
		svc, ok := g.svc[c]
		if !ok {
			done()
			return
		}
		for _, req := range batch {
			g.h.Request(c, svc, req)
		}
		if g.h.Held(c, svc) {
			g.held[c] = done
			return
		}
		done()
	})
}

// Closed implements ipc.Handler.
func (g *ipcGlue) Closed(c *ipc.Conn, err error) {
	g.r.Submit(func() {
		svc, ok := g.svc[c]
		if !ok {
			return
		}
		delete(g.svc, c)
		g.h.Close(c, svc)
		if done, ok := g.held[c]; ok {
			delete(g.held, c)
			done()
		}
	})
}

// release lets connections whose messages the engines no longer hold
// read on. It runs on the Run goroutine after every Poll.
func (g *ipcGlue) release() {
	for c, done := range g.held {
		if !g.h.Held(c, g.svc[c]) {
			delete(g.held, c)
			done()
		}
	}
}
