package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cmap"
	svq "github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/votequorum"
	"github.com/corogo/corogo/votequorum/votequorumtest"
)

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m)) }

type result struct {
	code           int
	stdout, stderr string
}

func (r result) check(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Errorf("got exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s",
			r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

// names is the fake DNS: reverse and forward.
var names = map[string]string{
	"10.0.0.1": "node1.example.com.",
	"10.0.0.2": "node2.example.com.",
	"10.1.0.1": "node1-b.example.com.",
}

func newTool(stdout, stderr *bytes.Buffer) *tool {
	return &tool{
		stdout: stdout, stderr: stderr,
		now: func() time.Time { return testDate },
		lookupAddr: func(_ context.Context, a string) ([]string, error) {
			if n, ok := names[a]; ok {
				return []string{n}, nil
			}
			return nil, errors.New("no name")
		},
		lookupHost: func(_ context.Context, h string) ([]string, error) {
			for a, n := range names {
				if strings.TrimSuffix(n, ".") == h {
					return []string{a}, nil
				}
			}
			return nil, errors.New("no address")
		},
	}
}

// quorumtool runs the tool against s with args.
func quorumtool(t *testing.T, s *votequorumtest.Server, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	if s != nil {
		args = append([]string{"--socket", s.Path()}, args...)
	}
	code := newTool(&out, &errb).run(ctx, args)
	return result{code, out.String(), errb.String()}
}

func readGolden(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// three is node 1 of a cluster of three named nodes, as quorate3.
func three(t *testing.T) *votequorumtest.Server {
	return votequorumtest.Start(t, votequorumtest.Options{
		NodeID: 1,
		Nodes: []votequorumtest.Node{
			{ID: 1, Name: "node1", Addrs: []string{"10.0.0.1", "10.1.0.1"}},
			{ID: 2, Name: "node2", Addrs: []string{"10.0.0.2", "10.1.0.2"}},
			{ID: 3, Name: "node3", Addrs: []string{"10.0.0.3"}},
		},
		Ring: votequorum.RingID{NodeID: 1, Seq: 0x2c},
	})
}

func TestStatus(t *testing.T) {
	s := three(t)
	quorumtool(t, s).check(t, 0, readGolden(t, "status_quorate.golden"), "")
	quorumtool(t, s, "-s").check(t, 0, readGolden(t, "status_quorate.golden"), "")
	quorumtool(t, s, "-sp").check(t, 0, readGolden(t, "status_parsable.golden"), "")
}

func TestStatusFromEnvironment(t *testing.T) {
	s := three(t)
	t.Setenv(ipc.EnvSocket, s.Path())
	quorumtool(t, nil, "-s").check(t, 0, readGolden(t, "status_quorate.golden"), "")
}

func TestStatusNotQuorate(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID:  1,
		Nodes:   []votequorumtest.Node{{ID: 1, Name: "node1"}, {ID: 2, Name: "node2"}, {ID: 3, Name: "node3"}},
		Members: []uint32{1},
		Ring:    votequorum.RingID{NodeID: 1, Seq: 0x30},
		Flags:   votequorum.WaitForAll,
	})
	quorumtool(t, s, "-s").check(t, 2, readGolden(t, "status_blocked.golden"), "")
}

func TestStatusTwoNode(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID: 1,
		Nodes:  []votequorumtest.Node{{ID: 1, Name: "node1"}, {ID: 2, Name: "node2"}},
		Ring:   votequorum.RingID{NodeID: 1, Seq: 8},
		Flags:  votequorum.TwoNode | votequorum.WaitForAll,
	})
	quorumtool(t, s, "-s").check(t, 0, readGolden(t, "status_two_node.golden"), "")
}

// qdeviceCluster is qdevice2's cluster: two nodes, expected votes 3, a
// device of one vote.
func qdeviceCluster(t *testing.T, flags1, flags2 votequorum.InfoFlags) *votequorumtest.Server {
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID:        1,
		Nodes:         []votequorumtest.Node{{ID: 1, Name: "node1"}, {ID: 2, Name: "node2"}},
		Ring:          votequorum.RingID{NodeID: 1, Seq: 0x10},
		ExpectedVotes: 3,
		QdeviceVotes:  1,
	})
	s.RegisterQdevice("Qdevice")
	s.SetQdeviceState(1, flags1)
	s.SetQdeviceState(2, flags2)
	return s
}

