package main

import (
	"slices"
	"testing"

	"github.com/corogo/corogo/internal/getopt"
)

func TestParseNodeID(t *testing.T) {
	for _, s := range []string{"1", "42", "4294967295"} {
		if _, ok := parseNodeID(s); !ok {
			t.Errorf("parseNodeID(%q) refused", s)
		}
	}
	for _, s := range []string{"", "0", "-1", "4294967296", "0x10", "abc", "1.5"} {
		if id, ok := parseNodeID(s); ok {
			t.Errorf("parseNodeID(%q) = %d, want refused", s, id)
		}
	}
	if !slices.ContainsFunc(options, func(o getopt.Option) bool { return o.Long == "socket" && o.Single }) {
		t.Error("--socket cannot be written -socket")
	}
}
