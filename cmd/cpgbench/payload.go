package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// The payload and the hash chain are those of the corosync baseline's
// cpgload (shared/bench/corosync/src/cpgload.c), so that both tools can
// be compared and, in a mixed ring, must agree.
const (
	// magic starts every benchmark message.
	magic = 0xCB0BE7C4
	// Message types.
	typeData = 1
	typeEnd  = 2
	// headerSize is the header's size: magic u32, type u32, seq u64,
	// ts_ns i64, sent u64, little-endian. END messages are the header
	// alone.
	headerSize = 32
	// maxSenders is how many senders get a sequence check (cpgload's
	// MAXSND); later ones are folded into the hash but not checked.
	maxSenders = 64
	// latCap bounds the latency samples kept (cpgload's LAT_CAP), 128 MiB.
	latCap = 16 << 20

	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

// header is a benchmark message's header.
type header struct {
	Type uint32
	Seq  uint64
	// TS is the CLOCK_MONOTONIC time of the send, in nanoseconds.
	TS int64
	// Sent is, in an END message, how many data messages the sender sent;
	// 0 in data messages.
	Sent uint64
}

// putHeader writes h, with the magic, into b[:headerSize].
func putHeader(b []byte, h header) {
	_ = b[headerSize-1]
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], h.Type)
	binary.LittleEndian.PutUint64(b[8:], h.Seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(h.TS))
	binary.LittleEndian.PutUint64(b[24:], h.Sent)
}

// parseHeader reads the header of a benchmark message; ok is false for a
// message too short or without the magic.
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < headerSize || binary.LittleEndian.Uint32(b) != magic {
		return header{}, false
	}
	return header{
		Type: binary.LittleEndian.Uint32(b[4:]),
		Seq:  binary.LittleEndian.Uint64(b[8:]),
		TS:   int64(binary.LittleEndian.Uint64(b[16:])),
		Sent: binary.LittleEndian.Uint64(b[24:]),
	}, true
}

// newPayload returns a data message buffer of size bytes (at least a
// header's) filled as cpgload fills it: byte i is i*7; the header is
// written over the start for each message.
func newPayload(size int) []byte {
	b := make([]byte, max(size, headerSize))
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// chain is the FNV-1a 64 hash chain over the delivered messages.
type chain uint64

func newChain() chain { return fnvOffset }

func (h *chain) bytes(p []byte) {
	v := uint64(*h)
	for _, c := range p {
		v ^= uint64(c)
		v *= fnvPrime
	}
	*h = chain(v)
}

// fold adds one delivered message: its sender's node id and pid, its
// sequence number and type, in that order and little-endian (cpgload
// folds the values in host order; the machines that compare are
// little-endian).
func (h *chain) fold(nodeID, pid uint32, seq uint64, typ uint32) {
	var b [20]byte
	binary.LittleEndian.PutUint32(b[0:], nodeID)
	binary.LittleEndian.PutUint32(b[4:], pid)
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint32(b[16:], typ)
	h.bytes(b[:])
}

// sender is a sender's sequence check.
type sender struct {
	nodeID, pid uint32
	next        uint64
}

// stats is what a receiver counts; deliver updates it for every message of
// the benchmark's group, in delivery order.
type stats struct {
	rxMsgs, rxBytes, ends, seqErrors, foreign uint64
	// first and last are the times of the first and last data delivery.
	first, last int64
	hash        chain
	lat         []int64
	senders     []sender
}

func newStats() *stats { return &stats{hash: newChain()} }

// deliver accounts for one delivered message received at now.
func (s *stats) deliver(nodeID, pid uint32, data []byte, now int64) {
	h, ok := parseHeader(data)
	if !ok {
		s.foreign++
		return
	}
	s.hash.fold(nodeID, pid, h.Seq, h.Type)
	i := slices.IndexFunc(s.senders, func(x sender) bool { return x.nodeID == nodeID && x.pid == pid })
	if i < 0 && len(s.senders) < maxSenders {
		s.senders = append(s.senders, sender{nodeID: nodeID, pid: pid})
		i = len(s.senders) - 1
	}
	if h.Type == typeEnd {
		s.ends++
		return
	}
	if i >= 0 {
		if h.Seq != s.senders[i].next {
			s.seqErrors++
		}
		s.senders[i].next = h.Seq + 1
	}
	if s.rxMsgs == 0 {
		s.first = now
	}
	s.last = now
	s.rxMsgs++
	s.rxBytes += uint64(len(data))
	if len(s.lat) < latCap {
		s.lat = append(s.lat, now-h.TS)
	}
}

// summary is the outcome of a run, printed as the RESULT line.
type summary struct {
	label      string
	node       uint32
	send       bool
	safe       bool
	size       int
	members    int
	incomplete bool

	// Sender side.
	sent, tryagain uint64
	sendSeconds    float64
	cpuSeconds     float64
}

// percentiles returns cpgload's p50, p99 and max of the samples, in
// microseconds; the samples are sorted in place.
func percentiles(lat []int64) (p50, p99, pmax float64) {
	n := len(lat)
	if n == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	return float64(lat[n/2]) / 1e3, float64(lat[int(float64(n-1)*0.99)]) / 1e3, float64(lat[n-1]) / 1e3
}

// writeResult prints the RESULT line: first the fields every consumer
// reads, then the details, then cpgload's names of the same values
// (rx_msgs, msg_per_s, MB_per_s), so that the baseline's scripts read it
// unchanged. Rates are over the window from the first to the last data
// delivery; MB are 10^6 bytes.
func writeResult(w io.Writer, st *stats, sm summary) error {
	window := float64(st.last-st.first) / 1e9
	var rate, mbs float64
	if window > 0 {
		rate = float64(st.rxMsgs) / window
		mbs = float64(st.rxBytes) / window / 1e6
	}
	p50, p99, pmax := percentiles(st.lat)
	role, guarantee := "recv", "agreed"
	if sm.send {
		role = "send"
	}
	if sm.safe {
		guarantee = "safe"
	}
	line := fmt.Sprintf("RESULT msgs_per_s=%.1f mb_per_s=%.3f lat_p50_us=%.1f lat_p99_us=%.1f delivered=%d hash=%016x"+
		" label=%s node=%d role=%s size=%d guarantee=%s members=%d senders_seen=%d ends=%d incomplete=%d"+
		" rx_bytes=%d window_s=%.3f lat_n=%d lat_max_us=%.1f seq_errors=%d foreign=%d",
		rate, mbs, p50, p99, st.rxMsgs, uint64(st.hash),
		sm.label, sm.node, role, sm.size, guarantee, sm.members, len(st.senders), st.ends, b2i(sm.incomplete),
		st.rxBytes, window, len(st.lat), pmax, st.seqErrors, st.foreign)
	if sm.send {
		var sendRate float64
		if sm.sendSeconds > 0 {
			sendRate = float64(sm.sent) / sm.sendSeconds
		}
		line += fmt.Sprintf(" sent=%d send_s=%.3f send_rate=%.1f tryagain=%d", sm.sent, sm.sendSeconds, sendRate, sm.tryagain)
	}
	line += fmt.Sprintf(" cpu_s=%.3f rx_msgs=%d msg_per_s=%.1f MB_per_s=%.3f\n", sm.cpuSeconds, st.rxMsgs, rate, mbs)
	_, err := io.WriteString(w, line)
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
