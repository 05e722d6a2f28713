// Package getopt parses command lines as GNU getopt_long does, for the
// tools whose flags must read as corosync's C tools' do.
package getopt

import (
	"fmt"
	"strings"
)

// Option describes one command-line option, as getopt_long knows it.
type Option struct {
	Short byte   // 0: long only
	Long  string // "": short only
	Arg   bool   // takes a value
	// single lets the long name also be written with one dash
	// ("-socket"), Go style; only for names no run of short options can
	// spell.
	Single bool
}

// Parsed is one option found on the command line, in order.
type Parsed struct {
	Opt   *Option
	Value string
}

// Parse parses args as GNU getopt_long does: short options may be
// grouped ("-sb"), a short option's value may be attached ("-k2") or
// follow, long options are "--name", "--name=value" or "--name value",
// "--" ends the options, and operands may come before, between or after
// options. Errors are worded as glibc's.
func Parse(args []string, opts []Option) ([]Parsed, []string, error) {
	var out []Parsed
	var operands []string
	findShort := func(c byte) *Option {
		for i := range opts {
			if opts[i].Short == c {
				return &opts[i]
			}
		}
		return nil
	}
	findLong := func(name string, single bool) *Option {
		for i := range opts {
			if opts[i].Long != "" && opts[i].Long == name && (!single || opts[i].Single) {
				return &opts[i]
			}
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return out, append(operands, args[i+1:]...), nil
		case strings.HasPrefix(a, "--") || (len(a) > 2 && a[0] == '-' && findLong(strings.SplitN(a[1:], "=", 2)[0], true) != nil):
			name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			o := findLong(name, !strings.HasPrefix(a, "--"))
			if o == nil {
				return nil, nil, fmt.Errorf("unrecognized option '%s'", a)
			}
			switch {
			case !o.Arg && hasValue:
				return nil, nil, fmt.Errorf("option '--%s' doesn't allow an argument", name)
			case o.Arg && !hasValue:
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("option '--%s' requires an argument", name)
				}
				i++
				value = args[i]
			}
			out = append(out, Parsed{o, value})
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := findShort(a[j])
				if o == nil {
					return nil, nil, fmt.Errorf("invalid option -- '%c'", a[j])
				}
				if !o.Arg {
					out = append(out, Parsed{o, ""})
					continue
				}
				value := a[j+1:]
				if value == "" {
					if i+1 >= len(args) {
						return nil, nil, fmt.Errorf("option requires an argument -- '%c'", a[j])
					}
					i++
					value = args[i]
				}
				out = append(out, Parsed{o, value})
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	return out, operands, nil
}
