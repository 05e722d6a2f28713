package totemtest

import (
	"math/rand/v2"
	"testing"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/wire"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func drainAll(n *Network) []Datagram {
	var out []Datagram
	for {
		d, ok := n.PopDue(1 << 62)
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

func TestNetworkFixedDelayKeepsOrder(t *testing.T) {
	n, err := NewNetwork(nil, LinkParams{MinDelay: 3, MaxDelay: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		n.Send(int64(i/3), 1, 2, []byte{byte(i)}, FrameInfo{})
	}
	got := drainAll(n)
	for i, d := range got {
		if d.Data[0] != byte(i) || d.Due != int64(i/3)+3 {
			t.Fatalf("datagram %d: got data %d due %d", i, d.Data[0], d.Due)
		}
	}
	if _, ok := n.PopDue(1 << 62); ok {
		t.Fatal("queue not empty")
	}
}

func TestNetworkRandomNeedsRand(t *testing.T) {
	if _, err := NewNetwork(nil, LinkParams{Loss: 0.1, MinDelay: 1, MaxDelay: 1}); err == nil {
		t.Fatal("random parameters accepted without a random source")
	}
	if _, err := NewNetwork(nil, LinkParams{}); err == nil {
		t.Fatal("zero delay accepted")
	}
}

func TestNetworkLossDupDelayStatistics(t *testing.T) {
	n, err := NewNetwork(newRand(1), LinkParams{Loss: 0.2, Dup: 0.1, MinDelay: 1, MaxDelay: 10})
	if err != nil {
		t.Fatal(err)
	}
	const total = 20000
	lost, dups := 0, 0
	for range total {
		c, why := n.Send(0, 1, 2, nil, FrameInfo{})
		switch c {
		case 0:
			if why != DropLoss {
				t.Fatalf("drop reason %v", why)
			}
			lost++
		case 2:
			dups++
		}
	}
	if lost < total*18/100 || lost > total*22/100 {
		t.Errorf("lost %d of %d, want about 20%%", lost, total)
	}
	if d := dups * 100 / (total - lost); d < 8 || d > 12 {
		t.Errorf("duplicated %d%%, want about 10%%", d)
	}
	var hist [11]int
	prev := int64(0)
	for _, d := range drainAll(n) {
		if d.Due < prev {
			t.Fatal("datagrams out of due order")
		}
		prev = d.Due
		hist[d.Due]++
	}
	if hist[0] != 0 || hist[1] == 0 || hist[10] == 0 {
		t.Errorf("delay histogram %v, want 1..10 all used", hist)
	}
}

func TestNetworkDeterministic(t *testing.T) {
	run := func() []int64 {
		n, _ := NewNetwork(newRand(42), LinkParams{Loss: 0.3, Dup: 0.2, MinDelay: 1, MaxDelay: 7})
		for i := range 500 {
			n.Send(int64(i), totem.NodeID(i%3+1), totem.NodeID(i%5+1), []byte{byte(i)}, FrameInfo{})
		}
		var out []int64
		for _, d := range drainAll(n) {
			out = append(out, d.Due*1000+int64(d.Data[0]))
		}
		return out
	}
	a, b := run(), run()
	if len(a) != len(b) {
		t.Fatal("different lengths")
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("runs differ at %d", i)
		}
	}
}

func TestNetworkPartitionAndLoopback(t *testing.T) {
	n, _ := NewNetwork(newRand(1), LinkParams{Loss: 1, MinDelay: 1, MaxDelay: 1})
	if c, _ := n.Send(0, 2, 2, nil, FrameInfo{}); c != 1 {
		t.Fatal("loopback lost")
	}
	n.SetDefault(LinkParams{MinDelay: 1, MaxDelay: 1})
	n.Partition([][]totem.NodeID{{1, 2}, {3}})
	cases := []struct {
		from, to totem.NodeID
		ok       bool
	}{{1, 2, true}, {2, 1, true}, {1, 3, false}, {3, 2, false}, {4, 1, false}, {1, 4, false}, {4, 4, true}}
	for _, c := range cases {
		if got := n.Connected(c.from, c.to); got != c.ok {
			t.Errorf("Connected(%d,%d) = %v", c.from, c.to, got)
		}
		copies, why := n.Send(0, c.from, c.to, nil, FrameInfo{})
		if (copies == 1) != c.ok || (!c.ok && why != DropPartition) {
			t.Errorf("Send(%d,%d) = %d, %v", c.from, c.to, copies, why)
		}
	}
	n.Heal()
	if !n.Connected(1, 3) {
		t.Error("still partitioned after heal")
	}
}

func TestNetworkPerLinkParams(t *testing.T) {
	n, _ := NewNetwork(newRand(1), LinkParams{MinDelay: 1, MaxDelay: 1})
	if err := n.SetLink(1, 2, LinkParams{Loss: 1, MinDelay: 1, MaxDelay: 1}); err != nil {
		t.Fatal(err)
	}
	if c, _ := n.Send(0, 1, 2, nil, FrameInfo{}); c != 0 {
		t.Error("1->2 not lost")
	}
	if c, _ := n.Send(0, 2, 1, nil, FrameInfo{}); c != 1 {
		t.Error("2->1 lost")
	}
	n.ClearLinks()
	if c, _ := n.Send(0, 1, 2, nil, FrameInfo{}); c != 1 {
		t.Error("1->2 lost after ClearLinks")
	}
}

func TestNetworkFilters(t *testing.T) {
	n, _ := NewNetwork(nil, LinkParams{MinDelay: 1, MaxDelay: 1})
	mcast := FrameInfo{Valid: true, Type: wire.TypeMcast}
	rec := FrameInfo{Valid: true, Type: wire.TypeMcast, Recovery: true}
	token := FrameInfo{Valid: true, Type: wire.TypeOrfToken}
	n.AddFilter(Filter{From: 1, To: 3, Type: wire.TypeMcast, Count: 2})
	n.AddFilter(Filter{To: 2, Type: wire.TypeMcast, Recovery: true, Count: 1})
	steps := []struct {
		from, to totem.NodeID
		info     FrameInfo
		dropped  bool
	}{
		{1, 3, token, false},
		{1, 2, mcast, false},
		{1, 3, mcast, true},
		{3, 3, mcast, false}, // loopback is never filtered
		{1, 3, rec, true},
		{1, 3, mcast, false},
		{1, 2, mcast, false},
		{3, 2, rec, true},
		{3, 2, rec, false},
	}
	for i, s := range steps {
		c, why := n.Send(0, s.from, s.to, nil, s.info)
		if (c == 0) != s.dropped || s.dropped && why != DropFilter {
			t.Errorf("step %d: copies %d why %v", i, c, why)
		}
	}
	if len(n.Filters()) != 0 {
		t.Errorf("filters left: %v", n.Filters())
	}
}
