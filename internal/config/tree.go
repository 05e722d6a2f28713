package config

import "strings"

// Format is a configuration file syntax.
type Format uint8

// Formats.
const (
	// FormatAuto picks the format from the file name (".toml") or, failing
	// that, from the content.
	FormatAuto Format = iota
	// FormatCorosync is corosync.conf's own syntax.
	FormatCorosync
	// FormatTOML is the same settings written in TOML.
	FormatTOML
)

// String names the format.
func (f Format) String() string {
	switch f {
	case FormatCorosync:
		return "corosync"
	case FormatTOML:
		return "toml"
	default:
		return "auto"
	}
}

// Entry is one element of a parsed file: a section ("name {" … "}") or a
// key ("name: value"). The tree keeps the file's order and every line, and
// knows nothing about what the names mean.
type Entry struct {
	// Name is the section or key name as written.
	Name string
	// Value is the key's value: the rest of the line after the first ':',
	// with surrounding blanks removed. Empty for sections.
	Value string
	// Section is true for sections.
	Section bool
	// Pos is where the key, or the section's opening line, is.
	Pos Pos
	// EndLine is the line of a section's closing brace (0 when missing or
	// not applicable).
	EndLine int
	// Children are a section's keys and subsections, in file order.
	Children []*Entry
}

// Sections returns the direct subsections called name.
func (e *Entry) Sections(name string) []*Entry {
	var out []*Entry
	for _, c := range e.Children {
		if c.Section && c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// Keys returns the direct keys called name, in file order.
func (e *Entry) Keys(name string) []*Entry {
	var out []*Entry
	for _, c := range e.Children {
		if !c.Section && c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// Get returns the value of the last key called name (the one corosync
// keeps) and whether there is one.
func (e *Entry) Get(name string) (string, bool) {
	ks := e.Keys(name)
	if len(ks) == 0 {
		return "", false
	}
	return ks[len(ks)-1].Value, true
}

// String renders the entry and its children in corosync.conf syntax.
func (e *Entry) String() string {
	var b strings.Builder
	e.write(&b, 0)
	return b.String()
}

func (e *Entry) write(b *strings.Builder, depth int) {
	indent := strings.Repeat("    ", depth)
	if !e.Section {
		b.WriteString(indent + e.Name + ": " + e.Value + "\n")
		return
	}
	if e.Name != "" || depth > 0 {
		b.WriteString(indent + e.Name + " {\n")
		for _, c := range e.Children {
			c.write(b, depth+1)
		}
		b.WriteString(indent + "}\n")
		return
	}
	for i, c := range e.Children {
		if i > 0 && c.Section {
			b.WriteString("\n")
		}
		c.write(b, depth)
	}
}

// Tree is a parsed file.
type Tree struct {
	// File is the file name used in positions.
	File string
	// Format is the syntax the file was written in.
	Format Format
	// Root is an unnamed section holding the top-level entries.
	Root *Entry
}
