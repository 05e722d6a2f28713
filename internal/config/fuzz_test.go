package config

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("totem {\n\tversion: 2\n}\n}\n"))
	f.Add([]byte("totem { x }\n{\n: v\nk\n"))
	f.Add([]byte("nodelist {\n\tnode {\n\t\tring0_addr: fe80::1%eth0\n\t}\n"))
	f.Add([]byte("[totem]\nversion = 2\n[[nodelist.node]]\nring0_addr = \"10.0.0.1\"\n"))
	if data, err := os.ReadFile("testdata/corosync-udpu-test.toml"); err == nil {
		f.Add(data)
	}
}

// FuzzParse: the corosync.conf parser never panics, every error it
// reports has a line, and a tree it parses without errors prints back to
// text that parses to the same tree.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := Parse(bytes.NewReader(data), "fuzz.conf")
		if tree == nil {
			t.Fatal("nil tree")
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			for _, d := range e.Diagnostics {
				if d.Pos.Line < 1 || d.Pos.File != "fuzz.conf" || d.Msg == "" {
					t.Fatalf("diagnostic without a line: %+v", d)
				}
			}
			return
		}
		text := tree.Root.String()
		again, err := Parse(bytes.NewReader([]byte(text)), "fuzz.conf")
		if err != nil {
			t.Fatalf("reparse of %q: %v", text, err)
		}
		if got := again.Root.String(); got != text {
			t.Fatalf("round trip changed the tree:\n%q\n%q", text, got)
		}
	})
}

// FuzzRead: loading arbitrary input in either syntax never panics, and
// syntax errors carry lines.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatCorosync, FormatTOML} {
			opts := testOptions()
			opts.Format = format
			c, err := Read(context.Background(), data, "fuzz", opts)
			if err == nil {
				if len(c.Nodes) == 0 {
					t.Fatal("a configuration without nodes was accepted")
				}
				var b bytes.Buffer
				if err := c.WriteEffective(&b, c.Nodes[0].ID); err != nil {
					t.Fatal(err)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
		}
	})
}
