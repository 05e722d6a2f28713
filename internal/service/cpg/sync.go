package cpg

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

type syncPhase uint8

const (
	syncIdle     syncPhase = iota
	syncDownlist           // SyncInit done; DOWNLIST to send
	syncJoinlist           // DOWNLIST sent; JOINLIST(s) to send
	syncSent               // everything sent; waiting for SyncActivate
)

// joinlistEntry is one process announced by another node's JOINLIST.
type joinlistEntry struct {
	from, pid uint32
	group     string
}

// syncData is the CPG sync state (corosync's my_member_list,
// my_old_member_list, the downlist and the stored joinlist messages).
type syncData struct {
	phase syncPhase
	ring  service.RingID
	// members is the new ring's member list (my_member_list); oldMembers
	// the one of the last sync activated (my_old_member_list).
	members, oldMembers []service.NodeID
	// downlist are the nodes of oldMembers not in the transitional list.
	downlist []service.NodeID
	// joinlists are the entries of other nodes' JOINLISTs delivered since
	// the last activation or abort.
	joinlists []joinlistEntry
	// local is this node's JOINLIST content for this sync, and next how
	// many entries have been sent.
	local []JoinEntry
	next  int
}

// SyncInit starts a sync: it records the new member list and computes the
// downlist, the members of the last activated ring that are not in the
// transitional list (corosync's cpg_sync_init).
func (e *Engine) SyncInit(trans, members []service.NodeID, ring service.RingID) {
	s := &e.sync
	s.phase = syncDownlist
	s.ring = ring
	s.members = append(s.members[:0], members...)
	s.downlist = s.downlist[:0]
	for _, n := range s.oldMembers {
		if !slices.Contains(trans, n) {
			s.downlist = append(s.downlist, n)
		}
	}
	s.local, s.next = nil, 0
	// JOINLISTs delivered before this sync's CPG round belong to an
	// earlier, interrupted sync (a JOINLIST carries no ring id): applying
	// them at this activation would bring back processes that are gone.
	// This sync's JOINLISTs are all delivered after this call, since every
	// node sends its own only once this round has started.
	s.joinlists = s.joinlists[:0]
	e.log.Debug("cpg sync init", "ring", ring.String(), "members", len(members), "left", len(s.downlist))
}

// SyncProcess sends this node's DOWNLIST, then its JOINLIST if it has
// local processes (split in several JOINLISTs if one would exceed
// API.MaxMessage). It returns false when the send queue is full: the call
// is repeated and goes on where it stopped.
func (e *Engine) SyncProcess() bool {
	s := &e.sync
	if s.phase == syncDownlist {
		left := s.downlist[:min(len(s.downlist), MaxDownListNodes)]
		e.buf, _ = AppendDownList(e.buf[:0], DownList{OldMembers: uint32(len(s.oldMembers)), Left: left})
		if !e.syncSend(e.buf) {
			return false
		}
		s.phase = syncJoinlist
		s.local, s.next = e.localProcesses(), 0
		if len(s.local) > 0 {
			e.log.Debug("sending joinlist to cluster", "entries", len(s.local))
		}
	}
	if s.phase == syncJoinlist {
		per := max(1, (e.api.MaxMessage()-JoinListHeaderSize)/JoinListEntrySize)
		for s.next < len(s.local) {
			n := min(per, len(s.local)-s.next)
			e.buf, _ = AppendJoinList(e.buf[:0], JoinList{Entries: s.local[s.next : s.next+n]})
			if !e.syncSend(e.buf) {
				return false
			}
			s.next += n
		}
		s.phase = syncSent
	}
	return true
}

// syncSend reports whether msg was queued; any error but a full queue is
// logged and treated as sent (the next configuration change recovers).
func (e *Engine) syncSend(msg []byte) bool {
	err := e.api.Send(msg, totem.Agreed)
	switch {
	case err == nil:
		return true
	case errors.Is(err, totem.ErrTryAgain):
		return false
	default:
		e.log.Warn("cpg: cannot send sync message", "err", err)
		return true
	}
}

// localProcesses lists this node's processes, as the JOINLIST carries
// them: ascending pid, then group name.
func (e *Engine) localProcesses() []JoinEntry {
	self := e.api.NodeID()
	var out []JoinEntry
	for _, g := range e.groups {
		for _, m := range g.members {
			if m.NodeID == self {
				out = append(out, JoinEntry{PID: m.PID, Group: g.key})
			}
		}
	}
	slices.SortFunc(out, func(a, b JoinEntry) int {
		return cmp.Or(cmp.Compare(a.PID, b.PID), strings.Compare(string(a.Group), string(b.Group)))
	})
	return out
}

// execJoinList stores another node's JOINLIST for the next activation.
// Like corosync, it stores JOINLISTs whenever they arrive; in practice
// they arrive during a sync, between SyncInit and SyncActivate. Our own
// are not needed: our processes are never added or removed by sync.
func (e *Engine) execJoinList(from uint32, jl JoinList) {
	e.log.Debug("got joinlist message from node", "node", from, "entries", len(jl.Entries))
	if from == e.api.NodeID() {
		return
	}
	for _, je := range jl.Entries {
		e.sync.joinlists = append(e.sync.joinlists, joinlistEntry{from: from, pid: je.PID, group: string(je.Group)})
	}
}

