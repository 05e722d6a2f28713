package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/quorum"
	"github.com/corogo/corogo/votequorum"
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
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// testDate is the Date line's time in every golden file.
var testDate = time.Date(2025, time.July, 2, 10, 0, 0, 0, time.UTC)

// info is a node's votequorum information in a cluster where every node
// has one vote.
func info(id uint32, expected, total, quorum uint32, flags votequorum.InfoFlags) votequorum.Info {
	return votequorum.Info{NodeID: id, State: votequorum.Member, Votes: 1, ExpectedVotes: expected,
		HighestExpected: expected, TotalVotes: total, Quorum: quorum, Flags: flags}
}

// quorate3 is node 1 of a quorate three-node cluster.
func quorate3() *status {
	in := func(id uint32) votequorum.Info { return info(id, 3, 3, 2, votequorum.Quorate) }
	local := in(1)
	return &status{
		Date: testDate, Provider: "corosync_votequorum", Votequorum: true, LocalID: 1,
		Ring: quorum.RingID{NodeID: 1, Seq: 0x2c}, Quorate: true, Local: &local,
		Nodes: []nodeStatus{
			{ID: 1, Name: "node1", Info: in(1)},
			{ID: 2, Name: "node2", Info: in(2)},
			{ID: 3, Name: "node3", Info: in(3)},
		},
	}
}

// qdevice2 is node 1 of a two-node cluster with a quorum device of one
// vote; flags are each node's device flags.
func qdevice2(flags1, flags2 votequorum.InfoFlags) *status {
	total := uint32(2)
	if flags1&votequorum.QdeviceCastVote != 0 {
		total = 3
	}
	in := func(id uint32, f votequorum.InfoFlags) votequorum.Info {
		i := info(id, 3, total, 2, votequorum.Quorate|votequorum.QdeviceRegistered|f)
		i.QdeviceVotes, i.QdeviceName = 1, "Qdevice"
		return i
	}
	local := in(1, flags1)
	return &status{
		Date: testDate, Provider: "corosync_votequorum", Votequorum: true, LocalID: 1,
		Ring: quorum.RingID{NodeID: 1, Seq: 0x10}, Quorate: true, Local: &local,
		Nodes: []nodeStatus{
			{ID: 1, Name: "node1", Info: in(1, flags1)},
			{ID: 2, Name: "node2", Info: in(2, flags2)},
		},
	}
}

// unordered has names, ids and (view) order that all differ.
func unordered() *status {
	st := quorate3()
	st.Nodes = []nodeStatus{
		{ID: 3, Name: "mike", Info: info(3, 3, 3, 2, votequorum.Quorate)},
		{ID: 1, Name: "zulu", Info: info(1, 3, 3, 2, votequorum.Quorate)},
		{ID: 2, Name: "alpha", Info: info(2, 3, 3, 2, votequorum.Quorate)},
	}
	st.Nodes[0].Info.Votes = 3
	return st
}

func TestWriteStatus(t *testing.T) {
	const (
		alive   = votequorum.QdeviceAlive
		vote    = votequorum.QdeviceCastVote
		master  = votequorum.QdeviceMasterWins
		blocked = 0
	)
	for _, x := range []struct {
		golden string
		st     func() *status
		v      view
	}{
		{"status_quorate.golden", quorate3, view{}},
		{"status_blocked.golden", func() *status {
			local := info(1, 3, 1, 2, votequorum.WaitForAll)
			return &status{
				Date: testDate, Provider: "corosync_votequorum", Votequorum: true, LocalID: 1,
				Ring: quorum.RingID{NodeID: 1, Seq: 0x30}, Quorate: false, Local: &local,
				Nodes: []nodeStatus{{ID: 1, Name: "node1", Info: local}},
			}
		}, view{}},
		{"status_two_node.golden", func() *status {
			flags := votequorum.TwoNode | votequorum.Quorate | votequorum.WaitForAll
			local := info(1, 2, 2, 1, flags)
			return &status{
				Date: testDate, Provider: "corosync_votequorum", Votequorum: true, LocalID: 1,
				Ring: quorum.RingID{NodeID: 1, Seq: 8}, Quorate: true, Local: &local,
				Nodes: []nodeStatus{
					{ID: 1, Name: "node1", Info: local},
					{ID: 2, Name: "node2", Info: info(2, 2, 2, 1, flags)},
				},
			}
		}, view{}},
		{"status_all_flags.golden", func() *status {
			st := quorate3()
			st.Local.Flags = 1<<10 - 1
			return st
		}, view{}},
		{"status_qdevice.golden", func() *status { return qdevice2(alive|vote, alive|vote|master) }, view{}},
		{"status_qdevice_novote.golden", func() *status { return qdevice2(alive, 0) }, view{}},
		{"status_hex.golden", func() *status {
			st := quorate3()
			st.LocalID = 0x1234abcd
			st.Nodes[0].ID = 0x1234abcd
			st.Nodes[2].ID = 0xffffffff
			return st
		}, view{hex: true}},
		{"status_qdevice_hex.golden", func() *status { return qdevice2(alive|vote, alive|vote) }, view{hex: true}},
		{"status_parsable.golden", quorate3, view{parsable: true}},
		{"status_order_name.golden", unordered, view{order: byName}},
		{"status_order_nodeid.golden", unordered, view{order: byNodeID}},
		{"status_order_address.golden", unordered, view{order: byAddress}},
		{"status_no_provider.golden", func() *status {
			return &status{
				Date: testDate, LocalID: 1, Ring: quorum.RingID{NodeID: 1, Seq: 0x2c}, Quorate: true,
				Nodes: []nodeStatus{{ID: 1, Name: "node1"}, {ID: 2, Name: "node2"}},
			}
		}, view{}},
		{"status_missing_info.golden", func() *status {
			st := quorate3()
			st.Local = nil
			st.Nodes[2].Info, st.Nodes[2].NoInfo = votequorum.Info{}, true
			return st
		}, view{}},
	} {
		t.Run(strings.TrimSuffix(x.golden, ".golden"), func(t *testing.T) {
			var b bytes.Buffer
			if err := writeStatus(&b, x.st(), x.v); err != nil {
				t.Fatal(err)
			}
			golden(t, x.golden, b.Bytes())
		})
	}
}

