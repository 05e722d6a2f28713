package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"time"
)

// Datagram is one UDP datagram found in a capture, after IP reassembly.
type Datagram struct {
	// Frame is the 1-based number of the frame that completed the datagram:
	// for a fragmented datagram, the fragment that arrived last.
	Frame int
	// Time is the capture time of that frame.
	Time time.Time
	// SrcIP and DstIP are the IPv4 addresses.
	SrcIP, DstIP netip.Addr
	// SrcPort and DstPort are the UDP ports.
	SrcPort, DstPort uint16
	// Payload is the UDP payload, cut to the UDP length. The caller owns it.
	Payload []byte
}

// Stats counts what an Extractor saw.
type Stats struct {
	// Frames is the number of frames given to the Extractor.
	Frames int
	// Datagrams is the number of UDP datagrams returned.
	Datagrams int
	// Fragments is the number of IPv4 fragments taken in.
	Fragments int
	// Reassembled is the number of datagrams rebuilt from fragments.
	Reassembled int
	// Skipped counts frames that are not IPv4 UDP (ARP, IPv6, TCP, ...).
	Skipped int
	// Truncated counts frames cut by the snap length before the end of the
	// IP datagram.
	Truncated int
	// Malformed counts frames with broken link, IP or UDP headers, and
	// fragment sets dropped: inconsistent ones, and the oldest when more
	// than 1,024 are pending.
	Malformed int
	// Pending is the number of fragmented datagrams still incomplete.
	Pending int
}

const (
	etherTypeIPv4  = 0x0800
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88a8
	protoUDP       = 17
	ipv4MinHeader  = 20
	udpHeaderSize  = 8
	maxIPPayload   = 65535 - ipv4MinHeader
	maxPendingSets = 1024
)

// fragKey identifies the fragments of one IPv4 datagram (RFC 791).
type fragKey struct {
	src, dst netip.Addr
	proto    uint8
	id       uint16
}

type fragPiece struct {
	off  int
	data []byte
}

type fragSet struct {
	first  int // frame of the first fragment, for eviction
	total  int // payload length, -1 until the last fragment is seen
	pieces []fragPiece
}

// Extractor turns link-layer frames into UDP datagrams, reassembling IPv4
// fragments across frames. It is not safe for concurrent use.
type Extractor struct {
	link  LinkType
	frags map[fragKey]*fragSet
	stats Stats
}

// NewExtractor returns an Extractor for frames of the given link type.
func NewExtractor(link LinkType) (*Extractor, error) {
	switch link {
	case LinkEthernet, LinkRaw, LinkLinuxSLL, LinkLinuxSLL2:
	default:
		return nil, fmt.Errorf("pcap: new extractor for %v: %w", link, ErrUnsupportedLink)
	}
	return &Extractor{link: link, frags: make(map[fragKey]*fragSet)}, nil
}

// Stats returns the counters so far.
func (e *Extractor) Stats() Stats {
	s := e.stats
	s.Pending = len(e.frags)
	return s
}

