package cfg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var sampleLinks = []LinkStatus{
	{LinkNo: 0, NodeID: 1, Transport: "udpu", Addr: "10.77.0.1", RemoteAddr: "10.77.0.1", Enabled: true, Connected: true, MTU: 1410},
	{LinkNo: 0, NodeID: 2, Transport: "udpu", Addr: "10.77.0.1", RemoteAddr: "10.77.0.2", Enabled: true},
}

func TestProtoGolden(t *testing.T) {
	got := AppendLink(nil, LinkStatus{LinkNo: 1, NodeID: 2, Transport: "udpu", Addr: "a", RemoteAddr: "bc", Enabled: true, Connected: true, MTU: 1500})
	want := "01" + "02000000" + "03" + "dc050000" + "0400" + hex.EncodeToString([]byte("udpu")) + "0100" + "61" + "0200" + "6263"
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("link\n got %s\nwant %s", h, want)
	}
	k, _ := AppendKillNodeRequest(nil, KillNodeRequest{NodeID: 3, Reason: "x"})
	if h := hex.EncodeToString(k); h != "03000000"+"0100"+"78" {
		t.Errorf("killnode request %s", h)
	}
	if h := hex.EncodeToString(AppendShutdownRequest(nil, ShutdownImmediate)); h != "02000000" {
		t.Errorf("shutdown request %s", h)
	}
	ns := AppendNodeStatus(nil, NodeStatus{NodeID: 2, Reachable: true})
	if h := hex.EncodeToString(ns); h != "02000000"+"01"+"00000000" {
		t.Errorf("node status %s", h)
	}
}

func TestProtoRoundTrips(t *testing.T) {
	b := AppendLinks(nil, sampleLinks)
	got, err := DecodeLinks(b)
	if err != nil || !reflect.DeepEqual(got, sampleLinks) {
		t.Errorf("links: %+v %v", got, err)
	}
	for i := range len(b) {
		if _, err := DecodeLinks(b[:i]); !errors.Is(err, ErrShort) {
			t.Errorf("links cut at %d: %v", i, err)
		}
	}
	s := NodeStatus{NodeID: 2, Reachable: true, Links: sampleLinks[1:]}
	gs, err := DecodeNodeStatus(AppendNodeStatus(nil, s))
	if err != nil || !reflect.DeepEqual(gs, s) {
		t.Errorf("node status: %+v %v", gs, err)
	}
	kr := KillNodeRequest{NodeID: 9, Reason: "maintenance"}
	kb, _ := AppendKillNodeRequest(nil, kr)
	if g, err := DecodeKillNodeRequest(kb); err != nil || g != kr {
		t.Errorf("killnode request: %+v %v", g, err)
	}
	if _, err := AppendKillNodeRequest(nil, KillNodeRequest{Reason: strings.Repeat("r", 256)}); !errors.Is(err, ErrReasonTooLong) {
		t.Errorf("long reason: %v", err)
	}
	long := append([]byte{1, 0, 0, 0, 0, 1}, strings.Repeat("r", 256)...)
	if _, err := DecodeKillNodeRequest(long); !errors.Is(err, ErrReasonTooLong) {
		t.Errorf("long reason decoded: %v", err)
	}
	for _, f := range []ShutdownFlags{ShutdownRequest, ShutdownRegardless, ShutdownImmediate} {
		if g, err := DecodeShutdownRequest(AppendShutdownRequest(nil, f)); err != nil || g != f {
			t.Errorf("flags %d: %d %v", f, g, err)
		}
	}
	if _, err := DecodeShutdownRequest(AppendShutdownRequest(nil, 3)); !errors.Is(err, ErrBadValue) {
		t.Errorf("flags 3: %v", err)
	}
	if id, err := DecodeNodeID(AppendNodeID(nil, 42)); err != nil || id != 42 {
		t.Errorf("nodeid: %d %v", id, err)
	}
	bad := AppendLinks(nil, sampleLinks[:1])
	bad[4+5] = 4
	if _, err := DecodeLinks(bad); !errors.Is(err, ErrBadValue) {
		t.Errorf("bad flags: %v", err)
	}
	huge := []byte{0xff, 0xff, 0xff, 0xff}
	if _, err := DecodeLinks(huge); !errors.Is(err, ErrShort) {
		t.Errorf("huge count: %v", err)
	}
}

func FuzzDecodeLinks(f *testing.F) {
	f.Add(AppendLinks(nil, sampleLinks))
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := DecodeLinks(b)
		if err != nil {
			return
		}
		re := AppendLinks(nil, ls)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("re-encoding %x differs from %x", re, b)
		}
	})
}

func FuzzDecodeNodeStatus(f *testing.F) {
	f.Add(AppendNodeStatus(nil, NodeStatus{NodeID: 1, Reachable: true, Links: sampleLinks}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeNodeStatus(b)
		if err != nil {
			return
		}
		re := AppendNodeStatus(nil, s)
		if !bytes.Equal(re, b[:len(re)]) {
			t.Fatalf("re-encoding %x differs from %x", re, b)
		}
	})
}

func FuzzDecodeRequests(f *testing.F) {
	k, _ := AppendKillNodeRequest(nil, KillNodeRequest{NodeID: 1, Reason: "r"})
	f.Add(k)
	f.Add(AppendShutdownRequest(nil, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := DecodeKillNodeRequest(b); err == nil {
			re, err := AppendKillNodeRequest(nil, k)
			if err != nil || !bytes.Equal(re, b[:len(re)]) {
				t.Fatalf("killnode request: %x vs %x (%v)", re, b, err)
			}
		}
		if fl, err := DecodeShutdownRequest(b); err == nil && !bytes.Equal(AppendShutdownRequest(nil, fl), b[:4]) {
			t.Fatal("shutdown request")
		}
		if id, err := DecodeNodeID(b); err == nil && !bytes.Equal(AppendNodeID(nil, id), b[:4]) {
			t.Fatal("nodeid")
		}
	})
}
