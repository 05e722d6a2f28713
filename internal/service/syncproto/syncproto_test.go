package syncproto

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

func TestBarrierGoldenBytes(t *testing.T) {
	// Sample frame 2035 (corosync-wire.md §7.2): id 0, size 0x20, ring 1.37.
	want := "00000000000000002000000000000000" + "01000000" + "3700000000000000" + "00000000"
	got := hex.EncodeToString(AppendBarrier(nil, Barrier{Ring: service.RingID{Rep: 1, Seq: 0x37}}))
	if got != want {
		t.Fatalf("barrier\n got %s\nwant %s", got, want)
	}
	m, err := Decode(AppendBarrier(nil, Barrier{Ring: service.RingID{Rep: 1, Seq: 0x37}}))
	if err != nil || m.Barrier == nil || m.Barrier.Ring.Seq != 0x37 {
		t.Fatalf("decode: %+v %v", m, err)
	}
}

func TestServiceBuildLayout(t *testing.T) {
	b := AppendServiceBuild(nil, ServiceBuild{Ring: service.RingID{Rep: 1, Seq: 5}, Services: []service.ID{0, 2, 3, 5}})
	if len(b) != ServiceBuildSize {
		t.Fatalf("size %d", len(b))
	}
	want := "01000000" + "00000000" + "28020000" + "00000000" + "01000000" + "0500000000000000" + "00000000" +
		"04000000" + "00000000" + "00000000" + "02000000" + "03000000" + "05000000"
	if got := hex.EncodeToString(b[:56]); got != want {
		t.Fatalf("service build\n got %s\nwant %s", got, want)
	}
	if !bytes.Equal(b[56:], make([]byte, ServiceBuildSize-56)) {
		t.Fatal("unused entries not zero")
	}
	m, err := Decode(b)
	if err != nil || m.Build == nil || !slices.Equal(m.Build.Services, []service.ID{0, 2, 3, 5}) {
		t.Fatalf("decode: %+v %v", m, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := AppendServiceBuild(nil, ServiceBuild{Services: []service.ID{1}})
	for name, msg := range map[string][]byte{
		"short":       good[:10],
		"short build": good[:39],
		"unknown id":  append([]byte{7, 0, 0, 0}, good[4:]...),
		"count":       func() []byte { b := slices.Clone(good); b[32] = 200; return b }(),
		"bad service": func() []byte { b := slices.Clone(good); b[41] = 1; return b }(),
	} {
		if _, err := Decode(msg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(AppendBarrier(nil, Barrier{}))
	f.Add(AppendServiceBuild(nil, ServiceBuild{Services: []service.ID{0, 2, 3}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err == nil && (m.Barrier == nil) == (m.Build == nil) {
			t.Fatal("exactly one message expected")
		}
	})
}

// fakeSyncer records its callbacks in a shared log.
type fakeSyncer struct {
	node     service.NodeID
	id       service.ID
	log      *[]string
	busy     int // SyncProcess returns false this many times first
	send     func([]byte) error
	activate int
}

func (f *fakeSyncer) SyncInit(trans, members []service.NodeID, ring service.RingID) {
	*f.log = append(*f.log, fmt.Sprintf("n%d init %d trans=%v members=%v", f.node, f.id, trans, members))
}
func (f *fakeSyncer) SyncProcess() bool {
	if f.busy > 0 {
		f.busy--
		return false
	}
	*f.log = append(*f.log, fmt.Sprintf("n%d process %d", f.node, f.id))
	return true
}
func (f *fakeSyncer) SyncActivate() {
	f.activate++
	*f.log = append(*f.log, fmt.Sprintf("n%d activate %d", f.node, f.id))
}
func (f *fakeSyncer) SyncAbort() { *f.log = append(*f.log, fmt.Sprintf("n%d abort %d", f.node, f.id)) }

// ring is a fake totally ordered ring of engines.
type ring struct {
	engines  map[service.NodeID]*Engine
	queue    []item
	full     bool // sends fail with ErrTryAgain
	complete map[service.NodeID]int
}

type item struct {
	from service.NodeID
	msg  []byte
}

func newRing(t *testing.T, log *[]string, services map[service.NodeID][]service.ID) (*ring, map[service.NodeID][]*fakeSyncer) {
	r := &ring{engines: map[service.NodeID]*Engine{}, complete: map[service.NodeID]int{}}
	syncers := map[service.NodeID][]*fakeSyncer{}
	for id, svcs := range services {
		var ps []Participant
		for _, s := range svcs {
			fs := &fakeSyncer{node: id, id: s, log: log}
			syncers[id] = append(syncers[id], fs)
			ps = append(ps, Participant{ID: s, Name: s.String(), Syncer: fs})
		}
		r.engines[id] = New(Options{
			Participants: ps,
			Send: func(msg []byte) error {
				if r.full {
					return totem.ErrTryAgain
				}
				r.queue = append(r.queue, item{id, slices.Clone(msg)})
				return nil
			},
			OnComplete: func(service.RingID) { r.complete[id]++ },
		})
	}
	return r, syncers
}

func (r *ring) ids() []service.NodeID {
	var ids []service.NodeID
	for id := range r.engines {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (r *ring) conf(rid uint64, members []service.NodeID) {
	for _, id := range members {
		e := r.engines[id]
		e.ConfChange(&totem.ConfChange{Transitional: true, Members: []service.NodeID{id}})
		e.ConfChange(&totem.ConfChange{RingID: service.RingID{Rep: members[0], Seq: rid}, Members: members})
	}
}

// run delivers queued messages to members in order until quiet.
func (r *ring) run(members []service.NodeID, steps int) {
	for i := 0; i < steps && len(r.queue) > 0; i++ {
		it := r.queue[0]
		r.queue = r.queue[1:]
		for _, id := range members {
			r.engines[id].Deliver(it.from, it.msg)
		}
	}
}

func TestSyncThreeNodes(t *testing.T) {
	var log []string
	all := []service.ID{service.CMAP, service.CPG, service.Quorum}
	r, _ := newRing(t, &log, map[service.NodeID][]service.ID{1: all, 2: all, 3: all})
	members := []service.NodeID{1, 2, 3}
	r.conf(4, members)
	r.run(members, 1000)
	for _, id := range members {
		if r.complete[id] != 1 || r.engines[id].Syncing() {
			t.Fatalf("node %d: complete=%d syncing=%v", id, r.complete[id], r.engines[id].Syncing())
		}
	}
	// Activation order per node follows the service ids; no service of a
	// node is activated before every node processed it.
	var acts []string
	for _, l := range log {
		if strings.Contains(l, "activate") && strings.HasPrefix(l, "n1 ") {
			acts = append(acts, l)
		}
	}
	if want := []string{"n1 activate 0", "n1 activate 2", "n1 activate 3"}; !slices.Equal(acts, want) {
		t.Fatalf("activations %v, want %v", acts, want)
	}
	for k, l := range log {
		if strings.HasSuffix(l, "activate 2") {
			for _, later := range log[k:] {
				if strings.HasSuffix(later, "process 2") {
					t.Fatalf("process after activate: %v", log)
				}
			}
		}
	}
}

func TestSyncDummyRoundsForUnknownServices(t *testing.T) {
	var log []string
	// Node 3 runs votequorum (5), which nodes 1 and 2 lack: they pass a
	// dummy round for it.
	r, _ := newRing(t, &log, map[service.NodeID][]service.ID{
		1: {service.CPG}, 2: {service.CPG}, 3: {service.CPG, service.Votequorum},
	})
	members := []service.NodeID{1, 2, 3}
	r.conf(8, members)
	r.run(members, 1000)
	for _, id := range members {
		if r.complete[id] != 1 {
			t.Fatalf("node %d did not complete: %v", id, log)
		}
	}
	if !slices.Contains(log, "n3 activate 5") {
		t.Fatalf("votequorum not activated on node 3: %v", log)
	}
	// 3 SERVICE_BUILDs + 2 rounds × 3 barriers.
	if got := r.engines[1].Stats(); got.Completed != 1 {
		t.Fatalf("stats %+v", got)
	}
}

func TestSyncRetriesWhenQueueFull(t *testing.T) {
	var log []string
	all := []service.ID{service.CPG}
	r, syncers := newRing(t, &log, map[service.NodeID][]service.ID{1: all, 2: all})
	syncers[2][0].busy = 3
	members := []service.NodeID{1, 2}
	r.full = true
	r.conf(4, members)
	if len(r.queue) != 0 {
		t.Fatal("sent while full")
	}
	r.full = false
	for range 10 {
		for _, id := range members {
			r.engines[id].Poll()
		}
		r.run(members, 1000)
	}
	for _, id := range members {
		if r.complete[id] != 1 {
			t.Fatalf("node %d did not complete: %v", id, log)
		}
	}
}

func TestSyncAbortedByNewConfiguration(t *testing.T) {
	var log []string
	all := []service.ID{service.CMAP, service.CPG}
	r, _ := newRing(t, &log, map[service.NodeID][]service.ID{1: all, 2: all, 3: all})
	r.conf(4, []service.NodeID{1, 2, 3})
	// Deliver only the three SERVICE_BUILDs, and node 1's first barrier.
	r.run([]service.NodeID{1, 2, 3}, 4)
	if !r.engines[1].Syncing() {
		t.Fatal("not syncing")
	}
	// Node 3 fails: 1 and 2 form ring 8. Late messages of ring 4 are
	// ignored.
	stale := r.queue
	r.queue = nil
	r.conf(8, []service.NodeID{1, 2})
	for _, it := range stale {
		r.engines[1].Deliver(it.from, it.msg)
	}
	if got := r.engines[1].Stats().OldRing; got == 0 {
		t.Fatal("stale barriers not ignored")
	}
	r.run([]service.NodeID{1, 2}, 1000)
	for _, id := range []service.NodeID{1, 2} {
		if r.complete[id] != 1 {
			t.Fatalf("node %d: complete=%d: %v", id, r.complete[id], log)
		}
	}
	if !slices.Contains(log, "n1 abort 0") {
		t.Fatalf("cmap not aborted: %v", log)
	}
}

func TestSyncSingleNode(t *testing.T) {
	var log []string
	r, _ := newRing(t, &log, map[service.NodeID][]service.ID{1: {service.CPG}})
	r.conf(4, []service.NodeID{1})
	r.run([]service.NodeID{1}, 100)
	if r.complete[1] != 1 {
		t.Fatalf("not complete: %v", log)
	}
}
