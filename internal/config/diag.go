package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrInvalid wraps every *Error: the file has at least one error.
	ErrInvalid = errors.New("config: invalid configuration")
	// ErrKnetUnsupported reports transport knet (corosync 3's default).
	ErrKnetUnsupported = errors.New("config: transport knet is not supported by this implementation yet")
	// ErrNoLocalNode reports that no nodelist entry matches this host.
	ErrNoLocalNode = errors.New("config: no nodelist entry matches this host")
	// ErrAmbiguousLocalNode reports that several nodelist entries match
	// this host and nothing tells them apart.
	ErrAmbiguousLocalNode = errors.New("config: several nodelist entries match this host")
	// ErrUnknownNode reports a node id that is not in the nodelist.
	ErrUnknownNode = errors.New("config: node id is not in the nodelist")
)

// Pos is a place in a configuration file.
type Pos struct {
	File string // file name as given to the parser
	Line int    // 1-based line; 0 when unknown (defaults, whole-file problems)
}

// String formats the position as "file:line", or "file" without a line.
func (p Pos) String() string {
	switch {
	case p.Line > 0 && p.File != "":
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	case p.Line > 0:
		return fmt.Sprintf("line %d", p.Line)
	default:
		return p.File
	}
}

// Severity tells a warning from an error.
type Severity uint8

// Severities.
const (
	// SeverityWarning is reported but does not stop the load: unknown and
	// obsolete keys, values corosync ignores, options this implementation
	// does not act on.
	SeverityWarning Severity = iota + 1
	// SeverityError makes the load fail.
	SeverityError
)

// String returns "warning" or "error".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a configuration.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	// Key is the cmap-style key the problem concerns ("totem.token",
	// "nodelist.node.1.nodeid"); empty for syntax errors.
	Key string
	// Msg is the reason, without position.
	Msg string
}

// String formats the diagnostic as "file:line: reason", warnings as
// "file:line: warning: reason".
func (d Diagnostic) String() string {
	var b strings.Builder
	if s := d.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// Error is returned when a configuration has errors. It carries every
// diagnostic found (errors and warnings), sorted by file position, so that
// one run reports all problems.
type Error struct {
	Diagnostics []Diagnostic
}

// Error lists the errors, one per line.
func (e *Error) Error() string {
	var lines []string
	for _, d := range e.Diagnostics {
		if d.Severity == SeverityError {
			lines = append(lines, d.String())
		}
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true, and errors.Is(err,
// ErrKnetUnsupported) true when the transport is knet.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalid:
		return true
	case ErrKnetUnsupported:
		for _, d := range e.Diagnostics {
			if d.Severity == SeverityError && d.Key == "totem.transport" && strings.Contains(d.Msg, "knet") {
				return true
			}
		}
	}
	return false
}

// Errors returns the diagnostics of severity error.
func (e *Error) Errors() []Diagnostic { return filterSeverity(e.Diagnostics, SeverityError) }

// Warnings returns the diagnostics of severity warning.
func (e *Error) Warnings() []Diagnostic { return filterSeverity(e.Diagnostics, SeverityWarning) }

func filterSeverity(ds []Diagnostic, s Severity) []Diagnostic {
	var out []Diagnostic
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// diags collects diagnostics.
type diags struct {
	list []Diagnostic
}

func (d *diags) errorf(pos Pos, key, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: SeverityError, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (d *diags) warnf(pos Pos, key, format string, args ...any) {
	d.list = append(d.list, Diagnostic{Pos: pos, Severity: SeverityWarning, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (d *diags) hasErrors() bool {
	for _, x := range d.list {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// sorted returns the diagnostics ordered by line (stable, so problems of one
// line keep the order they were found in), duplicates removed.
func (d *diags) sorted() []Diagnostic {
	out := slices.Clone(d.list)
	slices.SortStableFunc(out, func(a, b Diagnostic) int {
		if c := cmp.Compare(a.Pos.File, b.Pos.File); c != 0 {
			return c
		}
		return cmp.Compare(a.Pos.Line, b.Pos.Line)
	})
	return slices.CompactFunc(out, func(a, b Diagnostic) bool { return a == b })
}

// err returns an *Error when there are errors, else nil.
func (d *diags) err() error {
	if !d.hasErrors() {
		return nil
	}
	return &Error{Diagnostics: d.sorted()}
}

func (d *diags) warnings() []Diagnostic { return filterSeverity(d.sorted(), SeverityWarning) }
