package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/service/cmap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(clienttest.Main(m))
}

// keys is a store shaped like a corosync 3.1 node's, in no particular
// order.
var keys = []cmap.KV{
	{Key: "totem.transport", Type: cmap.TypeString, Value: "udpu"},
	{Key: "config.reload_in_progress", Type: cmap.TypeUint8, Value: uint8(0)},
	{Key: "config.reload_status", Type: cmap.TypeInt32, Value: int32(1)},
	{Key: "runtime.config.totem.token", Type: cmap.TypeUint32, Value: uint32(3000)},
	{Key: "runtime.config.totem.consensus", Type: cmap.TypeUint32, Value: uint32(3600)},
	{Key: "runtime.votequorum.two_node", Type: cmap.TypeUint8, Value: uint8(0)},
	{Key: "runtime.members.1.ip", Type: cmap.TypeString, Value: "r(0) ip(10.77.0.1) "},
	{Key: "runtime.members.1.status", Type: cmap.TypeString, Value: "joined"},
	{Key: "nodelist.local_node_pos", Type: cmap.TypeUint32, Value: uint32(0)},
	{Key: "nodelist.node.0.nodeid", Type: cmap.TypeUint32, Value: uint32(1)},
	{Key: "nodelist.node.0.ring0_addr", Type: cmap.TypeString, Value: "10.77.0.1"},
	{Key: "totem.token", Type: cmap.TypeUint32, Value: uint32(3000)},
	{Key: "totem.secret", Type: cmap.TypeBinary, Value: []byte("a\\b\x00\xff")},
	{Key: "test.i8", Type: cmap.TypeInt8, Value: int8(-8)},
	{Key: "test.i16", Type: cmap.TypeInt16, Value: int16(-1600)},
	{Key: "test.i64", Type: cmap.TypeInt64, Value: int64(-1 << 40)},
	{Key: "test.u16", Type: cmap.TypeUint16, Value: uint16(65535)},
	{Key: "test.u64", Type: cmap.TypeUint64, Value: uint64(1<<64 - 1)},
	{Key: "test.flt", Type: cmap.TypeFloat, Value: float32(1.5)},
	{Key: "test.dbl", Type: cmap.TypeDouble, Value: float64(-0.25)},
	{Key: "stats.srp.orf_token_rx", Type: cmap.TypeUint64, Value: uint64(1234)},
	{Key: "stats.pg.msg_queue_avail", Type: cmap.TypeUint32, Value: uint32(0)},
}

type result struct {
	code           int
	stdout, stderr string
}

