package pg

import (
	"bytes"
	"strings"
	"testing"
)

func TestAppendGroupHeader(t *testing.T) {
	if got := string(AppendGroupHeader(nil, GroupA)); got != GroupHeaderA {
		t.Fatalf("a: %x", got)
	}
	if got := string(AppendGroupHeader(nil, GroupSync)); got != GroupHeaderSync {
		t.Fatalf("sync: %x", got)
	}
	if GroupHeaderA != "\x01\x00\x01\x00\x61" || GroupHeaderSync != "\x01\x00\x04\x00\x73\x79\x6e\x63" {
		t.Fatal("constants differ from corosync-wire.md §4")
	}
	got := AppendGroupHeader([]byte{0xee}, "xy", "", "z")
	want := []byte{0xee, 3, 0, 2, 0, 0, 0, 1, 0, 'x', 'y', 'z'}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for too many groups")
		}
	}()
	AppendGroupHeader(nil, make([]string, MaxGroups+1)...)
}

func TestCheckGroups(t *testing.T) {
	if err := CheckGroups(GroupA, GroupSync); err != nil {
		t.Fatal(err)
	}
	if ReasonOf(CheckGroups(strings.Repeat("x", MaxGroupName+1))) != ReasonGroupHeader {
		t.Fatal("long name accepted")
	}
}

func TestParseGroups(t *testing.T) {
	payload := []byte{0xde, 0xad}
	tests := []struct {
		name    string
		item    []byte
		swapped bool
		names   []string
	}{
		{"a", append([]byte(GroupHeaderA), payload...), false, []string{"a"}},
		{"sync", append([]byte(GroupHeaderSync), payload...), false, []string{"sync"}},
		{"sync big-endian", append([]byte{0, 1, 0, 4, 's', 'y', 'n', 'c'}, payload...), true, []string{"sync"}},
		{"two", append(AppendGroupHeader(nil, "a", "bc"), payload...), false, []string{"a", "bc"}},
		{"two big-endian", append([]byte{0, 2, 0, 1, 0, 2, 'a', 'b', 'c'}, payload...), true, []string{"a", "bc"}},
		{"none", append([]byte{0, 0}, payload...), false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, p, err := ParseGroups(tc.item, tc.swapped)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, payload) || g.Len() != len(tc.item)-2 || !bytes.Equal(g.Bytes(), tc.item[:g.Len()]) {
				t.Fatalf("payload %x, header length %d", p, g.Len())
			}
			if g.Count() != len(tc.names) {
				t.Fatalf("Count = %d", g.Count())
			}
			for i, n := range tc.names {
				if string(g.Name(i)) != n || !g.Has(n) {
					t.Fatalf("group %d: %q, Has(%q) = %v", i, g.Name(i), n, g.Has(n))
				}
			}
			if g.Has("b") || g.Has("") || g.Has("syncx") {
				t.Fatal("Has matched a group that is not listed")
			}
			if g.Is("a") != (len(tc.names) == 1 && tc.names[0] == "a") {
				t.Fatal("Is(a)")
			}
			if g.Equal(GroupHeaderA) != (tc.names != nil && len(tc.names) == 1 && tc.names[0] == "a") ||
				g.Equal(GroupHeaderSync) != (len(tc.names) == 1 && tc.names[0] == "sync") {
				t.Fatal("Equal")
			}
		})
	}
}

func TestParseGroupsMalformed(t *testing.T) {
	for _, item := range [][]byte{
		nil,
		{1},
		{1, 0},            // count 1, no length
		{1, 0, 5, 0, 'a'}, // name cut
		{0xff, 0xff, 1, 0},
		{2, 0, 1, 0, 1, 0, 'a'},
	} {
		_, _, err := ParseGroups(item, false)
		if ReasonOf(err) != ReasonGroupHeader {
			t.Errorf("%x: %v", item, err)
		}
	}
	// An item whose payload is empty is well-formed.
	if _, p, err := ParseGroups([]byte(GroupHeaderA), false); err != nil || len(p) != 0 {
		t.Fatal(err)
	}
}

func TestParseGroupsNoAllocs(t *testing.T) {
	item := append(AppendGroupHeader(nil, "x", GroupSync), 1, 2, 3)
	allocs := testing.AllocsPerRun(100, func() {
		g, _, err := ParseGroups(item, false)
		if err != nil || !g.Has(GroupSync) || g.Is(GroupA) || len(g.Name(1)) != 4 || g.Equal(GroupHeaderSync) {
			t.Fatal("parse")
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocs", allocs)
	}
}
