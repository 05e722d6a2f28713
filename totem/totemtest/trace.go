package totemtest

import (
	"fmt"
	"io"
	"strings"

	"github.com/corogo/corogo/totem"
)

// headLen is how many leading payload bytes a trace keeps of a message, for
// PayloadName.
const headLen = 16

// traceEntry is a Record reduced to values, so that a Trace can keep
// thousands without retaining anything the cluster reuses.
type traceEntry struct {
	time    int64
	kind    Kind
	drop    DropReason
	g       totem.Guarantee
	headLen uint8
	inc     int32
	size    int32
	node    totem.NodeID
	peer    totem.NodeID
	frame   FrameInfo
	ring    totem.RingID
	seq     uint32
	num     int64
	head    [headLen]byte
	text    string // preformatted rare kinds
}

// Trace turns Records into one line per event: it keeps the last Tail
// entries (formatted only when asked) and, when Live is set, writes every
// line as it happens.
type Trace struct {
	// Live receives every line as it happens, when set.
	Live io.Writer
	// Receipts includes KindReceipt records (one per node and SRP
	// message); they are left out by default.
	Receipts bool
	// PayloadName names an application message from its first bytes and
	// its size, e.g. "3.1#45"; by default the size alone is shown.
	PayloadName func(head []byte, size int) string

	ring []traceEntry
	next int
	full bool
}

// NewTrace returns a trace that keeps the last tail entries.
func NewTrace(tail int) *Trace {
	return &Trace{ring: make([]traceEntry, max(tail, 0))}
}

// Observe records r.
func (t *Trace) Observe(r *Record) {
	if r.Kind == KindReceipt && !t.Receipts {
		return
	}
	if len(t.ring) == 0 && t.Live == nil {
		return
	}
	var e traceEntry
	t.fill(&e, r)
	if t.Live != nil {
		fmt.Fprintln(t.Live, t.format(&e))
	}
	if len(t.ring) > 0 {
		t.ring[t.next] = e
		t.next++
		if t.next == len(t.ring) {
			t.next, t.full = 0, true
		}
	}
}

func (t *Trace) fill(e *traceEntry, r *Record) {
	*e = traceEntry{time: r.Time, kind: r.Kind, drop: r.Drop, inc: int32(r.Inc), size: int32(r.Size),
		node: r.Node, peer: r.Peer, frame: r.Frame, g: r.Guarantee}
	switch r.Kind {
	case KindDeliver:
		ev := r.Event
		e.peer, e.g, e.ring, e.seq = ev.From, ev.Guarantee, ev.MsgRing, ev.MsgSeq
		e.headLen = uint8(copy(e.head[:], ev.Data))
	case KindAppSend:
		e.headLen = uint8(copy(e.head[:], r.Data))
		if r.Err != nil {
			e.text = r.Err.Error()
		}
	case KindConfChange:
		e.text = FormatConf(r.Event.Conf)
	case KindNotice:
		e.text = FormatNotice(r.Notice)
	case KindReceipt:
		e.ring, e.seq = r.Ref.Ring, r.Ref.Seq
	case KindStart, KindPersist:
		e.num = int64(r.RingSeq)
		if !r.Valid {
			e.num = -1
		}
	case KindResume:
		e.num = r.Ticks
	case KindPartition:
		e.text = FormatGroups(r.Groups)
	case KindStepError:
		e.text = r.Err.Error()
	case KindNote:
		e.text = r.Text
	}
}

// Tail returns the kept entries, oldest first, one line each.
func (t *Trace) Tail() []string {
	var out []string
	emit := func(es []traceEntry) {
		for i := range es {
			out = append(out, t.format(&es[i]))
		}
	}
	if t.full {
		emit(t.ring[t.next:])
	}
	emit(t.ring[:t.next])
	return out
}

func (t *Trace) payload(e *traceEntry) string {
	if t.PayloadName != nil {
		return t.PayloadName(e.head[:e.headLen], int(e.size))
	}
	return fmt.Sprintf("%dB", e.size)
}