func TestWriteNodes(t *testing.T) {
	for _, x := range []struct {
		golden string
		st     *status
		v      view
	}{
		{"nodes.golden", quorate3(), view{}},
		{"nodes_hex.golden", quorate3(), view{hex: true}},
		{"nodes_parsable.golden", quorate3(), view{parsable: true}},
		{"nodes_qdevice.golden", qdevice2(votequorum.QdeviceAlive|votequorum.QdeviceCastVote, votequorum.QdeviceAlive), view{}},
		{"nodes_no_provider.golden", &status{LocalID: 2, Nodes: []nodeStatus{{ID: 1, Name: "10.0.0.1"}, {ID: 2, Name: "10.0.0.2"}}}, view{parsable: true}},
	} {
		t.Run(strings.TrimSuffix(x.golden, ".golden"), func(t *testing.T) {
			var b bytes.Buffer
			if err := writeNodes(&b, x.st, x.v); err != nil {
				t.Fatal(err)
			}
			golden(t, x.golden, b.Bytes())
		})
	}
}

// TestStatusLayout pins the details of the layout that are easy to miss
// in golden files: trailing spaces, the padding of the columns.
func TestStatusLayout(t *testing.T) {
	var b bytes.Buffer
	writeStatus(&b, quorate3(), view{})
	for _, line := range []string{
		"Date:             Wed Jul  2 10:00:00 2025\n",
		"Ring ID:          1.2c\n",
		"Quorum:           2  \n",
		"Flags:            Quorate \n",
		"    Nodeid      Votes Name\n",
		"         1          1 node1 (local)\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("no line %q in\n%s", line, b.String())
		}
	}

	b.Reset()
	writeStatus(&b, qdevice2(votequorum.QdeviceAlive|votequorum.QdeviceCastVote, votequorum.QdeviceAlive|votequorum.QdeviceMasterWins), view{})
	for _, line := range []string{
		"Flags:            Quorate Qdevice \n",
		"    Nodeid      Votes    Qdevice Name\n",
		"         1          1    A,V,NMW node1 (local)\n",
		"         2          1    A,NV,MW node2\n",
		"         0          1            Qdevice\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("no line %q in\n%s", line, b.String())
		}
	}

	b.Reset()
	writeStatus(&b, qdevice2(votequorum.QdeviceAlive, 0), view{hex: true})
	if !strings.HasSuffix(b.String(), "0x00000000          0            Qdevice (votes 1)\n") {
		t.Errorf("qdevice line without vote, hex:\n%s", b.String())
	}
}

func TestPadded(t *testing.T) {
	for in, want := range map[string]string{
		"":             "           ",
		"1":            "         1 ",
		"4294967295":   "4294967295 ",
		"NA,NV,NMW":    " NA,NV,NMW ",
		"longer than":  "longer than ",
		"0123456789ab": "0123456789ab ",
	} {
		if got := padded(in); got != want {
			t.Errorf("padded(%q) = %q, want %q", in, got, want)
		}
	}
}
