package libcpg

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind says which line of the client's output an Event was parsed from.
type Kind int

const (
	// Ready is "READY nodeid pid": the client is connected (NodeID, PID).
	Ready Kind = iota + 1
	// Deliver is "DELIVER group nodeid pid len hex": a CPG message (Group,
	// NodeID, PID of the sender, Payload).
	Deliver
	// ConfChg is "CONFCHG group members=... left=... joined=...": a group
	// membership change (Group, Members, Left, Joined).
	ConfChg
	// Totem is "TOTEM ring members=...": a totem configuration change
	// (Ring, RingNodeID, RingSeq, RingMembers).
	Totem
	// OK is "OK cmd": the command Cmd succeeded.
	OK
	// Err is "ERR cmd code": the command Cmd failed with cs_error_t Code
	// (-1: the client rejected a malformed command).
	Err
	// Members is "MEMBERS n nodeid:pid ...": the reply to "members"
	// (Members, with Reason 0).
	Members
	// Local is "LOCAL nodeid": the reply to "local" (NodeID).
	Local
	// Fatal is "FATAL message": the client met an unexpected error and
	// exits with code 2 (Text).
	Fatal
)

var kindNames = [...]string{
	Ready:   "READY",
	Deliver: "DELIVER",
	ConfChg: "CONFCHG",
	Totem:   "TOTEM",
	OK:      "OK",
	Err:     "ERR",
	Members: "MEMBERS",
	Local:   "LOCAL",
	Fatal:   "FATAL",
}

// String returns the line keyword of k ("DELIVER", ...).
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Addr is one entry of a CPG membership list (struct cpg_address). Reason
// is a cpg_reason_t (1 join, 2 leave, 3 nodedown, 4 nodeup, 5 procdown) in
// left and joined lists, and 0 in member lists.
type Addr struct {
	NodeID uint32
	PID    uint32
	Reason uint32
}

// String formats a as "nodeid:pid", or "nodeid:pid:reason" when Reason is
// not 0.
func (a Addr) String() string {
	if a.Reason != 0 {
		return fmt.Sprintf("%d:%d:%d", a.NodeID, a.PID, a.Reason)
	}
	return fmt.Sprintf("%d:%d", a.NodeID, a.PID)
}

// CPG reasons (cpg_reason_t) found in Addr.Reason of left and joined lists.
const (
	ReasonJoin     = 1
	ReasonLeave    = 2
	ReasonNodeDown = 3
	ReasonNodeUp   = 4
	ReasonProcDown = 5
)

// Event is one parsed line of the client's output. Which fields are set
// depends on Kind (see the Kind constants); Raw is always the line itself.
type Event struct {
	Kind Kind
	// Group is the CPG group name, unescaped (Deliver, ConfChg).
	Group string
	// NodeID is the sender (Deliver), the local node (Ready, Local).
	NodeID uint32
	// PID is the sender's process ID (Deliver), the client's own (Ready).
	PID uint32
	// Payload is the delivered message (Deliver); nil when empty.
	Payload []byte
	// Members is the group's member list (ConfChg, Members).
	Members []Addr
	// Left and Joined are the processes that left or joined (ConfChg).
	Left, Joined []Addr
	// Ring is the ring id as printed, "nodeid.seq" in hex (Totem); it is
	// also split into RingNodeID and RingSeq.
	Ring       string
	RingNodeID uint32
	RingSeq    uint64
	// RingMembers lists the node IDs of the totem configuration (Totem).
	RingMembers []uint32
	// Cmd is the command a reply answers (OK, Err).
	Cmd string
	// Code is the cs_error_t of a failed command, -1 for a malformed one
	// (Err).
	Code int
	// Text is the message of a Fatal line.
	Text string
	// Raw is the whole line, without its newline.
	Raw string
}

