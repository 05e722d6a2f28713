package vqsim

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/host"
	"github.com/corogo/corogo/internal/service/quorum"
	"github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/pg"
	"github.com/corogo/corogo/totem/totemtest"
)

// node is one nodelist node: its partition, its ev_tracking store (which
// survives restarts, as corosync's file does) and, while it is up, the
// incarnation's host, engines, quorum device and admin connection.
type node struct {
	cl       *Cluster
	id       uint32       // nodelist id
	tid      totem.NodeID // totem id in the simulated cluster
	part     int
	settings votequorum.Settings
	ev       *votequorum.MemStore

	inc      int
	h        *host.Host
	vq       *votequorum.Engine
	q        *quorum.Engine
	lastTick int64
	dev      *device
	admin    *conn

	// What the node's totem told it: the latest regular ring (nodelist
	// ids) and its members; synced when that ring's sync completed.
	hasReg     bool
	reg        totem.RingID
	regMembers []uint32
	synced     bool

	// leaveSeen lists the nodes whose LEAVING NODEINFO this node
	// delivered.
	leaveSeen []uint32

	// lastView is the quorum view last traced.
	lastView string
	// decided is the ring of votequorum's latest decision (its ring, that
	// of its latest sync_init, when it last called OnQuorum); decisions
	// counts the decisions, decisionsAtSync their count when the latest
	// sync completed. The quorum view of a ring must carry a decision
	// votequorum made in that ring (StaleView, FindingEarlyView).
	decided                    totem.RingID
	decisions, decisionsAtSync int

	// sent counts the items this incarnation handed to totem, delivered
	// those of them it delivered back: the node has nothing in flight
	// when they are equal (totem delivers everything a node sends to the
	// node itself, in every configuration).
	sent, delivered int
	// ringDelivered counts the deliveries since the latest regular
	// configuration: the members of a ring have delivered the same
	// messages (a prefix of one agreed order) when their counts agree.
	ringDelivered int
}

// up reports whether the node runs (an incarnation is alive and not
// paused).
func (n *node) up() bool {
	return n.h != nil && n.cl.c.State(n.tid) == totemtest.NodeUp
}

// alive reports whether the node has an incarnation (up or paused).
func (n *node) alive() bool { return n.h != nil }

// vecSender is the part of *totem.Node the host sends through.
type vecSender interface {
	SendVec(g totem.Guarantee, parts ...[]byte) error
}

func (n *node) send(g totem.Guarantee, parts ...[]byte) error {
	m := n.cl.c.Machine(n.tid)
	if m == nil {
		return totem.ErrStopped
	}
	vs, ok := m.(vecSender)
	if !ok {
		panic(fmt.Sprintf("vqsim: node %d's machine %T has no SendVec", n.id, m))
	}
	err := vs.SendVec(g, parts...)
	if err == nil {
		n.sent++
	}
	return err
}

// start builds a new incarnation: a host with the quorum service and
// votequorum, wired as the daemon wires them (votequorum's decisions go
// to the quorum service's Update).
func (n *node) start(inc int) {
	cl := n.cl
	cfg, _ := cl.c.Config(n.tid)
	n.inc = inc
	n.hasReg, n.synced, n.regMembers = false, false, nil
	n.leaveSeen, n.lastView = nil, ""
	n.dev, n.admin = nil, nil
	n.sent, n.delivered = 0, 0
	n.lastTick = cl.c.Now()
	h := host.New(host.Options{
		NodeID:         totem.NodeID(n.id),
		Send:           n.send,
		MaxItem:        cfg.MaxMessageSize,
		OnSyncComplete: n.syncDone,
	})
	var qe *quorum.Engine
	var vq *votequorum.Engine
	n.decided, n.decisions, n.decisionsAtSync = totem.RingID{}, 0, 0
	vq, err := votequorum.New(h.API("VOTEQ"), votequorum.Options{
		Settings: n.settings,
		EVStore:  n.ev,
		OnQuorum: func(q bool, ring service.RingID, members []uint32) {
			if vq != nil {
				n.decided = ring
				n.decisions++
			}
			if qe != nil {
				qe.Set(q, ring, members)
			}
		},
	})
	if err != nil {
		panic(fmt.Sprintf("vqsim: node %d: %v", n.id, err))
	}
	var p quorum.Provider = vq.Provider()
	if cl.o.provider != nil {
		p = cl.o.provider(vq)
	}
	qe = quorum.New(h.API("QUORUM"), quorum.Options{Provider: p})
	for _, e := range []service.Engine{qe, vq} {
		if err := h.Register(e); err != nil {
			panic("vqsim: " + err.Error())
		}
	}
	h.Start()
	h.Tick(ms(n.lastTick))
	n.h, n.vq, n.q = h, vq, qe
	cl.note("node %d starts (incarnation %d)", n.id, inc)
}

// stop discards the incarnation.
func (n *node) stop(why string) {
	n.h, n.vq, n.q, n.dev, n.admin = nil, nil, nil, nil, nil
	n.hasReg, n.synced = false, false
	n.cl.note("node %d %s", n.id, why)
}

func ms(t int64) time.Duration { return time.Duration(t) * time.Millisecond }

// tick gives the node's engines the time, once per tick.
func (n *node) tick(now int64) {
	if n.h == nil || now <= n.lastTick {
		return
	}
	n.lastTick = now
	n.h.Tick(ms(now))
}

