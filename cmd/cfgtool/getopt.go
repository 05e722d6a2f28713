package main

import (
	"fmt"
	"strings"
)

// option describes one command-line option, as getopt_long knows it.
type option struct {
	short byte   // 0: long only
	long  string // "": short only
	arg   bool   // takes a value
	// single lets the long name also be written with one dash
	// ("-socket"), Go style; only for names no run of short options can
	// spell.
	single bool
}

// parsedOption is one option found on the command line, in order.
type parsedOption struct {
	opt   *option
	value string
}

// getopt parses args as GNU getopt_long does: short options may be
// grouped ("-sb"), a short option's value may be attached ("-k2") or
// follow, long options are "--name", "--name=value" or "--name value",
// "--" ends the options, and operands may come before, between or after
// options. Errors are worded as glibc's.
func getopt(args []string, opts []option) ([]parsedOption, []string, error) {
	var out []parsedOption
	var operands []string
	findShort := func(c byte) *option {
		for i := range opts {
			if opts[i].short == c {
				return &opts[i]
			}
		}
		return nil
	}
	findLong := func(name string, single bool) *option {
		for i := range opts {
			if opts[i].long != "" && opts[i].long == name && (!single || opts[i].single) {
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
			case !o.arg && hasValue:
				return nil, nil, fmt.Errorf("option '--%s' doesn't allow an argument", name)
			case o.arg && !hasValue:
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("option '--%s' requires an argument", name)
				}
				i++
				value = args[i]
			}
			out = append(out, parsedOption{o, value})
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := findShort(a[j])
				if o == nil {
					return nil, nil, fmt.Errorf("invalid option -- '%c'", a[j])
				}
				if !o.arg {
					out = append(out, parsedOption{o, ""})
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
				out = append(out, parsedOption{o, value})
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	return out, operands, nil
}