// ParseLine parses one line (without its newline) of the client's output.
// It is strict: it accepts exactly the lines that Event.Line produces, so
// Line(ParseLine(s)) == s for every s it accepts.
func ParseLine(line string) (Event, error) {
	ev, err := parseLine(line)
	if err != nil {
		return Event{}, fmt.Errorf("libcpg: bad client line %q: %w", truncate(line, 200), err)
	}
	ev.Raw = line
	return ev, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func parseLine(line string) (Event, error) {
	key, rest, _ := strings.Cut(line, " ")
	if key == "FATAL" {
		// FATAL is the only line with free text after its keyword
		if line == "FATAL" {
			return Event{Kind: Fatal}, nil
		}
		if rest == "" {
			return Event{}, errors.New("FATAL with empty message")
		}
		return Event{Kind: Fatal, Text: rest}, nil
	}
	f := strings.Split(line, " ")
	var ev Event
	var err error
	switch key {
	case "READY":
		if err = nfields(f, 3); err != nil {
			return ev, err
		}
		ev.Kind = Ready
		if ev.NodeID, err = parseU32(f[1]); err != nil {
			return ev, fmt.Errorf("nodeid: %w", err)
		}
		if ev.PID, err = parseU32(f[2]); err != nil {
			return ev, fmt.Errorf("pid: %w", err)
		}
	case "OK":
		if err = nfields(f, 2); err != nil {
			return ev, err
		}
		ev.Kind = OK
		if ev.Cmd, err = unescape(f[1]); err != nil {
			return ev, fmt.Errorf("cmd: %w", err)
		}
	case "ERR":
		if err = nfields(f, 3); err != nil {
			return ev, err
		}
		ev.Kind = Err
		if ev.Cmd, err = unescape(f[1]); err != nil {
			return ev, fmt.Errorf("cmd: %w", err)
		}
		if ev.Code, err = parseCode(f[2]); err != nil {
			return ev, fmt.Errorf("code: %w", err)
		}
	case "LOCAL":
		if err = nfields(f, 2); err != nil {
			return ev, err
		}
		ev.Kind = Local
		if ev.NodeID, err = parseU32(f[1]); err != nil {
			return ev, fmt.Errorf("nodeid: %w", err)
		}
	case "MEMBERS":
		if len(f) < 2 {
			return ev, errors.New("MEMBERS without count")
		}
		ev.Kind = Members
		n, err := parseU32(f[1])
		if err != nil {
			return ev, fmt.Errorf("count: %w", err)
		}
		if uint64(n) != uint64(len(f)-2) {
			return ev, fmt.Errorf("count %d but %d entries", n, len(f)-2)
		}
		for _, s := range f[2:] {
			a, err := parseAddr(s, false)
			if err != nil {
				return ev, err
			}
			ev.Members = append(ev.Members, a)
		}
	case "DELIVER":
		if err = nfields(f, 6); err != nil {
			return ev, err
		}
		ev.Kind = Deliver
		if ev.Group, err = unescape(f[1]); err != nil {
			return ev, fmt.Errorf("group: %w", err)
		}
		if ev.NodeID, err = parseU32(f[2]); err != nil {
			return ev, fmt.Errorf("nodeid: %w", err)
		}
		if ev.PID, err = parseU32(f[3]); err != nil {
			return ev, fmt.Errorf("pid: %w", err)
		}
		n, err := parseU32(f[4])
		if err != nil {
			return ev, fmt.Errorf("len: %w", err)
		}
		if ev.Payload, err = parseHex(f[5]); err != nil {
			return ev, fmt.Errorf("payload: %w", err)
		}
		if uint64(n) != uint64(len(ev.Payload)) {
			return ev, fmt.Errorf("len %d but %d payload bytes", n, len(ev.Payload))
		}
	case "CONFCHG":
		if err = nfields(f, 5); err != nil {
			return ev, err
		}
		ev.Kind = ConfChg
		if ev.Group, err = unescape(f[1]); err != nil {
			return ev, fmt.Errorf("group: %w", err)
		}
		if ev.Members, err = parseAddrList(f[2], "members=", false); err != nil {
			return ev, err
		}
		if ev.Left, err = parseAddrList(f[3], "left=", true); err != nil {
			return ev, err
		}
		if ev.Joined, err = parseAddrList(f[4], "joined=", true); err != nil {
			return ev, err
		}
	case "TOTEM":
		if err = nfields(f, 3); err != nil {
			return ev, err
		}
		ev.Kind = Totem
		ev.Ring = f[1]
		node, seq, ok := strings.Cut(f[1], ".")
		if !ok {
			return ev, errors.New("ring id without '.'")
		}
		n, err := parseHexNum(node, 32)
		if err != nil {
			return ev, fmt.Errorf("ring nodeid: %w", err)
		}
		ev.RingNodeID = uint32(n)
		if ev.RingSeq, err = parseHexNum(seq, 64); err != nil {
			return ev, fmt.Errorf("ring seq: %w", err)
		}
		list, ok := strings.CutPrefix(f[2], "members=")
		if !ok {
			return ev, errors.New("want members=")
		}
		if list != "-" {
			for _, s := range strings.Split(list, ",") {
				id, err := parseU32(s)
				if err != nil {
					return ev, fmt.Errorf("ring member: %w", err)
				}
				ev.RingMembers = append(ev.RingMembers, id)
			}
		}
	default:
		return ev, fmt.Errorf("unknown keyword %q", truncate(key, 20))
	}
	return ev, nil
}

func nfields(f []string, n int) error {
	if len(f) != n {
		return fmt.Errorf("%s has %d fields, want %d", f[0], len(f), n)
	}
	return nil
}

// parseU32 parses a canonical decimal uint32 (no sign, no leading zero).
func parseU32(s string) (uint32, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("non-canonical number %q", truncate(s, 24))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("non-canonical number %q", truncate(s, 24))
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("number %q: %w", truncate(s, 24), errors.Unwrap(err))
	}
	return uint32(n), nil
}

