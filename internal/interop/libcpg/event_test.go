package libcpg

import (
	"reflect"
	"strings"
	"testing"
)

var parseCases = []struct {
	line string
	want Event
}{
	{"READY 1 4242", Event{Kind: Ready, NodeID: 1, PID: 4242}},
	{"READY 4294967295 0", Event{Kind: Ready, NodeID: 4294967295}},
	{"OK join", Event{Kind: OK, Cmd: "join"}},
	{"OK quit", Event{Kind: OK, Cmd: "quit"}},
	{"ERR sendhex 6", Event{Kind: Err, Cmd: "sendhex", Code: 6}},
	{"ERR bogus%20cmd -1", Event{Kind: Err, Cmd: "bogus cmd", Code: -1}},
	{"ERR - -1", Event{Kind: Err, Cmd: "-", Code: -1}},
	{"MEMBERS 0", Event{Kind: Members}},
	{"MEMBERS 2 1:100 3:200", Event{Kind: Members, Members: []Addr{{1, 100, 0}, {3, 200, 0}}}},
	{"LOCAL 3", Event{Kind: Local, NodeID: 3}},
	{"DELIVER g1 2 77 5 68656c6c6f", Event{Kind: Deliver, Group: "g1", NodeID: 2, PID: 77, Payload: []byte("hello")}},
	{"DELIVER g1 2 77 0 -", Event{Kind: Deliver, Group: "g1", NodeID: 2, PID: 77}},
	{"DELIVER a%20b%25%0A 1 1 2 00ff", Event{Kind: Deliver, Group: "a b%\n", NodeID: 1, PID: 1, Payload: []byte{0, 0xff}}},
	{"CONFCHG g1 members=1:100,2:200 left=- joined=2:200:1", Event{Kind: ConfChg, Group: "g1",
		Members: []Addr{{1, 100, 0}, {2, 200, 0}}, Joined: []Addr{{2, 200, ReasonJoin}}}},
	{"CONFCHG g1 members=- left=1:100:2 joined=-", Event{Kind: ConfChg, Group: "g1",
		Left: []Addr{{1, 100, ReasonLeave}}}},
	{"CONFCHG g1 members=1:100 left=2:200:3,3:300:5 joined=-", Event{Kind: ConfChg, Group: "g1",
		Members: []Addr{{1, 100, 0}}, Left: []Addr{{2, 200, ReasonNodeDown}, {3, 300, ReasonProcDown}}}},
	{"TOTEM 1.d members=1,2,3", Event{Kind: Totem, Ring: "1.d", RingNodeID: 1, RingSeq: 13, RingMembers: []uint32{1, 2, 3}}},
	{"TOTEM ffffffff.ffffffffffffffff members=-", Event{Kind: Totem, Ring: "ffffffff.ffffffffffffffff",
		RingNodeID: 0xffffffff, RingSeq: 0xffffffffffffffff}},
	{"TOTEM 0.0 members=7", Event{Kind: Totem, Ring: "0.0", RingMembers: []uint32{7}}},
	{"FATAL cpg_model_initialize: error 2", Event{Kind: Fatal, Text: "cpg_model_initialize: error 2"}},
	{"FATAL", Event{Kind: Fatal}},
}

func TestParseLine(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.line, func(t *testing.T) {
			got, err := ParseLine(tc.line)
			if err != nil {
				t.Fatalf("ParseLine: %v", err)
			}
			tc.want.Raw = tc.line
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseLine(%q)\n got %#v\nwant %#v", tc.line, got, tc.want)
			}
			if l := got.Line(); l != tc.line {
				t.Errorf("Line() = %q, want %q", l, tc.line)
			}
		})
	}
}

func TestParseLineRejects(t *testing.T) {
	bad := []string{
		"", "HELLO", "ready 1 2", "READY 1", "READY 1 2 3", "READY 01 2", "READY -1 2",
		"READY 4294967296 1", "READY 1  2", "READY 1 2 ", " READY 1 2",
		"OK", "OK ", "OK a b", "OK a%2", "OK a%41", "OK a%0a",
		"ERR join", "ERR join x", "ERR join -0", "ERR join 07", "ERR join --1",
		"MEMBERS", "MEMBERS 1", "MEMBERS 0 1:2", "MEMBERS 1 1:2:3", "MEMBERS 1 1", "MEMBERS 1 :2",
		"LOCAL", "LOCAL x",
		"DELIVER g 1 2 3", "DELIVER g 1 2 1 0", "DELIVER g 1 2 1 0A", "DELIVER g 1 2 1 0a0b",
		"DELIVER g 1 2 0 ", "DELIVER g 1 2 0", "DELIVER g 1 2 1 -", "DELIVER g 1 2 0 zz",
		"DELIVER a%2 1 2 0 -", "DELIVER  1 2 0 -",
		"CONFCHG g members=- left=-", "CONFCHG g members= left=- joined=-",
		"CONFCHG g members=1:2:3 left=- joined=-", "CONFCHG g members=- left=1:2 joined=-",
		"CONFCHG g left=- members=- joined=-", "CONFCHG g members=1:2, left=- joined=-",
		"TOTEM 1 members=1", "TOTEM 1.D members=1", "TOTEM 01.d members=1", "TOTEM 1.d members=",
		"TOTEM 1.d members=1,", "TOTEM 1.d 1,2", "TOTEM 100000000.1 members=1",
		"TOTEM 1.10000000000000000 members=1",
		"FATAL ",
	}
	for _, line := range bad {
		if ev, err := ParseLine(line); err == nil {
			t.Errorf("ParseLine(%q) = %#v, want an error", line, ev)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "plain",
		"a b":        "a%20b",
		"100%":       "100%25",
		"\x00\xff~!": "%00%FF~!",
		"tab\there":  "tab%09here",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
		back, err := unescape(want)
		if err != nil || back != in {
			t.Errorf("unescape(%q) = %q, %v; want %q", want, back, err, in)
		}
	}
}

func TestKindString(t *testing.T) {
	for _, tc := range parseCases {
		ev, err := ParseLine(tc.line)
		if err != nil {
			t.Fatal(err)
		}
		if kw, _, _ := strings.Cut(tc.line, " "); ev.Kind.String() != kw {
			t.Errorf("%q: Kind.String() = %q", tc.line, ev.Kind.String())
		}
	}
	if s := Kind(0).String(); s != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", s)
	}
}

// FuzzParseLine checks that ParseLine never panics and accepts only
// canonical lines: whatever it accepts, Line prints back unchanged, and the
// reparsed event is the same. It also checks that Escape round-trips.
func FuzzParseLine(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.line)
	}
	f.Add("DELIVER g 1 2 0 -")
	f.Add("CONFCHG %25 members=- left=- joined=1:1:1")
	f.Add("MEMBERS 1 0:0")
	f.Fuzz(func(t *testing.T, line string) {
		if back, err := unescape(Escape(line)); line != "" && (err != nil || back != line) {
			t.Fatalf("unescape(Escape(%q)) = %q, %v", line, back, err)
		}
		ev, err := ParseLine(line)
		if err != nil {
			return
		}
		if ev.Raw != line {
			t.Fatalf("Raw = %q, want %q", ev.Raw, line)
		}
		out := ev.Line()
		if out != line {
			t.Fatalf("ParseLine(%q).Line() = %q", line, out)
		}
		ev2, err := ParseLine(out)
		if err != nil {
			t.Fatalf("reparse %q: %v", out, err)
		}
		if !reflect.DeepEqual(ev, ev2) {
			t.Fatalf("reparse %q:\n %#v\n %#v", out, ev, ev2)
		}
	})
}
