package totem

import (
	"fmt"
	"testing"
)

// miniNet is a minimal lossless network for the core's own tests.
type miniNet struct {
	nodes     map[NodeID]*Node
	ids       []NodeID
	queue     []pkt
	down      map[NodeID]bool
	log       []string
	delivered map[NodeID][]string
	confs     map[NodeID][]string
	notices   map[NodeID][]Notice
	// drop, when set, decides whether a packet is lost.
	drop func(p pkt) bool
	// onDeliver, when set, is called for every delivery.
	onDeliver func(id NodeID, e Event)
	now       int
}

type pkt struct {
	from, to NodeID
	data     []byte
}

func newMiniNet(t testing.TB, n int, tune func(*Config)) *miniNet {
	m := &miniNet{nodes: map[NodeID]*Node{}, down: map[NodeID]bool{}, delivered: map[NodeID][]string{}, confs: map[NodeID][]string{}, notices: map[NodeID][]Notice{}}
	for i := 1; i <= n; i++ {
		m.ids = append(m.ids, NodeID(i))
	}
	for _, id := range m.ids {
		cfg := DefaultConfig(id, m.ids)
		cfg.Token = 200e6
		cfg.TokenCoefficient = 0
		if tune != nil {
			tune(&cfg)
		}
		nd, err := NewNode(cfg, PersistentState{})
		if err != nil {
			t.Fatal(err)
		}
		m.nodes[id] = nd
	}
	for _, id := range m.ids {
		m.nodes[id].Start()
		m.collect(id)
	}
	return m
}

func (m *miniNet) collect(id NodeID) {
	nd := m.nodes[id]
	rd := nd.Ready()
	for _, f := range rd.Frames {
		if f.To == Broadcast {
			for _, d := range m.ids {
				m.queue = append(m.queue, pkt{id, d, append([]byte(nil), f.Data...)})
			}
		} else {
			m.queue = append(m.queue, pkt{id, f.To, append([]byte(nil), f.Data...)})
		}
	}
	for _, e := range rd.Events {
		switch e.Type {
		case EventDeliver:
			if m.onDeliver != nil {
				m.onDeliver(id, e)
			}
			m.delivered[id] = append(m.delivered[id], fmt.Sprintf("%d:%s", e.From, e.Data))
		case EventConfChange:
			m.confs[id] = append(m.confs[id], fmt.Sprintf("trans=%v ring=%v members=%v joined=%v left=%v", e.Conf.Transitional, e.Conf.RingID, e.Conf.Members, e.Conf.Joined, e.Conf.Left))
		}
	}
	m.notices[id] = append(m.notices[id], rd.Notices...)
	nd.Advance()
}

// run processes packets, ticking all nodes once per 'ms' step.
func (m *miniNet) run(ms int) {
	for step := 0; step < ms; step++ {
		m.now++
		// deliver all packets currently queued (and those they generate) up to a bound
		for i := 0; i < 10000 && len(m.queue) > 0; i++ {
			p := m.queue[0]
			m.queue = m.queue[1:]
			if m.down[p.to] || (m.drop != nil && m.drop(p)) {
				continue
			}
			nd := m.nodes[p.to]
			_ = nd.Step(p.data)
			m.collect(p.to)
		}
		for _, id := range m.ids {
			if m.down[id] {
				continue
			}
			m.nodes[id].Tick()
			m.collect(id)
		}
	}
}

func TestSmokeRingForms(t *testing.T) {
	m := newMiniNet(t, 3, nil)
	m.run(2000)
	for _, id := range m.ids {
		st := m.nodes[id].Status()
		t.Logf("node %d: %v ring %v members %v", id, st.State, st.RingID, st.Members)
		if st.State != StateOperational || len(st.Members) != 3 {
			t.Errorf("node %d not operational in a 3-ring: %+v", id, st)
		}
		for _, c := range m.confs[id] {
			t.Logf("  conf %s", c)
		}
	}
	for i := 0; i < 5; i++ {
		for _, id := range m.ids {
			if err := m.nodes[id].Send([]byte(fmt.Sprintf("m%d-%d", id, i)), Agreed); err != nil {
				t.Fatal(err)
			}
			m.collect(id)
		}
	}
	m.run(500)
	for _, id := range m.ids {
		t.Logf("node %d delivered %d: %v", id, len(m.delivered[id]), m.delivered[id])
	}
	if fmt.Sprint(m.delivered[1]) != fmt.Sprint(m.delivered[2]) || len(m.delivered[1]) != 15 {
		t.Errorf("deliveries differ")
	}
	// kill node 3
	m.down[3] = true
	m.run(3000)
	for _, id := range m.ids[:2] {
		st := m.nodes[id].Status()
		t.Logf("after kill node %d: %v ring %v members %v", id, st.State, st.RingID, st.Members)
		for _, c := range m.confs[id] {
			t.Logf("  conf %s", c)
		}
	}
}
