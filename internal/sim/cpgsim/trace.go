package cpgsim

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cpg"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/pg"
	"github.com/corogo/corogo/totem/totemtest"
)

// entryKind tells what a CPG trace entry reports.
type entryKind uint8

const (
	entConnect entryKind = iota + 1
	entDisconnect
	entJoin
	entLeave
	entMcast
	entDeliver
	entConfChg
	entSyncDone
	entFlow
	entTotemConf
	entNote
)

// entry is one CPG-level event, formatted only when printed.
type entry struct {
	tseq  int64 // totem records traced before it
	time  int64
	kind  entryKind
	p     *proc
	node  uint32
	inc   int32
	group int8
	g     totem.Guarantee
	st    service.Status
	size  int32
	id    MsgID
	from  cpg.Member
	ring  totem.RingID
	text  string
}

// trace interleaves the cluster's records (through a totemtest.Trace)
// with the CPG layer's entries, in the order they happen. It keeps the
// last tail lines of each for a violation report, leaving frame-level
// records (send, receive, drop, duplicate, receipt, persist) out of the
// tail; with live set it prints every line of both as it happens.
type trace struct {
	tt   *totemtest.Trace
	live io.Writer
	n    int64 // records given to tt

	ring []entry
	next int
	full bool
}

func newTrace(tail int, live io.Writer) *trace {
	t := &trace{live: live, ring: make([]entry, max(tail, 0))}
	t.tt = totemtest.NewTrace(tail)
	t.tt.Live = live
	t.tt.PayloadName = itemName
	return t
}

// Observe passes a cluster record to the totem trace.
func (t *trace) Observe(r *totemtest.Record) {
	if t.live == nil {
		if len(t.ring) == 0 {
			return
		}
		switch r.Kind {
		case totemtest.KindSend, totemtest.KindRecv, totemtest.KindDrop, totemtest.KindDup,
			totemtest.KindReceipt, totemtest.KindPersist:
			return
		}
	}
	if r.Kind == totemtest.KindReceipt {
		return
	}
	t.tt.Observe(r)
	t.n++
}

// add records a CPG entry.
func (t *trace) add(e entry) {
	if t.live == nil && len(t.ring) == 0 {
		return
	}
	e.tseq = t.n
	if t.live != nil {
		fmt.Fprintln(t.live, e.format())
	}
	if len(t.ring) > 0 {
		t.ring[t.next] = e
		t.next++
		if t.next == len(t.ring) {
			t.next, t.full = 0, true
		}
	}
}

// tail returns the kept lines of both traces, merged in order, from the
// point both cover.
func (t *trace) tail() []string {
	tl := t.tt.Tail()
	first := t.n - int64(len(tl)) // index of tl[0]
	var es []entry
	if t.full {
		es = append(es, t.ring[t.next:]...)
	}
	es = append(es, t.ring[:t.next]...)
	start := first
	if t.full && len(es) > 0 {
		start = max(start, es[0].tseq)
	}
	var out []string
	j := 0
	for i, l := range tl {
		idx := first + int64(i)
		for ; j < len(es) && es[j].tseq <= idx; j++ {
			if es[j].tseq >= start {
				out = append(out, es[j].format())
			}
		}
		if idx >= start {
			out = append(out, l)
		}
	}
	for ; j < len(es); j++ {
		out = append(out, es[j].format())
	}
	return out
}

func guaranteeName(g totem.Guarantee) string {
	if g == totem.Safe {
		return "safe"
	}
	return "agreed"
}

