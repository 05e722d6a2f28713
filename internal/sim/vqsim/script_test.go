package vqsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios runs the scenario files in testdata (regenerate the
// expected output with `go test ./internal/sim/vqsim -run Scenarios
// -rewrite`, then check every change against votequorum(5)). Each file
// starts with comments saying what it shows and why corosync decides so.
// The directives:
//
//	config [nodes=N | ids=(A,B,...)] [votes=(V,...)] [empty] [seed=S]
//	    a new cluster; the input is the quorum section's lines, or a whole
//	    corosync.conf when it has a nodelist. Every nodelist node starts in
//	    partition 0 and the cluster settles, as corosync-vqsim starts,
//	    unless empty is given.
//	run
//	    the input's lines are vqsim commands (see Help), each echoed as
//	    "> command" before its output; errors print as "ERR: ...".
//	<any vqsim command>
//	    one command.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var in *Interp
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "config" {
				var err error
				in, err = scenarioConfig(d)
				if err != nil {
					return "ERR: " + err.Error() + "\n"
				}
				return ""
			}
			if in == nil {
				d.Fatalf(t, "no config before %s", d.Cmd)
			}
			if d.Cmd == "run" {
				var sb strings.Builder
				for _, l := range strings.Split(d.Input, "\n") {
					if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
						continue
					}
					sb.WriteString("> " + l + "\n")
					sb.WriteString(execLine(in, l))
				}
				return sb.String()
			}
			line := d.Cmd
			for _, a := range d.CmdArgs {
				line += " " + a.String()
			}
			return execLine(in, line)
		})
	})
}

func execLine(in *Interp, line string) string {
	out, err := in.Exec(line)
	if err != nil && !errors.Is(err, ErrExit) {
		for _, l := range strings.Split(err.Error(), "\n") {
			out += "ERR: " + l + "\n"
		}
	}
	return out
}

func scenarioConfig(d *datadriven.TestData) (*Interp, error) {
	var ids, votes []uint32
	var seed uint64
	empty := false
	for _, a := range d.CmdArgs {
		switch a.Key {
		case "nodes":
			n, err := strconv.Atoi(a.Vals[0])
			if err != nil {
				return nil, err
			}
			for i := 1; i <= n; i++ {
				ids = append(ids, uint32(i))
			}
		case "ids", "votes":
			for _, v := range a.Vals {
				x, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					return nil, err
				}
				if a.Key == "ids" {
					ids = append(ids, uint32(x))
				} else {
					votes = append(votes, uint32(x))
				}
			}
		case "empty":
			empty = true
		case "seed":
			x, err := strconv.ParseUint(a.Vals[0], 10, 64)
			if err != nil {
				return nil, err
			}
			seed = x
		default:
			return nil, fmt.Errorf("unknown config argument %q", a.Key)
		}
	}
	data := []byte(d.Input)
	if !strings.Contains(d.Input, "nodelist") {
		data = Conf(ids, votes, d.Input)
	}
	cl, err := Load(data, "corosync.conf", Options{Seed: seed})
	if err != nil {
		return nil, err
	}
	if !empty {
		if err := cl.Up(Group{Nodes: cl.IDs()}); err != nil {
			return nil, err
		}
	}
	return &Interp{C: cl}, nil
}
