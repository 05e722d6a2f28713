package getopt

import (
	"fmt"
	"strings"
	"testing"
)

func TestGetopt(t *testing.T) {
	render := func(ps []Parsed, operands []string) string {
		var s []string
		for _, p := range ps {
			name := string(p.Opt.Short)
			if p.Opt.Short == 0 {
				name = "--" + p.Opt.Long
			}
			if p.Opt.Arg {
				name += "=" + p.Value
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
		ps, ops, err := Parse(tc.args, options)
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
		_, _, err := Parse(tc.args, options)
		if err == nil || err.Error() != tc.want {
			t.Errorf("getopt(%q): %v, want %q", tc.args, err, tc.want)
		}
	}
}

// options are corosync-cfgtool's.
var options = []Option{
	{Short: 'i', Long: "if", Arg: true},
	{Short: 's', Long: "status"},
	{Short: 'n', Long: "nodes"},
	{Short: 'b', Long: "brief"},
	{Short: 'r'},
	{Short: 'R', Long: "reload"},
	{Short: 'L', Long: "reopen"},
	{Short: 'k', Long: "kill", Arg: true},
	{Short: 'a', Long: "address", Arg: true},
	{Short: 'h', Long: "help"},
	{Short: 'H', Long: "shutdown"},
	{Long: "force"},
	{Long: "socket", Arg: true, Single: true},
}
