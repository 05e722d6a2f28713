package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update to accept):\n%s", path, got)
	}
}

// TestWriteEffective is the "corosyncd -t" output for the capture's
// configuration, as node 2.
func TestWriteEffective(t *testing.T) {
	c := loadReal(t)
	var b bytes.Buffer
	if err := c.WriteEffective(&b, 2); err != nil {
		t.Fatal(err)
	}
	golden(t, "effective-udpu.golden", b.Bytes())
	if err := c.WriteEffective(&b, 9); err == nil {
		t.Error("WriteEffective for an unknown node succeeded")
	}
}

// TestWriteEffectiveUDP covers the keys corosync derives for udp and a
// richer file: logger_subsys, uidgid, quorum, configured timers.
func TestWriteEffectiveUDP(t *testing.T) {
	c := mustRead(t, config("\ttransport: udp\n\ttoken: 1000\n\ttoken_coefficient: 0\n\tconsensus: 2000\n\tconfig_version: 7\n\tinterface {\n\t\tttl: 2\n\t}\n",
		nodes(3), `quorum {
	provider: corosync_votequorum
	expected_votes: 3
	wait_for_all: 1
	device {
		model: net
		votes: 1
		net {
			host: qnetd
		}
	}
}
logging {
	to_syslog: yes
	logger_subsys {
		subsys: QUORUM
		debug: on
	}
}
uidgid {
	uid: hacluster
}
`))
	var b bytes.Buffer
	if err := c.WriteEffective(&b, 1); err != nil {
		t.Fatal(err)
	}
	golden(t, "effective-udp.golden", b.Bytes())
}
