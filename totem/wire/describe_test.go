package wire_test

import (
	"strings"
	"testing"

	"github.com/corogo/corogo/totem/wire"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"join frame 1", frame(t, 1),
			"MEMB_JOIN node=1 system_from=1 ring_seq=0x1 proc=[1] failed=[]"},
		{"leave frame 1066", frame(t, 1066),
			"MEMB_JOIN node=0 leave system_from=3 ring_seq=0xd proc=[1 2] failed=[3]"},
		{"merge detect frame 19", frame(t, 19),
			"MEMB_MERGE_DETECT node=1 system_from=1 ring=1.5"},
		{"commit token frame 55", frame(t, 55),
			"MEMB_COMMIT_TOKEN node=1 ring=1.9 token_seq=0x1 retrans_flg=0 memb_index=1 addr=[1 2] memb=[{1.5 aru=0x8 high=0x8 rcvd=1} {0.0 aru=0x0 high=0x0 rcvd=0}]"},
		{"initial token frame 59", frame(t, 59),
			"ORF_TOKEN node=1 ring=1.9 seq=0x0 token_seq=0x0 aru=0xffffffff aru_addr=1 backlog=0 fcc=0 retrans_flg=0 rtr=[]"},
		{"token with rtr", benchOrf,
			"ORF_TOKEN node=2 ring=1.22 seq=0xbd token_seq=0xbf aru=0x18 aru_addr=3 backlog=104 fcc=33 retrans_flg=0 rtr=[1.22:0x19 1.22:0x23 1.22:0x30]"},
		{"hold cancel frame 469", frame(t, 469),
			"TOKEN_HOLD_CANCEL node=2 ring=1.d"},
		{"mcast frame 3", frame(t, 3),
			"MCAST node=1 encap=2 system_from=1 ring=1.5 seq=0x1 this_seqno=0x0 guarantee=0 payload=47"},
		{"recovery frame 1518", frame(t, 1518),
			"MCAST node=3 encap=1 (recovery) system_from=3 ring=1.26 seq=0x1 this_seqno=0x10 guarantee=0 payload=1455 " +
				"inner: MCAST node=1 encap=2 system_from=1 ring=1.22 seq=0x3e this_seqno=0x2c guarantee=0 payload=1410"},
		{"big-endian join", swapDatagram(frame(t, 1)),
			"MEMB_JOIN (BE) node=1 system_from=1 ring_seq=0x1 proc=[1] failed=[]"},
		{"trailing", append(frame(t, 469), 0, 0),
			"TOKEN_HOLD_CANCEL node=2 ring=1.d +2 trailing"},
		{"short", []byte{0x70, 0xc0},
			"invalid datagram (2 bytes): wire: decode header: short (len 2): shorter than the 13-byte header"},
		{"bad type", with(frame(t, 469), 3, 7),
			"invalid datagram (25 bytes): wire: decode type(7): bad-type (len 25)"},
	} {
		if got := wire.Describe(tc.b); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// TestDescribeSample describes every sample datagram: one line each, never
// "invalid".
func TestDescribeSample(t *testing.T) {
	for _, d := range sample(t) {
		s := wire.Describe(d.Payload)
		if strings.Contains(s, "invalid") || strings.Contains(s, "\n") {
			t.Errorf("frame %d: %s", d.Frame, s)
		}
	}
}

// TestDescribeNestedDepth checks that nested recovery wrappers are cut off.
func TestDescribeNestedDepth(t *testing.T) {
	h := wire.McastHeader{Header: wire.Header{Encapsulated: wire.Encapsulated, NodeID: 1}}
	b := frame(t, 3)
	for range 5 {
		b = append(h.AppendTo(nil), b...)
	}
	s := wire.Describe(b)
	if strings.Count(s, "inner:") != 3 || !strings.HasSuffix(s, "inner: ...") {
		t.Errorf("nested description: %s", s)
	}
}
