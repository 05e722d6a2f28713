package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/corogo/corogo/internal/client/cfgclient"
)

// transportOf is the cluster's transport as the links report it ("knet",
// the corosync default, when they do not say).
func transportOf(links []cfgclient.LinkStatus) string {
	for _, l := range links {
		if l.Transport != "" {
			return l.Transport
		}
	}
	return "knet"
}

// linkTransport is what corosync-cfgtool prints after a link's number:
// knet's per-link transport ("udp"; corosyncd has no knet_transport
// setting), nothing for udp and udpu.
func linkTransport(transport string) string {
	if transport == "knet" {
		return "udp"
	}
	return ""
}

// nodeIDs returns the nodes the links name, and the local node, ascending:
// corosync-cfgtool's sorted nodelist.
func nodeIDs(local uint32, links []cfgclient.LinkStatus) []uint32 {
	ids := []uint32{local}
	for _, l := range links {
		ids = append(ids, l.NodeID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// linkKey finds a node's entry for a link.
type linkKey struct {
	link uint8
	node uint32
}

// writeLinkStatus prints cfgtool -s (brief: -s -b) as corosync-cfgtool
// 3.1 does: a header, then for every link enabled towards the reference
// node its number, this node's address on it and each node's state. The
// reference node is, as in corosync, the highest-numbered node other than
// this one (this node when alone). iface, when not empty, keeps only the
// link with that number or local address.
func writeLinkStatus(w io.Writer, local uint32, links []cfgclient.LinkStatus, iface string, brief bool) {
	transport := transportOf(links)
	fmt.Fprintf(w, "Local node ID %d, transport %s\n", local, transport)
	nodes := nodeIDs(local, links)
	ref := local
	for _, id := range nodes {
		if id != local {
			ref = id
		}
	}
	byKey := make(map[linkKey]cfgclient.LinkStatus, len(links)) // looked up, never ranged over
	var linkNos []uint8
	for _, l := range links {
		byKey[linkKey{l.LinkNo, l.NodeID}] = l
		linkNos = append(linkNos, l.LinkNo)
	}
	slices.Sort(linkNos)
	linkNos = slices.Compact(linkNos)

	for _, no := range linkNos {
		r, ok := byKey[linkKey{no, ref}]
		if !ok || !r.Enabled {
			continue
		}
		if iface != "" && iface != strconv.Itoa(int(no)) && !strings.EqualFold(iface, r.Addr) {
			continue
		}
		fmt.Fprintf(w, "LINK ID %d %s\n", no, linkTransport(transport))
		fmt.Fprintf(w, "\taddr\t= %s\n", r.Addr)
		if brief {
			var sb strings.Builder
			for _, id := range nodes {
				l := byKey[linkKey{no, id}]
				c := byte('0')
				if l.Enabled {
					c++
				}
				if l.Connected {
					c += 2
				}
				if id == local {
					c = 'n'
				}
				sb.WriteByte(c)
			}
			fmt.Fprintf(w, "\tstatus\t= %s\n", sb.String())
			continue
		}
		fmt.Fprintf(w, "\tstatus:\n")
		for _, id := range nodes {
			state := "disconnected"
			switch {
			case id == local:
				state = "localhost"
			case byKey[linkKey{no, id}].Connected:
				state = "connected"
			}
			fmt.Fprintf(w, "\t\tnodeid: %10d:\t%s\n", id, state)
		}
	}
}

// writeNodeStatus prints cfgtool -n as corosync-cfgtool 3.1 does: for each
// reachable node other than this one, by node id, a line and its enabled
// links, then an empty line. For udp and udpu the link shows the node's
// address; for knet "local->remote".
func writeNodeStatus(w io.Writer, local uint32, transport string, statuses []cfgclient.NodeStatus) {
	fmt.Fprintf(w, "Local node ID %d, transport %s\n", local, transport)
	statuses = slices.Clone(statuses)
	slices.SortStableFunc(statuses, func(a, b cfgclient.NodeStatus) int { return cmp.Compare(a.NodeID, b.NodeID) })
	for _, s := range statuses {
		if !s.Reachable || s.NodeID == local {
			continue
		}
		fmt.Fprintf(w, "nodeid: %d reachable\n", s.NodeID)
		links := slices.Clone(s.Links)
		slices.SortStableFunc(links, func(a, b cfgclient.LinkStatus) int { return cmp.Compare(a.LinkNo, b.LinkNo) })
		for _, l := range links {
			if !l.Enabled {
				continue
			}
			ends := l.RemoteAddr
			if transport == "knet" {
				ends = l.Addr + "->" + l.RemoteAddr
			}
			connected := ""
			if l.Connected {
				connected = " connected"
			}
			fmt.Fprintf(w, "   LINK: %d %s (%s) enabled%s mtu: %d\n", l.LinkNo, linkTransport(transport), ends, connected, l.MTU)
		}
		fmt.Fprintln(w)
	}
}
