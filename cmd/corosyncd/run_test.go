package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const threeNodes = `totem {
    version: 2
    cluster_name: t
    transport: udpu
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        nodeid: 1
    }
    node {
        ring0_addr: 127.0.0.2
        nodeid: 2
    }
    node {
        ring0_addr: 127.0.0.3
        nodeid: 3
    }
}
`

func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "corosync.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runArgs(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := runArgs("-v")
	if err != nil || !strings.HasPrefix(out, "corosyncd ") {
		t.Fatalf("-v: %q %v", out, err)
	}
}

// -t prints the effective values, including the computed token timeout
// (3000 + 650 × (3 − 2) = 3650 ms for three nodes).
func TestCheckPrintsEffectiveValues(t *testing.T) {
	out, _, err := runArgs("-t", "-n", "2", "-c", writeConf(t, threeNodes))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"runtime.config.totem.token (u32) = 3650",
		"runtime.config.totem.consensus (u32) = 4380",
		"nodelist.local_node_pos (u32) = 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-t output lacks %q:\n%s", want, out)
		}
	}
}

func TestBadConfigIsRefusedWithFileAndLine(t *testing.T) {
	bad := strings.Replace(threeNodes, "transport: udpu", "transport: udpu\n    token: soon", 1)
	_, _, err := runArgs("-t", "-n", "1", "-c", writeConf(t, bad))
	if err == nil || !strings.Contains(err.Error(), "corosync.conf:5") {
		t.Fatalf("bad token accepted or error without file:line: %v", err)
	}
}

func TestUnknownKeyIsAWarning(t *testing.T) {
	conf := strings.Replace(threeNodes, "transport: udpu", "transport: udpu\n    frobnicate: 1", 1)
	_, errOut, err := runArgs("-t", "-n", "1", "-c", writeConf(t, conf))
	if err != nil || !strings.Contains(errOut, "frobnicate") {
		t.Fatalf("unknown key: err %v, stderr %q", err, errOut)
	}
}
