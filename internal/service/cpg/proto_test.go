package cpg

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// protoCase is one payload type of the IPC protocol: an encoder of a
// sample value and a decoder that encodes what it decoded, so that every
// type can be checked (and fuzzed) the same way.
type protoCase struct {
	name   string
	sample func() []byte
	// redo decodes b and encodes the result again.
	redo func(b []byte) ([]byte, error)
}

var protoCases = []protoCase{
	{"join", func() []byte { return AppendJoinRequest(nil, JoinRequest{PID: 4242, Group: []byte("grp")}) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeJoinRequest(b)
			return AppendJoinRequest(nil, m), err
		}},
	{"leave", func() []byte { return AppendLeaveRequest(nil, LeaveRequest{Group: []byte("grp")}) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeLeaveRequest(b)
			return AppendLeaveRequest(nil, m), err
		}},
	{"mcast", func() []byte {
		return AppendMcastRequest(nil, McastRequest{Guarantee: totem.Safe, Group: []byte("grp"), Data: []byte("data")})
	}, func(b []byte) ([]byte, error) {
		m, err := DecodeMcastRequest(b)
		return AppendMcastRequest(nil, m), err
	}},
	{"membership", func() []byte { return AppendMembershipRequest(nil, MembershipRequest{Group: []byte("grp")}) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeMembershipRequest(b)
			return AppendMembershipRequest(nil, m), err
		}},
	{"membership reply", func() []byte { return AppendMembershipReply(nil, []Member{{1, 2}, {3, 4}}) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeMembershipReply(b)
			return AppendMembershipReply(nil, m), err
		}},
	{"local get reply", func() []byte { return AppendLocalGetReply(nil, 7) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeLocalGetReply(b)
			return AppendLocalGetReply(nil, m), err
		}},
	{"iterate", func() []byte {
		return AppendIterateRequest(nil, IterateRequest{Mode: IterOneGroup, Group: []byte("grp")})
	},
		func(b []byte) ([]byte, error) {
			m, err := DecodeIterateRequest(b)
			return AppendIterateRequest(nil, m), err
		}},
	{"iterate reply", func() []byte {
		return AppendIterateReply(nil, []IterEntry{{Group: []byte("a"), NodeID: 1, PID: 2}, {Group: []byte("bb")}})
	}, func(b []byte) ([]byte, error) {
		m, err := DecodeIterateReply(b)
		return AppendIterateReply(nil, m), err
	}},
	{"track totem", func() []byte { return AppendTrackTotemRequest(nil, TrackTotemRequest{On: true, Initial: true}) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeTrackTotemRequest(b)
			return AppendTrackTotemRequest(nil, m), err
		}},
	{"flow state reply", func() []byte { return AppendFlowStateReply(nil, true) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeFlowStateReply(b)
			return AppendFlowStateReply(nil, m), err
		}},
	{"max atomic reply", func() []byte { return AppendMaxAtomicReply(nil, 1<<20) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeMaxAtomicReply(b)
			return AppendMaxAtomicReply(nil, m), err
		}},
	{"deliver", func() []byte {
		return AppendDeliverEvent(nil, DeliverEvent{NodeID: 1, PID: 2, Guarantee: totem.Safe, Group: []byte("grp"), Data: []byte("x")})
	}, func(b []byte) ([]byte, error) {
		m, err := DecodeDeliverEvent(b)
		return AppendDeliverEvent(nil, m), err
	}},
	{"confchg", func() []byte {
		return AppendConfChgEvent(nil, ConfChgEvent{Group: []byte("grp"),
			Members: []Address{{1, 2, 0}, {3, 4, 0}}, Left: []Address{{5, 6, ReasonNodeDown}}, Joined: []Address{{3, 4, ReasonJoin}}})
	}, func(b []byte) ([]byte, error) {
		m, err := DecodeConfChgEvent(b)
		return AppendConfChgEvent(nil, m), err
	}},
	{"totem confchg", func() []byte {
		return AppendTotemConfChgEvent(nil, TotemConfChgEvent{Ring: totem.RingID{Rep: 1, Seq: 0x37}, Members: []uint32{1, 2, 3}})
	}, func(b []byte) ([]byte, error) {
		m, err := DecodeTotemConfChgEvent(b)
		return AppendTotemConfChgEvent(nil, m), err
	}},
	{"flow control", func() []byte { return AppendFlowControlEvent(nil, true) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeFlowControlEvent(b)
			return AppendFlowControlEvent(nil, m), err
		}},
	{"error", func() []byte { return AppendErrorEvent(nil, ErrorEvent{Fn: ReqMcast, Status: service.ErrNotExist}) },
		func(b []byte) ([]byte, error) {
			m, err := DecodeErrorEvent(b)
			return AppendErrorEvent(nil, m), err
		}},
}

