package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/corogo/corogo/cpg"
	"github.com/corogo/corogo/cpg/cpgtest"
)

var testGroups = []cpg.Group{
	{Name: "a\\b\x01", Members: []cpg.Address{{NodeID: 1, PID: 7}}},
	{Name: "wbgrp", Members: []cpg.Address{{NodeID: 2, PID: 18440}, {NodeID: 3, PID: 99}}},
}

func testAddrs(id uint32) string {
	return map[uint32]string{2: "10.77.0.2", 3: "10.77.0.3 10.78.0.3"}[id]
}

func TestWriteGroups(t *testing.T) {
	for _, x := range []struct {
		name   string
		delim  byte
		escape bool
		want   string
	}{
		{"default", 0, true, "Group Name\t       PID\t   Node ID\n" +
			"a\\\\b\\x01\n" +
			"\t\t         7\t         1 ()\n" +
			"wbgrp\n" +
			"\t\t     18440\t         2 (10.77.0.2)\n" +
			"\t\t        99\t         3 (10.77.0.3 10.78.0.3)\n"},
		{"no escape", 0, false, "Group Name\t       PID\t   Node ID\n" +
			"a\\b\x01\n" +
			"\t\t         7\t         1 ()\n" +
			"wbgrp\n" +
			"\t\t     18440\t         2 (10.77.0.2)\n" +
			"\t\t        99\t         3 (10.77.0.3 10.78.0.3)\n"},
		{"delimiter", ':', true, "GRP_NAME:PID:NODEID\n" +
			"a\\\\b\\x01:7:1\n" +
			"wbgrp:18440:2\n" +
			"wbgrp:99:3\n"},
	} {
		var b bytes.Buffer
		if err := writeGroups(&b, testGroups, x.delim, x.escape, testAddrs); err != nil {
			t.Fatal(err)
		}
		if b.String() != x.want {
			t.Errorf("%s:\n got %q\nwant %q", x.name, b.String(), x.want)
		}
	}
	var b bytes.Buffer
	writeGroups(&b, nil, 0, true, testAddrs)
	if b.String() != "Group Name\t       PID\t   Node ID\n" {
		t.Errorf("no groups: %q", b.String())
	}
}

func TestWriteNames(t *testing.T) {
	names := []string{"a b", "x\xff"}
	for _, x := range []struct {
		delim  byte
		escape bool
		want   string
	}{
		{0, true, "a b\nx\\xFF\n"},
		{0, false, "a b\nx\xff\n"},
		{',', true, "a b,x\\xFF,\n"},
	} {
		var b bytes.Buffer
		writeNames(&b, names, x.delim, x.escape)
		if b.String() != x.want {
			t.Errorf("delim %q escape %v: got %q want %q", x.delim, x.escape, b.String(), x.want)
		}
	}
	var b bytes.Buffer
	writeNames(&b, nil, ',', true)
	if b.String() != "\n" {
		t.Errorf("no groups with a delimiter: %q", b.String())
	}
}

func TestParseArgs(t *testing.T) {
	for _, x := range []struct {
		args []string
		want options
		err  string
	}{
		{nil, options{escape: true}, ""},
		{[]string{"-n"}, options{escape: true, namesOnly: true}, ""},
		{[]string{"-ne"}, options{namesOnly: true}, ""},
		{[]string{"-d", ","}, options{escape: true, delim: ','}, ""},
		{[]string{"-d;;"}, options{escape: true, delim: ';'}, ""},
		{[]string{"-ed", ""}, options{}, ""},
		{[]string{"-end:"}, options{namesOnly: true, delim: ':'}, ""},
		{[]string{"extra", "-e"}, options{}, ""},
		{[]string{"--", "-e"}, options{escape: true}, ""},
		{[]string{"-x"}, options{}, "invalid option -- 'x'"},
		{[]string{"-d"}, options{}, "option requires an argument -- 'd'"},
	} {
		o, err := parseArgs(x.args, new(bytes.Buffer))
		if x.err != "" {
			if err == nil || err.Error() != x.err {
				t.Errorf("%q: error %v, want %s", x.args, err, x.err)
			}
			continue
		}
		if err != nil || o != x.want {
			t.Errorf("%q: %+v %v, want %+v", x.args, o, err, x.want)
		}
	}
	var out bytes.Buffer
	if _, err := parseArgs([]string{"-n", "-h", "-x"}, &out); err != errHelp || !strings.HasPrefix(out.String(), "cpgtool [-d delimiter] [-e] [-n] [-h]\n") {
		t.Errorf("-h: %v %q", err, out.String())
	}
}

func TestParseMemberIP(t *testing.T) {
	for in, want := range map[string]string{
		"r(0) ip(10.77.0.2) ":                 "10.77.0.2",
		"r(0) ip(10.0.0.1) r(1) ip(fd00::1) ": "10.0.0.1 fd00::1",
		"":                                    "",
		"r(0) ip() ":                          "",
	} {
		if got := parseMemberIP(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestRun lists the groups of the fake daemon, addresses from its cmap.
func TestRun(t *testing.T) {
	s := cpgtest.New(t, cpgtest.Options{NodeID: 2, MemberAddrs: map[uint32]string{2: "10.77.0.2", 3: "10.77.0.3"}})
	t.Setenv("COROSYNCD_SOCKET", s.Socket())
	ctx := context.Background()
	for _, x := range []struct {
		pid   uint32
		group string
	}{{18440, "wbgrp"}, {5, "a"}, {6, "wbgrp"}} {
		c, err := cpg.Dial(ctx, cpg.WithPID(x.pid))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Join(ctx, x.group); err != nil {
			t.Fatal(err)
		}
		<-c.Events()
	}
	for _, x := range []struct {
		args []string
		want string
	}{
		{nil, "Group Name\t       PID\t   Node ID\n" +
			"a\n\t\t         5\t         2 (10.77.0.2)\n" +
			"wbgrp\n\t\t         6\t         2 (10.77.0.2)\n\t\t     18440\t         2 (10.77.0.2)\n"},
		{[]string{"-n"}, "a\nwbgrp\n"},
		{[]string{"-n", "-d", " "}, "a wbgrp \n"},
		{[]string{"-d", "|"}, "GRP_NAME|PID|NODEID\na|5|2\nwbgrp|6|2\nwbgrp|18440|2\n"},
	} {
		var out bytes.Buffer
		if err := run(ctx, x.args, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != x.want {
			t.Errorf("%q:\n got %q\nwant %q", x.args, out.String(), x.want)
		}
	}
	s.Close()
	if err := run(ctx, nil, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("without daemon: %v", err)
	}
}
