//go:build linux

package transport

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/corogo/corogo/totem"
)

// New opens the sockets of cfg.Kind and returns the transport. The sockets
// belong to the calling thread's network namespace. Errors name the socket
// and address that failed.
func New(cfg Config) (Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	switch cfg.Kind {
	case UDP:
		return newUDP(cfg)
	default:
		return newUDPU(cfg)
	}
}

// memberTable is an immutable snapshot of the nodelist, swapped whole by
// SetMembers so that Send and Receive read it without locks.
type memberTable struct {
	members []Member // sorted by node id
	addrs   []rawAddr
	index   map[totem.NodeID]int
	set     map[netip.Addr]struct{} // addresses, zones stripped
}

func (t *memberTable) listed(a netip.Addr) bool {
	_, ok := t.set[a]
	return ok
}

func buildTable(members []Member, port uint16, scope uint32) (*memberTable, error) {
	t := &memberTable{
		members: slices.Clone(members),
		index:   make(map[totem.NodeID]int, len(members)),
		set:     make(map[netip.Addr]struct{}, len(members)),
	}
	slices.SortFunc(t.members, func(a, b Member) int { return cmp.Compare(a.NodeID, b.NodeID) })
	t.addrs = make([]rawAddr, len(t.members))
	for i := range t.members {
		m := &t.members[i]
		m.Addr = m.Addr.Unmap()
		ra, err := makeRawAddr(netip.AddrPortFrom(m.Addr, port), scope)
		if err != nil {
			return nil, fmt.Errorf("transport: member %d (%v): %w", m.NodeID, m.Addr, err)
		}
		t.addrs[i] = ra
		t.index[m.NodeID] = i
		t.set[m.Addr.WithZone("")] = struct{}{}
	}
	return t, nil
}

// base holds what both transports share: config, counters, member table,
// the reader and the closing protocol.
type base struct {
	cfg   Config
	log   *slog.Logger
	c     counters
	scope uint32 // interface index of Local's zone, for link-local members
	table atomic.Pointer[memberTable]

	membersMu sync.Mutex // serialises SetMembers
	// recvMu is held by Receive for its whole call, so that Close can wait
	// for a Receive woken by the closing of the wait socket to leave before
	// the sockets whose fds it reads are closed.
	recvMu sync.Mutex
	closed atomic.Bool
	rd     *reader
	local  netip.AddrPort
}

func (b *base) init(cfg Config) error {
	b.cfg, b.log = cfg, cfg.Logger
	if z := cfg.Local.Zone(); z != "" {
		idx, err := zoneIndex(z)
		if err != nil {
			return fmt.Errorf("transport: local address %v: %w", cfg.Local, err)
		}
		b.scope = idx
	}
	t, err := buildTable(cfg.Members, cfg.Port, b.scope)
	if err != nil {
		return err
	}
	b.table.Store(t)
	return nil
}

// filter returns the member table for the block_unlisted_ips check.
func (b *base) filter() filter { return b.table.Load() }

// Receive implements Transport.
func (b *base) Receive(batch []Datagram) (int, error) {
	if b.closed.Load() {
		return 0, net.ErrClosed
	}
	b.recvMu.Lock()
	defer b.recvMu.Unlock()
	n, err := b.rd.receive(batch)
	if n > 0 {
		return n, nil
	}
	if b.closed.Load() {
		return 0, net.ErrClosed
	}
	return 0, err
}

// SetMembers implements Transport. The new table applies to the next Send
// and the next receive batch.
func (b *base) SetMembers(members []Member) error {
	if err := validateMembers(b.cfg.LocalNodeID, b.cfg.Local, members); err != nil {
		return err
	}
	t, err := buildTable(members, b.cfg.Port, b.scope)
	if err != nil {
		return err
	}
	b.membersMu.Lock()
	old := b.table.Swap(t)
	b.membersMu.Unlock()
	if b.log.Enabled(context.Background(), slog.LevelInfo) {
		added, removed := diffMembers(old.members, t.members)
		b.log.Info("transport: member table replaced", "members", len(t.members), "added", added, "removed", removed)
	}
	return nil
}

// diffMembers lists the node ids that appear only in b (added) or only in
// a (removed); an address change counts as both.
func diffMembers(a, b []Member) (added, removed []totem.NodeID) {
	in := func(list []Member, m Member) bool {
		for _, x := range list {
			if x.NodeID == m.NodeID && x.Addr == m.Addr {
				return true
			}
		}
		return false
	}
	for _, m := range b {
		if !in(a, m) {
			added = append(added, m.NodeID)
		}
	}
	for _, m := range a {
		if !in(b, m) {
			removed = append(removed, m.NodeID)
		}
	}
	return added, removed
}

// LocalAddr implements Transport.
func (b *base) LocalAddr() netip.AddrPort { return b.local }

// Stats implements Transport.
func (b *base) Stats() Stats { return b.c.stats() }

// lookup returns the member table entry of id.
func (t *memberTable) lookup(id totem.NodeID) (*rawAddr, bool) {
	i, ok := t.index[id]
	if !ok {
		return nil, false
	}
	return &t.addrs[i], true
}

// unknown counts and reports a frame for a node id not in the table.
func (b *base) unknown(id totem.NodeID, first error) error {
	b.c.txErrors.Add(1)
	if first != nil {
		return first
	}
	return fmt.Errorf("%w %d: frame not sent", ErrUnknownNode, id)
}

func keepFirst(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// closeAll closes socks in order, returning the first error.
func closeAll(socks ...*sock) error {
	var first error
	for _, s := range socks {
		if err := s.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