func (t *Trace) format(e *traceEntry) string {
	who := "--"
	if e.node != 0 {
		who = fmt.Sprintf("n%d.%d", e.node, e.inc)
	}
	head := fmt.Sprintf("%8d %-6s %-8s", e.time, who, e.kind)
	switch e.kind {
	case KindSend:
		to := "*"
		if e.peer != totem.Broadcast {
			to = fmt.Sprint(e.peer)
		}
		return fmt.Sprintf("%s%v -> %s (%dB)", head, e.frame, to, e.size)
	case KindRecv, KindDup:
		return fmt.Sprintf("%s%v <- %d", head, e.frame, e.peer)
	case KindDrop:
		return fmt.Sprintf("%s%v <- %d: %v", head, e.frame, e.peer, e.drop)
	case KindStepError:
		return fmt.Sprintf("%s%v <- %d: %s", head, e.frame, e.peer, e.text)
	case KindDeliver:
		return fmt.Sprintf("%s%s from %d %s @%v#%d", head, t.payload(e), e.peer, guaranteeName(e.g), e.ring, e.seq)
	case KindAppSend:
		s := fmt.Sprintf("%s%s %s", head, t.payload(e), guaranteeName(e.g))
		if e.text != "" {
			s += ": " + e.text
		}
		return s
	case KindReceipt:
		return fmt.Sprintf("%s%v#%d", head, e.ring, e.seq)
	case KindStart:
		if e.num < 0 {
			return head + "persisted=none"
		}
		return fmt.Sprintf("%spersisted=%x", head, e.num)
	case KindPersist:
		return fmt.Sprintf("%sringseq=%x", head, e.num)
	case KindResume:
		return fmt.Sprintf("%scatch-up=%dms queued=%d", head, e.num, e.size)
	case KindConfChange, KindNotice, KindPartition, KindNote:
		return head + e.text
	}
	return strings.TrimRight(head, " ")
}

func guaranteeName(g totem.Guarantee) string {
	if g == totem.Safe {
		return "safe"
	}
	return "agreed"
}

// FormatConf writes a configuration change compactly, e.g.
// "regular 1.d [1 2 3] joined=[3]" or "transitional 1.d [1 2] left=[4]".
func FormatConf(c *totem.ConfChange) string {
	if c == nil {
		return "conf=nil"
	}
	kind := "regular"
	if c.Transitional {
		kind = "transitional"
	}
	s := fmt.Sprintf("%s %v %s", kind, c.RingID, FormatIDs(c.Members))
	if len(c.Joined) > 0 {
		s += " joined=" + FormatIDs(c.Joined)
	}
	if len(c.Left) > 0 {
		s += " left=" + FormatIDs(c.Left)
	}
	return s
}

// FormatIDs writes node ids as "[1 2 3]".
func FormatIDs(ids []totem.NodeID) string {
	return strings.ReplaceAll(fmt.Sprint(ids), ",", "")
}

// FormatGroups writes partition groups as "1,2|3,4,5".
func FormatGroups(groups [][]totem.NodeID) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		ids := make([]string, len(g))
		for j, id := range g {
			ids[j] = fmt.Sprint(id)
		}
		parts[i] = strings.Join(ids, ",")
	}
	return strings.Join(parts, "|")
}

// FormatNotice writes a notice compactly.
func FormatNotice(n *totem.Notice) string {
	switch n.Type {
	case totem.NoticeTokenLost:
		return fmt.Sprintf("token lost (%d ms), consensus in %d ms", n.Value, n.Value2)
	case totem.NoticeTokenWarning:
		return fmt.Sprintf("token not received in %d ms", n.Value)
	case totem.NoticeFailedToReceive:
		return "FAILED TO RECEIVE"
	case totem.NoticeStateChange:
		return fmt.Sprintf("state %v -> %v (reason %d)", n.OldState, n.State, n.Value)
	case totem.NoticeMembership:
		s := fmt.Sprintf("membership %v %s", n.Ring, FormatIDs(n.Members))
		if len(n.Joined) > 0 {
			s += " joined=" + FormatIDs(n.Joined)
		}
		if len(n.Left) > 0 {
			s += " left=" + FormatIDs(n.Left)
		}
		if len(n.Failed) > 0 {
			s += " failed=" + FormatIDs(n.Failed)
		}
		return s
	case totem.NoticeConsensusTimeout:
		return "consensus timeout"
	}
	return fmt.Sprintf("notice %d", n.Type)
}
