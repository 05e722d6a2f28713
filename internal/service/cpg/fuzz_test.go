package cpg

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// execSeeds are valid exec messages of every kind.
func execSeeds() [][]byte {
	src := Source{NodeID: 2, Conn: 0x55bb340e1930}
	return [][]byte{
		must(AppendProcJoin(nil, ProcJoin{Group: []byte("wbgrp"), PID: 0x4808, Reason: ReasonJoin})),
		must(AppendProcJoin(nil, ProcJoin{Leave: true, Group: []byte("g"), PID: 1, Reason: ReasonProcDown})),
		must(AppendJoinList(nil, JoinList{Entries: []JoinEntry{{PID: 0x4808, Group: []byte("wbgrp")}}})),
		must(AppendJoinList(nil, JoinList{})),
		must(AppendMcast(nil, Mcast{Group: []byte("wbgrp"), PID: 7, Source: src, Data: []byte("hello")})),
		must(AppendDownList(nil, DownList{OldMembers: 3, Left: []uint32{3}})),
		must(AppendPartialMcast(nil, PartialMcast{Group: []byte("g"), MsgLen: 10, PID: 7, Type: PartialFirst, Source: src, Data: []byte("abc")})),
	}
}

// fuzzExec checks a decoder: it never panics; what it accepts re-encodes
// into a message that decodes to the same value, in either byte order.
func fuzzExec[M any](f *testing.F, dec func([]byte, bool) (M, error), enc func([]byte, M) ([]byte, error)) {
	for _, s := range execSeeds() {
		f.Add(s, false)
		f.Add(swapExec(f, s), true)
	}
	f.Fuzz(func(t *testing.T, msg []byte, swapped bool) {
		m, err := dec(msg, swapped)
		if err != nil {
			return
		}
		out, err := enc(nil, m)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		m2, err := dec(out, false)
		if err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
		if !reflect.DeepEqual(normalise(m), normalise(m2)) {
			t.Fatalf("round trip\n got %+v\nwant %+v", m2, m)
		}
		if len(out) != len(msg) {
			t.Fatalf("re-encoded to %d bytes from %d", len(out), len(msg))
		}
		// The header's id and size come back; its pad bytes are ignored.
		if !swapped && (!bytes.Equal(out[:4], msg[:4]) || !bytes.Equal(out[8:12], msg[8:12])) {
			t.Fatalf("header %x re-encoded as %x", msg[:16], out[:16])
		}
	})
}

// normalise makes decoded values comparable: empty and nil slices alike,
// and the connection pointer, which a byte-swapped message drops.
func normalise(v any) any {
	switch m := v.(type) {
	case Mcast:
		m.Source.Conn = 0
		m.Data = slices.Clip(append([]byte{}, m.Data...))
		m.Group = append([]byte{}, m.Group...)
		return m
	case PartialMcast:
		m.Source.Conn = 0
		m.Data = append([]byte{}, m.Data...)
		m.Group = append([]byte{}, m.Group...)
		return m
	case ProcJoin:
		m.Group = append([]byte{}, m.Group...)
		return m
	case JoinList:
		var es []JoinEntry
		for _, e := range m.Entries {
			es = append(es, JoinEntry{PID: e.PID, Group: append([]byte{}, e.Group...)})
		}
		m.Entries = es
		return m
	case DownList:
		m.Left = append([]uint32{}, m.Left...)
		return m
	}
	return v
}

func FuzzDecodeProcJoin(f *testing.F)     { fuzzExec(f, DecodeProcJoin, AppendProcJoin) }
func FuzzDecodeJoinList(f *testing.F)     { fuzzExec(f, DecodeJoinList, AppendJoinList) }
func FuzzDecodeMcast(f *testing.F)        { fuzzExec(f, DecodeMcast, AppendMcast) }
func FuzzDecodeDownList(f *testing.F)     { fuzzExec(f, DecodeDownList, AppendDownList) }
func FuzzDecodePartialMcast(f *testing.F) { fuzzExec(f, DecodePartialMcast, AppendPartialMcast) }

