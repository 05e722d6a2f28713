package config

import (
	"fmt"
	"strconv"
)

// linkKeys are the totem.interface keys corosync files under the link
// number ("totem.interface.0.mcastport"); other interface keys keep the
// plain path.
var linkKeys = map[string]bool{
	"bindnetaddr": true, "mcastaddr": true, "broadcast": true, "mcastport": true, "ttl": true,
	"knet_link_priority": true, "knet_ping_interval": true, "knet_ping_timeout": true,
	"knet_ping_precision": true, "knet_pong_count": true, "knet_transport": true,
}

// nodeSection is one nodelist.node section.
type nodeSection struct {
	index int
	entry *Entry
}

// ifaceSection is one totem.interface section.
type ifaceSection struct {
	link  uint8
	entry *Entry
}

// flattener turns a Tree into a Map as corosync's parser fills cmap, and
// checks every key it knows.
type flattener struct {
	m      Map
	d      *diags
	lookup *Options

	nodes     []nodeSection
	ifaces    []ifaceSection
	sections  map[string]*Entry // first section of each generic path
	subsystem map[string]Pos    // logger_subsys name -> position
}

func flatten(t *Tree, opts *Options, d *diags) *flattener {
	f := &flattener{m: Map{}, d: d, lookup: opts, sections: map[string]*Entry{}, subsystem: map[string]Pos{}}
	f.walk(t.Root, "", "", false)
	return f
}

func (f *flattener) set(key string, v Value) {
	if old, ok := f.m[key]; ok && old.Pos.Line > 0 && v.Pos.Line > 0 && old.Pos.Line != v.Pos.Line {
		f.d.warnf(v.Pos, key, "%s is set again; the value from line %d is replaced", key, old.Pos.Line)
	}
	f.m[key] = v
}

// walk flattens the children of e, a section at cmap path "path" whose
// generic path (no node or link numbers) is "generic". In an open section
// nothing is checked.
func (f *flattener) walk(e *Entry, path, generic string, open bool) {
	for _, c := range e.Children {
		if c.Section {
			f.section(c, path, generic, open)
		} else {
			f.key(c, joinPath(path, c.Name), joinPath(generic, c.Name), open)
		}
	}
}

// key stores one key at cmap path full.
func (f *flattener) key(c *Entry, full, generic string, open bool) {
	spec, inOpen := lookupKey(generic)
	if spec == nil {
		if !open && !inOpen {
			f.d.warnf(c.Pos, full, "unknown key %q", full)
		}
		f.set(full, strValue(c.Value, c.Pos))
		return
	}
	if spec.note != "" {
		f.d.warnf(c.Pos, full, "%s %s", full, spec.note)
	}
	if v, ok := parseValue(spec, full, c.Value, c.Pos, f.d); ok {
		f.set(full, v)
	}
}

func (f *flattener) section(c *Entry, path, generic string, open bool) {
	full, gen := joinPath(path, c.Name), joinPath(generic, c.Name)
	if open || inOpenSection(gen) {
		f.walk(c, full, gen, true)
		return
	}
	ss, known := sectionSpecs[gen]
	if !known {
		f.d.warnf(c.Pos, full, "unknown section %q", full)
		f.walk(c, full, gen, true)
		return
	}
	if ss.note != "" {
		f.d.warnf(c.Pos, full, "section %s %s", full, ss.note)
	}
	if _, seen := f.sections[gen]; !seen {
		f.sections[gen] = c
	}
	switch gen {
	case "totem.interface":
		f.iface(c)
	case "nodelist.node":
		f.node(c)
	case "logging.logger_subsys":
		f.loggerSubsys(c)
	case "uidgid":
		f.uidgid(c)
	default:
		f.walk(c, full, gen, ss.open)
	}
}

func (f *flattener) iface(c *Entry) {
	var link uint8
	for _, k := range c.Keys("linknumber") {
		if v, ok := parseValue(keySpecs["totem.interface.linknumber"], "totem.interface.linknumber", k.Value, k.Pos, f.d); ok {
			link = uint8(v.Uint)
		}
	}
	f.ifaces = append(f.ifaces, ifaceSection{link: link, entry: c})
	prefix := "totem.interface." + strconv.Itoa(int(link))
	for _, k := range c.Children {
		if k.Section {
			f.section(k, "totem.interface", "totem.interface", false)
			continue
		}
		if k.Name == "linknumber" {
			continue
		}
		full := "totem.interface." + k.Name
		if linkKeys[k.Name] {
			full = prefix + "." + k.Name
		}
		f.key(k, full, "totem.interface."+k.Name, false)
	}
}

func (f *flattener) node(c *Entry) {
	idx := len(f.nodes)
	f.nodes = append(f.nodes, nodeSection{index: idx, entry: c})
	f.walk(c, fmt.Sprintf("nodelist.node.%d", idx), "nodelist.node", false)
}

func (f *flattener) loggerSubsys(c *Entry) {
	name, ok := c.Get("subsys")
	if !ok || name == "" {
		f.d.errorf(c.Pos, "logging.logger_subsys", "logger_subsys section has no subsys key")
		return
	}
	if prev, dup := f.subsystem[name]; dup {
		f.d.warnf(c.Pos, "logging.logger_subsys."+name, "logger_subsys %s is configured again (first at line %d); the keys are merged", name, prev.Line)
	} else {
		f.subsystem[name] = c.Pos
	}
	path := "logging.logger_subsys." + name
	for _, k := range c.Children {
		if k.Section {
			f.section(k, path, "logging.logger_subsys", false)
			continue
		}
		f.key(k, path+"."+k.Name, "logging.logger_subsys."+k.Name, false)
	}
}

func (f *flattener) uidgid(c *Entry) {
	for _, k := range c.Children {
		if k.Section {
			f.d.errorf(k.Pos, "uidgid", "uidgid: subsections are not allowed")
			continue
		}
		var (
			id  uint32
			err error
		)
		switch k.Name {
		case "uid":
			id, err = resolveID(k.Value, f.lookup.lookupUser())
		case "gid":
			id, err = resolveID(k.Value, f.lookup.lookupGroup())
		default:
			f.d.errorf(k.Pos, "uidgid."+k.Name, "uidgid: only uid and gid are allowed, not %q", k.Name)
			continue
		}
		if err != nil {
			f.d.errorf(k.Pos, "uidgid."+k.Name, "uidgid.%s: %v", k.Name, err)
			continue
		}
		f.set(fmt.Sprintf("uidgid.config.%s.%d", k.Name, id), uintValue(TypeU8, 1, k.Pos))
	}
}

// resolveID accepts a number (0..2^32-1) or a name to look up, as corosync
// does for uidgid entries.
func resolveID(s string, lookup func(string) (uint32, error)) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	if s == "" {
		return 0, fmt.Errorf("empty value")
	}
	id, err := lookup(s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return id, nil
}