// parseCode parses a canonical decimal int32, negative allowed.
func parseCode(s string) (int, error) {
	neg := strings.HasPrefix(s, "-")
	u, err := parseU32(strings.TrimPrefix(s, "-"))
	if err != nil {
		return 0, err
	}
	if neg {
		if u == 0 || u > -math.MinInt32 {
			return 0, fmt.Errorf("non-canonical code %q", s)
		}
		return -int(u), nil
	}
	if u > math.MaxInt32 {
		return 0, fmt.Errorf("code %q out of range", s)
	}
	return int(u), nil
}

// parseHexNum parses a canonical lower-case hex number of at most bits bits.
func parseHexNum(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("non-canonical hex number %q", truncate(s, 24))
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return 0, fmt.Errorf("non-canonical hex number %q", truncate(s, 24))
		}
	}
	n, err := strconv.ParseUint(s, 16, bits)
	if err != nil {
		return 0, fmt.Errorf("hex number %q: %w", truncate(s, 24), errors.Unwrap(err))
	}
	return n, nil
}

func isLowerHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
}

// parseHex parses a lower-case hex payload, "-" for empty.
func parseHex(s string) ([]byte, error) {
	if s == "-" {
		return nil, nil
	}
	if s == "" {
		return nil, errors.New("empty payload must be written -")
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return nil, fmt.Errorf("not lower-case hex at byte %d", i)
		}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("hex: %w", err)
	}
	return b, nil
}

func parseAddr(s string, withReason bool) (Addr, error) {
	parts := strings.Split(s, ":")
	want := 2
	if withReason {
		want = 3
	}
	if len(parts) != want {
		return Addr{}, fmt.Errorf("address %q: want %d numbers", truncate(s, 40), want)
	}
	var a Addr
	var err error
	if a.NodeID, err = parseU32(parts[0]); err != nil {
		return a, fmt.Errorf("address nodeid: %w", err)
	}
	if a.PID, err = parseU32(parts[1]); err != nil {
		return a, fmt.Errorf("address pid: %w", err)
	}
	if withReason {
		if a.Reason, err = parseU32(parts[2]); err != nil {
			return a, fmt.Errorf("address reason: %w", err)
		}
	}
	return a, nil
}

