package host

import (
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/pg"
)

// recorder is a fake engine that records what it gets and takes part in
// sync.
type recorder struct {
	id     service.ID
	execs  []service.Exec
	confs  []bool // Transitional flags
	synced int
}

func (r *recorder) ID() service.ID                                                { return r.id }
func (r *recorder) Name() string                                                  { return "recorder " + r.id.String() }
func (r *recorder) Exec(m service.Exec)                                           { m.Data = slices.Clone(m.Data); r.execs = append(r.execs, m) }
func (r *recorder) ConfChange(c *totem.ConfChange)                                { r.confs = append(r.confs, c.Transitional) }
func (r *recorder) SyncInit(trans, members []service.NodeID, ring service.RingID) {}
func (r *recorder) SyncProcess() bool                                             { return true }
func (r *recorder) SyncActivate()                                                 { r.synced++ }
func (r *recorder) SyncAbort()                                                    {}

// loop is a one-node ring: every item sent is delivered back in order.
type loop struct {
	h     *Host
	queue [][]byte
}

func (l *loop) send(g totem.Guarantee, parts ...[]byte) error {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	l.queue = append(l.queue, b)
	return nil
}

func (l *loop) run() {
	for len(l.queue) > 0 {
		it := l.queue[0]
		l.queue = l.queue[1:]
		l.h.Event(&totem.Event{Type: totem.EventDeliver, From: 1, Data: it})
		l.h.Poll()
	}
}

func TestHostDispatchAndSync(t *testing.T) {
	l := &loop{}
	completed := 0
	h := New(Options{NodeID: 1, Send: l.send, MaxItem: 1 << 20, OnSyncComplete: func(service.RingID) { completed++ }})
	l.h = h
	cpg, q := &recorder{id: service.CPG}, &recorder{id: service.Quorum}
	if err := h.Register(cpg); err != nil {
		t.Fatal(err)
	}
	if err := h.Register(q); err != nil {
		t.Fatal(err)
	}
	if err := h.Register(&recorder{id: service.CPG}); err == nil {
		t.Fatal("second engine for one service id accepted")
	}
	h.Start()
	ring := service.RingID{Rep: 1, Seq: 4}
	h.Event(&totem.Event{Type: totem.EventConfChange, Conf: &totem.ConfChange{Transitional: true, RingID: ring}})
	h.Event(&totem.Event{Type: totem.EventConfChange, Conf: &totem.ConfChange{RingID: ring, Members: []service.NodeID{1}}})
	if !h.Syncing() {
		t.Fatal("no sync after a regular configuration")
	}
	l.run()
	if h.Syncing() || completed != 1 || cpg.synced != 1 || q.synced != 1 {
		t.Fatalf("sync: syncing=%v completed=%d cpg=%d quorum=%d", h.Syncing(), completed, cpg.synced, q.synced)
	}
	if !slices.Equal(cpg.confs, []bool{true, false}) {
		t.Fatalf("confchgs %v", cpg.confs)
	}
	// A service message reaches its engine with the header intact.
	api := h.API("CPG")
	msg := service.AppendHeader(nil, service.CPG, 3, 20)
	msg = append(msg, 1, 2, 3, 4)
	if err := api.Send(msg, totem.Agreed); err != nil {
		t.Fatal(err)
	}
	// Unknown service and malformed items are counted and dropped.
	_ = l.send(totem.Agreed, []byte(pg.GroupHeaderA), service.AppendHeader(nil, 9, 0, 16))
	_ = l.send(totem.Agreed, []byte{0xff})
	l.run()
	if len(cpg.execs) != 1 || cpg.execs[0].Fn != 3 || !slices.Equal(cpg.execs[0].Data, msg) {
		t.Fatalf("execs %+v", cpg.execs)
	}
	st := h.Stats()
	if st.Unknown != 1 || st.Malformed != 1 || st.Exec[service.CPG] != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got := api.MaxMessage(); got != 1<<20-len(pg.GroupHeaderA) {
		t.Fatalf("MaxMessage %d", got)
	}
}