// FuzzProto checks every decoder of the IPC protocol (requests, replies
// and events; which one is chosen by kind): no panic, and what is
// accepted re-encodes to the same bytes (the layouts have no freedom:
// exact lengths, zero pads).
func FuzzProto(f *testing.F) {
	for i, pc := range protoCases {
		f.Add(uint8(i), pc.sample())
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		pc := protoCases[int(kind)%len(protoCases)]
		out, err := pc.redo(data)
		if err != nil {
			return
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("%s: %x re-encoded as %x", pc.name, data, out)
		}
	})
}

// FuzzEngine drives an engine with arbitrary exec messages, client
// requests, disconnects and sync steps: it must never panic, and its group
// snapshot stays sorted and free of duplicates.
//
// The input is a sequence of operations: op u8, arg u8, len u16, then len
// bytes.
func FuzzEngine(f *testing.F) {
	op := func(code, arg byte, b []byte) []byte {
		return append(binary.LittleEndian.AppendUint16([]byte{code, arg}, uint16(len(b))), b...)
	}
	var seed []byte
	seed = append(seed, op(1, 1, AppendJoinRequest(nil, JoinRequest{Group: []byte("g")}))...)
	seed = append(seed, op(0, 1, execSeeds()[0])...)
	for _, m := range execSeeds() {
		seed = append(seed, op(0, 2, m)...)
	}
	seed = append(seed, op(1, 3, AppendMcastRequest(nil, McastRequest{Group: []byte("g"), Data: []byte("x")}))...)
	seed = append(seed, op(2, 0, nil)...)
	seed = append(seed, op(3, 0, nil)...)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		api := newFakeAPI(1)
		api.maxMsg = 2048
		e := New(api, Options{MaxMessage: 4096, MaxReassembly: 8192})
		conns := []*fakeConn{newConn(1, 100), newConn(2, 200), newConn(3, 100)}
		for _, c := range conns {
			e.Connect(c)
		}
		for len(in) >= 4 {
			code, arg, n := in[0], in[1], int(binary.LittleEndian.Uint16(in[2:]))
			in = in[4:]
			n = min(n, len(in))
			body := in[:n]
			in = in[n:]
			switch code % 6 {
			case 0: // exec from node arg%4
				h, err := service.ParseHeader(body, arg&0x80 != 0)
				fn := uint16(arg)
				if err == nil {
					fn = h.Fn
				}
				e.Exec(service.Exec{From: uint32(arg % 4), Fn: fn, Data: body, Swapped: arg&0x80 != 0, Guarantee: totem.Guarantee(arg & 1)})
			case 1: // request
				c := conns[int(arg)%len(conns)]
				e.Request(c, service.Request{ID: uint32(arg >> 4), Fn: uint16(arg % 11), Payload: body})
			case 2: // our own messages come back
				for _, m := range api.take() {
					e.Exec(execOf(t, m))
				}
			case 3: // a sync
				e.SyncInit([]uint32{1, uint32(arg % 4)}, []uint32{1, 2, 3}, service.RingID{Rep: 1, Seq: uint64(arg)})
				for !e.SyncProcess() {
					api.room = -1
				}
				if arg&1 == 0 {
					e.SyncActivate()
				} else {
					e.SyncAbort()
				}
			case 4: // queue state
				api.room = int(arg%4) - 1
				api.syncing = arg&0x10 != 0
				e.Resume()
			case 5:
				c := conns[int(arg)%len(conns)]
				e.Disconnect(c)
				if arg&0x80 != 0 {
					e.Connect(c)
				}
			}
		}
		for _, g := range e.Groups() {
			if !slices.IsSortedFunc(g.Members, memberCmp) || len(slices.CompactFunc(slices.Clone(g.Members), func(a, b Member) bool { return a == b })) != len(g.Members) {
				t.Fatalf("group %q members %v", g.Name, g.Members)
			}
		}
	})
}
