package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/corogo/corogo/internal/spectest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// byteOrder is what binary.LittleEndian and binary.BigEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// fileOpts describe a synthetic capture file.
type fileOpts struct {
	order byteOrder
	nano  bool
	link  LinkType
}

// rec is one record of a synthetic capture.
type rec struct {
	sec, frac uint32
	data      []byte
	origLen   int // 0 means len(data)
}

// buildFile writes a classic pcap file.
func buildFile(o fileOpts, recs ...rec) []byte {
	if o.order == nil {
		o.order = binary.LittleEndian
	}
	var b []byte
	magic := uint32(magicMicro)
	if o.nano {
		magic = magicNano
	}
	b = o.order.AppendUint32(b, magic)
	b = o.order.AppendUint16(b, 2)
	b = o.order.AppendUint16(b, 4)
	b = o.order.AppendUint32(b, 0)
	b = o.order.AppendUint32(b, 0)
	b = o.order.AppendUint32(b, 262144)
	b = o.order.AppendUint32(b, uint32(o.link))
	for _, r := range recs {
		orig := r.origLen
		if orig == 0 {
			orig = len(r.data)
		}
		b = o.order.AppendUint32(b, r.sec)
		b = o.order.AppendUint32(b, r.frac)
		b = o.order.AppendUint32(b, uint32(len(r.data)))
		b = o.order.AppendUint32(b, uint32(orig))
		b = append(b, r.data...)
	}
	return b
}

var (
	ipA = netip.MustParseAddr("10.77.0.1")
	ipB = netip.MustParseAddr("10.77.0.2")
)

// udpBytes builds a UDP header and payload.
func udpBytes(sport, dport uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(udpHeaderSize+len(payload)))
	b = binary.BigEndian.AppendUint16(b, 0xdead) // checksum, not verified
	return append(b, payload...)
}

// ipv4 builds an IPv4 packet around body. off is in bytes (a multiple of 8).
func ipv4(src, dst netip.Addr, proto uint8, id uint16, off int, more bool, body []byte) []byte {
	b := make([]byte, ipv4MinHeader, ipv4MinHeader+len(body))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(ipv4MinHeader+len(body)))
	binary.BigEndian.PutUint16(b[4:], id)
	fl := uint16(off / 8)
	if more {
		fl |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], fl)
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, body...)
}

// ether wraps an IP packet in Ethernet, with optional VLAN tags, and pads
// it to the 60-byte minimum as a NIC would.
func ether(etype uint16, payload []byte, vlans ...uint16) []byte {
	b := make([]byte, 12)
	for _, v := range vlans {
		b = binary.BigEndian.AppendUint16(b, etherTypeVLAN)
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint16(b, etype)
	b = append(b, payload...)
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

func sll(etype uint16, payload []byte) []byte {
	b := make([]byte, 14)
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, payload...)
}

func sll2(etype uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, etype)
	b = append(b, make([]byte, 18)...)
	return append(b, payload...)
}

func readBytes(t *testing.T, file []byte) ([]Datagram, Stats) {
	t.Helper()
	ds, st, err := ReadUDPFrom(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("ReadUDPFrom: %v", err)
	}
	return ds, st
}

