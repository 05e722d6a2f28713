package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sentinel errors; the errors returned by this package wrap one of them.
var (
	// ErrNotPcap reports a file that does not start with a classic pcap magic.
	ErrNotPcap = errors.New("pcap: not a classic pcap file")
	// ErrCorrupt reports a file whose structure is broken (an absurd record
	// length, a record cut short by the end of the file).
	ErrCorrupt = errors.New("pcap: corrupt file")
	// ErrUnsupportedLink reports a link type this package cannot parse.
	ErrUnsupportedLink = errors.New("pcap: unsupported link type")
)

// LinkType is the link-layer header type of a capture (LINKTYPE_* in the
// tcpdump.org registry).
type LinkType uint32

// Link types this package parses.
const (
	// LinkEthernet is LINKTYPE_ETHERNET: IEEE 802.3 frames.
	LinkEthernet LinkType = 1
	// LinkRaw is LINKTYPE_RAW: the frame starts with the IP header.
	LinkRaw LinkType = 101
	// LinkLinuxSLL is LINKTYPE_LINUX_SLL, "Linux cooked capture" (tcpdump -i any).
	LinkLinuxSLL LinkType = 113
	// LinkLinuxSLL2 is LINKTYPE_LINUX_SLL2, the v2 cooked header of newer libpcap.
	LinkLinuxSLL2 LinkType = 276
)

// String names the link type.
func (l LinkType) String() string {
	switch l {
	case LinkEthernet:
		return "ethernet"
	case LinkRaw:
		return "raw"
	case LinkLinuxSLL:
		return "linux-sll"
	case LinkLinuxSLL2:
		return "linux-sll2"
	}
	return fmt.Sprintf("linktype(%d)", uint32(l))
}

// File-header magics, as read little-endian.
const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
)

const (
	fileHeaderSize   = 24
	recordHeaderSize = 16
	// maxRecord bounds a record's captured length so that a corrupt header
	// cannot make the reader allocate gigabytes. It is libpcap's own
	// MAXIMUM_SNAPLEN.
	maxRecord = 262144
)

// Packet is one record of a capture file.
type Packet struct {
	// Frame is the 1-based record number, as Wireshark numbers frames.
	Frame int
	// Time is the capture timestamp, in UTC.
	Time time.Time
	// OrigLen is the frame's length on the wire; it exceeds len(Data) when
	// the snap length cut the frame.
	OrigLen int
	// Data is the captured bytes. Each packet gets its own buffer, which the
	// caller owns.
	Data []byte
}

// Reader reads the records of a classic pcap file in order.
type Reader struct {
	r       io.Reader
	order   binary.ByteOrder
	nano    bool
	link    LinkType
	snaplen uint32
	frame   int
	hdr     [recordHeaderSize]byte
}

// NewReader reads the file header from r and returns a Reader positioned at
// the first record.
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("pcap: reading file header: %w", ErrNotPcap)
		}
		return nil, fmt.Errorf("pcap: reading file header: %w", err)
	}
	pr := &Reader{r: r}
	switch binary.LittleEndian.Uint32(h[0:4]) {
	case magicMicro:
		pr.order = binary.LittleEndian
	case magicNano:
		pr.order, pr.nano = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(h[0:4]) {
		case magicMicro:
			pr.order = binary.BigEndian
		case magicNano:
			pr.order, pr.nano = binary.BigEndian, true
		default:
			return nil, fmt.Errorf("pcap: magic %#x: %w", h[0:4], ErrNotPcap)
		}
	}
	pr.snaplen = pr.order.Uint32(h[16:20])
	// The low 16 bits are the link type; the high bits may carry FCS
	// information, which does not matter here because IP lengths bound the
	// data we read.
	pr.link = LinkType(pr.order.Uint32(h[20:24]) & 0xffff)
	return pr, nil
}

// LinkType returns the capture's link-layer header type.
func (r *Reader) LinkType() LinkType { return r.link }

// Snaplen returns the capture's snap length from the file header.
func (r *Reader) Snaplen() uint32 { return r.snaplen }

// Nanosecond reports whether the file's timestamps have nanosecond resolution.
func (r *Reader) Nanosecond() bool { return r.nano }

// Next returns the next record. At the clean end of the file it returns
// io.EOF; a record cut short by the end of the file is an ErrCorrupt.
func (r *Reader) Next() (Packet, error) {
	frame := r.frame + 1
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Packet{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, fmt.Errorf("pcap: frame %d: record header cut short: %w", frame, ErrCorrupt)
		}
		return Packet{}, fmt.Errorf("pcap: frame %d: reading record header: %w", frame, err)
	}
	sec := r.order.Uint32(r.hdr[0:4])
	frac := r.order.Uint32(r.hdr[4:8])
	incl := r.order.Uint32(r.hdr[8:12])
	orig := r.order.Uint32(r.hdr[12:16])
	if incl > maxRecord {
		return Packet{}, fmt.Errorf("pcap: frame %d: captured length %d exceeds %d: %w", frame, incl, maxRecord, ErrCorrupt)
	}
	data := make([]byte, incl)
	if _, err := io.ReadFull(r.r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Packet{}, fmt.Errorf("pcap: frame %d: record data cut short: %w", frame, ErrCorrupt)
		}
		return Packet{}, fmt.Errorf("pcap: frame %d: reading record data: %w", frame, err)
	}
	r.frame = frame
	nsec := int64(frac)
	if !r.nano {
		nsec *= 1000
	}
	origLen := int(orig)
	if origLen < len(data) {
		origLen = len(data)
	}
	return Packet{
		Frame:   frame,
		Time:    time.Unix(int64(sec), nsec).UTC(),
		OrigLen: origLen,
		Data:    data,
	}, nil
}