// Add takes one frame. It returns the UDP datagram the frame carries or
// completes, and false when the frame yields none (not UDP, a fragment of a
// datagram still incomplete, or malformed; see Stats).
func (e *Extractor) Add(p Packet) (Datagram, bool) {
	e.stats.Frames++
	cut := p.OrigLen > len(p.Data)
	ip, ok := e.network(p.Data, cut)
	if !ok {
		return Datagram{}, false
	}
	if len(ip) < ipv4MinHeader || ip[0]>>4 != 4 {
		e.bad(cut)
		return Datagram{}, false
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < ipv4MinHeader || total < ihl || total > len(ip) {
		e.bad(cut)
		return Datagram{}, false
	}
	ip = ip[:total] // drop link padding and any FCS
	proto := ip[9]
	if proto != protoUDP {
		e.stats.Skipped++
		return Datagram{}, false
	}
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	body := ip[ihl:]
	fl := binary.BigEndian.Uint16(ip[6:8])
	more := fl&0x2000 != 0
	off := int(fl&0x1fff) * 8
	if more || off != 0 {
		e.stats.Fragments++
		key := fragKey{src: src, dst: dst, proto: proto, id: binary.BigEndian.Uint16(ip[4:6])}
		var done bool
		body, done = e.addFragment(key, p.Frame, off, more, body)
		if !done {
			return Datagram{}, false
		}
		e.stats.Reassembled++
	}
	if len(body) < udpHeaderSize {
		e.stats.Malformed++
		return Datagram{}, false
	}
	ulen := int(binary.BigEndian.Uint16(body[4:6]))
	if ulen < udpHeaderSize || ulen > len(body) {
		e.stats.Malformed++
		return Datagram{}, false
	}
	e.stats.Datagrams++
	return Datagram{
		Frame:   p.Frame,
		Time:    p.Time,
		SrcIP:   src,
		DstIP:   dst,
		SrcPort: binary.BigEndian.Uint16(body[0:2]),
		DstPort: binary.BigEndian.Uint16(body[2:4]),
		Payload: body[udpHeaderSize:ulen],
	}, true
}

// bad counts a frame that cannot be parsed: as truncated when the snap length
// cut it, else as malformed.
func (e *Extractor) bad(cut bool) {
	if cut {
		e.stats.Truncated++
	} else {
		e.stats.Malformed++
	}
}

// network strips the link-layer header and returns the IPv4 packet, or false
// when the frame carries something else. cut reports that the snap length cut
// the frame.
func (e *Extractor) network(b []byte, cut bool) ([]byte, bool) {
	var etype uint16
	switch e.link {
	case LinkRaw:
		if len(b) > 0 && b[0]>>4 == 4 {
			return b, true
		}
		if len(b) == 0 {
			e.bad(cut)
		} else {
			e.stats.Skipped++
		}
		return nil, false
	case LinkEthernet:
		if len(b) < 14 {
			e.bad(cut)
			return nil, false
		}
		etype = binary.BigEndian.Uint16(b[12:14])
		b = b[14:]
		for etype == etherTypeVLAN || etype == etherTypeQinQ {
			if len(b) < 4 {
				e.bad(cut)
				return nil, false
			}
			etype = binary.BigEndian.Uint16(b[2:4])
			b = b[4:]
		}
	case LinkLinuxSLL:
		if len(b) < 16 {
			e.bad(cut)
			return nil, false
		}
		etype = binary.BigEndian.Uint16(b[14:16])
		b = b[16:]
	case LinkLinuxSLL2:
		if len(b) < 20 {
			e.bad(cut)
			return nil, false
		}
		etype = binary.BigEndian.Uint16(b[0:2])
		b = b[20:]
	default:
		e.stats.Skipped++
		return nil, false
	}
	if etype != etherTypeIPv4 {
		e.stats.Skipped++
		return nil, false
	}
	return b, true
}

// addFragment stores one fragment and returns the reassembled IP payload
// once every byte of it is known.
func (e *Extractor) addFragment(key fragKey, frame, off int, more bool, data []byte) ([]byte, bool) {
	end := off + len(data)
	if end > maxIPPayload || (more && len(data)%8 != 0) {
		e.stats.Malformed++
		return nil, false
	}
	fs := e.frags[key]
	if fs == nil {
		if len(e.frags) >= maxPendingSets {
			e.evictOldest()
		}
		fs = &fragSet{first: frame, total: -1}
		e.frags[key] = fs
	}
	if !more {
		if fs.total >= 0 && fs.total != end {
			// Two different "last" fragments: give up on this datagram.
			delete(e.frags, key)
			e.stats.Malformed++
			return nil, false
		}
		fs.total = end
	}
	fs.pieces = append(fs.pieces, fragPiece{off: off, data: data})
	if fs.total < 0 {
		return nil, false
	}
	// Check coverage of [0, total) and that nothing lies beyond it.
	sorted := slices.Clone(fs.pieces)
	slices.SortFunc(sorted, func(a, b fragPiece) int { return a.off - b.off })
	covered := 0
	for _, pc := range sorted {
		if pc.off+len(pc.data) > fs.total {
			delete(e.frags, key)
			e.stats.Malformed++
			return nil, false
		}
		if pc.off > covered {
			return nil, false // a hole remains
		}
		covered = max(covered, pc.off+len(pc.data))
	}
	if covered < fs.total {
		return nil, false
	}
	// First come, first served: write later arrivals first so that earlier
	// ones overwrite any overlap.
	buf := make([]byte, fs.total)
	for i := len(fs.pieces) - 1; i >= 0; i-- {
		copy(buf[fs.pieces[i].off:], fs.pieces[i].data)
	}
	delete(e.frags, key)
	return buf, true
}

// evictOldest drops the incomplete datagram whose first fragment is oldest.
func (e *Extractor) evictOldest() {
	var oldest fragKey
	first := -1
	for k, fs := range e.frags {
		if first < 0 || fs.first < first || (fs.first == first && keyLess(k, oldest)) {
			oldest, first = k, fs.first
		}
	}
	if first >= 0 {
		delete(e.frags, oldest)
		e.stats.Malformed++
	}
}

// keyLess orders keys so that eviction does not depend on map iteration order.
func keyLess(a, b fragKey) bool {
	if c := a.src.Compare(b.src); c != 0 {
		return c < 0
	}
	if c := a.dst.Compare(b.dst); c != 0 {
		return c < 0
	}
	if a.proto != b.proto {
		return a.proto < b.proto
	}
	return a.id < b.id
}

// ReadUDPFrom reads a whole capture from r and returns its UDP datagrams in
// capture order, with the extractor's counters. If the file ends in a corrupt
// record, the datagrams before it are returned together with the error.
func ReadUDPFrom(r io.Reader) ([]Datagram, Stats, error) {
	pr, err := NewReader(r)
	if err != nil {
		return nil, Stats{}, err
	}
	ex, err := NewExtractor(pr.LinkType())
	if err != nil {
		return nil, Stats{}, err
	}
	var out []Datagram
	for {
		p, err := pr.Next()
		if errors.Is(err, io.EOF) {
			return out, ex.Stats(), nil
		}
		if err != nil {
			return out, ex.Stats(), err
		}
		if d, ok := ex.Add(p); ok {
			out = append(out, d)
		}
	}
}

// ReadUDP reads the capture file at path and returns its UDP datagrams in
// capture order. See ReadUDPFrom.
func ReadUDP(path string) ([]Datagram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pcap: read udp: %w", err)
	}
	defer f.Close()
	ds, _, err := ReadUDPFrom(f)
	if err != nil {
		return ds, fmt.Errorf("pcap: read udp from %s: %w", path, err)
	}
	return ds, nil
}