func TestByteOrdersAndResolutions(t *testing.T) {
	payload := []byte("hello totem")
	frame := ether(etherTypeIPv4, ipv4(ipA, ipB, protoUDP, 1, 0, false, udpBytes(1234, 5405, payload)))
	for _, tc := range []struct {
		name string
		o    fileOpts
		frac uint32
		want time.Time
	}{
		{"le-micro", fileOpts{order: binary.LittleEndian, link: LinkEthernet}, 179457, time.Unix(1795373910, 179457000).UTC()},
		{"be-micro", fileOpts{order: binary.BigEndian, link: LinkEthernet}, 179457, time.Unix(1795373910, 179457000).UTC()},
		{"le-nano", fileOpts{order: binary.LittleEndian, nano: true, link: LinkEthernet}, 179457123, time.Unix(1795373910, 179457123).UTC()},
		{"be-nano", fileOpts{order: binary.BigEndian, nano: true, link: LinkEthernet}, 179457123, time.Unix(1795373910, 179457123).UTC()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := buildFile(tc.o, rec{sec: 1795373910, frac: tc.frac, data: frame})
			r, err := NewReader(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != LinkEthernet || r.Nanosecond() != tc.o.nano || r.Snaplen() != 262144 {
				t.Fatalf("header: link %v nano %v snaplen %d", r.LinkType(), r.Nanosecond(), r.Snaplen())
			}
			ds, _ := readBytes(t, file)
			if len(ds) != 1 {
				t.Fatalf("got %d datagrams, want 1", len(ds))
			}
			d := ds[0]
			if !d.Time.Equal(tc.want) || d.Frame != 1 {
				t.Errorf("frame %d time %v, want 1 %v", d.Frame, d.Time, tc.want)
			}
			if d.SrcIP != ipA || d.DstIP != ipB || d.SrcPort != 1234 || d.DstPort != 5405 {
				t.Errorf("addresses %v:%d > %v:%d", d.SrcIP, d.SrcPort, d.DstIP, d.DstPort)
			}
			if !bytes.Equal(d.Payload, payload) {
				t.Errorf("payload %q, want %q (Ethernet padding must be cut)", d.Payload, payload)
			}
		})
	}
}

func TestLinkTypes(t *testing.T) {
	payload := bytes.Repeat([]byte{0xab}, 100)
	ip := ipv4(ipA, ipB, protoUDP, 7, 0, false, udpBytes(5405, 5405, payload))
	for _, tc := range []struct {
		name  string
		link  LinkType
		frame []byte
	}{
		{"ethernet", LinkEthernet, ether(etherTypeIPv4, ip)},
		{"ethernet-vlan", LinkEthernet, ether(etherTypeIPv4, ip, 42)},
		{"ethernet-qinq", LinkEthernet, ether(etherTypeIPv4, ip, 42, 43)},
		{"sll", LinkLinuxSLL, sll(etherTypeIPv4, ip)},
		{"sll2", LinkLinuxSLL2, sll2(etherTypeIPv4, ip)},
		{"raw", LinkRaw, ip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, st := readBytes(t, buildFile(fileOpts{link: tc.link}, rec{data: tc.frame}))
			if len(ds) != 1 || !bytes.Equal(ds[0].Payload, payload) {
				t.Fatalf("got %d datagrams (stats %+v)", len(ds), st)
			}
		})
	}
}

func TestUnsupportedLink(t *testing.T) {
	_, _, err := ReadUDPFrom(bytes.NewReader(buildFile(fileOpts{link: 105})))
	if !errors.Is(err, ErrUnsupportedLink) {
		t.Fatalf("err = %v, want ErrUnsupportedLink", err)
	}
}

// fragments splits a UDP datagram into IPv4 fragments of at most size
// payload bytes (a multiple of 8).
func fragments(id uint16, udp []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(udp); off += size {
		end := min(off+size, len(udp))
		out = append(out, ipv4(ipA, ipB, protoUDP, id, off, end < len(udp), udp[off:end]))
	}
	return out
}

