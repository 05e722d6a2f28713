package qdisk_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/internal/qdevice/qdevicetest"
	"github.com/corogo/corogo/internal/qdevice/qdisk"
)

const (
	interval = time.Second
	tko      = 4
	timeout  = 4 * time.Second // tko × interval ≥ timeout
)

// hangable wraps a Storage; while hung, Cycle blocks until released.
type hangable struct {
	qdisk.Storage
	mu   sync.Mutex
	hung chan struct{}
}

func (h *hangable) Cycle(id uint32, b []byte) ([][]byte, error, error) {
	h.mu.Lock()
	ch := h.hung
	h.mu.Unlock()
	if ch != nil {
		<-ch
	}
	return h.Storage.Cycle(id, b)
}

func (h *hangable) hang() {
	h.mu.Lock()
	h.hung = make(chan struct{})
	h.mu.Unlock()
}

func (h *hangable) release() {
	h.mu.Lock()
	close(h.hung)
	h.hung = nil
	h.mu.Unlock()
}

type node struct {
	id     uint32
	model  *qdisk.Model
	dev    *qdevice.Device
	stop   func() error
	st     *hangable
	ctx    context.Context
	cancel context.CancelFunc
}

// startNodes runs a qdisk device per node id against one file.
func startNodes(t *testing.T, c *qdevicetest.Cluster, path string, ids ...uint32) map[uint32]*node {
	nodes := map[uint32]*node{}
	for _, id := range ids {
		n := &node{id: id}
		n.model = qdisk.New(qdisk.Config{
			Path: path, ClusterName: "test", Interval: interval, TKO: tko,
			MaxNodeID: slices.Max(ids), Incarnation: uint64(id) * 1000,
			Open: func(path, cluster string, maxID uint32) (qdisk.Storage, error) {
				d, err := qdisk.OpenDisk(path, cluster, maxID)
				if err != nil {
					return nil, err
				}
				n.st = &hangable{Storage: d}
				return n.st, nil
			},
		})
		n.dev = qdevice.NewDevice(qdevice.DeviceConfig{Timeout: timeout, Dial: c.Dialer(id)}, n.model)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- n.dev.Run(ctx) }()
		n.stop = sync.OnceValue(func() error { cancel(); return <-done })
		nodes[id] = n
	}
	return nodes
}

// watch steps time by 100 ms for d, failing if devices of two
// partitions ever cast at once, and returns the casting set at the end.
func watch(t *testing.T, c *qdevicetest.Cluster, d time.Duration) []uint32 {
	t.Helper()
	for range int(d / (100 * time.Millisecond)) {
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		var ring qdevice.RingID
		for _, id := range c.Casting() {
			r := c.Membership(id).Ring
			if !ring.IsZero() && r != ring {
				t.Fatalf("devices of two partitions cast at once: %v", c.Casting())
			}
			ring = r
		}
	}
	return c.Casting()
}

func newFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "qdisk")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestThreeNodesSplit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2, 3)
		c.Timeout = timeout
		nodes := startNodes(t, c, newFile(t), 1, 2, 3)
		defer func() {
			for _, n := range nodes {
				n.stop()
			}
		}()
		// Init (tko cycles) then the master settles.
		if got := watch(t, c, (tko+1)*interval); len(got) != 0 {
			t.Fatalf("casting %v during init", got)
		}
		if got := watch(t, c, (qdisk.Settle+2)*interval); !slices.Equal(got, []uint32{1, 2, 3}) {
			t.Fatalf("casting %v, want all", got)
		}

		// Split, both halves see the disk: only the master's half casts.
		c.Partition([]uint32{1}, []uint32{2, 3})
		if got := watch(t, c, 20*interval); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("casting %v after the split, want the master's partition", got)
		}
		status := fieldMap(nodes[2].dev.Status())
		if status["Master"] != "1" || !strings.HasPrefix(status["Node 1"], "live, running, eligible") || !strings.HasPrefix(status["Cast vote"], "No") {
			t.Fatalf("node 2 status %v", status)
		}

		// The master's device hangs on its storage: its vote expires in
		// votequorum, and after tko cycles the other half takes over.
		nodes[1].st.hang()
		got := watch(t, c, (tko+qdisk.Settle+2)*interval)
		if !slices.Equal(got, []uint32{2, 3}) {
			t.Fatalf("casting %v after the master hung, want 2 3", got)
		}
		if s := fieldMap(nodes[3].dev.Status()); s["Master"] != "2" || !strings.HasPrefix(s["Node 1"], "dead") {
			t.Fatalf("node 3 status %v", s)
		}
		// It comes back: not eligible until it has read tko cycles in a
		// row, then master again; the vote moves back to its partition
		// without any moment where both cast (watch checks).
		nodes[1].st.release()
		if got := watch(t, c, (tko+qdisk.Settle+3)*interval); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("casting %v after the master came back, want 1", got)
		}

		// Heal, then a clean stop of node 1: the others take over
		// without waiting tko, from its leaving block.
		c.Partition([]uint32{1, 2, 3})
		if got := watch(t, c, interval); !slices.Equal(got, []uint32{1, 2, 3}) {
			t.Fatalf("casting %v after heal", got)
		}
		c.Partition([]uint32{1}, []uint32{2, 3})
		if err := nodes[1].stop(); err != nil {
			t.Fatal(err)
		}
		if got := watch(t, c, (qdisk.Settle+2)*interval); !slices.Equal(got, []uint32{2, 3}) {
			t.Fatalf("casting %v after node 1 stopped, want 2 3", got)
		}
		if s := fieldMap(nodes[2].dev.Status()); !strings.HasPrefix(s["Node 1"], "left, leaving") {
			t.Fatalf("node 2 sees node 1 as %q", s["Node 1"])
		}
	})
}