func TestStatusQdevice(t *testing.T) {
	const alive, vote, master = votequorum.QdeviceAlive, votequorum.QdeviceCastVote, votequorum.QdeviceMasterWins
	s := qdeviceCluster(t, alive|vote, alive|vote|master)
	quorumtool(t, s, "-s").check(t, 0, readGolden(t, "status_qdevice.golden"), "")

	s = qdeviceCluster(t, alive, 0)
	quorumtool(t, s, "-s").check(t, 0, readGolden(t, "status_qdevice_novote.golden"), "")

	s = qdeviceCluster(t, alive|vote, alive|vote)
	quorumtool(t, s, "-H").check(t, 0, readGolden(t, "status_qdevice_hex.golden"), "")
	quorumtool(t, s, "-l", "-H", "-p").check(t, 0, `
Membership information
----------------------
    Nodeid      Votes    Qdevice Name
0x00000001          1    A,V,NMW node1 (local)
0x00000002          1    A,V,NMW node2
0x00000000          1            Qdevice
`, "")
}

func TestListNodes(t *testing.T) {
	s := three(t)
	quorumtool(t, s, "-l").check(t, 0, readGolden(t, "nodes.golden"), "")
	quorumtool(t, s, "-lH").check(t, 0, readGolden(t, "nodes_hex.golden"), "")
	quorumtool(t, s, "-l", "-p").check(t, 0, readGolden(t, "nodes_parsable.golden"), "")
	// The last command wins.
	quorumtool(t, s, "-l", "-s").check(t, 0, readGolden(t, "status_quorate.golden"), "")
	quorumtool(t, s, "-s", "-l").check(t, 0, readGolden(t, "nodes.golden"), "")
}

func TestOrder(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID: 1,
		Nodes:  []votequorumtest.Node{{ID: 1, Name: "zulu"}, {ID: 2, Name: "alpha"}, {ID: 3, Name: "mike", Votes: 3}},
		Ring:   votequorum.RingID{NodeID: 1, Seq: 0x2c},
	})
	s.SetExpected(3)
	table := func(rows ...string) string {
		return "\nMembership information\n----------------------\n    Nodeid      Votes Name\n" + strings.Join(rows, "\n") + "\n"
	}
	zulu, alpha, mike := "         1          1 zulu (local)", "         2          1 alpha", "         3          3 mike"
	quorumtool(t, s, "-l").check(t, 0, table(zulu, alpha, mike), "")
	quorumtool(t, s, "-l", "-o", "a").check(t, 0, table(zulu, alpha, mike), "")
	quorumtool(t, s, "-l", "-on").check(t, 0, table(alpha, mike, zulu), "")
	quorumtool(t, s, "-l", "-o", "i").check(t, 0, table(zulu, alpha, mike), "")
	quorumtool(t, s, "-l", "-o", "x").check(t, 1, "", "Invalid ordering option. valid orders are a(address), i(node ID) or n(name)\n")
	quorumtool(t, s, "-l", "-o", "nn").check(t, 1, "", "Invalid ordering option. valid orders are a(address), i(node ID) or n(name)\n")
}

func TestNames(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID: 2,
		Nodes: []votequorumtest.Node{
			{ID: 1, Addrs: []string{"10.0.0.1", "10.1.0.1"}},
			{ID: 2, Name: "two", Addrs: []string{"10.0.0.2", "10.1.0.2", "node1-b.example.com"}},
			{ID: 3, Addrs: []string{"10.0.0.3"}},
			{ID: 4},
		},
		Keys: []cmap.KV{
			// The daemon's resolved address for node 3 replaces the
			// configured one.
			{Key: "runtime.members.3.ip", Type: cmap.TypeString, Value: "r(0) ip(10.0.0.33) "},
		},
	})
	rows := func(n1, n2, n3, n4 string) string {
		return "\nMembership information\n----------------------\n    Nodeid      Votes Name\n" +
			"         1          1 " + n1 + "\n" +
			"         2          1 " + n2 + " (local)\n" +
			"         3          1 " + n3 + "\n" +
			"         4          1 " + n4 + "\n"
	}
	quorumtool(t, s, "-l").check(t, 0, rows("node1.example.com", "two", "10.0.0.33", ""), "")
	quorumtool(t, s, "-l", "-i").check(t, 0, rows("10.0.0.1", "10.0.0.2", "10.0.0.33", ""), "")
	quorumtool(t, s, "-l", "-a").check(t, 0,
		rows("node1.example.com, node1-b.example.com", "two, 10.1.0.2, node1-b.example.com", "10.0.0.33", ""), "")
	quorumtool(t, s, "-l", "-a", "-i").check(t, 0,
		rows("10.0.0.1, 10.1.0.1", "10.0.0.2, 10.1.0.2, 10.1.0.1", "10.0.0.33", ""), "")
}

