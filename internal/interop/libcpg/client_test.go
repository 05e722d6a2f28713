package libcpg

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fakeEnv selects the fake client mode when the test binary runs itself as
// a stand-in for cpgclient.
const fakeEnv = "LIBCPG_FAKE_CLIENT"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeClient(mode))
	}
	os.Exit(m.Run())
}

// fakeClient speaks the client's line protocol without corosync, for the
// Client tests: node 1, one group, its own messages delivered back.
func fakeClient(mode string) int {
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	pid := os.Getpid()
	switch mode {
	case "fatal":
		say("FATAL cpg_model_initialize: error 2")
		fmt.Fprintln(os.Stderr, "some stderr noise")
		return 2
	case "silent":
		time.Sleep(time.Minute)
		return 0
	case "garbage":
		say("this is not a protocol line")
	}
	say("READY 1 %d", pid)
	say("TOTEM 1.4 members=1")
	group := ""
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	for in.Scan() {
		word, arg, _ := strings.Cut(in.Text(), " ")
		if mode == "hang" {
			continue
		}
		switch word {
		case "join":
			g, err := unescape(arg)
			if err != nil {
				say("ERR join -1")
				continue
			}
			if g == "busy" {
				say("ERR join 6")
				continue
			}
			group = g
			say("OK join")
			say("CONFCHG %s members=1:%d left=- joined=1:%d:1", Escape(group), pid, pid)
		case "leave":
			say("OK leave")
			say("CONFCHG %s members=- left=1:%d:2 joined=-", Escape(group), pid)
		case "send":
			say("OK send")
			say("DELIVER %s 1 %d %d %s", Escape(group), pid, len(arg), hexOrDash([]byte(arg)))
		case "sendhex":
			b, _ := hex.DecodeString(strings.TrimPrefix(arg, "-"))
			// the event comes before the reply, as when a retry dispatches
			say("DELIVER %s 1 %d %d %s", Escape(group), pid, len(b), hexOrDash(b))
			say("OK sendhex")
		case "members":
			say("MEMBERS 2 1:%d 2:99", pid)
			say("OK members")
		case "local":
			say("LOCAL 1")
			say("OK local")
		case "quit":
			say("OK quit")
			if mode == "exit3" {
				return 3
			}
			return 0
		default:
			say("ERR %s -1", Escape(word))
		}
	}
	if mode == "hang" {
		time.Sleep(time.Minute)
	}
	return 0
}

func hexOrDash(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

func startFake(t *testing.T, mode string) (*Client, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fakeEnv+"="+mode)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return Start(ctx, cmd)
}