func (n *node) syncDone(ring totem.RingID) {
	n.synced = n.hasReg && ring == n.reg
	n.decisionsAtSync = n.decisions
	n.cl.note("node %d sync of ring %s complete", n.id, fmtRing(ring))
}

// observe hands every node's totem events to its host, in order, with
// totem ids mapped to nodelist ids, as the daemon's runner hands them
// over.
func (cl *Cluster) observe(r *totemtest.Record) {
	if cl.tr != nil {
		switch r.Kind {
		case totemtest.KindNote:
			cl.note("%s", r.Text)
		case totemtest.KindPartition:
			var gs []string
			for _, g := range r.Groups {
				gs = append(gs, fmtIDs(cl.cids(g)))
			}
			cl.note("network partitioned: %s", strings.Join(gs, " | "))
		case totemtest.KindHeal:
			cl.note("network healed")
		case totemtest.KindPause:
			cl.note("node %d paused", cl.cid(r.Node))
		case totemtest.KindResume:
			cl.note("node %d resumes", cl.cid(r.Node))
		}
	}
	n := cl.byTotem(r.Node)
	if n == nil {
		return
	}
	switch r.Kind {
	case totemtest.KindStart:
		n.start(r.Inc)
	case totemtest.KindCrash:
		if r.Inc == n.inc && n.h != nil {
			n.stop("crashes")
		}
	case totemtest.KindLeave:
		if r.Inc == n.inc && n.h != nil {
			n.stop("leaves")
		}
	case totemtest.KindConfChange, totemtest.KindDeliver:
		if n.h == nil || r.Inc != n.inc {
			return
		}
		n.tick(r.Time)
		ev := cl.mapEvent(r.Event)
		if ev.Type == totem.EventConfChange && !ev.Conf.Transitional {
			n.hasReg, n.reg, n.synced, n.ringDelivered = true, ev.Conf.RingID, false, 0
			n.regMembers = n.regMembers[:0]
			for _, m := range ev.Conf.Members {
				n.regMembers = append(n.regMembers, uint32(m))
			}
			cl.note("node %d ring %s members %s", n.id, fmtRing(ev.Conf.RingID), fmtIDs(n.regMembers))
		}
		if ev.Type == totem.EventDeliver {
			if r.Event.From == n.tid {
				n.delivered++
			}
			n.ringDelivered++
			n.sawLeaving(ev)
		}
		n.h.Event(ev)
		n.traceView()
	}
}

// mapEvent returns the event with totem ids replaced by nodelist ids.
func (cl *Cluster) mapEvent(ev *totem.Event) *totem.Event {
	m := *ev
	m.From = cl.cid(ev.From)
	m.MsgRing = cl.cidRing(ev.MsgRing)
	if ev.Conf != nil {
		c := *ev.Conf
		c.RingID = cl.cidRing(c.RingID)
		c.Members = cl.cids(c.Members)
		c.Joined = cl.cids(c.Joined)
		c.Left = cl.cids(c.Left)
		m.Conf = &c
	}
	return &m
}

func (cl *Cluster) cids(ids []totem.NodeID) []totem.NodeID {
	if ids == nil {
		return nil
	}
	out := make([]totem.NodeID, len(ids))
	for i, id := range ids {
		out[i] = cl.cid(id)
	}
	return out
}

// sawLeaving records a delivered votequorum NODEINFO announcing a clean
// shutdown (LEAVING).
func (n *node) sawLeaving(ev *totem.Event) {
	g, payload, err := pg.ParseGroups(ev.Data, ev.Swapped)
	if err != nil || !g.Has(pg.GroupA) {
		return
	}
	hdr, err := service.ParseHeader(payload, ev.Swapped)
	if err != nil || hdr.Service != service.Votequorum || hdr.Fn != votequorum.FnExecNodeInfo {
		return
	}
	ni, err := votequorum.DecodeNodeInfo(payload, ev.Swapped)
	if err != nil || ni.NodeID == 0 || ni.NodeID != uint32(ev.From) || ni.Flags&votequorum.FlagLeaving == 0 {
		return
	}
	if !slices.Contains(n.leaveSeen, ni.NodeID) {
		n.leaveSeen = append(n.leaveSeen, ni.NodeID)
	}
}

// traceView traces the node's quorum view when it changes.
func (n *node) traceView() {
	if n.cl.tr == nil || n.q == nil {
		return
	}
	v := n.q.View()
	s := fmt.Sprintf("quorate=%d ring=%s members=%s", b2i(v.Quorate), fmtRing(v.Ring), fmtIDs(v.Members))
	if s != n.lastView {
		n.lastView = s
		n.cl.note("node %d view %s", n.id, s)
	}
}

// ghosts returns the nodes the node's votequorum counts as members
// although they are not in its ring, once the ring's sync completed
// (FindingGhostVoters); nil before.
func (n *node) ghosts() []uint32 {
	if n.vq == nil || !n.synced {
		return nil
	}
	var out []uint32
	for _, x := range n.vq.Nodes() {
		if x.State == votequorum.StateMember && !slices.Contains(n.regMembers, x.ID) {
			out = append(out, x.ID)
		}
	}
	return out
}

// fakeResolver resolves a ringX_addr host name to a made-up address, so
// that a corosync.conf naming its nodes loads without DNS: the simulator
// never uses the addresses, and node ids come from nodeid.
type fakeResolver struct{}

func (fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	v := h.Sum32()
	return []netip.Addr{netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})}, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
