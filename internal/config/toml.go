package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// ParseTOML reads the settings written in TOML, with corosync.conf's names:
//
//	[totem]
//	version = 2
//	transport = "udpu"
//	token = 3000
//
//	[[nodelist.node]]
//	ring0_addr = "10.0.0.1"
//	nodeid = 1
//
//	[quorum]
//	provider = "corosync_votequorum"
//	two_node = true
//
// Tables are sections and arrays of tables repeated sections
// ([[nodelist.node]], [[totem.interface]], [[logging.logger_subsys]]).
// Integers are written as decimal text; a boolean becomes the word
// corosync expects for that key (yes/no, on/off, or 1/0 for the quorum
// flags); an array is allowed for uidgid uid/gid (one entry each) and for
// quorum.auto_tie_breaker_node (space-separated). The result is the same
// tree Parse builds, so both syntaxes are checked the same way.
func ParseTOML(data []byte, filename string) (*Tree, error) {
	d := &diags{}
	t := parseTOML(data, filename, d)
	return t, d.err()
}

func parseTOML(data []byte, filename string, d *diags) *Tree {
	root := &Entry{Section: true, Pos: Pos{File: filename}}
	t := &Tree{File: filename, Format: FormatTOML, Root: root}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			d.errorf(Pos{File: filename, Line: pe.Position.Line}, "", "%s", pe.Message)
		} else {
			d.errorf(Pos{File: filename}, "", "%v", err)
		}
		return t
	}
	lines := locateTOMLKeys(data)
	c := &tomlConv{file: filename, lines: lines, firsts: firstLines(lines), d: d}
	c.table(root, doc, "", "")
	return t
}

// tomlConv converts decoded TOML into a Tree.
type tomlConv struct {
	file   string
	lines  map[string]int // location key -> line (see locateTOMLKeys)
	firsts map[string]int // see firstLines
	d      *diags
}

// pos is the line of loc; for a table defined only through its subtables
// ("nodelist" of "[[nodelist.node]]") the first line inside it.
func (c *tomlConv) pos(loc string, fallback Pos) Pos {
	if l, ok := c.lines[loc]; ok {
		return Pos{File: c.file, Line: l}
	}
	if l, ok := c.firsts[loc]; ok && loc != "" {
		return Pos{File: c.file, Line: l}
	}
	return fallback
}

// firstLines maps every proper prefix of the located keys (cut at '.' or
// '#') to the first line under it.
func firstLines(lines map[string]int) map[string]int {
	firsts := map[string]int{}
	for k, l := range lines {
		for i := 0; i < len(k); i++ {
			if k[i] != '.' && k[i] != '#' {
				continue
			}
			if f, ok := firsts[k[:i]]; !ok || l < f {
				firsts[k[:i]] = l
			}
		}
	}
	return firsts
}

// table adds the entries of a TOML table to parent. loc is the table's
// location key ("nodelist.node#1"), generic its path without indexes.
func (c *tomlConv) table(parent *Entry, m map[string]any, loc, generic string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	line := func(k string) int { return c.pos(joinPath(loc, k), Pos{}).Line }
	slices.SortFunc(keys, func(a, b string) int {
		if x := cmp.Compare(line(a), line(b)); x != 0 {
			return x
		}
		return cmp.Compare(a, b)
	})
	for _, k := range keys {
		kloc, kgen := joinPath(loc, k), joinPath(generic, k)
		pos := c.pos(kloc, parent.Pos)
		switch v := m[k].(type) {
		case map[string]any:
			e := &Entry{Name: k, Section: true, Pos: pos}
			parent.Children = append(parent.Children, e)
			c.table(e, v, kloc, kgen)
		case []map[string]any:
			for i, sub := range v {
				iloc := fmt.Sprintf("%s#%d", kloc, i)
				e := &Entry{Name: k, Section: true, Pos: c.pos(iloc, pos)}
				parent.Children = append(parent.Children, e)
				c.table(e, sub, iloc, kgen)
			}
		case []any:
			c.array(parent, k, kgen, v, pos)
		default:
			s, ok := c.scalar(kgen, v, pos)
			if ok {
				parent.Children = append(parent.Children, &Entry{Name: k, Value: s, Pos: pos})
			}
		}
	}
}