func TestFragmentReassembly(t *testing.T) {
	payload := make([]byte, 1500)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	udp := udpBytes(40000, 5405, payload)
	frags := fragments(99, udp, 1480) // like the sample: 1480 + 28
	if len(frags) != 2 {
		t.Fatalf("setup: %d fragments", len(frags))
	}
	small := fragments(100, udp, 512)
	for _, tc := range []struct {
		name      string
		order     [][]byte
		wantFrame int
	}{
		{"in-order", [][]byte{frags[0], frags[1]}, 2},
		{"reversed", [][]byte{frags[1], frags[0]}, 2},
		{"interleaved-with-other", [][]byte{frags[0], ipv4(ipA, ipB, protoUDP, 5, 0, false, udpBytes(1, 2, []byte("x"))), frags[1]}, 3},
		{"three-shuffled", [][]byte{small[2], small[0], small[1]}, 3},
		{"duplicate-first", [][]byte{small[0], small[0], small[2], small[1]}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []rec
			for _, ip := range tc.order {
				recs = append(recs, rec{data: ether(etherTypeIPv4, ip)})
			}
			ds, st := readBytes(t, buildFile(fileOpts{link: LinkEthernet}, recs...))
			var got *Datagram
			for i := range ds {
				if ds[i].DstPort == 5405 {
					got = &ds[i]
				}
			}
			if got == nil {
				t.Fatalf("no reassembled datagram; stats %+v", st)
			}
			if got.Frame != tc.wantFrame || !bytes.Equal(got.Payload, payload) {
				t.Fatalf("frame %d len %d, want frame %d len %d", got.Frame, len(got.Payload), tc.wantFrame, len(payload))
			}
			if st.Reassembled != 1 || st.Pending != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestFragmentOverlapFirstWins(t *testing.T) {
	payload := bytes.Repeat([]byte{1}, 40)
	udp := udpBytes(1, 5405, payload) // 48 bytes
	first := ipv4(ipA, ipB, protoUDP, 3, 0, true, udp[:32])
	bogus := append([]byte(nil), udp[16:32]...)
	for i := range bogus {
		bogus[i] = 9
	}
	overlap := ipv4(ipA, ipB, protoUDP, 3, 16, true, bogus)
	last := ipv4(ipA, ipB, protoUDP, 3, 32, false, udp[32:])
	ds, _ := readBytes(t, buildFile(fileOpts{link: LinkRaw}, rec{data: first}, rec{data: overlap}, rec{data: last}))
	if len(ds) != 1 || !bytes.Equal(ds[0].Payload, payload) {
		t.Fatalf("got %d datagrams: %v", len(ds), ds)
	}
}

func TestFragmentFailures(t *testing.T) {
	udp := udpBytes(1, 5405, bytes.Repeat([]byte{1}, 40)) // 48 bytes
	for _, tc := range []struct {
		name          string
		ips           [][]byte
		wantPending   int
		wantMalformed int
	}{
		{"missing-middle", [][]byte{
			ipv4(ipA, ipB, protoUDP, 1, 0, true, udp[:16]),
			ipv4(ipA, ipB, protoUDP, 1, 32, false, udp[32:]),
		}, 1, 0},
		{"only-first", [][]byte{ipv4(ipA, ipB, protoUDP, 1, 0, true, udp[:16])}, 1, 0},
		{"two-different-lasts", [][]byte{
			ipv4(ipA, ipB, protoUDP, 1, 32, false, udp[32:]),
			ipv4(ipA, ipB, protoUDP, 1, 16, false, udp[16:24]),
		}, 0, 1},
		{"beyond-last", [][]byte{
			ipv4(ipA, ipB, protoUDP, 1, 0, true, udp[:40]),
			ipv4(ipA, ipB, protoUDP, 1, 16, false, udp[16:24]),
		}, 0, 1},
		{"unaligned-more", [][]byte{ipv4(ipA, ipB, protoUDP, 1, 0, true, udp[:13])}, 0, 1},
		{"too-large", [][]byte{ipv4(ipA, ipB, protoUDP, 1, 8191*8, false, udp)}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []rec
			for _, ip := range tc.ips {
				recs = append(recs, rec{data: ip})
			}
			ds, st := readBytes(t, buildFile(fileOpts{link: LinkRaw}, recs...))
			if len(ds) != 0 || st.Pending != tc.wantPending || st.Malformed != tc.wantMalformed {
				t.Fatalf("got %d datagrams, stats %+v", len(ds), st)
			}
		})
	}
}

func TestFragmentEviction(t *testing.T) {
	ex, err := NewExtractor(LinkRaw)
	if err != nil {
		t.Fatal(err)
	}
	udp := udpBytes(1, 2, make([]byte, 8)) // 16 bytes: two 8-byte fragments
	for i := range maxPendingSets + 10 {
		ex.Add(Packet{Frame: i + 1, Data: ipv4(ipA, ipB, protoUDP, uint16(i), 0, true, udp[:8])})
	}
	st := ex.Stats()
	if st.Pending != maxPendingSets || st.Malformed != 10 {
		t.Fatalf("stats %+v", st)
	}
	// The oldest sets were evicted: completing set 0 no longer works, set 20 does.
	if _, ok := ex.Add(Packet{Frame: 9999, Data: ipv4(ipA, ipB, protoUDP, 0, 8, false, udp[8:])}); ok {
		t.Errorf("evicted set 0 completed")
	}
	d, ok := ex.Add(Packet{Frame: 10000, Data: ipv4(ipA, ipB, protoUDP, 20, 8, false, udp[8:])})
	if !ok || d.Frame != 10000 || len(d.Payload) != 8 {
		t.Errorf("set 20 did not complete: %v %+v", ok, d)
	}
}

func TestSkippedAndMalformedFrames(t *testing.T) {
	good := ipv4(ipA, ipB, protoUDP, 1, 0, false, udpBytes(1, 5405, []byte("ok")))
	badIHL := append([]byte(nil), good...)
	badIHL[0] = 0x44
	udpTooLong := ipv4(ipA, ipB, protoUDP, 1, 0, false, udpBytes(1, 5405, []byte("ok")))
	binary.BigEndian.PutUint16(udpTooLong[ipv4MinHeader+4:], 200)
	ipTooLong := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(ipTooLong[2:], 300)
	recs := []rec{
		{data: ether(0x0806, make([]byte, 28))},                                              // ARP: skipped
		{data: ether(0x86dd, make([]byte, 60))},                                              // IPv6: skipped
		{data: ether(etherTypeIPv4, ipv4(ipA, ipB, 6, 1, 0, false, make([]byte, 20)))},       // TCP: skipped
		{data: make([]byte, 10)},                                                             // short Ethernet: malformed
		{data: ether(etherTypeIPv4, []byte{0x45, 0})},                                        // short IP (padded): malformed
		{data: ether(etherTypeIPv4, badIHL)},                                                 // IHL 16: malformed
		{data: ether(etherTypeIPv4, udpTooLong)},                                             // UDP length > IP: malformed
		{data: ether(etherTypeIPv4, ipTooLong)},                                              // IP length > frame: malformed
		{data: ether(etherTypeIPv4, ipv4(ipA, ipB, protoUDP, 1, 0, false, []byte{1, 2, 3}))}, // UDP header short: malformed
		{data: ether(etherTypeIPv4, good)[:30], origLen: 60},                                 // cut by snaplen: truncated
		{data: ether(etherTypeVLAN, nil)[:14]},                                               // VLAN tag missing: malformed
		{data: ether(etherTypeIPv4, good)},                                                   // good
	}
	ds, st := readBytes(t, buildFile(fileOpts{link: LinkEthernet}, recs...))
	if len(ds) != 1 || ds[0].Frame != len(recs) || string(ds[0].Payload) != "ok" {
		t.Fatalf("datagrams %v", ds)
	}
	want := Stats{Frames: 12, Datagrams: 1, Skipped: 3, Malformed: 7, Truncated: 1}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestCorruptFiles(t *testing.T) {
	good := buildFile(fileOpts{link: LinkEthernet}, rec{data: ether(etherTypeIPv4, ipv4(ipA, ipB, protoUDP, 1, 0, false, udpBytes(1, 2, nil)))})
	huge := buildFile(fileOpts{link: LinkEthernet}, rec{data: nil})
	binary.LittleEndian.PutUint32(huge[fileHeaderSize+8:], maxRecord+1)
	for _, tc := range []struct {
		name  string
		file  []byte
		want  error
		nData int
	}{
		{"empty", nil, ErrNotPcap, 0},
		{"short-header", good[:10], ErrNotPcap, 0},
		{"pcapng", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, good[4:]...), ErrNotPcap, 0},
		{"cut-record-header", good[:fileHeaderSize+5], ErrCorrupt, 0},
		{"cut-record-data", good[:len(good)-3], ErrCorrupt, 0},
		{"huge-record", huge, ErrCorrupt, 0},
		{"good-then-cut", append(append([]byte(nil), good...), good[fileHeaderSize:fileHeaderSize+20]...), ErrCorrupt, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, _, err := ReadUDPFrom(bytes.NewReader(tc.file))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(ds) != tc.nData {
				t.Fatalf("got %d datagrams before the error, want %d", len(ds), tc.nData)
			}
		})
	}
}

func TestReadUDPMissingFile(t *testing.T) {
	_, err := ReadUDP(filepath.Join(t.TempDir(), "nope.pcap"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func samplePath(t testing.TB) string { return spectest.Path(t, spectest.Sample) }

func TestSampleCapture(t *testing.T) {
	f, err := os.Open(samplePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, st, err := ReadUDPFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sample: %+v", st)
	// 2,329 frames: 45 datagrams are IP-fragmented into 2 frames each, and
	// one first fragment lost its second half at an excerpt boundary.
	want := Stats{Frames: 2329, Datagrams: 2283, Fragments: 91, Reassembled: 45, Pending: 1}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	first := ds[0]
	if first.Frame != 1 || len(first.Payload) != 37 || first.SrcIP != ipA || first.DstIP != ipB || first.DstPort != 5405 {
		t.Errorf("frame 1: %+v", first)
	}
	if want := time.Unix(1795373910, 179457000).UTC(); !first.Time.Equal(want) {
		t.Errorf("frame 1 time %v, want %v", first.Time, want)
	}
	var enc *Datagram
	for i := range ds {
		if ds[i].Frame == 1517 {
			t.Errorf("frame 1517 is a first fragment and must not yield a datagram")
		}
		if ds[i].Frame == 1518 {
			enc = &ds[i]
		}
	}
	if enc == nil {
		t.Fatal("no datagram for frames 1517+1518")
	}
	if len(enc.Payload) != 1500 || enc.SrcIP != netip.MustParseAddr("10.77.0.3") || enc.DstIP != ipA || enc.DstPort != 5405 {
		t.Errorf("frame 1518: %v:%d > %v:%d len %d", enc.SrcIP, enc.SrcPort, enc.DstIP, enc.DstPort, len(enc.Payload))
	}
	if enc.Payload[4] != 1 || !bytes.Equal(enc.Payload[45:47], []byte{0x70, 0xc0}) {
		t.Errorf("frame 1518 is not an encapsulated MCAST: % x", enc.Payload[:50])
	}
}

func FuzzReadUDP(f *testing.F) {
	ip := ipv4(ipA, ipB, protoUDP, 1, 0, false, udpBytes(1, 5405, []byte("seed")))
	f.Add(buildFile(fileOpts{link: LinkEthernet}, rec{data: ether(etherTypeIPv4, ip)}))
	f.Add(buildFile(fileOpts{order: binary.BigEndian, nano: true, link: LinkLinuxSLL}, rec{data: sll(etherTypeIPv4, ip)}))
	var recs []rec
	for _, fr := range fragments(2, udpBytes(1, 5405, make([]byte, 100)), 48) {
		recs = append(recs, rec{data: sll2(etherTypeIPv4, fr)})
	}
	f.Add(buildFile(fileOpts{link: LinkLinuxSLL2}, recs...))
	f.Add(buildFile(fileOpts{link: LinkRaw}, rec{data: ip}))
	f.Fuzz(func(t *testing.T, file []byte) {
		ds, st, err := ReadUDPFrom(bytes.NewReader(file))
		if err != nil && !errors.Is(err, ErrNotPcap) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedLink) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if len(ds) != st.Datagrams {
			t.Fatalf("%d datagrams, stats say %d", len(ds), st.Datagrams)
		}
		for _, d := range ds {
			if !d.SrcIP.Is4() || !d.DstIP.Is4() || d.Frame < 1 || d.Frame > st.Frames {
				t.Fatalf("bad datagram %+v", d)
			}
		}
	})
}