func TestProtoRoundTrip(t *testing.T) {
	for _, pc := range protoCases {
		b := pc.sample()
		got, err := pc.redo(b)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s: %x → %x, %v", pc.name, b, got, err)
		}
		// Every strict prefix is refused, except where the layout ends
		// with data (the prefix is then a shorter message).
		for n := range len(b) {
			got, err := pc.redo(b[:n])
			if err == nil && !bytes.Equal(got, b[:n]) {
				t.Errorf("%s: prefix %x accepted and re-encoded as %x", pc.name, b[:n], got)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: prefix error %v does not wrap ErrMalformed", pc.name, err)
			}
		}
	}
}

func TestProtoLayouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"join", AppendJoinRequest(nil, JoinRequest{PID: 0x4808, Group: []byte("wbgrp")}), "08480000 0500 7762677270"},
		{"mcast", AppendMcastRequest(nil, McastRequest{Guarantee: 1, Group: []byte("g"), Data: []byte("hi")}), "01 00 0100 67 6869"},
		{"deliver", AppendDeliverEvent(nil, DeliverEvent{NodeID: 2, PID: 3, Group: []byte("g"), Data: []byte("hi")}), "02000000 03000000 00 00 0100 67 6869"},
		{"confchg", AppendConfChgEvent(nil, ConfChgEvent{Group: []byte("g"), Members: []Address{{1, 2, 0}}, Joined: []Address{{1, 2, 1}}}),
			"0100 67 01000000 00000000 01000000 01000000 02000000 00000000 01000000 02000000 01000000"},
		{"totem", AppendTotemConfChgEvent(nil, TotemConfChgEvent{Ring: totem.RingID{Rep: 1, Seq: 0x37}, Members: []uint32{1, 3}}),
			"01000000 3700000000000000 02000000 01000000 03000000"},
		{"error", AppendErrorEvent(nil, ErrorEvent{Fn: 3, Status: service.ErrTryAgain}), "0300 0000 06000000"},
		{"iterate", AppendIterateRequest(nil, IterateRequest{Mode: IterAll}), "03 0000"},
		{"track", AppendTrackTotemRequest(nil, TrackTotemRequest{On: true}), "01"},
	} {
		if want := hexBytes(t, tc.want); !bytes.Equal(tc.got, want) {
			t.Errorf("%s: got %x, want %x", tc.name, tc.got, want)
		}
	}
}

func TestProtoDecodeValues(t *testing.T) {
	m, err := DecodeConfChgEvent(AppendConfChgEvent(nil, ConfChgEvent{Group: []byte("g"), Left: []Address{{5, 6, ReasonProcDown}}}))
	if err != nil || string(m.Group) != "g" || m.Members != nil || m.Joined != nil || !reflect.DeepEqual(m.Left, []Address{{5, 6, ReasonProcDown}}) {
		t.Fatalf("%+v %v", m, err)
	}
	for name, b := range map[string][]byte{
		"confchg huge counts":  hexBytes(t, "0100 67 ffffffff ffffffff ffffffff"),
		"confchg count":        hexBytes(t, "0100 67 02000000 00000000 00000000 010000000200000000000000"),
		"membership huge":      hexBytes(t, "ffffffff"),
		"track flags":          {4},
		"flow 2":               {2},
		"mcast pad":            hexBytes(t, "00 01 0100 67"),
		"join trailing":        hexBytes(t, "01000000 0100 67 00"),
		"name longer than buf": hexBytes(t, "0500 6767"),
	} {
		var err error
		switch name[:4] {
		case "conf":
			_, err = DecodeConfChgEvent(b)
		case "memb":
			_, err = DecodeMembershipReply(b)
		case "trac":
			_, err = DecodeTrackTotemRequest(b)
		case "flow":
			_, err = DecodeFlowControlEvent(b)
		case "mcas":
			_, err = DecodeMcastRequest(b)
		case "join":
			_, err = DecodeJoinRequest(b)
		case "name":
			_, err = DecodeLeaveRequest(b)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMaxDeliverHeader(t *testing.T) {
	hdr := AppendDeliverHeader(nil, 1<<31, 1<<31, totem.Safe, bytes.Repeat([]byte("x"), MaxNameLen))
	if len(hdr) != MaxDeliverHeader {
		t.Fatalf("%d bytes", len(hdr))
	}
}

// TestProtoNoAlloc: the hot-path decoders and encoders do not allocate.
func TestProtoNoAlloc(t *testing.T) {
	req := AppendMcastRequest(nil, McastRequest{Group: []byte("grp"), Data: make([]byte, 100)})
	ev := AppendDeliverEvent(nil, DeliverEvent{Group: []byte("grp"), Data: make([]byte, 100)})
	buf := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		m, _ := DecodeMcastRequest(req)
		d, _ := DecodeDeliverEvent(ev)
		buf = AppendDeliverHeader(buf[:0], d.NodeID, d.PID, m.Guarantee, m.Group)
	})
	if n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
