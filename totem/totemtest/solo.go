package totemtest

import (
	"encoding/binary"
	"errors"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/wire"
)

// Solo is a stand-in for the totem core that tests of harnesses and
// checkers use: every node forms a ring of its own, multicasts its
// messages in MCAST frames (sent to every configured node, as the core
// does) and delivers them when its own copy comes back. It ignores other
// nodes' frames. It is a correct, if lonely, Totem member, so invariant
// checkers must find nothing wrong with it; DuplicateEvery makes it
// deliver every n-th message twice, a bug they must catch.
type Solo struct {
	// DuplicateEvery > 0 delivers every DuplicateEvery-th message twice.
	DuplicateEvery int

	cfg     totem.Config
	ring    totem.RingID
	started bool
	stopped bool
	ticks   int64
	seq     uint32
	sent    int
	rd      totem.Ready
	// delivered counts deliveries, for DuplicateEvery.
	delivered int
}

// soloTimer is the period of Solo's only timer, which multicasts a
// MERGE_DETECT as an idle representative does.
const soloTimer = 100

// NewSolo is a NewMachineFunc for Solo.
func NewSolo(cfg totem.Config, ps totem.PersistentState) (Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	seq := uint64(0)
	if ps.Valid {
		seq = ps.RingSeq
	}
	return &Solo{cfg: cfg, ring: totem.RingID{Rep: cfg.NodeID, Seq: seq + 4}}, nil
}

// Start installs the singleton ring: a transitional then a regular
// configuration, after persisting the ring seq.
func (s *Solo) Start() {
	s.started = true
	s.rd.PersistRingSeq, s.rd.RingSeq = true, s.ring.Seq
	me := []totem.NodeID{s.cfg.NodeID}
	s.rd.Events = append(s.rd.Events,
		totem.Event{Type: totem.EventConfChange, Conf: &totem.ConfChange{Transitional: true, RingID: s.ring, Members: me}},
		totem.Event{Type: totem.EventConfChange, Conf: &totem.ConfChange{RingID: s.ring, Members: me}})
}

func (s *Solo) header(t wire.MessageType, size int) []byte {
	b := make([]byte, size)
	b[0], b[1], b[2], b[3] = 0x70, 0xc0, wire.Version, byte(t)
	binary.LittleEndian.PutUint32(b[5:], s.cfg.NodeID)
	return b
}

// Step delivers the node's own MCASTs and ignores everything else.
func (s *Solo) Step(data []byte) error {
	f := PeekFrame(data)
	if !f.Valid {
		return errors.New("totemtest: not a Totem datagram")
	}
	if s.stopped || f.Type != wire.TypeMcast || f.Origin != s.cfg.NodeID || f.Ring != s.ring {
		return nil
	}
	g := totem.Guarantee(binary.LittleEndian.Uint32(data[41:]))
	ref := totem.MsgRef{Ring: s.ring, Seq: f.Seq}
	s.rd.Receipts = append(s.rd.Receipts, ref)
	ev := totem.Event{Type: totem.EventDeliver, From: s.cfg.NodeID, Guarantee: g,
		Data: data[wire.McastHeaderSize:], MsgRing: s.ring, MsgSeq: f.Seq}
	s.rd.Events = append(s.rd.Events, ev)
	s.delivered++
	if s.DuplicateEvery > 0 && s.delivered%s.DuplicateEvery == 0 {
		s.rd.Events = append(s.rd.Events, ev)
	}
	return nil
}

// Tick advances the clock; every soloTimer ticks a MERGE_DETECT goes out.
func (s *Solo) Tick() {
	if !s.started || s.stopped {
		return
	}
	s.ticks++
	if s.ticks%soloTimer == 0 {
		b := s.header(wire.TypeMergeDetect, wire.MergeDetectSize)
		binary.LittleEndian.PutUint32(b[13:], s.cfg.NodeID)
		binary.LittleEndian.PutUint32(b[17:], s.ring.Rep)
		binary.LittleEndian.PutUint64(b[21:], s.ring.Seq)
		s.rd.Frames = append(s.rd.Frames, totem.Frame{To: totem.Broadcast, Data: b})
	}
}

// NextTimer returns the ticks until the next MERGE_DETECT.
func (s *Solo) NextTimer() (int64, bool) {
	if !s.started || s.stopped {
		return 0, false
	}
	return soloTimer - s.ticks%soloTimer, true
}

// Send multicasts msg in one MCAST.
func (s *Solo) Send(msg []byte, g totem.Guarantee) error {
	if !s.started || s.stopped {
		return totem.ErrStopped
	}
	if len(msg) > s.cfg.MaxMessageSize {
		return totem.ErrMessageTooBig
	}
	s.seq++
	s.sent++
	b := s.header(wire.TypeMcast, wire.McastHeaderSize+len(msg))
	b[4] = wire.NotEncapsulated
	le := binary.LittleEndian
	le.PutUint32(b[13:], s.cfg.NodeID)
	le.PutUint32(b[17:], s.seq)
	le.PutUint32(b[21:], uint32(s.sent))
	le.PutUint32(b[25:], s.ring.Rep)
	le.PutUint64(b[29:], s.ring.Seq)
	le.PutUint32(b[41:], uint32(g))
	copy(b[wire.McastHeaderSize:], msg)
	s.rd.Frames = append(s.rd.Frames, totem.Frame{To: totem.Broadcast, Data: b})
	return nil
}

// Leave sends a leave message and stops.
func (s *Solo) Leave() {
	b := s.header(wire.TypeMembJoin, wire.MembJoinSize+4)
	le := binary.LittleEndian
	le.PutUint32(b[5:], 0)
	le.PutUint32(b[13:], s.cfg.NodeID)
	le.PutUint32(b[21:], 1)
	le.PutUint64(b[25:], s.ring.Seq)
	le.PutUint32(b[33:], s.cfg.NodeID)
	s.rd.Frames = append(s.rd.Frames, totem.Frame{To: totem.Broadcast, Data: b})
	s.stopped = true
}

// HasReady reports pending output.
func (s *Solo) HasReady() bool { return !s.rd.IsEmpty() }

// Ready returns the pending output.
func (s *Solo) Ready() *totem.Ready { return &s.rd }

// Advance clears the output.
func (s *Solo) Advance() { s.rd = totem.Ready{} }

// Status reports the singleton ring.
func (s *Solo) Status() totem.Status {
	st := totem.Status{NodeID: s.cfg.NodeID, State: totem.StateOperational, RingID: s.ring,
		Members: []totem.NodeID{s.cfg.NodeID}, Aru: s.seq, HighSeq: s.seq, Rep: true}
	if !s.started || s.stopped {
		st.State = totem.StateStopped
	}
	return st
}

// Stats counts nothing.
func (s *Solo) Stats() totem.Stats { return totem.Stats{} }
