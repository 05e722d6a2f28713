// Package spectest finds the shared corosync reference files
// (shared/spec beside the repository: captured packets, a real
// corosync.conf) for tests.
package spectest

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns shared/spec/<name>, found by walking up from the current
// directory (a package directory, in tests); COROGO_SPEC_DIR overrides the
// search. It fails the test when the file cannot be found.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	if dir := os.Getenv("COROGO_SPEC_DIR"); dir != "" {
		return filepath.Join(dir, name)
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "spec", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("%s not found above the package directory; set COROGO_SPEC_DIR", name)
		}
		dir = parent
	}
}

// Sample is the captured corosync udpu traffic.
const Sample = "corosync-udpu-sample.pcap"