// SyncActivate applies the sync (corosync's cpg_sync_activate):
//
//  1. the processes of the nodes in the downlist are removed, one confchg
//     (reason NODEDOWN) per group, groups in name order;
//  2. the processes of other nodes' JOINLISTs are added, one confchg
//     (reason NODEUP) per group, groups in name order, each list
//     ascending;
//  3. every process of another node that no JOINLIST of this sync listed
//     is removed with its own confchg (reason PROCDOWN: "zombie"
//     cleanup), in (node, pid, group) order;
//  4. connections that track the totem membership get an
//     EvTotemConfChg.
func (e *Engine) SyncActivate() {
	s := &e.sync
	s.oldMembers = append(s.oldMembers[:0], s.members...)
	self := e.api.NodeID()
	groups := e.sortedGroups()

	// 1. Nodes that left.
	if len(s.downlist) > 0 {
		for _, g := range groups {
			left := e.addrs[:0]
			g.members = slices.DeleteFunc(g.members, func(m Member) bool {
				if slices.Contains(s.downlist, m.NodeID) {
					left = append(left, Address{NodeID: m.NodeID, PID: m.PID, Reason: ReasonNodeDown})
					return true
				}
				return false
			})
			e.addrs = left
			for p := range g.partial {
				if slices.Contains(s.downlist, p.NodeID) {
					e.dropPartial(g, p)
				}
			}
			if len(left) > 0 {
				e.log.Debug("cpg: processes of left nodes removed", "group", g.name, "left", len(left))
				e.notify(g, nil, left)
			}
		}
	}

	// 2. Processes announced by JOINLISTs.
	listed := make(map[joinlistEntry]bool, len(s.joinlists))
	joinedBy := map[*group][]Address{}
	for _, je := range s.joinlists {
		listed[je] = true
		g := e.groupFor([]byte(je.group))
		m := Member{NodeID: je.from, PID: je.pid}
		i, found := g.find(m)
		if found {
			continue
		}
		g.members = slices.Insert(g.members, i, m)
		joinedBy[g] = append(joinedBy[g], Address{NodeID: je.from, PID: je.pid, Reason: ReasonNodeUp})
	}
	groups = e.sortedGroups()
	for _, g := range groups {
		if list := joinedBy[g]; len(list) > 0 {
			slices.SortFunc(list, func(a, b Address) int {
				return memberCmp(Member{NodeID: a.NodeID, PID: a.PID}, Member{NodeID: b.NodeID, PID: b.PID})
			})
			e.notify(g, list, nil)
		}
	}

	// 3. Zombies: remote processes no JOINLIST listed.
	type zombie struct {
		g *group
		m Member
	}
	var zombies []zombie
	for _, g := range groups {
		for _, m := range g.members {
			if m.NodeID != self && !listed[joinlistEntry{from: m.NodeID, pid: m.PID, group: g.name}] {
				zombies = append(zombies, zombie{g, m})
			}
		}
	}
	slices.SortFunc(zombies, func(a, b zombie) int {
		return cmp.Or(memberCmp(a.m, b.m), strings.Compare(a.g.name, b.g.name))
	})
	for _, z := range zombies {
		e.log.Debug("cpg: removing process not in any joinlist", "node", z.m.NodeID, "pid", z.m.PID, "group", z.g.name)
		e.addrs = append(e.addrs[:0], Address{NodeID: z.m.NodeID, PID: z.m.PID, Reason: ReasonProcDown})
		e.notify(z.g, nil, e.addrs)
		if i, found := z.g.find(z.m); found {
			z.g.members = slices.Delete(z.g.members, i, i+1)
		}
		e.dropPartial(z.g, z.m)
	}
	for _, g := range groups {
		e.maybeDrop(g)
	}
	s.joinlists = s.joinlists[:0]
	s.downlist = s.downlist[:0]
	s.local, s.next = nil, 0
	s.phase = syncIdle

	// 4. The totem membership.
	e.totemRing = s.ring
	e.totemMembers = append(e.totemMembers[:0], s.members...)
	e.totemKnown = true
	e.ev = AppendTotemConfChgEvent(e.ev[:0], TotemConfChgEvent{Ring: e.totemRing, Members: e.totemMembers})
	for _, c := range e.sortedConns() {
		if c.track {
			c.sc.Event(EvTotemConfChg, e.ev, nil)
		}
	}
}

// SyncAbort discards what this sync collected (corosync frees the stored
// joinlists); the next SyncInit starts over from the last activated
// member list.
func (e *Engine) SyncAbort() {
	s := &e.sync
	s.joinlists = s.joinlists[:0]
	s.local, s.next = nil, 0
	s.phase = syncIdle
	e.log.Debug("cpg sync aborted")
}
