package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corogo/corogo/cpg"
	"github.com/corogo/corogo/internal/client/cfgclient"
	"github.com/corogo/corogo/internal/client/cmapclient"
	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/transport"
	"github.com/corogo/corogo/totem"
)

// freePort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func openUDPU(spec config.TransportSpec, log *slog.Logger) (transport.Transport, error) {
	cfg := transport.DefaultConfig(transport.UDPU)
	cfg.LocalNodeID = spec.LocalNodeID
	cfg.Local = spec.Local.Addr()
	cfg.Port = spec.Local.Port()
	cfg.NetMTU = spec.NetMTU
	cfg.RecvBufferSize = 4096
	cfg.SkipSelf = true
	cfg.Logger = log
	for _, m := range spec.Members {
		cfg.Members = append(cfg.Members, transport.Member{NodeID: totem.NodeID(m.NodeID), Addr: m.Addr})
	}
	return transport.New(cfg)
}

// TestDaemonOneNode runs a whole one-node daemon in the test process, on
// loopback: the sync completes, a CPG client joins and gets its own
// message back, cmap serves the runtime keys, a cfg reload applies a new
// token timeout, the Prometheus endpoint answers, and a cancel stops it.
func TestDaemonOneNode(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "corosync.conf")
	write := func(token int) {
		text := fmt.Sprintf(`totem {
	version: 2
	cluster_name: unit
	transport: udpu
	token: %d
	interface {
		mcastport: %d
	}
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
	}
}
logging {
	to_stderr: no
	to_syslog: no
}
system {
	state_dir: %s
}
`, token, port, filepath.Join(dir, "state"))
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(1000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.Load(ctx, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()
	sock := filepath.Join(dir, "corosyncd.sock")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{
			ConfigPath: conf, Config: cfg, NodeID: 1, Socket: sock, MetricsAddr: metricsAddr,
			Version: "test", OpenTransport: openUDPU, LoopbackSelf: true,
		})
	}()

	// CPG: join, then our own message comes back.
	var c *cpg.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err = cpg.Dial(ctx, cpg.WithSocket(sock))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer c.Close()
	if err := c.Join(ctx, "unit"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mcast(ctx, "unit", cpg.Agreed, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 3<<20) // beyond the ring's 1 MiB item: PARTIAL_MCAST
	if err := c.Mcast(ctx, "unit", cpg.Safe, []byte(big)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed: %v", c.Err())
			}
			if m, ok := ev.(*cpg.Message); ok {
				got = append(got, string(m.Data))
			}
		case <-ctx.Done():
			t.Fatal("messages not delivered")
		}
	}
	if got[0] != "hello" || got[1] != big {
		t.Fatalf("delivered %q and %d bytes", got[0], len(got[1]))
	}

	// cmap: effective configuration and runtime keys.
	cm, err := cmapclient.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	kv, err := cm.Get(ctx, "runtime.config.totem.token")
	if err != nil || fmt.Sprint(kv.Value) != "1000" {
		t.Fatalf("runtime.config.totem.token = %v, %v", kv.Value, err)
	}
	if kv, err := cm.Get(ctx, "runtime.members.1.status"); err != nil || kv.Value != "joined" {
		t.Fatalf("runtime.members.1.status = %v, %v", kv.Value, err)
	}

	// cfg: reload a new token timeout from the file.
	write(2000)
	cf, err := cfgclient.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	if err := cf.Reload(ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if kv, err := cm.Get(ctx, "runtime.config.totem.token"); err != nil || fmt.Sprint(kv.Value) != "2000" {
		t.Fatalf("after reload runtime.config.totem.token = %v, %v", kv.Value, err)
	}

	// Prometheus.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"ha_cluster_corosync_quorate 1", "corosyncd_ring_members 1", "corosyncd_cpg_delivered_total 2"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
