package cpgsim

import (
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cpg"
	"github.com/corogo/corogo/internal/service/host"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/pg"
	"github.com/corogo/corogo/totem/totemtest"
)

// srpKey names an SRP message: the ring it was sent in and its seq. SRP
// messages are totally ordered by (ring seq, ring representative, seq),
// since ring seqs grow along every node's history.
type srpKey struct {
	ringSeq uint64
	ringRep uint32
	seq     uint32
}

func (a srpKey) less(b srpKey) bool {
	if a.ringSeq != b.ringSeq {
		return a.ringSeq < b.ringSeq
	}
	if a.ringRep != b.ringRep {
		return a.ringRep < b.ringRep
	}
	return a.seq < b.seq
}

func (a srpKey) String() string { return fmt.Sprintf("%x.%x#%d", a.ringRep, a.ringSeq, a.seq) }

// causeKey names one totem delivery the same way on every node: the SRP
// message that completed it, its sender, the CRC-32C of the item and how
// many identical items from that sender the same SRP message completed
// before it.
type causeKey struct {
	srp  srpKey
	from uint32
	crc  uint32
	occ  uint16
}

func (k causeKey) String() string {
	s := fmt.Sprintf("%v/%d:%08x", k.srp, k.from, k.crc)
	if k.occ > 0 {
		s += fmt.Sprintf("+%d", k.occ)
	}
	return s
}

// partialKey names the PARTIAL_MCAST messages of a process in a group.
type partialKey struct {
	from  cpg.Member
	group int8
}

// vecSender is the part of *totem.Node the host sends through.
type vecSender interface {
	SendVec(g totem.Guarantee, parts ...[]byte) error
}

// node is one simulated node: its current incarnation's host and CPG
// engine, what the glue knows of its totem configuration, and its client
// processes.
type node struct {
	s   *sim
	id  uint32
	inc int
	h   *host.Host
	eng *cpg.Engine

	// The latest configuration: the regular ring and whether a
	// transitional configuration followed it.
	hasReg     bool
	reg        totem.RingID
	regMembers []uint32
	trans      bool
	// confs are the hashes of the configurations installed, in order.
	confs []uint64
	// activated is set when the sync of reg completed.
	activated bool
	// lastAct is the ring of the last sync completed, and its members.
	hasLastAct  bool
	lastAct     totem.RingID
	lastMembers []uint32

	// The delivery in progress: its cause and whether it reached a local
	// process as a confchg; the SRP message of the last delivery and the
	// items of it seen, for causeKey.occ.
	inDelivery bool
	cause      causeKey
	confchged  bool
	item       item
	lastSRP    srpKey
	srpItems   []causeKey

	// partialFirst is where the first fragment of each PARTIAL_MCAST
	// message came, by sending process and group.
	partialFirst map[partialKey]srpKey

	// procs are the live processes, in creation order.
	procs []*proc
	// nextPID is the next pid; pids are never reused on a node.
	nextPID uint32
}

func (n *node) String() string { return fmt.Sprintf("n%d.%d", n.id, n.inc) }

// up reports whether the node runs a host whose clients can act.
func (n *node) up() bool {
	return n.h != nil && n.s.c.State(totem.NodeID(n.id)) == totemtest.NodeUp
}

func (n *node) send(g totem.Guarantee, parts ...[]byte) error {
	m := n.s.c.Machine(totem.NodeID(n.id))
	if m == nil {
		return totem.ErrStopped
	}
	vs, ok := m.(vecSender)
	if !ok {
		panic(fmt.Sprintf("cpgsim: node %d's machine %T has no SendVec", n.id, m))
	}
	return vs.SendVec(g, parts...)
}

// start builds the host and engine of a new incarnation.
func (n *node) start(inc int) {
	s := n.s
	n.inc = inc
	n.hasReg, n.trans, n.activated, n.hasLastAct = false, false, false, false
	n.regMembers, n.lastMembers, n.confs = nil, nil, nil
	n.inDelivery, n.srpItems, n.lastSRP = false, nil, srpKey{}
	n.partialFirst = map[partialKey]srpKey{}
	h := host.New(host.Options{
		NodeID:         n.id,
		Send:           n.send,
		MaxItem:        s.o.MaxItem,
		OnSyncComplete: n.syncDone,
	})
	n.eng = cpg.New(h.API("CPG"), cpg.Options{MaxMessage: s.o.MaxMessage})
	var e service.Engine = n.eng
	if s.o.Faults != 0 && n.id == 1 {
		e = newFaultEngine(n.eng, s.o.Faults)
	}
	if err := h.Register(e); err != nil {
		panic("cpgsim: " + err.Error())
	}
	h.Start()
	n.h = h
}

// stop discards the incarnation's host; its processes die with it.
func (n *node) stop() {
	n.h, n.eng = nil, nil
	for _, p := range n.procs {
		n.s.ck.procDown(p)
	}
	n.procs = nil
	n.s.wl.nodeDown(n)
}

