package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Limits of corosync's parser (exec/coroparse.c, include/corosync/icmap.h).
const (
	// maxLineLen is the longest line corosync reads: it uses a 512-byte
	// buffer for the line, its newline and the terminating NUL.
	maxLineLen = 510
	// maxKeyLen is ICMAP_KEYNAME_MAXLEN - 1: the longest full cmap key
	// ("totem.interface.0.mcastaddr").
	maxKeyLen = 255
)

// Parse reads corosync.conf syntax, as corosync's own parser does:
//
//   - "name {" opens a section, "}" alone closes it; sections nest;
//   - "key: value" sets a key; the key is the text before the first ':',
//     the value the rest of the line, both trimmed of blanks, so values
//     may contain spaces and colons (IPv6 addresses);
//   - a line whose first non-blank character is '#' is a comment, and so
//     is a blank line; there are no end-of-line comments ("token: 3000 #
//     x" has the value "3000 # x");
//   - a line holding '{' anywhere is a section start, else one holding ':'
//     is a key, else one holding '}' is a section end; anything else is an
//     error.
//
// Unlike corosync, which stops at the first problem, Parse reports every
// syntax error it finds (in an *Error, each with its line) and still
// returns the tree it could build.
func Parse(r io.Reader, filename string) (*Tree, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", filename, err)
	}
	t, d := parseCorosync(data, filename)
	return t, d.err()
}

type openSection struct {
	e    *Entry
	path string // cmap path of the section ("totem.interface")
}

func parseCorosync(data []byte, filename string) (*Tree, *diags) {
	d := &diags{}
	root := &Entry{Section: true, Pos: Pos{File: filename}}
	stack := []openSection{{e: root}}
	lineNo := 0
	for len(data) > 0 {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		lineNo++
		pos := Pos{File: filename, Line: lineNo}
		if len(raw) > maxLineLen {
			d.errorf(pos, "", "line too long: %d characters, corosync reads at most %d", len(raw), maxLineLen)
			continue
		}
		line := strings.TrimSuffix(string(raw), "\r")
		line = trimBlanks(line)
		if line == "" || line[0] == '#' {
			continue
		}
		top := &stack[len(stack)-1]
		switch {
		case strings.IndexByte(line, '{') >= 0:
			i := strings.IndexByte(line, '{')
			name := strings.TrimRight(trimBlanks(line[:i]), " \t:{")
			after := trimBlanks(line[i+1:])
			if name == "" {
				d.errorf(pos, "", "missing section name before '{'")
			} else {
				checkName(d, pos, name, "section")
			}
			if after != "" {
				d.errorf(pos, "", "unexpected text %q after '{'", after)
			}
			path := joinPath(top.path, name)
			if len(path) > maxKeyLen {
				d.errorf(pos, "", "section path %q is longer than %d characters", path, maxKeyLen)
			}
			e := &Entry{Name: name, Section: true, Pos: pos}
			top.e.Children = append(top.e.Children, e)
			stack = append(stack, openSection{e: e, path: path})
		case strings.IndexByte(line, ':') >= 0:
			i := strings.IndexByte(line, ':')
			key := strings.TrimRight(trimBlanks(line[:i]), " \t:{")
			value := trimBlanks(line[i+1:])
			if key == "" {
				d.errorf(pos, "", "missing key name before ':'")
				continue
			}
			checkName(d, pos, key, "key")
			if full := joinPath(top.path, key); len(full) > maxKeyLen {
				d.errorf(pos, full, "key %q is longer than %d characters", full, maxKeyLen)
			}
			top.e.Children = append(top.e.Children, &Entry{Name: key, Value: value, Pos: pos})
		case strings.IndexByte(line, '}') >= 0:
			if line != "}" {
				d.errorf(pos, "", "unexpected text around '}': %q", line)
			}
			if len(stack) == 1 {
				d.errorf(pos, "", "unexpected \"}\"")
				continue
			}
			top.e.EndLine = lineNo
			stack = stack[:len(stack)-1]
		default:
			d.errorf(pos, "", "%q is neither \"name {\", \"}\" nor \"key: value\"", line)
		}
	}
	for i := len(stack) - 1; i > 0; i-- {
		s := stack[i].e
		d.errorf(Pos{File: filename, Line: max(lineNo, 1)}, "", "missing closing brace for section %q opened at line %d", s.Name, s.Pos.Line)
	}
	return &Tree{File: filename, Format: FormatCorosync, Root: root}, d
}

// trimBlanks removes spaces, tabs and no-break spaces (U+00A0) at both
// ends, the characters corosync treats as blanks.
func trimBlanks(s string) string {
	return strings.Trim(s, " \t\u00a0")
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// checkName reports characters cmap does not allow in key names. corosync
// accepts letters, digits and "_-./:" only; any other character makes it
// fail to store the key.
func checkName(d *diags, pos Pos, name, what string) {
	for _, r := range name {
		if !validKeyRune(r) {
			d.errorf(pos, "", "invalid character %q in %s name %q (cmap allows letters, digits and _-./:)", r, what, name)
			return
		}
	}
}

func validKeyRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r == '_', r == '-', r == '.', r == '/', r == ':':
		return true
	}
	return false
}