func TestTwoNodesOneSurvives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := qdevicetest.NewCluster(1, 2)
		c.Timeout = timeout
		nodes := startNodes(t, c, newFile(t), 1, 2)
		defer func() {
			for _, n := range nodes {
				n.stop()
			}
		}()
		if got := watch(t, c, (tko+qdisk.Settle+3)*interval); !slices.Equal(got, []uint32{1, 2}) {
			t.Fatalf("casting %v", got)
		}
		c.Partition([]uint32{1}, []uint32{2})
		if got := watch(t, c, 10*interval); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("casting %v, want 1", got)
		}
		// Node 1's daemon loses corosyncd: it writes "disconnected",
		// is no longer eligible, and node 2 takes over.
		c.SetDialError(1, os.ErrPermission)
		c.Disconnect(1)
		if got := watch(t, c, (qdisk.Settle+2)*interval); !slices.Equal(got, []uint32{2}) {
			t.Fatalf("casting %v after node 1 lost corosyncd, want 2", got)
		}
	})
}

func TestOtherClusterRefused(t *testing.T) {
	path := newFile(t)
	d, err := qdisk.OpenDisk(path, "alpha", 3)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := qdisk.OpenDisk(path, "beta", 3); err == nil || !strings.Contains(err.Error(), "another cluster") {
		t.Fatalf("opened another cluster's disk: %v", err)
	}
	if err := os.WriteFile(path, []byte("some file system's superblock"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := qdisk.OpenDisk(path, "alpha", 3); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("opened a foreign file: %v", err)
	}
	if _, err := qdisk.OpenDisk(filepath.Join(t.TempDir(), "missing"), "alpha", 3); err == nil {
		t.Fatal("opened a missing file (it must never be created)")
	}
}

func TestDiskCycle(t *testing.T) {
	path := newFile(t)
	d, err := qdisk.OpenDisk(path, "c", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b := qdisk.Block{NodeID: 3, Incarnation: 9, Seq: 1, State: qdisk.StateInit, Members: []uint32{1, 3}}
	enc, _ := b.AppendTo(nil)
	slots, werr, rerr := d.Cycle(3, enc)
	if werr != nil || rerr != nil {
		t.Fatal(werr, rerr)
	}
	if len(slots) != 5 {
		t.Fatalf("%d slots", len(slots))
	}
	got, err := qdisk.DecodeBlock(slots[3])
	if err != nil || got.Seq != 1 || !slices.Equal(got.Members, b.Members) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	for _, i := range []int{1, 2, 4} {
		if _, err := qdisk.DecodeBlock(slots[i]); err != qdisk.ErrEmpty {
			t.Fatalf("slot %d: %v", i, err)
		}
	}
	fi, _ := os.Stat(path)
	if fi.Size() != qdisk.Size {
		t.Fatalf("file size %d, want %d", fi.Size(), qdisk.Size)
	}
}

func fieldMap(fs []qdevice.Field) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}