func cmapctl(t *testing.T, s *clienttest.Server, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	if s != nil {
		args = append([]string{"-socket", s.Path()}, args...)
	}
	code := run(ctx, args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) check(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Errorf("got exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s",
			r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestPrintGolden(t *testing.T) {
	// Small pages, so that the listing spans several ITER requests.
	s := clienttest.Start(t, clienttest.Options{Keys: keys, MaxReply: 96})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"all.golden", nil},
		{"all_binary.golden", []string{"-b"}},
		{"prefixes.golden", []string{"totem.", "runtime.config."}},
		{"stats.golden", []string{"-m", "stats"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cmapctl(t, s, tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			golden(t, tc.name, r.stdout)
		})
	}
}

func TestPrintNoResult(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{Keys: keys})
	cmapctl(t, s, "nothing.").check(t, 1, "", "")
	// One prefix of two matched: success, as corosync-cmapctl.
	cmapctl(t, s, "nothing.", "totem.token").check(t, 0, "totem.token (u32) = 3000\n", "")
	// Stats are not in the default map.
	cmapctl(t, s, "stats.").check(t, 1, "", "")
	cmapctl(t, s, "-m", "stats", "stats.pg").check(t, 0, "stats.pg.msg_queue_avail (u32) = 0\n", "")

	empty := clienttest.Start(t, clienttest.Options{})
	cmapctl(t, empty).check(t, 1, "", "")
}

func TestGet(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{Keys: keys})
	cmapctl(t, s, "-g", "runtime.config.totem.token").check(t, 0, "runtime.config.totem.token (u32) = 3000\n", "")
	cmapctl(t, s, "-g", "totem.token", "test.flt", "test.dbl").check(t, 0,
		"totem.token (u32) = 3000\ntest.flt (flt) = 1.500000\ntest.dbl (dbl) = -0.250000\n", "")
	cmapctl(t, s, "-g", "totem.secret").check(t, 0, "totem.secret (bin)\n", "")
	cmapctl(t, s, "-b", "-g", "totem.secret").check(t, 0, "totem.secret (bin) = a\\\\b\\x00\\xFF\n", "")
	// Options after operands, as GNU getopt permutes them.
	cmapctl(t, s, "totem.transport", "-q", "-g").check(t, 0, "udpu\n", "")
	cmapctl(t, s, "-qg", "test.i64").check(t, 0, "-1099511627776\n", "")
	cmapctl(t, s, "-qg", "totem.secret").check(t, 0, "bin)\n", "")
	cmapctl(t, s, "-bqg", "totem.secret").check(t, 0, "bin) = a\\\\b\\x00\\xFF\n", "")

	cmapctl(t, s, "-g", "totem.token", "no.such.key", "totem.transport").check(t, 1,
		"totem.token (u32) = 3000\n", "Can't get key no.such.key. Error CS_ERR_NOT_EXIST\n")
	cmapctl(t, s, "-g", "stats.srp.orf_token_rx").check(t, 1, "", "Can't get key stats.srp.orf_token_rx. Error CS_ERR_NOT_EXIST\n")
	cmapctl(t, s, "-m", "stats", "-g", "stats.srp.orf_token_rx").check(t, 0, "stats.srp.orf_token_rx (u64) = 1234\n", "")
}

func TestWritesNotSupported(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-s", "totem.token", "u32", "5000"}, "Failed to set key totem.token. Error CS_ERR_NOT_SUPPORTED\n"},
		{[]string{"-s", "totem.token", "u33", "5000"}, "Unknown type u33\n"},
		{[]string{"-s", "totem.token", "u32"}, "At least 3 parameters are expected for set\n"},
		{[]string{"-d", "totem.token"}, "Can't delete key totem.token. Error CS_ERR_NOT_SUPPORTED\n"},
		{[]string{"-D", "totem."}, "Can't delete keys with prefix totem.. Error CS_ERR_NOT_SUPPORTED\n"},
		{[]string{"-p", "settings.txt"}, "Can't load settings from settings.txt. Error CS_ERR_NOT_SUPPORTED\n"},
		{[]string{"-t", "totem.token"}, "Failed to add tracking function. Error CS_ERR_NOT_SUPPORTED\n"},
		{[]string{"-T", "totem."}, "Failed to add tracking function. Error CS_ERR_NOT_SUPPORTED\n"},
		{[]string{"-C", "all"}, "Can't set cmap stats clear key stats.clear.all. Error CS_ERR_NOT_SUPPORTED\n"},
		{[]string{"-C", "disk"}, "argument to -C should be 'knet', 'totem', 'ipc', 'schedmiss' or 'all'\n"},
		{[]string{"-d"}, "Expected key after options\n"},
		{[]string{"-g"}, "Expected key after options\n"},
		{[]string{"-m", "other"}, "invalid map name, must be 'default', 'icmap' or 'stats'\n"},
		{[]string{"-x"}, "cmapctl: invalid option -- 'x'\n"},
	} {
		// No daemon: writes are refused before connecting.
		r := cmapctl(t, nil, tc.args...)
		if r.code != 1 || r.stdout != "" || r.stderr != tc.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1, %q", tc.args, r.code, r.stdout, r.stderr, tc.stderr)
		}
	}
}

func TestNotRunning(t *testing.T) {
	r := cmapctl(t, nil, "-socket", filepath.Join(t.TempDir(), "none.sock"))
	if r.code != 1 || !strings.HasPrefix(r.stderr, "Failed to initialize the cmap API. Error: cmap: corosyncd is not running") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestHelp(t *testing.T) {
	r := cmapctl(t, nil, "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "usage:  cmapctl [-b]") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
}