func (n *node) syncDone(ring totem.RingID) {
	n.activated = ring == n.reg && n.hasReg
	n.hasLastAct, n.lastAct = true, ring
	n.lastMembers = slices.Clone(n.regMembers)
	n.s.stats.syncs++
	n.s.tr.add(entry{time: n.s.c.Now(), kind: entSyncDone, node: n.id, inc: int32(n.inc), ring: ring})
	n.s.ck.syncDone(n, ring)
}

// observe feeds every node's totem events to its host, in order: it is
// the cluster's observer, as the daemon's runner is the node's.
func (s *sim) observe(r *totemtest.Record) {
	if r.Node == 0 || int(r.Node) > len(s.nodes) {
		return
	}
	n := s.nodes[r.Node-1]
	switch r.Kind {
	case totemtest.KindStart:
		n.start(r.Inc)
	case totemtest.KindCrash, totemtest.KindLeave:
		if r.Inc == n.inc && n.h != nil {
			n.stop()
		}
	case totemtest.KindConfChange:
		if n.h == nil || r.Inc != n.inc {
			return
		}
		s.ck.now = r.Time
		cc := r.Event.Conf
		s.ck.totemConf(n, cc)
		h := uint64(cc.RingID.Seq)<<1 ^ uint64(cc.RingID.Rep)<<40
		if cc.Transitional {
			h ^= 1
		}
		for _, m := range cc.Members {
			h = mix(h ^ uint64(m))
		}
		n.confs = append(n.confs, mix(h))
		if cc.Transitional {
			n.trans = true
		} else {
			n.hasReg, n.reg, n.trans, n.activated = true, cc.RingID, false, false
			n.regMembers = append(n.regMembers[:0], cc.Members...)
		}
		n.h.Event(r.Event)
	case totemtest.KindDeliver:
		if n.h == nil || r.Inc != n.inc {
			return
		}
		s.ck.now = r.Time
		ev := r.Event
		n.begin(ev)
		n.h.Event(ev)
		n.end(ev)
	}
}

// begin sets the cause of the delivery about to be handed to the host.
func (n *node) begin(ev *totem.Event) {
	k := srpKey{ringSeq: ev.MsgRing.Seq, ringRep: ev.MsgRing.Rep, seq: ev.MsgSeq}
	if k != n.lastSRP {
		n.lastSRP, n.srpItems = k, n.srpItems[:0]
	}
	c := causeKey{srp: k, from: ev.From, crc: crc32.Checksum(ev.Data, n.s.codec.table)}
	for _, x := range n.srpItems {
		if x.from == c.from && x.crc == c.crc {
			c.occ++
		}
	}
	n.srpItems = append(n.srpItems, c)
	n.cause, n.inDelivery, n.confchged = c, true, false
	n.item = classify(ev)
	if it := n.item; it.cpg && (it.fn == cpg.FnProcJoin || it.fn == cpg.FnProcLeave) {
		n.s.ck.joinLeave(ev.From, c, it, ev.Swapped)
	}
	if n.item.fn == cpg.FnPartialMcast && n.item.cpg {
		if pm, err := cpg.DecodePartialMcast(n.item.payload, ev.Swapped); err == nil && pm.Type == cpg.PartialFirst {
			if gi := groupIndex(pm.Group); gi >= 0 {
				n.partialFirst[partialKey{from: cpg.Member{NodeID: ev.From, PID: pm.PID}, group: int8(gi)}] = k
			}
		}
	}
}

// end runs the checks due after a delivery: when it may have changed a
// group's membership, the views of the node's processes (invariant 3).
func (n *node) end(ev *totem.Event) {
	n.inDelivery = false
	if n.h == nil {
		return
	}
	it := n.item
	if n.confchged || it.sync || it.cpg && it.fn != cpg.FnMcast && it.fn != cpg.FnPartialMcast {
		// The delivery may have changed a group's membership: anything of
		// the sync protocol, the CPG exec messages other than MCAST and
		// PARTIAL_MCAST, and anything that caused a confchg.
		n.s.ck.snapshot(n)
	}
}

// item is what a delivered item is, to the glue.
type item struct {
	sync    bool   // group "sync"
	cpg     bool   // group "a", service CPG
	fn      uint16 // the CPG exec fn
	payload []byte // the service message
}

func classify(ev *totem.Event) item {
	g, payload, err := pg.ParseGroups(ev.Data, ev.Swapped)
	if err != nil {
		return item{}
	}
	if g.Has(pg.GroupSync) {
		return item{sync: true}
	}
	h, err := service.ParseHeader(payload, ev.Swapped)
	if err != nil || !g.Has(pg.GroupA) || h.Service != service.CPG {
		return item{}
	}
	return item{cpg: true, fn: h.Fn, payload: payload}
}