func (e *entry) format() string {
	who := fmt.Sprintf("n%d.%d", e.node, e.inc)
	if e.p != nil {
		who = e.p.String()
	}
	head := fmt.Sprintf("%8d %-6s %-8s", e.time, fmt.Sprintf("n%d.%d", e.node, e.inc), "cpg")
	switch e.kind {
	case entConnect:
		return fmt.Sprintf("%s%s connect conn=%d -> %v", head, who, e.size, e.st)
	case entDisconnect:
		return fmt.Sprintf("%s%s disconnect", head, who)
	case entJoin:
		return fmt.Sprintf("%s%s join %s -> %v", head, who, groupLabel(int(e.group)), e.st)
	case entLeave:
		return fmt.Sprintf("%s%s leave %s -> %v", head, who, groupLabel(int(e.group)), e.st)
	case entMcast:
		s := fmt.Sprintf("%s%s mcast %s %v/%dB %s", head, who, groupLabel(int(e.group)), e.id, e.size, guaranteeName(e.g))
		if e.size < HeaderSize {
			s = fmt.Sprintf("%s%s mcast %s tiny/%dB %s", head, who, groupLabel(int(e.group)), e.size, guaranteeName(e.g))
		}
		if e.text != "" {
			s += " " + e.text
		}
		return fmt.Sprintf("%s -> %v", s, e.st)
	case entDeliver:
		name := fmt.Sprintf("%v/%dB", e.id, e.size)
		if e.size < HeaderSize {
			name = fmt.Sprintf("tiny/%dB", e.size)
		}
		return fmt.Sprintf("%s%s deliver %s from %d/%d %s %s", head, who, groupLabel(int(e.group)), e.from.NodeID, e.from.PID, name, guaranteeName(e.g))
	case entConfChg:
		return fmt.Sprintf("%s%s confchg %s %s", head, who, groupLabel(int(e.group)), e.text)
	case entSyncDone:
		return fmt.Sprintf("%ssync complete %v", head, e.ring)
	case entFlow:
		return fmt.Sprintf("%s%s flow control %s", head, who, e.text)
	case entTotemConf:
		return fmt.Sprintf("%s%s totem confchg %v %s", head, who, e.ring, e.text)
	case entNote:
		return head + e.text
	}
	return head
}

// formatAddrs writes confchg lists as "1/101 2/104:join".
func formatAddrs(list []cpg.Address) string {
	var sb strings.Builder
	for i, a := range list {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%d/%d", a.NodeID, a.PID)
		if a.Reason != cpg.ReasonUndefined {
			fmt.Fprintf(&sb, ":%s", reasonName(a.Reason))
		}
	}
	return sb.String()
}

func reasonName(r cpg.Reason) string {
	switch r {
	case cpg.ReasonJoin:
		return "join"
	case cpg.ReasonLeave:
		return "leave"
	case cpg.ReasonNodeDown:
		return "nodedown"
	case cpg.ReasonNodeUp:
		return "nodeup"
	case cpg.ReasonProcDown:
		return "procdown"
	}
	return fmt.Sprintf("reason%d", uint32(r))
}

// formatMembers writes a member list as "[1/101 2/104]".
func formatMembers(ms []cpg.Member) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, m := range ms {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%d/%d", m.NodeID, m.PID)
	}
	sb.WriteByte(']')
	return sb.String()
}

// itemName names a totem item from its first bytes, for the totem trace:
// "cpg.mcast/300B", "sync.barrier/40B".
func itemName(head []byte, size int) string {
	switch {
	case len(head) >= len(pg.GroupHeaderA)+4 && string(head[:len(pg.GroupHeaderA)]) == pg.GroupHeaderA:
		id := binary.LittleEndian.Uint32(head[len(pg.GroupHeaderA):])
		svc, fn := service.ID(id>>16), uint16(id)
		if svc != service.CPG {
			return fmt.Sprintf("%v.%d/%dB", svc, fn, size)
		}
		names := map[uint16]string{cpg.FnProcJoin: "procjoin", cpg.FnProcLeave: "procleave", cpg.FnJoinList: "joinlist",
			cpg.FnMcast: "mcast", cpg.FnDownList: "downlist", cpg.FnPartialMcast: "partial"}
		if n, ok := names[fn]; ok {
			return fmt.Sprintf("cpg.%s/%dB", n, size)
		}
		return fmt.Sprintf("cpg.%d/%dB", fn, size)
	case len(head) >= len(pg.GroupHeaderSync)+4 && string(head[:len(pg.GroupHeaderSync)]) == pg.GroupHeaderSync:
		switch uint16(binary.LittleEndian.Uint32(head[len(pg.GroupHeaderSync):])) {
		case 0:
			return fmt.Sprintf("sync.barrier/%dB", size)
		case 1:
			return fmt.Sprintf("sync.build/%dB", size)
		}
		return fmt.Sprintf("sync.?/%dB", size)
	}
	return fmt.Sprintf("?/%dB", size)
}