func TestNoProvider(t *testing.T) {
	s := votequorumtest.Start(t, votequorumtest.Options{
		NodeID:     1,
		NoProvider: true,
		Nodes: []votequorumtest.Node{
			{ID: 1, Name: "node1", Addrs: []string{"10.0.0.1"}},
			{ID: 2, Name: "node2", Addrs: []string{"10.0.0.2"}},
		},
		Ring: votequorum.RingID{NodeID: 1, Seq: 0x2c},
	})
	quorumtool(t, s, "-s").check(t, 0, readGolden(t, "status_no_provider.golden"), "")
	quorumtool(t, s, "-l", "-p").check(t, 0,
		"\nMembership information\n----------------------\n    Nodeid Name\n         1 node1 (local)\n         2 node2\n", "")
	quorumtool(t, s, "-l", "-i").check(t, 0,
		"\nMembership information\n----------------------\n    Nodeid Name\n         1 10.0.0.1 (local)\n         2 10.0.0.2\n", "")
	quorumtool(t, s, "-m").check(t, 0, "\nQuorum is not configured - cannot monitor\n"+readGolden(t, "status_no_provider.golden"), "")
	quorumtool(t, s, "-e", "2").check(t, 1, "", "You cannot change expected votes, corosync is not using votequorum\n")
	quorumtool(t, s, "-v", "2").check(t, 1, "", "You cannot change node votes, corosync is not using votequorum\n")
	quorumtool(t, s, "-f").check(t, 1, "", "You cannot unregister quorum device, corosync is not using votequorum\n")
}

