package config

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// stubResolver resolves from a fixed table.
type stubResolver map[string][]string

func (r stubResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range r[host] {
		a := netip.MustParseAddr(s)
		if (network == "ip4" && !a.Is4()) || (network == "ip6" && !a.Is6()) {
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// testOptions uses a stub resolver, no environment and fixed ids.
func testOptions() *Options {
	return &Options{
		Resolver: stubResolver{
			"n1.example.com":   {"10.0.0.1"},
			"n2.example.com":   {"10.0.0.2"},
			"n3.example.com":   {"10.0.0.3"},
			"dual.example.com": {"2001:db8::1", "10.0.0.9"},
		},
		Getenv: func(string) string { return "" },
		LookupUser: func(name string) (uint32, error) {
			if name == "hacluster" {
				return 189, nil
			}
			return 0, errors.New("unknown user")
		},
		LookupGroup: func(name string) (uint32, error) {
			if name == "haclient" {
				return 189, nil
			}
			return 0, errors.New("unknown group")
		},
	}
}

// minimal is the smallest valid configuration.
const minimal = `totem {
	version: 2
	cluster_name: test
	transport: udpu
}
nodelist {
	node {
		ring0_addr: 10.0.0.1
		nodeid: 1
	}
	node {
		ring0_addr: 10.0.0.2
		nodeid: 2
	}
}
`

func read(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Read(context.Background(), []byte(text), "corosync.conf", testOptions())
}

func mustRead(t *testing.T, text string) *Config {
	t.Helper()
	c, err := read(t, text)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return c
}

// withTotem inserts lines at the start of minimal's totem section (line 2
// onward).
func withTotem(lines ...string) string {
	return strings.Replace(minimal, "totem {\n", "totem {\n"+strings.Join(lines, "\n")+"\n", 1)
}

// withSection appends a section to minimal; its first line is line 16.
func withSection(s string) string { return minimal + s }

// diagnostics returns the diagnostics of err (an *Error), or fails.
func diagnostics(t *testing.T, err error) []Diagnostic {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e.Diagnostics
}

// findDiag returns the diagnostic of the given severity whose message
// contains substr.
func findDiag(ds []Diagnostic, sev Severity, substr string) (Diagnostic, bool) {
	for _, d := range ds {
		if d.Severity == sev && strings.Contains(d.Msg, substr) {
			return d, true
		}
	}
	return Diagnostic{}, false
}

func dump(ds []Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("\n\t" + d.Severity.String() + ": " + d.String())
	}
	return b.String()
}
