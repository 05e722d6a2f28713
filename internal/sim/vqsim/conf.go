package vqsim

import (
	"fmt"
	"strings"
)

// Conf returns a corosync.conf for the nodes ids (ring0_addr 10.0.0.ID
// for ids up to 254, else a name), each with the votes given (nil: none
// set, that is 1 each), and a quorum section with the provider and the
// lines of quorum (such as "two_node: 1"; a nested "device { ... }" is
// fine).
func Conf(ids, votes []uint32, quorum string) []byte {
	var sb strings.Builder
	sb.WriteString("totem {\n\tversion: 2\n\tcluster_name: vqsim\n}\n\nnodelist {\n")
	for i, id := range ids {
		addr := fmt.Sprintf("node%d", id)
		if id < 255 {
			addr = fmt.Sprintf("10.0.0.%d", id)
		}
		fmt.Fprintf(&sb, "\tnode {\n\t\tring0_addr: %s\n\t\tnodeid: %d\n", addr, id)
		if i < len(votes) {
			fmt.Fprintf(&sb, "\t\tquorum_votes: %d\n", votes[i])
		}
		sb.WriteString("\t}\n")
	}
	sb.WriteString("}\n\nquorum {\n\tprovider: corosync_votequorum\n")
	for _, l := range strings.Split(strings.TrimSpace(quorum), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			sb.WriteString("\t" + l + "\n")
		}
	}
	sb.WriteString("}\n")
	return []byte(sb.String())
}
