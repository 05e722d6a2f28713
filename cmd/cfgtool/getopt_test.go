package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestGetopt(t *testing.T) {
	render := func(ps []parsedOption, operands []string) string {
		var s []string
		for _, p := range ps {
			name := string(p.opt.short)
			if p.opt.short == 0 {
				name = "--" + p.opt.long
			}
			if p.opt.arg {
				name += "=" + p.value
			}
			s = append(s, name)
		}
		return fmt.Sprintf("%s %q", strings.Join(s, " "), operands)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ` []`},
		{[]string{"-s"}, `s []`},
		{[]string{"-sb"}, `s b []`},
		{[]string{"-bsi", "10.0.0.1"}, `b s i=10.0.0.1 []`},
		{[]string{"-i10.0.0.1", "-s"}, `i=10.0.0.1 s []`},
		{[]string{"-k", "2"}, `k=2 []`},
		{[]string{"-k2"}, `k=2 []`},
		{[]string{"--kill", "2"}, `k=2 []`},
		{[]string{"--kill=2"}, `k=2 []`},
		{[]string{"-H", "--force"}, `H --force []`},
		{[]string{"--socket", "/x.sock", "-s"}, `--socket=/x.sock s []`},
		{[]string{"-socket", "/x.sock", "-s"}, `--socket=/x.sock s []`},
		{[]string{"-socket=/x.sock"}, `--socket=/x.sock []`},
		{[]string{"extra", "-s", "--", "-k"}, `s ["extra" "-k"]`},
		{[]string{"-"}, ` ["-"]`},
	} {
		ps, ops, err := getopt(tc.args, options)
		if err != nil {
			t.Errorf("getopt(%q): %v", tc.args, err)
			continue
		}
		if got := render(ps, ops); got != tc.want {
			t.Errorf("getopt(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestGetoptErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "invalid option -- 'x'"},
		{[]string{"-sx"}, "invalid option -- 'x'"},
		{[]string{"-k"}, "option requires an argument -- 'k'"},
		{[]string{"--kill"}, "option '--kill' requires an argument"},
		{[]string{"--bogus"}, "unrecognized option '--bogus'"},
		{[]string{"--force=yes"}, "option '--force' doesn't allow an argument"},
		{[]string{"-force"}, "invalid option -- 'f'"}, // only --force, as getopt_long
	} {
		_, _, err := getopt(tc.args, options)
		if err == nil || err.Error() != tc.want {
			t.Errorf("getopt(%q): %v, want %q", tc.args, err, tc.want)
		}
	}
}

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
	if !slices.ContainsFunc(options, func(o option) bool { return o.long == "socket" && o.single }) {
		t.Error("--socket cannot be written -socket")
	}
}
