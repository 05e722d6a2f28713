package votequorum

import (
	"testing"

	"github.com/corogo/corogo/internal/service"
)

// FuzzExec feeds arbitrary exec messages to an engine: it must never
// panic, and malformed messages are counted.
func FuzzExec(f *testing.F) {
	f.Add(uint16(0), AppendNodeInfo(nil, NodeInfo{NodeID: 2, Votes: 1, Expected: 3, Flags: FlagQuorate}), false)
	f.Add(uint16(0), AppendNodeInfo(nil, NodeInfo{NodeID: 0, Votes: 1}), true)
	f.Add(uint16(1), AppendReconfigure(nil, Reconfigure{NodeID: 1, Value: 2, Param: ParamExpectedVotes}), false)
	f.Add(uint16(2), AppendQdeviceReg(nil, QdeviceReg{Op: OpRegister, Name: "Qdisk"}), false)
	f.Add(uint16(3), AppendQdeviceReconfigure(nil, QdeviceReconfigure{OldName: "a", NewName: "b"}), false)
	f.Fuzz(func(t *testing.T, fn uint16, msg []byte, swapped bool) {
		tn := newNet(t, settings(3))
		n := tn.start(1, 0, settings(3))
		tn.deliver()
		n.e.SyncInit(nil, []uint32{1, 2}, service.RingID{Rep: 1, Seq: 4})
		n.e.Exec(service.Exec{From: 2, Fn: fn, Data: msg, Swapped: swapped})
		n.e.SyncProcess()
		n.e.SyncActivate()
		_, _ = n.e.Info(0)
	})
}

// FuzzDecodeRequests runs every client request decoder on arbitrary
// bytes and checks that what decodes re-encodes to a prefix-equal form.
func FuzzDecodeRequests(f *testing.F) {
	f.Add(AppendPoll(nil, Poll{Name: "Qdisk", CastVote: true}))
	f.Add(AppendInfo(nil, Info{NodeID: 1, QdeviceName: "x"}))
	f.Add(AppendQuorumEvent(nil, QuorumEvent{Quorate: true, Nodes: []NodeStatus{{1, StateMember}}}))
	f.Add(AppendNodeListEvent(nil, NodeListEvent{Members: []uint32{1, 2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := DecodePoll(b); err == nil {
			if got := AppendPoll(nil, p); string(got) != string(b[:len(got)]) {
				t.Fatalf("poll round trip %x vs %x", got, b)
			}
		}
		if in, err := DecodeInfo(b); err == nil {
			if got := AppendInfo(nil, in); string(got) != string(b[:len(got)]) {
				t.Fatalf("info round trip")
			}
		}
		_, _ = DecodeQuorumEvent(b)
		_, _ = DecodeNodeListEvent(b)
		_, _ = DecodeExpectedVotesEvent(b)
		_, _, _ = DecodeTrackStart(b)
		_, _, _ = DecodeNames(b)
		_, _, _ = DecodeMasterWins(b)
		_, _, _ = DecodeSetVotes(b)
		_, _ = DecodeNodeInfo(b, false)
		_, _ = DecodeQdeviceReg(b, true)
		_, _ = DecodeQdeviceReconfigure(b)
	})
}
