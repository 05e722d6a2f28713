package runner

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corogo/corogo/internal/transport"
	"github.com/corogo/corogo/totem"
)

// hub is an in-memory network for runner tests.
type hub struct {
	mu    sync.Mutex
	boxes map[totem.NodeID]*memTransport
	cut   map[totem.NodeID]bool
}

type memTransport struct {
	h    *hub
	id   totem.NodeID
	in   chan []byte
	done chan struct{}
	once sync.Once
}

func newHub() *hub {
	return &hub{boxes: map[totem.NodeID]*memTransport{}, cut: map[totem.NodeID]bool{}}
}

func (h *hub) attach(id totem.NodeID) *memTransport {
	m := &memTransport{h: h, id: id, in: make(chan []byte, 4096), done: make(chan struct{})}
	h.mu.Lock()
	h.boxes[id] = m
	h.mu.Unlock()
	return m
}

func (h *hub) deliver(from, to totem.NodeID, data []byte) {
	h.mu.Lock()
	m := h.boxes[to]
	blocked := h.cut[from] || h.cut[to]
	h.mu.Unlock()
	if m == nil || blocked {
		return
	}
	select {
	case m.in <- append([]byte(nil), data...):
	case <-m.done:
	default: // full: dropped like a socket buffer overflow
	}
}

func (m *memTransport) Send(frames []totem.Frame) error {
	for _, f := range frames {
		if f.To == totem.Broadcast {
			m.h.mu.Lock()
			var ids []totem.NodeID
			for id := range m.h.boxes {
				ids = append(ids, id)
			}
			m.h.mu.Unlock()
			for _, id := range ids {
				m.h.deliver(m.id, id, f.Data)
			}
		} else {
			m.h.deliver(m.id, f.To, f.Data)
		}
	}
	return nil
}

func (m *memTransport) Receive(batch []transport.Datagram) (int, error) {
	select {
	case d := <-m.in:
		batch[0].Data = d
		n := 1
		for n < len(batch) {
			select {
			case d := <-m.in:
				batch[n].Data = d
				n++
			default:
				return n, nil
			}
		}
		return n, nil
	case <-m.done:
		return 0, net.ErrClosed
	}
}

func (m *memTransport) SetMembers([]transport.Member) error { return nil }
func (m *memTransport) LocalAddr() netip.AddrPort           { return netip.AddrPort{} }
func (m *memTransport) Stats() transport.Stats              { return transport.Stats{} }
func (m *memTransport) Close() error {
	m.once.Do(func() {
		close(m.done)
		m.h.mu.Lock()
		delete(m.h.boxes, m.id)
		m.h.mu.Unlock()
	})
	return nil
}

type node struct {
	r      *Runner
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	got    []string
	confs  []string
}

func startNode(t *testing.T, h *hub, id totem.NodeID, ids []totem.NodeID, stateDir string) *node {
	cfg := totem.DefaultConfig(id, ids)
	cfg.Token = 300 * time.Millisecond
	cfg.TokenCoefficient = 0
	nd := &node{done: make(chan error, 1)}
	r, err := New(Options{Totem: cfg, Transport: h.attach(id), StateDir: stateDir, OnEvent: func(e totem.Event) {
		nd.mu.Lock()
		defer nd.mu.Unlock()
		if e.Type == totem.EventDeliver {
			nd.got = append(nd.got, fmt.Sprintf("%d:%s", e.From, e.Data))
		} else if !e.Conf.Transitional {
			nd.confs = append(nd.confs, fmt.Sprintf("%v%v", e.Conf.RingID, e.Conf.Members))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	nd.r = r
	ctx, cancel := context.WithCancel(context.Background())
	nd.cancel = cancel
	go func() { nd.done <- r.Run(ctx) }()
	return nd
}

func operational(nodes []*node, size int) bool {
	var ring totem.RingID
	for i, n := range nodes {
		st := n.r.Status()
		if st.State != totem.StateOperational || len(st.Members) != size || (i > 0 && st.RingID != ring) {
			return false
		}
		ring = st.RingID
	}
	return true
}

func TestRingFormsDeliversAndReformsAfterLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHub()
		ids := []totem.NodeID{1, 2, 3}
		dir := t.TempDir()
		var nodes []*node
		for _, id := range ids {
			nodes = append(nodes, startNode(t, h, id, ids, dir))
		}
		start := time.Now()
		for !operational(nodes, 3) {
			time.Sleep(10 * time.Millisecond)
			if time.Since(start) > 10*time.Second {
				t.Fatalf("no ring after %v", time.Since(start))
			}
		}
		t.Logf("ring formed in %v", time.Since(start))
		ctx := context.Background()
		for i, n := range nodes {
			if err := n.r.Send(ctx, []byte(fmt.Sprintf("m%d", i)), totem.Safe); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		for _, n := range nodes {
			n.mu.Lock()
			if len(n.got) != 3 || fmt.Sprint(n.got) != fmt.Sprint(nodes[0].got) {
				t.Errorf("deliveries %v vs %v", n.got, nodes[0].got)
			}
			n.mu.Unlock()
		}
		// A clean stop sends the leave message: the others re-form well
		// before a token timeout (300 ms) plus consensus (360 ms).
		nodes[2].cancel()
		if err := <-nodes[2].done; err != nil {
			t.Fatalf("Run returned %v", err)
		}
		left := time.Now()
		for !operational(nodes[:2], 2) {
			time.Sleep(time.Millisecond)
			if time.Since(left) > 5*time.Second {
				t.Fatal("survivors did not re-form")
			}
		}
		if took := time.Since(left); took > 300*time.Millisecond {
			t.Errorf("re-forming after a leave took %v", took)
		}
		// A node cut off (no leave) is noticed after token + consensus.
		h.mu.Lock()
		h.cut[2] = true
		h.mu.Unlock()
		cut := time.Now()
		for !operational(nodes[:1], 1) {
			time.Sleep(time.Millisecond)
			if time.Since(cut) > 5*time.Second {
				t.Fatal("node 1 did not form a ring alone")
			}
		}
		took := time.Since(cut)
		// Not before token + consensus: timers armed while handling a
		// datagram must start from the real time, not from when the loop
		// last woke up (it sleeps while the token is held). Timers count
		// whole ticks (1 ms), so one tick early is on time.
		if took < 658*time.Millisecond || took > 1500*time.Millisecond {
			t.Errorf("failure detection took %v; want token + consensus (660 ms) and a little", took)
		}
		for _, n := range nodes[:2] {
			n.cancel()
			<-n.done
		}
	})
}

func TestSendWithoutRunIsRefused(t *testing.T) {
	h := newHub()
	cfg := totem.DefaultConfig(1, []totem.NodeID{1})
	r, err := New(Options{Totem: cfg, Transport: h.attach(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Send(context.Background(), []byte("x"), totem.Agreed); err != ErrNotRunning {
		t.Fatalf("Send before Run: %v", err)
	}
}
