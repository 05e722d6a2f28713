package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// defaultResolver uses net.DefaultResolver.
type defaultResolver struct{}

func (defaultResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// resolve turns a ringX_addr into an address as corosync's totemip_parse
// does under totem.ip_version: a literal must be of an allowed family; a
// name is looked up and the first address of the preferred family wins.
func resolve(ctx context.Context, r Resolver, s string, v IPVersion) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		switch {
		case v == IPv4 && !a.Is4():
			return netip.Addr{}, fmt.Errorf("%s is not an IPv4 address (totem.ip_version is ipv4)", s)
		case v == IPv6 && !a.Is6():
			return netip.Addr{}, fmt.Errorf("%s is not an IPv6 address (totem.ip_version is ipv6)", s)
		}
		return a, nil
	}
	network := "ip"
	switch v {
	case IPv4:
		network = "ip4"
	case IPv6:
		network = "ip6"
	}
	addrs, err := r.LookupNetIP(ctx, network, s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("cannot resolve %q: %w", s, err)
	}
	var first4, first6 netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() && !first4.IsValid() {
			first4 = a
		}
		if a.Is6() && !first6.IsValid() {
			first6 = a
		}
	}
	pick := first6
	if v == IPv4 || v == IPv4v6 {
		pick = first4
	}
	if !pick.IsValid() && (v == IPv4v6 || v == IPv6v4) {
		pick = first4
		if v == IPv4v6 {
			pick = first6
		}
	}
	if !pick.IsValid() {
		return netip.Addr{}, fmt.Errorf("cannot resolve %q: %w", s, errNoAddress(v))
	}
	return pick, nil
}

func errNoAddress(v IPVersion) error {
	return errors.New("no address of the family totem.ip_version " + string(v) + " asks for")
}
