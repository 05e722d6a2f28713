package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/corogo/corogo/cpg"
)

// escapeName renders a group name as corosync-cpgtool does: with escape,
// bytes outside printable ASCII become \xHH and a backslash \\.
//
// Deviation: corosync prints a byte of 0x80 or more through a signed
// char, as \xFFFFFF80; we print \x80.
func escapeName(name string, escape bool) string {
	if !escape {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c >= ' ' && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02X`, c)
		}
	}
	return b.String()
}

// writeNames is -n: the names of the groups with members, each followed
// by the delimiter (a newline without one); with a delimiter, a newline
// ends the list.
func writeNames(w io.Writer, names []string, delim byte, escape bool) error {
	bw := bufio.NewWriter(w)
	sep := byte('\n')
	if delim != 0 {
		sep = delim
	}
	for _, n := range names {
		bw.WriteString(escapeName(n, escape))
		bw.WriteByte(sep)
	}
	if delim != 0 {
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// writeGroups is the default listing: without a delimiter a header, then
// each group's name on a line of its own followed by one line per member,
// "\t\t%10d\t%10d (addresses)"; with a delimiter a header line and one
// line "name<d>pid<d>nodeid" per member. addrs returns a node's
// addresses, space-separated ("" when unknown).
func writeGroups(w io.Writer, groups []cpg.Group, delim byte, escape bool, addrs func(nodeID uint32) string) error {
	bw := bufio.NewWriter(w)
	if delim != 0 {
		fmt.Fprintf(bw, "GRP_NAME%cPID%cNODEID\n", delim, delim)
	} else {
		fmt.Fprintf(bw, "Group Name\t%10s\t%10s\n", "PID", "Node ID")
	}
	for _, g := range groups {
		name := escapeName(g.Name, escape)
		if delim == 0 {
			bw.WriteString(name)
			bw.WriteByte('\n')
		}
		for _, m := range g.Members {
			if delim == 0 {
				fmt.Fprintf(bw, "\t\t%10d\t%10d (%s)\n", m.PID, m.NodeID, addrs(m.NodeID))
			} else {
				fmt.Fprintf(bw, "%s%c%d%c%d\n", name, delim, m.PID, delim, m.NodeID)
			}
		}
	}
	return bw.Flush()
}

var ipRE = regexp.MustCompile(`ip\(([^)]*)\)`)

// parseMemberIP extracts the addresses of a runtime.members.<id>.ip value,
// "r(0) ip(10.0.0.1) r(1) ip(10.1.0.1) ", as "10.0.0.1 10.1.0.1".
func parseMemberIP(v string) string {
	var out []string
	for _, m := range ipRE.FindAllStringSubmatch(v, -1) {
		if m[1] != "" {
			out = append(out, m[1])
		}
	}
	return strings.Join(out, " ")
}
