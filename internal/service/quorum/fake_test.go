package quorum

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/totem"
)

// logRec records log lines as "LEVEL msg".
type logRec struct{ lines *[]string }

func (h logRec) Enabled(context.Context, slog.Level) bool { return true }
func (h logRec) Handle(_ context.Context, r slog.Record) error {
	*h.lines = append(*h.lines, r.Level.String()+" "+r.Message)
	return nil
}
func (h logRec) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logRec) WithGroup(string) slog.Handler      { return h }

// fakeAPI is a service.API for one node; the quorum service sends nothing.
type fakeAPI struct {
	node    service.NodeID
	syncing bool
	lines   []string
	log     *slog.Logger
}

func newFakeAPI(node service.NodeID) *fakeAPI {
	a := &fakeAPI{node: node}
	a.log = slog.New(logRec{&a.lines})
	return a
}

func (a *fakeAPI) NodeID() service.NodeID { return a.node }
func (a *fakeAPI) Send([]byte, totem.Guarantee) error {
	return fmt.Errorf("quorum test: unexpected send")
}
func (a *fakeAPI) SendVec(totem.Guarantee, ...[]byte) error {
	return fmt.Errorf("quorum test: unexpected send")
}
func (a *fakeAPI) MaxMessage() int                          { return 1 << 20 }
func (a *fakeAPI) Ring() (service.RingID, []service.NodeID) { return service.RingID{}, nil }
func (a *fakeAPI) Syncing() bool                            { return a.syncing }
func (a *fakeAPI) Logger() *slog.Logger                     { return a.log }

// take returns the log lines above debug since the last call.
func (a *fakeAPI) take() []string {
	var l []string
	for _, s := range a.takeAll() {
		if !strings.HasPrefix(s, "DEBUG ") {
			l = append(l, s)
		}
	}
	return l
}

// takeAll returns every log line since the last call.
func (a *fakeAPI) takeAll() []string {
	l := a.lines
	a.lines = nil
	return l
}

type event struct {
	kind    uint16
	payload []byte
}

type replyRec struct {
	id      uint32
	status  service.Status
	payload []byte
}

// fakeConn records what the engine queues to a client, in order.
type fakeConn struct {
	id      uint64
	out     []any // replyRec or event
	closed  error
	creds   service.Cred
	replies int
}

func (c *fakeConn) ID() uint64         { return c.id }
func (c *fakeConn) Cred() service.Cred { return c.creds }
func (c *fakeConn) Reply(id uint32, st service.Status, p []byte) {
	c.out = append(c.out, replyRec{id, st, slices.Clone(p)})
	c.replies++
}
func (c *fakeConn) Event(kind uint16, hdr, body []byte) {
	c.out = append(c.out, event{kind, append(slices.Clone(hdr), body...)})
}
func (c *fakeConn) Close(err error) { c.closed = err }

func (c *fakeConn) take() []any {
	o := c.out
	c.out = nil
	return o
}

// describe renders queued output for comparisons.
func describe(t *testing.T, out []any) []string {
	t.Helper()
	var s []string
	for _, o := range out {
		switch o := o.(type) {
		case replyRec:
			s = append(s, fmt.Sprintf("reply %d %v %x", o.id, o.status, o.payload))
		case event:
			switch o.kind {
			case EventNotify:
				v, err := DecodeView(o.payload)
				if err != nil {
					t.Fatal(err)
				}
				s = append(s, fmt.Sprintf("notify quorate=%v ring=%v members=%v", v.Quorate, v.Ring, v.Members))
			case EventNodeList:
				n, err := DecodeNodeList(o.payload)
				if err != nil {
					t.Fatal(err)
				}
				s = append(s, fmt.Sprintf("nodelist ring=%v members=%v joined=%v left=%v", n.Ring, n.Members, n.Joined, n.Left))
			default:
				s = append(s, fmt.Sprintf("event %d %x", o.kind, o.payload))
			}
		}
	}
	return s
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// runSync drives one sync as the sync protocol does, with the API's
// Syncing flag set throughout.
func runSync(a *fakeAPI, e *Engine, trans, members []service.NodeID, ring service.RingID, afterActivate func()) {
	a.syncing = true
	e.SyncInit(trans, members, ring)
	for !e.SyncProcess() {
	}
	e.SyncActivate()
	if afterActivate != nil {
		afterActivate()
	}
	a.syncing = false
}
