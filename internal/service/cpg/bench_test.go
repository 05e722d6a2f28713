package cpg

import (
	"fmt"
	"testing"

	"github.com/corogo/corogo/internal/service"
)

// deliverSetup returns an engine on node 1 with receivers local clients
// (discarding their events) in group "bench", node 2 known in it, and the
// MCAST of size bytes from node 2 as an Exec.
func deliverSetup(tb testing.TB, receivers, size int) (*Engine, service.Exec, []*fakeConn) {
	api := newFakeAPI(1)
	e := New(api, Options{})
	var conns []*fakeConn
	for i := range receivers {
		c := newConn(uint64(i+1), int32(100+i))
		c.discard = true
		e.Connect(c)
		e.Request(c, joinReq(1, "bench", 0))
		conns = append(conns, c)
	}
	loop(tb, api, e)
	pj := must(AppendProcJoin(nil, ProcJoin{Group: []byte("bench"), PID: 5, Reason: ReasonJoin}))
	e.Exec(service.Exec{From: 2, Fn: FnProcJoin, Data: pj})
	msg := must(AppendMcast(nil, Mcast{Group: []byte("bench"), PID: 5, Source: Source{NodeID: 2}, Data: make([]byte, size)}))
	return e, service.Exec{From: 2, Fn: FnMcast, Data: msg}, conns
}

// BenchmarkDeliver measures an MCAST delivered to local clients: decode,
// "unknown node" check, one event per client. It must not allocate.
func BenchmarkDeliver(b *testing.B) {
	for _, receivers := range []int{1, 8} {
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("receivers=%d/size=%d", receivers, size), func(b *testing.B) {
				e, m, conns := deliverSetup(b, receivers, size)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					e.Exec(m)
				}
				if conns[0].nevents < b.N {
					b.Fatalf("%d events for %d messages", conns[0].nevents, b.N)
				}
			})
		}
	}
}

// mcastSetup returns an engine whose client has joined "bench" and whose
// API discards what is sent.
func mcastSetup(tb testing.TB) (*Engine, *fakeAPI, *fakeConn) {
	api := newFakeAPI(1)
	e := New(api, Options{})
	c := newConn(1, 100)
	e.Connect(c)
	e.Request(c, joinReq(1, "bench", 0))
	loop(tb, api, e)
	api.discard = true
	c.discard = true
	c.events, c.replies = nil, nil
	return e, api, c
}

// BenchmarkMcastRequest measures a pipelined MCAST request turned into an
// exec message handed to the API. It must not allocate.
func BenchmarkMcastRequest(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			e, api, c := mcastSetup(b)
			req := service.Request{Fn: ReqMcast, Payload: AppendMcastRequest(nil, McastRequest{Group: []byte("bench"), Data: make([]byte, size)})}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				e.Request(c, req)
			}
			if api.nsent < b.N {
				b.Fatalf("%d sent for %d requests", api.nsent, b.N)
			}
		})
	}
}

// TestHotPathAllocs holds the hot paths to zero allocations.
func TestHotPathAllocs(t *testing.T) {
	e, m, conns := deliverSetup(t, 4, 512)
	if n := testing.AllocsPerRun(200, func() { e.Exec(m) }); n != 0 {
		t.Errorf("deliver: %v allocs", n)
	}
	if conns[3].nevents < 200 {
		t.Fatalf("%d events", conns[3].nevents)
	}
	e2, api, c := mcastSetup(t)
	req := service.Request{Fn: ReqMcast, Payload: AppendMcastRequest(nil, McastRequest{Group: []byte("bench"), Data: make([]byte, 512)})}
	if n := testing.AllocsPerRun(200, func() { e2.Request(c, req) }); n != 0 {
		t.Errorf("mcast request: %v allocs", n)
	}
	if api.nsent < 200 || len(c.events) != 0 || len(c.replies) != 0 {
		t.Fatalf("%d sent, %d events, %d replies", api.nsent, len(c.events), len(c.replies))
	}
}