func TestClientFake(t *testing.T) {
	c, err := startFake(t, "normal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pid := uint32(c.PID())
	if r := c.Ready(); r.Kind != Ready || r.NodeID != 1 || r.PID != pid {
		t.Fatalf("Ready() = %v, want READY 1 %d", r, pid)
	}
	ev, err := c.NextEvent(ctx, func(e Event) bool { return e.Kind == Totem })
	if err != nil {
		t.Fatal(err)
	}
	if ev.Ring != "1.4" || len(ev.RingMembers) != 1 {
		t.Errorf("totem event %v", ev)
	}

	const group = "a group%"
	if err := c.Join(ctx, group); err != nil {
		t.Fatal(err)
	}
	ev, err = c.NextEvent(ctx, func(e Event) bool { return e.Kind == ConfChg })
	if err != nil {
		t.Fatal(err)
	}
	if ev.Group != group || len(ev.Joined) != 1 || ev.Joined[0] != (Addr{1, pid, ReasonJoin}) {
		t.Errorf("confchg %v", ev)
	}

	var cmdErr *CmdError
	if err := c.Join(ctx, "busy"); !errors.As(err, &cmdErr) || cmdErr.Code != 6 || cmdErr.Cmd != "join" {
		t.Errorf("Join(busy) = %v, want CmdError join 6", err)
	} else if !strings.Contains(err.Error(), "CS_ERR_TRY_AGAIN") {
		t.Errorf("error text %q lacks the code name", err)
	}

	for _, p := range [][]byte{[]byte("hi"), {0, '\n', 0xff}, nil} {
		if err := c.Send(ctx, p); err != nil {
			t.Fatalf("Send(%x): %v", p, err)
		}
		ev, err := c.NextEvent(ctx, func(e Event) bool { return e.Kind == Deliver })
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ev.Payload, p) || ev.PID != pid || ev.Group != group {
			t.Errorf("delivered %v, want payload %x", ev, p)
		}
	}
	if err := c.SendText(ctx, "hello world"); err != nil {
		t.Fatal(err)
	}
	if ev, err := c.NextEvent(ctx, func(e Event) bool { return e.Kind == Deliver }); err != nil || string(ev.Payload) != "hello world" {
		t.Errorf("SendText delivered %v, %v", ev, err)
	}
	if err := c.SendText(ctx, "a\nb"); err == nil {
		t.Error("SendText with a newline succeeded")
	}

	m, err := c.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[0] != (Addr{1, pid, 0}) || m[1] != (Addr{2, 99, 0}) {
		t.Errorf("Members() = %v", m)
	}
	if id, err := c.LocalNodeID(ctx); err != nil || id != 1 {
		t.Errorf("LocalNodeID() = %d, %v", id, err)
	}
	if _, err := c.do(ctx, "frob", "frob"); !errors.As(err, &cmdErr) || cmdErr.Code != -1 {
		t.Errorf("unknown command: %v, want CmdError -1", err)
	}
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if ev, err := c.NextEvent(ctx, func(e Event) bool { return e.Kind == ConfChg && len(e.Left) > 0 }); err != nil || ev.Left[0].Reason != ReasonLeave {
		t.Errorf("leave confchg %v, %v", ev, err)
	}

	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Leave(ctx); !errors.Is(err, ErrExited) {
		t.Errorf("Leave after Close = %v, want ErrExited", err)
	}
	seen := c.Seen()
	if len(seen) == 0 || seen[0].Kind != Ready || seen[len(seen)-1].Raw != "OK quit" {
		t.Errorf("Seen() = %v", seen)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("Events() not closed after Close")
	}
}

func TestClientFatalBeforeReady(t *testing.T) {
	_, err := startFake(t, "fatal")
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "FATAL cpg_model_initialize: error 2") ||
		!strings.Contains(err.Error(), "some stderr noise") {
		t.Fatalf("Start = %v, want ErrExited with the FATAL text and stderr", err)
	}
}

func TestClientReadyTimeout(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fakeEnv+"=silent")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Start(ctx, cmd)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want deadline exceeded", err)
	}
	if cmd.ProcessState == nil {
		t.Error("process not reaped after the READY timeout")
	}
}

func TestClientGarbageLine(t *testing.T) {
	c, err := startFake(t, "garbage")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	seen := c.Seen()
	if len(seen) < 2 || seen[0].Kind != 0 || seen[0].Raw != "this is not a protocol line" || seen[0].Text == "" {
		t.Errorf("Seen()[0] = %#v, want the unparsed line", seen[0])
	}
}

func TestClientCloseKills(t *testing.T) {
	old := closeWait
	closeWait = 200 * time.Millisecond
	t.Cleanup(func() { closeWait = old })
	c, err := startFake(t, "hang")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Leave(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Leave on a hung client = %v, want deadline exceeded", err)
	}
	start := time.Now()
	err = c.Close()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Close = %v, want the killed error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after Close")
	}
}

func TestClientExitCode(t *testing.T) {
	c, err := startFake(t, "exit3")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Close = %v, want ErrExited with exit status 3", err)
	}
	if c.ExitError() == nil {
		t.Error("ExitError() = nil after exit 3")
	}
}
