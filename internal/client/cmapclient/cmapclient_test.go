package cmapclient_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/client/cmapclient"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service/cmap"
)

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m)) }

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var keys = []cmap.KV{
	{Key: "totem.token", Type: cmap.TypeUint32, Value: uint32(3000)},
	{Key: "totem.transport", Type: cmap.TypeString, Value: "udpu"},
	{Key: "runtime.config.totem.token", Type: cmap.TypeUint32, Value: uint32(3000)},
	{Key: "runtime.votequorum.two_node", Type: cmap.TypeUint8, Value: uint8(0)},
	{Key: "nodelist.node.0.nodeid", Type: cmap.TypeUint32, Value: uint32(1)},
	{Key: "nodelist.node.0.ring0_addr", Type: cmap.TypeString, Value: "10.0.0.1"},
	{Key: "totem.secret", Type: cmap.TypeBinary, Value: []byte{0, 1, 'a'}},
}

func dial(t *testing.T, s *clienttest.Server) *cmapclient.Client {
	t.Helper()
	c, err := cmapclient.Dial(ctx(t), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGet(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{NodeID: 7, Keys: keys})
	c := dial(t, s)
	if c.NodeID() != 7 {
		t.Errorf("NodeID = %d, want 7", c.NodeID())
	}
	kv, err := c.Get(ctx(t), "totem.token")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cmapclient.Format(kv), "totem.token (u32) = 3000"; got != want {
		t.Errorf("Get: %q, want %q", got, want)
	}
	kv, err = c.Get(ctx(t), "totem.secret")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cmapclient.FormatBinary(kv), `totem.secret (bin) = \x00\x01a`; got != want {
		t.Errorf("Get binary: %q, want %q", got, want)
	}

	_, err = c.Get(ctx(t), "no.such.key")
	var se *client.StatusError
	if !errors.Is(err, client.ErrNotExist) || !errors.As(err, &se) || se.CSName() != "CS_ERR_NOT_EXIST" {
		t.Errorf("Get missing key: %v, want a StatusError matching ErrNotExist", err)
	}
}

func keysOf(kvs []cmap.KV) []string {
	var s []string
	for _, kv := range kvs {
		s = append(s, kv.Key)
	}
	return s
}

func TestIterPages(t *testing.T) {
	// Many keys and small pages: the client must follow After across
	// pages and stop exactly at the end.
	var many []cmap.KV
	for i := range 300 {
		many = append(many, cmap.KV{Key: fmt.Sprintf("stats.k%03d", i), Type: cmap.TypeUint64, Value: uint64(i)})
	}
	many = append(many, keys...)
	for _, maxReply := range []int{0, 64, 200} {
		t.Run(fmt.Sprint(maxReply), func(t *testing.T) {
			s := clienttest.Start(t, clienttest.Options{Keys: many, MaxReply: maxReply})
			c := dial(t, s)

			all, err := c.Iter(ctx(t), "")
			if err != nil {
				t.Fatal(err)
			}
			want := keysOf(many)
			slices.Sort(want)
			if got := keysOf(all); !slices.Equal(got, want) {
				t.Fatalf("Iter(\"\"): %d keys, want %d\n got %v", len(got), len(want), got)
			}

			got, err := c.Iter(ctx(t), "totem.")
			if err != nil {
				t.Fatal(err)
			}
			if w := []string{"totem.secret", "totem.token", "totem.transport"}; !slices.Equal(keysOf(got), w) {
				t.Errorf("Iter(totem.) = %v, want %v", keysOf(got), w)
			}

			none, err := c.Iter(ctx(t), "nothing.")
			if err != nil || len(none) != 0 {
				t.Errorf("Iter(nothing.) = %v, %v; want nothing", none, err)
			}
		})
	}
}

func TestAllStopsEarly(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{Keys: keys, MaxReply: 64})
	c := dial(t, s)
	n := 0
	for kv, err := range c.All(ctx(t), "") {
		if err != nil {
			t.Fatal(err)
		}
		_ = kv
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("took %d keys, want 2", n)
	}
}

func TestPageTooBig(t *testing.T) {
	// A single entry larger than a page: the daemon answers TOO_BIG.
	big := []cmap.KV{{Key: "big", Type: cmap.TypeString, Value: string(make([]byte, 500))}}
	s := clienttest.Start(t, clienttest.Options{Keys: big, MaxReply: 100})
	c := dial(t, s)
	if _, err := c.Iter(ctx(t), ""); !errors.Is(err, client.ErrTooBig) {
		t.Errorf("Iter: %v, want ErrTooBig", err)
	}
}

func TestNotRunning(t *testing.T) {
	_, err := cmapclient.Dial(ctx(t), t.TempDir()+"/none.sock")
	if !errors.Is(err, ipc.ErrNotRunning) {
		t.Errorf("Dial: %v, want ErrNotRunning", err)
	}
}

func TestDaemonGone(t *testing.T) {
	s := clienttest.Start(t, clienttest.Options{Keys: keys})
	c := dial(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(ctx(t), "totem.token")
	if !errors.Is(err, ipc.ErrDisconnected) {
		t.Errorf("Get after the daemon stopped: %v, want ErrDisconnected", err)
	}
}