func TestSetExpected(t *testing.T) {
	s := three(t)
	quorumtool(t, s, "-e", "4").check(t, 0, "", "")
	if in, _ := s.Info(0); in.ExpectedVotes != 4 {
		t.Errorf("expected votes %d after -e 4", in.ExpectedVotes)
	}
	quorumtool(t, s, "-e9").check(t, 1, "", "Unable to set expected votes: CS_ERR_INVALID_PARAM\n")
	s.Refuse(svq.FnSetExpected, service.ErrTryAgain)
	quorumtool(t, s, "-e", "3").check(t, 1, "", "Unable to set expected votes: CS_ERR_TRY_AGAIN\n")
	for _, bad := range []string{"0", "-1", "x", "3x", "", "2147483648"} {
		quorumtool(t, s, "-e", bad).check(t, 1, "", "New expected votes value was not valid, try a positive number\n")
	}
	if got, want := s.Calls(), []string{"setexpected 4", "setexpected 9", "setexpected 3"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestSetVotes(t *testing.T) {
	s := three(t)
	quorumtool(t, s, "-v", "2").check(t, 0, "", "")
	quorumtool(t, s, "-v", "0", "-n", "3").check(t, 0, "", "")
	quorumtool(t, s, "-n", "2", "-v", " +1").check(t, 0, "", "")
	quorumtool(t, s, "-v", "1", "-n", "9").check(t, 1, "", "Unable to set votes 1 for nodeid: 9: CS_ERR_NAME_NOT_FOUND\n")
	quorumtool(t, s, "-v", "0").check(t, 1, "", "Unable to set votes 0 for nodeid: 1: CS_ERR_INVALID_PARAM\n")
	for _, bad := range []string{"-1", "x", "2147483648"} {
		quorumtool(t, s, "-v", bad).check(t, 1, "", "New votes value was not valid, try a positive number or zero\n")
	}
	for _, bad := range []string{"0", "-2", "4294967296", "y"} {
		quorumtool(t, s, "-v", "1", "-n", bad).check(t, 1, "", "The nodeid was not valid, try a positive number\n")
	}
	want := []string{"setvotes 1 2", "setvotes 3 0", "setvotes 2 1", "setvotes 9 1", "setvotes 1 0"}
	if got := s.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if in, _ := s.Info(1); in.Votes != 2 || in.TotalVotes != 3 {
		t.Errorf("node 1 after the changes: %+v", in)
	}
}

func TestUnregisterQdevice(t *testing.T) {
	s := three(t)
	// No device: nothing to do.
	quorumtool(t, s, "-f").check(t, 0, "", "")
	s.RegisterQdevice("Qdevice-net")
	quorumtool(t, s, "-f").check(t, 0, "", "")
	if in, _ := s.Info(0); in.Flags&votequorum.QdeviceRegistered != 0 {
		t.Errorf("still registered: %+v", in)
	}
	s.RegisterQdevice("other")
	s.Refuse(svq.FnQdeviceUnregister, service.ErrAccess)
	quorumtool(t, s, "-f").check(t, 1, "", "Unable to unregister quorum device: CS_ERR_ACCESS\n")
	s.Refuse(svq.FnGetInfo, service.ErrTryAgain)
	quorumtool(t, s, "-f").check(t, 1, "", "Unable to get quorum device info: CS_ERR_TRY_AGAIN\n")
	if got, want := s.Calls(), []string{"qdevice unregister Qdevice-net", "qdevice unregister other"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestInfoErrors(t *testing.T) {
	s := three(t)
	s.Refuse(svq.FnGetInfo, service.ErrTryAgain)
	r := quorumtool(t, s, "-s")
	want := strings.Replace(readGolden(t, "status_quorate.golden"), `
Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2  
Flags:            Quorate 
`, "Unable to get node 1 info\nUnable to get node 2 info\nUnable to get node 3 info\n", 1)
	want = strings.NewReplacer("1 node", "0 node").Replace(want)
	r.check(t, 1, want, "Unable to get node info: CS_ERR_TRY_AGAIN\n")
}

func TestMonitor(t *testing.T) {
	s := three(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := &chanWriter{ch: make(chan string, 16)}
	var errb bytes.Buffer
	tl := newTool(nil, &errb)
	tl.stdout = out
	code := make(chan int, 1)
	go func() { code <- tl.run(ctx, []string{"--socket", s.Path(), "-m"}) }()

	next := func() string {
		t.Helper()
		var b strings.Builder
		for !strings.HasSuffix(b.String(), "\n\n") || !strings.Contains(b.String(), "Membership") {
			select {
			case w := <-out.ch:
				b.WriteString(w)
			case <-ctx.Done():
				t.Fatalf("no status printed; so far %q", b.String())
			}
		}
		return b.String()
	}
	if got, want := next(), readGolden(t, "status_quorate.golden")+"\n"; got != want {
		t.Errorf("first status:\n%s\nwant\n%s", got, want)
	}
	// Nodes 2 and 3 leave: the view changes.
	s.SetMembership(votequorum.RingID{NodeID: 1, Seq: 0x30}, []uint32{1})
	want := strings.NewReplacer(
		"Nodes:            3", "Nodes:            1",
		"1.2c", "1.30",
		"Quorate:          Yes", "Quorate:          No",
		"Total votes:      3", "Total votes:      1",
		"2  \nFlags:            Quorate ", "2 Activity blocked\nFlags:            ",
		"         2          1 node2\n         3          1 node3\n", "",
	).Replace(readGolden(t, "status_quorate.golden")) + "\n"
	if got := next(); got != want {
		t.Errorf("second status:\n%s\nwant\n%s", got, want)
	}
	// They come back.
	s.SetMembership(votequorum.RingID{NodeID: 1, Seq: 0x2c}, []uint32{1, 2, 3})
	if got, want := next(), readGolden(t, "status_quorate.golden")+"\n"; got != want {
		t.Errorf("third status:\n%s\nwant\n%s", got, want)
	}
	cancel()
	if c := <-code; c != 0 || errb.Len() != 0 {
		t.Errorf("monitor ended with %d, stderr %q", c, errb.String())
	}
}

func TestMonitorDaemonGone(t *testing.T) {
	s := three(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := &chanWriter{ch: make(chan string, 16)}
	var errb bytes.Buffer
	tl := newTool(nil, &errb)
	tl.stdout = out
	code := make(chan int, 1)
	go func() { code <- tl.run(ctx, []string{"--socket", s.Path(), "-m"}) }()
	<-out.ch // the first status
	s.Close()
	select {
	case c := <-code:
		if c != 1 || !strings.HasPrefix(errb.String(), "Unable to dispatch quorum status: ") {
			t.Errorf("exit %d, stderr %q", c, errb.String())
		}
	case <-ctx.Done():
		t.Fatal("monitor did not end")
	}
}

// chanWriter sends each write to ch.
type chanWriter struct{ ch chan string }

func (w *chanWriter) Write(p []byte) (int, error) {
	w.ch <- string(p)
	return len(p), nil
}

func TestNotRunning(t *testing.T) {
	var out, errb bytes.Buffer
	tl := newTool(&out, &errb)
	code := tl.run(context.Background(), []string{"--socket", filepath.Join(t.TempDir(), "none.sock"), "-s"})
	if code != 1 || out.Len() != 0 || !strings.HasPrefix(errb.String(), "Cannot initialize CMAP service: ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

func TestVersionAndHelp(t *testing.T) {
	quorumtool(t, nil, "-V").check(t, 0, "corosync-quorumtool version: "+version+"\n", "")
	r := quorumtool(t, nil, "-h")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: \nquorumtool <options>\n\n  options:\n\n  -s             show quorum status\n") ||
		!strings.HasSuffix(r.stdout, "  (*) Starred items only work if votequorum is the quorum provider for corosync\n\n") || r.stderr != "" {
		t.Errorf("-h: %+v", r)
	}
	usage := r.stdout
	quorumtool(t, nil, "-x").check(t, 1, usage, "quorumtool: invalid option -- 'x'\n")
	quorumtool(t, nil, "-e").check(t, 1, usage, "quorumtool: option requires an argument -- 'e'\n")
}
