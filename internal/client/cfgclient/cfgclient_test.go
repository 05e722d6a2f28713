package cfgclient_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/client/cfgclient"
	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/service/cfg"
)

func TestMain(m *testing.M) { os.Exit(clienttest.Main(m)) }

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func link(node uint32, remote string, connected bool) cfg.LinkStatus {
	return cfg.LinkStatus{LinkNo: 0, NodeID: node, Transport: "udpu", Addr: "10.0.0.1",
		RemoteAddr: remote, Enabled: true, Connected: connected, MTU: 1500}
}

var links = []cfg.LinkStatus{
	link(3, "10.0.0.3", false),
	link(1, "10.0.0.1", true),
	link(2, "10.0.0.2", true),
}

func start(t *testing.T) (*clienttest.Server, *cfgclient.Client) {
	t.Helper()
	s := clienttest.Start(t, clienttest.Options{NodeID: 1, Links: links})
	c, err := cfgclient.Dial(ctx(t), s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

func TestStatus(t *testing.T) {
	_, c := start(t)
	id, err := c.LocalNodeID(ctx(t))
	if err != nil || id != 1 {
		t.Fatalf("LocalNodeID = %d, %v; want 1", id, err)
	}
	ls, err := c.RingStatus(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var nodes []uint32
	for _, l := range ls {
		nodes = append(nodes, l.NodeID)
	}
	if !slices.Equal(nodes, []uint32{1, 2, 3}) {
		t.Errorf("RingStatus nodes %v, want sorted [1 2 3]", nodes)
	}

	ns, err := c.NodeStatus(ctx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !ns.Reachable || len(ns.Links) != 1 || ns.Links[0].RemoteAddr != "10.0.0.2" {
		t.Errorf("NodeStatus(2) = %+v", ns)
	}
	ns, err = c.NodeStatus(ctx(t), 3)
	if err != nil || ns.Reachable {
		t.Errorf("NodeStatus(3) = %+v, %v; want unreachable", ns, err)
	}
	_, err = c.NodeStatus(ctx(t), 9)
	if !errors.Is(err, client.ErrNotExist) {
		t.Errorf("NodeStatus(9): %v, want ErrNotExist", err)
	}
}

func TestKillNode(t *testing.T) {
	s, c := start(t)
	if err := c.KillNode(ctx(t), 2, "Killed by test"); err != nil {
		t.Fatal(err)
	}
	if k := s.Kills(); len(k) != 1 || k[0].NodeID != 2 || k[0].Reason != "Killed by test" {
		t.Errorf("kills %+v", k)
	}
	if sd := s.Shutdowns(); len(sd) != 0 {
		t.Errorf("killing node 2 shut this node down: %v", sd)
	}
	// Killing this node shuts it down.
	if err := c.KillNode(ctx(t), 1, "bye"); err != nil {
		t.Fatal(err)
	}
	if sd := s.Shutdowns(); len(sd) != 1 || !strings.Contains(sd[0], "bye") {
		t.Errorf("shutdowns %v", sd)
	}
	err := c.KillNode(ctx(t), 2, strings.Repeat("x", cfgclient.MaxReasonLen+1))
	if err == nil || !errors.Is(err, cfg.ErrReasonTooLong) {
		t.Errorf("KillNode with a long reason: %v, want ErrReasonTooLong", err)
	}
}

func TestShutdown(t *testing.T) {
	s, c := start(t)
	if err := c.Shutdown(ctx(t), cfgclient.ShutdownRegardless); err != nil {
		t.Fatal(err)
	}
	if sd := s.Shutdowns(); len(sd) != 1 {
		t.Errorf("shutdowns %v, want one", sd)
	}
}

func TestReload(t *testing.T) {
	s, c := start(t)
	if err := c.Reload(ctx(t)); err != nil {
		t.Fatal(err)
	}
	s.SetReload(func() error { return errors.New("parse error") })
	err := c.Reload(ctx(t))
	var se *client.StatusError
	if !errors.Is(err, client.ErrFailed) || !errors.As(err, &se) || se.CSName() != "CS_ERR_LIBRARY" {
		t.Errorf("failing Reload: %v, want a CS_ERR_LIBRARY StatusError", err)
	}
	if n := s.Reloads(); n != 2 {
		t.Errorf("%d reloads, want 2", n)
	}
}