func (c *tomlConv) array(parent *Entry, k, generic string, v []any, pos Pos) {
	if len(v) > 0 {
		if _, ok := v[0].(map[string]any); ok {
			for _, x := range v {
				sub, ok := x.(map[string]any)
				if !ok {
					c.d.errorf(pos, generic, "%s: an array mixes tables and values", generic)
					return
				}
				e := &Entry{Name: k, Section: true, Pos: pos}
				parent.Children = append(parent.Children, e)
				c.table(e, sub, "", generic)
			}
			return
		}
	}
	var vals []string
	for _, x := range v {
		s, ok := c.scalar(generic, x, pos)
		if !ok {
			return
		}
		vals = append(vals, s)
	}
	switch generic {
	case "uidgid.uid", "uidgid.gid":
		for _, s := range vals {
			parent.Children = append(parent.Children, &Entry{Name: k, Value: s, Pos: pos})
		}
	case "quorum.auto_tie_breaker_node":
		parent.Children = append(parent.Children, &Entry{Name: k, Value: strings.Join(vals, " "), Pos: pos})
	default:
		c.d.errorf(pos, generic, "%s: an array is only allowed for uidgid uid/gid and quorum.auto_tie_breaker_node", generic)
	}
}

// scalar writes a TOML value as corosync.conf text for the key.
func (c *tomlConv) scalar(generic string, v any, pos Pos) (string, bool) {
	switch x := v.(type) {
	case string:
		if strings.ContainsAny(x, "\n\r") {
			c.d.errorf(pos, generic, "%s: a value cannot span lines", generic)
			return "", false
		}
		return trimBlanks(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		spec, _ := lookupKey(generic)
		if spec == nil {
			spec = &keySpec{kind: kStr}
		}
		return spec.boolText(x), true
	default:
		c.d.errorf(pos, generic, "%s: a %T is not a valid value (use a string, an integer or a boolean)", generic, v)
		return "", false
	}
}

// locateTOMLKeys finds the line of each table header and key in a TOML
// document, as "location keys": the dotted path, with "#i" after the i-th
// element of an array of tables ("nodelist.node#1.ring0_addr"). It is a
// line scanner, enough for configuration files: keys inside inline tables
// are not located (their table's line is used instead).
func locateTOMLKeys(data []byte) map[string]int {
	lines := map[string]int{}
	arrays := map[string]int{} // array-of-tables path -> elements so far
	current := ""
	inMulti := ""
	for i, raw := range strings.Split(string(data), "\n") {
		lineNo := i + 1
		s := strings.TrimSpace(raw)
		if inMulti != "" {
			if strings.Contains(s, inMulti) {
				inMulti = ""
			}
			continue
		}
		if s == "" || s[0] == '#' {
			continue
		}
		if strings.HasPrefix(s, "[[") {
			name := strings.Join(splitTOMLKey(strings.TrimSpace(tomlHeader(s[2:], "]]"))), ".")
			name = resolveArrays(name, arrays)
			n := arrays[name]
			arrays[name] = n + 1
			current = fmt.Sprintf("%s#%d", name, n)
			setLine(lines, current, lineNo)
			setLine(lines, name, lineNo)
			continue
		}
		if s[0] == '[' {
			name := strings.Join(splitTOMLKey(strings.TrimSpace(tomlHeader(s[1:], "]"))), ".")
			current = resolveArrays(name, arrays)
			setLine(lines, current, lineNo)
			continue
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			continue
		}
		parts := splitTOMLKey(strings.TrimSpace(s[:eq]))
		for j := range parts {
			setLine(lines, joinPath(current, strings.Join(parts[:j+1], ".")), lineNo)
		}
		val := strings.TrimSpace(s[eq+1:])
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(val, q) && !strings.Contains(val[3:], q) {
				inMulti = q
			}
		}
	}
	return lines
}

func setLine(lines map[string]int, key string, line int) {
	if _, ok := lines[key]; !ok {
		lines[key] = line
	}
}

// tomlHeader returns a header's name: the text before the closing
// brackets (quoted parts may not contain them, which is enough here).
func tomlHeader(s, closing string) string {
	if i := strings.Index(s, closing); i >= 0 {
		return s[:i]
	}
	return s
}

// resolveArrays rewrites a table path so that each prefix naming an array
// of tables points at its last element, as TOML does for "[a.b]" after
// "[[a]]".
func resolveArrays(name string, arrays map[string]int) string {
	parts := strings.Split(name, ".")
	out := ""
	plain := ""
	for _, p := range parts[:len(parts)-1] {
		plain = joinPath(plain, p)
		out = joinPath(out, p)
		if n, ok := arrays[plain]; ok && n > 0 {
			out = fmt.Sprintf("%s#%d", out, n-1)
		}
	}
	return joinPath(out, parts[len(parts)-1])
}

// splitTOMLKey splits a dotted key, honouring quoted parts.
func splitTOMLKey(s string) []string {
	var (
		parts []string
		cur   strings.Builder
		quote byte
	)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}
