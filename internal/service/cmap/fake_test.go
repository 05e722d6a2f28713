package cmap

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// logRec records log lines as "LEVEL msg".
type logRec struct{ lines *[]string }

func (h logRec) Enabled(context.Context, slog.Level) bool { return true }
func (h logRec) Handle(_ context.Context, r slog.Record) error {
	*h.lines = append(*h.lines, r.Level.String()+" "+r.Message)
	return nil
}
func (h logRec) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logRec) WithGroup(string) slog.Handler      { return h }

type sent struct {
	from service.NodeID
	msg  []byte
}

// ring is a loopback network: every node's Send queues the message, and
// deliver hands the queue to every node's Exec in order (agreed order).
type ring struct {
	t     *testing.T
	nodes []*node
	queue []sent
}

type node struct {
	r        *ring
	id       service.NodeID
	e        *Engine
	version  uint64
	full     int // Send fails with ErrTryAgain this many times
	lines    []string
	log      *slog.Logger
	mismatch [][2]uint64
}

func newRing(t *testing.T) *ring { return &ring{t: t} }

func (r *ring) add(id service.NodeID, version uint64) *node {
	n := &node{r: r, id: id, version: version}
	n.log = slog.New(logRec{&n.lines})
	n.e = New(n, Options{
		ConfigVersion: func() uint64 { return n.version },
		OnConfigVersionMismatch: func(local, remote uint64) {
			n.mismatch = append(n.mismatch, [2]uint64{local, remote})
		},
	})
	r.nodes = append(r.nodes, n)
	return n
}

func (n *node) NodeID() service.NodeID { return n.id }
func (n *node) Send(msg []byte, _ totem.Guarantee) error {
	if n.full > 0 {
		n.full--
		return totem.ErrTryAgain
	}
	n.r.queue = append(n.r.queue, sent{n.id, slices.Clone(msg)})
	return nil
}
func (n *node) SendVec(g totem.Guarantee, parts ...[]byte) error {
	return n.Send(slices.Concat(parts...), g)
}
func (n *node) MaxMessage() int                          { return 1 << 20 }
func (n *node) Ring() (service.RingID, []service.NodeID) { return service.RingID{}, nil }
func (n *node) Syncing() bool                            { return false }
func (n *node) Logger() *slog.Logger                     { return n.log }

// take returns the node's log lines since the last call.
func (n *node) take() []string {
	l := n.lines
	n.lines = nil
	return l
}

func (n *node) takeAbove(level string) []string {
	var out []string
	for _, l := range n.take() {
		if !strings.HasPrefix(l, level+" ") {
			out = append(out, l)
		}
	}
	return out
}

// deliver hands every queued message to the given nodes' Exec.
func (r *ring) deliver(to []*node) {
	q := r.queue
	r.queue = nil
	for _, m := range q {
		for _, n := range to {
			n.e.Exec(service.Exec{From: m.from, Fn: ExecMcast, Data: m.msg})
		}
	}
}

// sync runs one sync among nodes (their transitional lists given).
func (r *ring) sync(nodes []*node, trans map[service.NodeID][]service.NodeID) {
	var members []service.NodeID
	for _, n := range nodes {
		members = append(members, n.id)
	}
	slices.Sort(members)
	for _, n := range nodes {
		n.e.SyncInit(trans[n.id], members, service.RingID{Rep: members[0], Seq: 4})
	}
	for _, n := range nodes {
		for !n.e.SyncProcess() {
		}
	}
	r.deliver(nodes)
	for _, n := range nodes {
		n.e.SyncActivate()
	}
}
