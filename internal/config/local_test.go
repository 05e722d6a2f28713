package config

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func addrs(ss ...string) func() ([]net.Addr, error) {
	return func() ([]net.Addr, error) {
		var out []net.Addr
		for _, s := range ss {
			ip, ipnet, err := net.ParseCIDR(s)
			if err != nil {
				return nil, err
			}
			ipnet.IP = ip
			out = append(out, ipnet)
		}
		return out, nil
	}
}

func hostname(h string) func() (string, error) { return func() (string, error) { return h, nil } }

func TestLocalNode(t *testing.T) {
	threeNamed := node("ring0_addr: 10.0.0.1", "nodeid: 1", "name: alpha") +
		node("ring0_addr: 10.0.0.2", "nodeid: 2", "name: beta.example.com") +
		node("ring0_addr: n3.example.com", "nodeid: 3", "name: gamma")
	sameHost := node("ring0_addr: 127.0.0.1", "nodeid: 1", "name: n1") +
		node("ring0_addr: 127.0.0.2", "nodeid: 2", "name: n2") +
		node("ring0_addr: 127.0.0.3", "nodeid: 3", "name: n3")
	for _, tc := range []struct {
		name   string
		nodes  string
		opts   LocalOptions
		want   uint32
		errIs  error
		errMsg string
	}{
		{"address match", threeNamed, LocalOptions{InterfaceAddrs: addrs("127.0.0.1/8", "10.0.0.2/24"), Hostname: hostname("other")}, 2, nil, ""},
		{"address of a resolved host name", threeNamed, LocalOptions{InterfaceAddrs: addrs("10.0.0.3/24", "fe80::1/64"), Hostname: hostname("x")}, 3, nil, ""},
		{"address wins over name", threeNamed, LocalOptions{InterfaceAddrs: addrs("10.0.0.2/24"), Hostname: hostname("alpha")}, 2, nil, ""},
		{"exact name", threeNamed, LocalOptions{InterfaceAddrs: addrs("192.168.9.9/24"), Hostname: hostname("gamma")}, 3, nil, ""},
		{"name is a ring0_addr host name", threeNamed, LocalOptions{InterfaceAddrs: addrs("192.168.9.9/24"), Hostname: hostname("n3.example.com")}, 3, nil, ""},
		{"host name without domain", threeNamed, LocalOptions{InterfaceAddrs: addrs("192.168.9.9/24"), Hostname: hostname("alpha.lab.example.com")}, 1, nil, ""},
		{"short names", threeNamed, LocalOptions{InterfaceAddrs: addrs("192.168.9.9/24"), Hostname: hostname("beta.other.org")}, 2, nil, ""},
		{"explicit id", threeNamed, LocalOptions{NodeID: 3, InterfaceAddrs: addrs("10.0.0.2/24")}, 3, nil, ""},
		{"explicit unknown id", threeNamed, LocalOptions{NodeID: 7}, 0, ErrUnknownNode, "nodeid 7"},
		{"none", threeNamed, LocalOptions{InterfaceAddrs: addrs("192.168.9.9/24"), Hostname: hostname("delta")}, 0, ErrNoLocalNode, `host name "delta"`},
		{"ambiguous addresses", sameHost, LocalOptions{InterfaceAddrs: addrs("127.0.0.1/8", "127.0.0.2/8", "127.0.0.3/8"), Hostname: hostname("box")}, 0,
			ErrAmbiguousLocalNode, "nodeid 1 (n1, line 7), nodeid 2 (n2, line 12), nodeid 3 (n3, line 17) all have a local ring0_addr"},
		{"ambiguous addresses told apart by name", sameHost, LocalOptions{InterfaceAddrs: addrs("127.0.0.1/8", "127.0.0.2/8", "127.0.0.3/8"), Hostname: hostname("n2")}, 2, nil, ""},
		{"ambiguous names", node("ring0_addr: 10.0.0.1", "nodeid: 1", "name: web.a.com") + node("ring0_addr: 10.0.0.2", "nodeid: 2", "name: web.b.com"),
			LocalOptions{InterfaceAddrs: addrs("192.168.9.9/24"), Hostname: hostname("web")}, 0, ErrAmbiguousLocalNode, `all match host name "web" (short names)`},
		{"interface error", threeNamed, LocalOptions{InterfaceAddrs: func() ([]net.Addr, error) { return nil, errors.New("boom") }}, 0, nil, "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := read(t, config("\ttransport: udpu\n", tc.nodes, ""))
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			n, err := c.LocalNode(tc.opts)
			if tc.errIs != nil || tc.errMsg != "" {
				if err == nil {
					t.Fatalf("found node %d, want an error", n.ID)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) || !strings.Contains(err.Error(), tc.errMsg) {
					t.Errorf("error %q, want %v containing %q", err, tc.errIs, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.ID != tc.want {
				t.Errorf("node %d, want %d", n.ID, tc.want)
			}
		})
	}
}
