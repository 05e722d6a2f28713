package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/client/cmapclient"
	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/quorum"
	"github.com/corogo/corogo/votequorum"
)

// TestDaemonOneNodeVotequorum: a one-node cluster with votequorum is
// quorate at once (votequorum decides while it is built, before the
// quorum service exists, then again at the first sync), and the quorum,
// votequorum and cmap services agree.
func TestDaemonOneNodeVotequorum(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "corosync.conf")
	text := fmt.Sprintf(`totem {
	version: 2
	cluster_name: unitvq
	transport: udpu
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
quorum {
	provider: corosync_votequorum
}
logging {
	to_stderr: no
	to_syslog: no
}
system {
	state_dir: %s
}
`, freePort(t), filepath.Join(dir, "state"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.Load(ctx, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "corosyncd.sock")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{
			ConfigPath: conf, Config: cfg, NodeID: 1, Socket: sock,
			Version: "test", OpenTransport: openUDPU, LoopbackSelf: true,
		})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	var vq *votequorum.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		vq, err = votequorum.Dial(ctx, sock)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer vq.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		in, err := vq.GetInfo(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		q, qerr := quorum.Dial(ctx, quorum.WithSocket(sock))
		var view quorum.View
		if qerr == nil {
			view, qerr = q.View(ctx)
			q.Close()
		}
		if in.Flags&votequorum.Quorate != 0 && in.Quorum == 1 && in.TotalVotes == 1 && qerr == nil && view.Quorate && len(view.Members) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not quorate: %+v, quorum view %+v %v", in, view, qerr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cm, err := cmapclient.Dial(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	kv, err := cm.Get(ctx, "runtime.votequorum.this_node_id")
	if err != nil || fmt.Sprint(kv.Value) != "1" {
		t.Fatalf("runtime.votequorum.this_node_id: %+v %v", kv, err)
	}
}
