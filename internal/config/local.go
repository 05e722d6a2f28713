package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// LocalOptions tell LocalNode how to find this host in the nodelist.
type LocalOptions struct {
	// NodeID, when nonzero, picks the node explicitly (corosyncd's -n
	// flag): no discovery is done.
	NodeID uint32
	// Hostname returns the host name (nil: os.Hostname, which is
	// uname's nodename as corosync uses).
	Hostname func() (string, error)
	// InterfaceAddrs lists the local addresses (nil: net.InterfaceAddrs).
	InterfaceAddrs func() ([]net.Addr, error)
}

// LocalNode finds the nodelist entry of this host:
//
//  1. the node named by LocalOptions.NodeID, if set;
//  2. else the node whose ring0_addr is an address of a local interface;
//  3. else, or to choose among several such nodes, by host name: a node
//     whose name (or ring0_addr) is the host name, then one that matches
//     the host name with its domain labels stripped one by one, then one
//     whose short name equals the host's short name.
//
// It fails with ErrNoLocalNode when nothing matches and with
// ErrAmbiguousLocalNode when a step matches several nodes.
func (c *Config) LocalNode(opts LocalOptions) (*Node, error) {
	if opts.NodeID != 0 {
		n, ok := c.NodeByID(opts.NodeID)
		if !ok {
			return nil, fmt.Errorf("%w: local nodeid %d", ErrUnknownNode, opts.NodeID)
		}
		return n, nil
	}
	listAddrs := opts.InterfaceAddrs
	if listAddrs == nil {
		listAddrs = net.InterfaceAddrs
	}
	ifAddrs, err := listAddrs()
	if err != nil {
		return nil, fmt.Errorf("config: local node: list interface addresses: %w", err)
	}
	local := map[netip.Addr]bool{}
	for _, a := range ifAddrs {
		if ip := netAddrIP(a); ip.IsValid() {
			local[ip] = true
		}
	}
	var byAddr []*Node
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.Addr.IsValid() && local[n.Addr.WithZone("").Unmap()] {
			byAddr = append(byAddr, n)
		}
	}
	if len(byAddr) == 1 {
		return byAddr[0], nil
	}

	hostnameFn := opts.Hostname
	if hostnameFn == nil {
		hostnameFn = os.Hostname
	}
	host, herr := hostnameFn()
	candidates := byAddr
	if len(candidates) == 0 {
		candidates = make([]*Node, len(c.Nodes))
		for i := range c.Nodes {
			candidates[i] = &c.Nodes[i]
		}
	}
	if herr == nil && host != "" {
		n, err := matchHostname(candidates, host)
		if n != nil || err != nil {
			return n, err
		}
	}
	if len(byAddr) > 1 {
		return nil, fmt.Errorf("%w: %s all have a local ring0_addr and none is named %q; choose one with the node id option",
			ErrAmbiguousLocalNode, describe(byAddr), host)
	}
	if herr != nil {
		return nil, fmt.Errorf("%w (no ring0_addr is a local address, and the host name is unknown: %v)", ErrNoLocalNode, herr)
	}
	return nil, fmt.Errorf("%w: no ring0_addr is a local address (%d checked) and no name matches host name %q; set the node id explicitly",
		ErrNoLocalNode, len(local), host)
}

// matchHostname applies the name steps of LocalNode.
func matchHostname(nodes []*Node, host string) (*Node, error) {
	pick := func(step string, match func(*Node) bool) (*Node, error) {
		var found []*Node
		for _, n := range nodes {
			if match(n) {
				found = append(found, n)
			}
		}
		switch len(found) {
		case 0:
			return nil, nil
		case 1:
			return found[0], nil
		}
		return nil, fmt.Errorf("%w: %s all match host name %q (%s); choose one with the node id option",
			ErrAmbiguousLocalNode, describe(found), host, step)
	}
	// As corosync, a ring0_addr written as a host name counts as a name.
	named := func(n *Node, s string) bool { return n.Name == s || n.Ring0Addr == s }
	if n, err := pick("exact", func(n *Node) bool { return named(n, host) }); n != nil || err != nil {
		return n, err
	}
	for h := host; strings.Contains(h, "."); {
		h = h[:strings.LastIndexByte(h, '.')]
		if n, err := pick("without domain", func(n *Node) bool { return named(n, h) }); n != nil || err != nil {
			return n, err
		}
	}
	short := shortName(host)
	return pick("short names", func(n *Node) bool {
		for _, s := range []string{n.Name, n.Ring0Addr} {
			if s != "" && !isIP(s) && shortName(s) == short {
				return true
			}
		}
		return false
	})
}

func shortName(s string) string {
	h, _, _ := strings.Cut(s, ".")
	return h
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func describe(ns []*Node) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		label := n.Name
		if label == "" {
			label = n.Ring0Addr
		}
		parts[i] = fmt.Sprintf("nodeid %d (%s, line %d)", n.ID, label, n.Pos.Line)
	}
	return strings.Join(parts, ", ")
}

func netAddrIP(a net.Addr) netip.Addr {
	var ip net.IP
	switch v := a.(type) {
	case *net.IPNet:
		ip = v.IP
	case *net.IPAddr:
		ip = v.IP
	default:
		p, err := netip.ParsePrefix(a.String())
		if err == nil {
			return p.Addr().Unmap()
		}
		ad, err := netip.ParseAddr(a.String())
		if err == nil {
			return ad.Unmap()
		}
		return netip.Addr{}
	}
	ad, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return ad.Unmap()
}
