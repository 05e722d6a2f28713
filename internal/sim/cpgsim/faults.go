package cpgsim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cpg"
)

// Fault is a set of deliberate bugs (Options.Faults) that a wrapper
// around node 1's CPG engine injects, to prove that the invariant checks
// catch broken engines. The wrapper sits between the host and the real
// engine: it can drop exec messages on their way in, and drop, copy,
// hold back or misdirect the events the engine sends its clients.
type Fault uint32

// Faults.
const (
	// FaultDropConfChg drops every 7th confchg event to a client.
	FaultDropConfChg Fault = 1 << iota
	// FaultMisdeliver also hands every 10th delivery to another local
	// client that is not in the group.
	FaultMisdeliver
	// FaultDropProcLeave ignores every PROCLEAVE exec message.
	FaultDropProcLeave
	// FaultDuplicateDelivery delivers every 25th message twice.
	FaultDuplicateDelivery
	// FaultReorderDelivery holds back every 20th delivery to a client
	// until after the client's next delivery.
	FaultReorderDelivery
)

// NamedFault is a fault and its name.
type NamedFault struct {
	Name  string
	Fault Fault
}

// FaultNames returns the faults' names, as cmd/cpgsim's -faults takes
// them.
func FaultNames() []NamedFault {
	return []NamedFault{
		{"drop-confchg", FaultDropConfChg},
		{"misdeliver", FaultMisdeliver},
		{"drop-procleave", FaultDropProcLeave},
		{"duplicate-delivery", FaultDuplicateDelivery},
		{"reorder-delivery", FaultReorderDelivery},
	}
}

// String names the faults in f, separated by commas.
func (f Fault) String() string {
	var names []string
	var all Fault
	for _, x := range FaultNames() {
		all |= x.Fault
		if f&x.Fault != 0 {
			names = append(names, x.Name)
		}
	}
	if rest := f &^ all; rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(rest)))
	}
	return strings.Join(names, ",")
}

// ParseFaults parses a fault mask: a number, or names separated by
// commas.
func ParseFaults(s string) (Fault, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(s, 0, 32); err == nil {
		return Fault(n), nil
	}
	var f Fault
	for _, name := range strings.Split(s, ",") {
		all := FaultNames()
		i := slices.IndexFunc(all, func(x NamedFault) bool { return x.Name == strings.TrimSpace(name) })
		if i < 0 {
			var names []string
			for _, fn := range all {
				names = append(names, fn.Name)
			}
			return 0, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(names, ", "))
		}
		f |= all[i].Fault
	}
	return f, nil
}

// faultEngine is a CPG engine with deliberate bugs.
type faultEngine struct {
	*cpg.Engine
	f     Fault
	conns map[uint64]*faultConn
	n     struct{ confchgs, delivers int }
}

func newFaultEngine(e *cpg.Engine, f Fault) *faultEngine {
	return &faultEngine{Engine: e, f: f, conns: map[uint64]*faultConn{}}
}

// Exec drops PROCLEAVEs under FaultDropProcLeave.
func (e *faultEngine) Exec(m service.Exec) {
	if e.f&FaultDropProcLeave != 0 && m.Fn == cpg.FnProcLeave {
		return
	}
	e.Engine.Exec(m)
}

// Connect gives the engine a faulty connection.
func (e *faultEngine) Connect(c service.Conn) service.Status {
	fc := &faultConn{Conn: c, e: e, in: map[string]bool{}}
	st := e.Engine.Connect(fc)
	if st == service.OK {
		e.conns[c.ID()] = fc
	}
	return st
}

func (e *faultEngine) conn(c service.Conn) service.Conn {
	if fc, ok := e.conns[c.ID()]; ok {
		return fc
	}
	return c
}

// Request passes the request on with the faulty connection.
func (e *faultEngine) Request(c service.Conn, r service.Request) { e.Engine.Request(e.conn(c), r) }

// Disconnect forgets the faulty connection.
func (e *faultEngine) Disconnect(c service.Conn) {
	e.Engine.Disconnect(e.conn(c))
	if fc, ok := e.conns[c.ID()]; ok {
		fc.gone = true
		delete(e.conns, c.ID())
	}
}

// faultConn is the connection the engine sees: it misbehaves on the way
// to the real one.
type faultConn struct {
	service.Conn
	e    *faultEngine
	in   map[string]bool // groups whose last confchg listed this client
	held []byte
	gone bool
}

// Event passes the engine's events on, badly.
func (c *faultConn) Event(kind uint16, hdr, body []byte) {
	e := c.e
	switch kind {
	case cpg.EvConfChg:
		if ev, err := cpg.DecodeConfChgEvent(append(slices.Clone(hdr), body...)); err == nil {
			c.in[string(ev.Group)] = slices.ContainsFunc(ev.Members, func(a cpg.Address) bool { return a.PID == uint32(c.Cred().PID) })
		}
		e.n.confchgs++
		if e.f&FaultDropConfChg != 0 && e.n.confchgs%7 == 0 {
			return
		}
	case cpg.EvDeliver:
		e.n.delivers++
		if e.f&FaultReorderDelivery != 0 {
			if c.held != nil {
				held := c.held
				c.held = nil
				c.Conn.Event(kind, hdr, body)
				c.Conn.Event(kind, held, nil)
				return
			}
			if e.n.delivers%20 == 0 {
				c.held = append(slices.Clone(hdr), body...)
				return
			}
		}
		if e.f&FaultDuplicateDelivery != 0 && e.n.delivers%25 == 0 {
			c.Conn.Event(kind, hdr, body)
		}
		if e.f&FaultMisdeliver != 0 && e.n.delivers%10 == 0 {
			if ev, err := cpg.DecodeDeliverEvent(append(slices.Clone(hdr), body...)); err == nil {
				if other := e.outsider(string(ev.Group)); other != nil {
					other.Conn.Event(kind, hdr, body)
				}
			}
		}
	}
	c.Conn.Event(kind, hdr, body)
}

// outsider returns a live connection not in group, or nil.
func (e *faultEngine) outsider(group string) *faultConn {
	var ids []uint64
	for id, fc := range e.conns {
		if !fc.gone && !fc.in[group] {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.SortFunc(ids, cmp.Compare[uint64])
	return e.conns[ids[0]]
}
