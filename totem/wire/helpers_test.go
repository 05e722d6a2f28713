package wire_test

import (
	"encoding/binary"
	"encoding/hex"
	"github.com/corogo/corogo/internal/spectest"
	"strings"
	"sync"
	"testing"

	"github.com/corogo/corogo/internal/pcap"
	"github.com/corogo/corogo/totem/wire"
)

// totemPort is corosync's default mcastport; every Totem datagram in the
// sample is sent to it (tokens also from it).
const totemPort = 5405

func samplePath(tb testing.TB) string { return spectest.Path(tb, spectest.Sample) }

var sampleOnce struct {
	sync.Once
	ds  []pcap.Datagram
	err error
}

// sample returns the Totem datagrams (to or from port 5405) of the capture,
// in capture order. The result is shared: callers must not modify payloads.
func sample(tb testing.TB) []pcap.Datagram {
	tb.Helper()
	path := samplePath(tb)
	sampleOnce.Do(func() {
		all, err := pcap.ReadUDP(path)
		if err != nil {
			sampleOnce.err = err
			return
		}
		for _, d := range all {
			if d.SrcPort == totemPort || d.DstPort == totemPort {
				sampleOnce.ds = append(sampleOnce.ds, d)
			}
		}
	})
	if sampleOnce.err != nil {
		tb.Fatalf("reading sample: %v", sampleOnce.err)
	}
	return sampleOnce.ds
}

// frame returns a copy of the sample datagram completed by the given frame.
func frame(tb testing.TB, n int) []byte {
	tb.Helper()
	for _, d := range sample(tb) {
		if d.Frame == n {
			return append([]byte(nil), d.Payload...)
		}
	}
	tb.Fatalf("no Totem datagram at frame %d", n)
	return nil
}

// unhex decodes hex written with spaces, newlines and "|" separators.
func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex: %v", err)
	}
	return b
}

// swapDatagram returns a copy of a little-endian datagram with every field
// byte-swapped by hand, field by field, as a big-endian corosync would have
// sent it. It walks the layouts of corosync-wire.md §2 independently of the
// package's encoder. It returns nil when b is not a well-formed little-endian
// message. MCAST payloads are left as they are.
func swapDatagram(b []byte) []byte {
	if len(b) < wire.HeaderSize || b[0] != 0x70 || b[1] != 0xc0 {
		return nil
	}
	out := append([]byte(nil), b...)
	off := 0
	// field reverses the next w bytes.
	field := func(w int) bool {
		if off+w > len(out) {
			return false
		}
		f := out[off : off+w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			f[i], f[j] = f[j], f[i]
		}
		off += w
		return true
	}
	fields := func(ws ...int) bool {
		for _, w := range ws {
			if !field(w) {
				return false
			}
		}
		return true
	}
	le := binary.LittleEndian
	// header: magic, version, type, encapsulated, nodeid, target_nodeid
	fields(2, 1, 1, 1, 4, 4)
	ok := true
	switch wire.MessageType(b[3]) {
	case wire.TypeOrfToken:
		if len(b) < wire.OrfTokenSize {
			return nil
		}
		n := int(le.Uint32(b[53:]))
		ok = fields(4, 4, 4, 4, 4, 8, 4, 4, 4, 4)
		for i := 0; ok && i < n; i++ {
			ok = fields(4, 8, 4)
		}
	case wire.TypeMcast:
		ok = fields(4, 4, 4, 4, 8, 4, 4)
	case wire.TypeMergeDetect:
		ok = fields(4, 4, 8)
	case wire.TypeMembJoin:
		if len(b) < wire.MembJoinSize {
			return nil
		}
		n := int(le.Uint32(b[17:])) + int(le.Uint32(b[21:]))
		ok = fields(4, 4, 4, 8)
		for i := 0; ok && i < n; i++ {
			ok = field(4)
		}
	case wire.TypeCommitToken:
		if len(b) < wire.CommitTokenSize {
			return nil
		}
		n := int(le.Uint32(b[37:]))
		ok = fields(4, 4, 8, 4, 4, 4)
		for i := 0; ok && i < n; i++ {
			ok = field(4)
		}
		for i := 0; ok && i < n; i++ {
			ok = fields(4, 8, 4, 4, 4)
		}
	case wire.TypeTokenHoldCancel:
		ok = fields(4, 8)
	default:
		return nil
	}
	if !ok {
		return nil
	}
	return out
}

// newMessage returns a zero message of type t.
func newMessage(t wire.MessageType) wire.Message {
	switch t {
	case wire.TypeOrfToken:
		return new(wire.OrfToken)
	case wire.TypeMcast:
		return new(wire.McastHeader)
	case wire.TypeMergeDetect:
		return new(wire.MergeDetect)
	case wire.TypeMembJoin:
		return new(wire.MembJoin)
	case wire.TypeCommitToken:
		return new(wire.CommitToken)
	case wire.TypeTokenHoldCancel:
		return new(wire.TokenHoldCancel)
	}
	return nil
}

// header returns a pointer to the common header of a message.
func header(m wire.Message) *wire.Header {
	switch m := m.(type) {
	case *wire.OrfToken:
		return &m.Header
	case *wire.McastHeader:
		return &m.Header
	case *wire.MergeDetect:
		return &m.Header
	case *wire.MembJoin:
		return &m.Header
	case *wire.CommitToken:
		return &m.Header
	case *wire.TokenHoldCancel:
		return &m.Header
	}
	return nil
}

// allTypes lists the six message types.
var allTypes = []wire.MessageType{
	wire.TypeOrfToken, wire.TypeMcast, wire.TypeMergeDetect,
	wire.TypeMembJoin, wire.TypeCommitToken, wire.TypeTokenHoldCancel,
}
