package wire_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/corogo/corogo/totem/wire"
)

// TestSwappedSample byte-swaps every field of every sample datagram, as a
// big-endian corosync would send it, and requires the same decoded struct
// with Swapped set.
func TestSwappedSample(t *testing.T) {
	counts := make(map[wire.MessageType]int)
	for _, d := range sample(t) {
		b := d.Payload
		be := swapDatagram(b)
		if be == nil {
			t.Fatalf("frame %d: cannot swap", d.Frame)
		}
		if bytes.Equal(be, b) {
			t.Fatalf("frame %d: swapping changed nothing", d.Frame)
		}
		le, err := wire.Decode(b)
		if err != nil {
			t.Fatalf("frame %d: %v", d.Frame, err)
		}
		got, err := wire.Decode(be)
		if err != nil {
			t.Fatalf("frame %d swapped: %v", d.Frame, err)
		}
		if !header(got).Swapped {
			t.Errorf("frame %d: Swapped not set", d.Frame)
		}
		header(le).Swapped = true
		if !reflect.DeepEqual(got, le) {
			t.Errorf("frame %d: swapped decode\n got %+v\nwant %+v", d.Frame, got, le)
		}
		// Re-encoding a big-endian message yields the little-endian original.
		out := got.AppendTo(nil)
		if !bytes.Equal(out, b[:len(out)]) {
			t.Errorf("frame %d: re-encoding the swapped decode differs from the original", d.Frame)
		}
		counts[header(got).Type]++
	}
	for _, ty := range allTypes {
		if counts[ty] == 0 {
			t.Errorf("no swapped %v checked", ty)
		}
	}
	t.Logf("swapped and decoded: %v", counts)
}

// TestSwappedLiterals checks big-endian datagrams written out by hand, which
// also checks swapDatagram itself.
func TestSwappedLiterals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hex   string
		leFrm int
		want  wire.Message
	}{
		{
			name: "join frame 1",
			hex: `c0 70 | 03 | 03 | 00 | 00 00 00 01 | 00 00 00 00
				00 00 00 01 | 00 00 00 01 | 00 00 00 00
				00 00 00 00 00 00 00 01 | 00 00 00 01`,
			leFrm: 1,
			want: &wire.MembJoin{
				Header:     wire.Header{Type: wire.TypeMembJoin, NodeID: 1, Swapped: true},
				SystemFrom: 1, RingSeq: 1, ProcList: []uint32{1},
			},
		},
		{
			name:  "merge detect frame 19",
			hex:   `c0 70 03 02 00 | 00 00 00 01 | 20 1b f7 71 | 00 00 00 01 | 00 00 00 01 00 00 00 00 00 00 00 05`,
			leFrm: 19,
			want: &wire.MergeDetect{
				Header:     wire.Header{Type: wire.TypeMergeDetect, NodeID: 1, TargetNodeID: 0x201bf771, Swapped: true},
				SystemFrom: 1, RingID: wire.RingID{Rep: 1, Seq: 5},
			},
		},
		{
			name: "orf token with one rtr entry",
			hex: `c0 70 03 00 00 | 00 00 00 02 | 00 00 00 00
				00 00 00 bd | 00 00 00 bf | 00 00 00 18 | 00 00 00 03
				00 00 00 01 00 00 00 00 00 00 00 22
				00 00 00 68 | 00 00 00 21 | 00 00 00 00 | 00 00 00 01
				00 00 00 01 00 00 00 00 00 00 00 22 | 00 00 00 19`,
			want: &wire.OrfToken{
				Header: wire.Header{Type: wire.TypeOrfToken, NodeID: 2, Swapped: true},
				Seq:    0xbd, TokenSeq: 0xbf, Aru: 0x18, AruAddr: 3, RingID: wire.RingID{Rep: 1, Seq: 0x22},
				Backlog: 0x68, FCC: 0x21,
				RtrList: []wire.RtrItem{{RingID: wire.RingID{Rep: 1, Seq: 0x22}, Seq: 0x19}},
			},
		},
		{
			name: "commit token, one member",
			hex: `c0 70 03 04 00 | 00 00 00 01 | 00 00 00 00
				00 00 00 07 | 00 00 00 01 00 00 00 00 00 00 00 09
				00 00 00 00 | 00 00 00 01 | 00 00 00 01
				00 00 00 01
				00 00 00 01 00 00 00 00 00 00 00 05 | 00 00 00 08 | 00 00 00 08 | 00 00 00 01`,
			want: &wire.CommitToken{
				Header:   wire.Header{Type: wire.TypeCommitToken, NodeID: 1, Swapped: true},
				TokenSeq: 7, RingID: wire.RingID{Rep: 1, Seq: 9}, MembIndex: 1, Addr: []uint32{1},
				MembList: []wire.CommitMemb{{RingID: wire.RingID{Rep: 1, Seq: 5}, Aru: 8, HighDelivered: 8, ReceivedFlg: 1}},
			},
		},
		{
			name: "mcast header",
			hex: `c0 70 03 01 02 | 00 00 00 01 | 00 00 00 00
				00 00 00 01 | 00 00 00 01 | 00 00 00 00
				00 00 00 01 00 00 00 00 00 00 00 05
				00 00 00 00 | 00 00 00 01 | aa bb`,
			want: &wire.McastHeader{
				Header:     wire.Header{Type: wire.TypeMcast, Encapsulated: wire.NotEncapsulated, NodeID: 1, Swapped: true},
				SystemFrom: 1, Seq: 1, RingID: wire.RingID{Rep: 1, Seq: 5}, Guarantee: 1,
			},
		},
		{
			name: "token hold cancel frame 469",
			hex:  `c0 70 03 05 00 | 00 00 00 02 | 00 00 00 00 | 00 00 00 01 00 00 00 00 00 00 00 0d`,
			want: &wire.TokenHoldCancel{
				Header: wire.Header{Type: wire.TypeTokenHoldCancel, NodeID: 2, Swapped: true},
				RingID: wire.RingID{Rep: 1, Seq: 0xd},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.hex)
			h, err := wire.PeekHeader(b)
			if err != nil || !h.Swapped {
				t.Fatalf("PeekHeader: %+v, %v", h, err)
			}
			got, err := wire.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			// Swapping the little-endian encoding by hand gives the literal back.
			le := got.AppendTo(nil)
			if got.MessageType() == wire.TypeMcast {
				le = append(le, wire.McastPayload(b)...)
			}
			if sw := swapDatagram(le); !bytes.Equal(sw, b) {
				t.Errorf("swapDatagram(AppendTo) =\n% x\nwant\n% x", sw, b)
			}
			if tc.leFrm != 0 {
				if lb := frame(t, tc.leFrm); !bytes.Equal(le, lb) {
					t.Errorf("little-endian encoding differs from frame %d", tc.leFrm)
				}
			}
		})
	}
}
