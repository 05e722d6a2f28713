package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTree(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{{
		name: "nesting comments blank lines",
		in: `# leading comment

totem {
	version: 2
	    # indented comment
	interface {
		linknumber: 0

	}
}
nodelist {
  node {
    ring0_addr: 10.0.0.1
  }
}
`,
		want: `totem {
    version: 2
    interface {
        linknumber: 0
    }
}

nodelist {
    node {
        ring0_addr: 10.0.0.1
    }
}
`,
	}, {
		name: "values with spaces colons and IPv6",
		in: `nodelist {
	node {
		ring0_addr: fe80::1%eth0
		ring1_addr:2001:db8::2
		name :   a name with  spaces   
	}
}
logging {
	logfile: /var/log/my cluster/corosync.log
}
`,
		want: `nodelist {
    node {
        ring0_addr: fe80::1%eth0
        ring1_addr: 2001:db8::2
        name: a name with  spaces
    }
}

logging {
    logfile: /var/log/my cluster/corosync.log
}
`,
	}, {
		name: "no end-of-line comments",
		in:   "totem {\n\ttoken: 3000 # three seconds\n}\n",
		want: "totem {\n    token: 3000 # three seconds\n}\n",
	}, {
		name: "CRLF, tabs, no-break spaces, no final newline",
		in:   "totem {\r\n\t version:\t2 \u00a0\r\n}",
		want: "totem {\n    version: 2\n}\n",
	}, {
		name: "colon and brace after a section name",
		in:   "totem: {\n}\nquorum{\n}\n",
		want: "totem {\n}\n\nquorum {\n}\n",
	}, {
		name: "empty value",
		in:   "totem {\n\tcluster_name:\n}\n",
		want: "totem {\n    cluster_name: \n}\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := Parse(strings.NewReader(tc.in), "corosync.conf")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tree.Root.String(); got != tc.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	in := "# c\ntotem {\n\n\tversion: 2\n\tinterface {\n\t\tmcastport: 5405\n\t}\n}\n"
	tree, err := Parse(strings.NewReader(in), "f.conf")
	if err != nil {
		t.Fatal(err)
	}
	totem := tree.Root.Sections("totem")[0]
	if totem.Pos != (Pos{File: "f.conf", Line: 2}) || totem.EndLine != 8 {
		t.Errorf("totem at %v..%d, want f.conf:2..8", totem.Pos, totem.EndLine)
	}
	if v := totem.Keys("version")[0]; v.Pos.Line != 4 || v.Value != "2" {
		t.Errorf("version = %+v", v)
	}
	iface := totem.Sections("interface")[0]
	if iface.Pos.Line != 5 || iface.EndLine != 7 || iface.Keys("mcastport")[0].Pos.Line != 6 {
		t.Errorf("interface = %+v", iface)
	}
}

func TestParseErrors(t *testing.T) {
	type want struct {
		line int
		msg  string
	}
	long := "totem {\n\tcluster_name: " + strings.Repeat("x", 500) + "\n}\n"
	for _, tc := range []struct {
		name string
		in   string
		want []want
	}{
		{"unexpected closing brace", "totem {\n}\n}\n", []want{{3, `unexpected "}"`}}},
		{"missing closing brace", "# x\ntotem {\n\tversion: 2\n", []want{{3, `missing closing brace for section "totem" opened at line 2`}}},
		{"two missing braces", "totem {\n\tinterface {\n", []want{
			{2, `missing closing brace for section "interface" opened at line 2`},
			{2, `missing closing brace for section "totem" opened at line 1`},
		}},
		{"garbage line", "totem {\n\tversion 2\n}\n", []want{{2, `"version 2" is neither`}}},
		{"missing section name", "{\n}\n", []want{{1, "missing section name"}}},
		{"text after brace", "totem { version: 2 }\n", []want{
			{1, `unexpected text "version: 2 }" after '{'`},
			{1, `missing closing brace for section "totem" opened at line 1`},
		}},
		{"text before closing brace", "totem {\nend }\n", []want{{2, `unexpected text around '}': "end }"`}}},
		{"missing key name", "totem {\n\t: 2\n}\n", []want{{2, "missing key name"}}},
		{"invalid key character", "totem {\n\tmy key: 2\n}\n", []want{{2, `invalid character ' ' in key name "my key"`}}},
		{"invalid section character", "my section {\n}\n", []want{{1, `invalid character ' ' in section name`}}},
		{"line too long", long, []want{{2, "line too long"}}},
		{"every error is reported", "}\ntotem {\n\tfoo\n\t: x\n", []want{
			{1, `unexpected "}"`},
			{3, "is neither"},
			{4, "missing key name"},
			{4, "missing closing brace"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in), "corosync.conf")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			ds := diagnostics(t, err)
			if len(ds) != len(tc.want) {
				t.Fatalf("got %d diagnostics, want %d:%s", len(ds), len(tc.want), dump(ds))
			}
			for i, w := range tc.want {
				d := ds[i]
				if d.Pos.Line != w.line || !strings.Contains(d.Msg, w.msg) || d.Severity != SeverityError || d.Pos.File != "corosync.conf" {
					t.Errorf("diagnostic %d = %s (line %d), want line %d containing %q", i, d, d.Pos.Line, w.line, w.msg)
				}
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	_, err := Parse(strings.NewReader("totem {\n}\n}\n"), "corosync.conf")
	if got, want := err.Error(), `corosync.conf:3: unexpected "}"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	d := Diagnostic{Pos: Pos{File: "x.conf", Line: 4}, Severity: SeverityWarning, Msg: "unknown key"}
	if got := d.String(); got != "x.conf:4: warning: unknown key" {
		t.Errorf("warning String() = %q", got)
	}
}

func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       Format
	}{
		{"a.toml", "totem {\n}", FormatTOML},
		{"corosync.conf", "[totem]", FormatCorosync},
		{"cfg", "# c\n\n[totem]\nversion = 2\n", FormatTOML},
		{"cfg", "version = 2\n", FormatTOML},
		{"cfg", "totem {\n\tversion: 2\n}\n", FormatCorosync},
		{"cfg", "key: a=b\n", FormatCorosync},
		{"cfg", "", FormatCorosync},
	} {
		if got := DetectFormat(tc.name, []byte(tc.data)); got != tc.want {
			t.Errorf("DetectFormat(%q, %q) = %v, want %v", tc.name, tc.data, got, tc.want)
		}
	}
}

func TestParseTOMLTree(t *testing.T) {
	tree, err := ParseTOML([]byte("[totem]\nversion = 2\n\n[[nodelist.node]]\nring0_addr = \"10.0.0.1\"\n[[nodelist.node]]\nring0_addr = \"10.0.0.2\"\n"), "c.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := "totem {\n    version: 2\n}\n\nnodelist {\n    node {\n        ring0_addr: 10.0.0.1\n    }\n    node {\n        ring0_addr: 10.0.0.2\n    }\n}\n"
	if got := tree.Root.String(); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	nodes := tree.Root.Sections("nodelist")[0].Sections("node")
	if tree.Format != FormatTOML || nodes[0].Pos.Line != 4 || nodes[1].Pos.Line != 6 || nodes[1].Keys("ring0_addr")[0].Pos.Line != 7 {
		t.Errorf("positions: %+v %+v", nodes[0].Pos, nodes[1].Pos)
	}
	_, err = ParseTOML([]byte("[totem\n"), "c.toml")
	ds := diagnostics(t, err)
	if len(ds) != 1 || ds[0].Pos.Line < 1 || ds[0].Pos.File != "c.toml" {
		t.Errorf("TOML syntax error:%s", dump(ds))
	}
}

func TestErrorLists(t *testing.T) {
	_, err := read(t, withTotem("token: x", "frob: 1"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal(err)
	}
	if len(e.Errors()) != 1 || len(e.Warnings()) != 1 || e.Errors()[0].Pos.Line != 2 || e.Warnings()[0].Pos.Line != 3 {
		t.Errorf("errors %v warnings %v", e.Errors(), e.Warnings())
	}
	if FormatCorosync.String() != "corosync" || FormatTOML.String() != "toml" || FormatAuto.String() != "auto" {
		t.Error("Format.String")
	}
}