func parseAddrList(s, prefix string, withReason bool) ([]Addr, error) {
	list, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, fmt.Errorf("want %s", prefix)
	}
	if list == "-" {
		return nil, nil
	}
	var out []Addr
	for _, e := range strings.Split(list, ",") {
		a, err := parseAddr(e, withReason)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.TrimSuffix(prefix, "="), err)
		}
		out = append(out, a)
	}
	return out, nil
}

// needsEscape reports whether byte c is written %XX in a token.
func needsEscape(c byte) bool {
	return c <= ' ' || c > '~' || c == '%'
}

// Escape writes s as one protocol token: every byte outside '!'..'~', and
// '%', becomes %XX (upper-case hex). The client applies the same escaping
// to group names and decodes it in "join".
func Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescape decodes a canonical Escape token (non-empty, escapes only where
// needed, upper-case hex).
func unescape(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty token")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if needsEscape(c) {
				return "", fmt.Errorf("unescaped byte 0x%02x", c)
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated %XX escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil || strings.ToUpper(s[i+1:i+3]) != s[i+1:i+3] || !needsEscape(byte(v)) {
			return "", fmt.Errorf("non-canonical escape %q", s[i:i+3])
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// Line formats e as the client prints it (Raw is ignored).
func (e Event) Line() string {
	switch e.Kind {
	case Ready:
		return fmt.Sprintf("READY %d %d", e.NodeID, e.PID)
	case OK:
		return "OK " + escapeCmd(e.Cmd)
	case Err:
		return fmt.Sprintf("ERR %s %d", escapeCmd(e.Cmd), e.Code)
	case Local:
		return fmt.Sprintf("LOCAL %d", e.NodeID)
	case Members:
		var b strings.Builder
		fmt.Fprintf(&b, "MEMBERS %d", len(e.Members))
		for _, a := range e.Members {
			fmt.Fprintf(&b, " %d:%d", a.NodeID, a.PID)
		}
		return b.String()
	case Deliver:
		p := "-"
		if len(e.Payload) > 0 {
			p = hex.EncodeToString(e.Payload)
		}
		return fmt.Sprintf("DELIVER %s %d %d %d %s", escapeCmd(e.Group), e.NodeID, e.PID, len(e.Payload), p)
	case ConfChg:
		return fmt.Sprintf("CONFCHG %s members=%s left=%s joined=%s", escapeCmd(e.Group),
			addrList(e.Members, false), addrList(e.Left, true), addrList(e.Joined, true))
	case Totem:
		var b strings.Builder
		fmt.Fprintf(&b, "TOTEM %x.%x members=", e.RingNodeID, e.RingSeq)
		if len(e.RingMembers) == 0 {
			b.WriteString("-")
		}
		for i, id := range e.RingMembers {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", id)
		}
		return b.String()
	case Fatal:
		if e.Text == "" {
			return "FATAL"
		}
		return "FATAL " + e.Text
	}
	return e.Kind.String()
}

// escapeCmd escapes a token; the empty token is written "-" as the client
// does.
func escapeCmd(s string) string {
	if s == "" {
		return "-"
	}
	return Escape(s)
}

func addrList(l []Addr, withReason bool) string {
	if len(l) == 0 {
		return "-"
	}
	parts := make([]string, len(l))
	for i, a := range l {
		if withReason {
			parts[i] = fmt.Sprintf("%d:%d:%d", a.NodeID, a.PID, a.Reason)
		} else {
			parts[i] = fmt.Sprintf("%d:%d", a.NodeID, a.PID)
		}
	}
	return strings.Join(parts, ",")
}

// String returns the line form of e, as Line.
func (e Event) String() string { return e.Line() }
