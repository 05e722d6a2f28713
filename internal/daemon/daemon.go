// Package daemon is corosyncd's body: it wires a loaded configuration to
// the transport, the Totem runner, the service engines (cmap, cfg, CPG,
// quorum) and the IPC server that local clients use, plus the optional
// Prometheus endpoint. cmd/corosyncd parses flags and calls Run; tests run
// daemons in-process the same way.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/metrics"
	"github.com/corogo/corogo/internal/runner"
	"github.com/corogo/corogo/internal/sdnotify"
	"github.com/corogo/corogo/internal/service/host"
	"github.com/corogo/corogo/internal/transport"
	"github.com/corogo/corogo/totem"
)

// Options configure a daemon.
type Options struct {
	// ConfigPath is the configuration file, re-read by a reload.
	ConfigPath string
	// Config is the loaded configuration.
	Config *config.Config
	// NodeID is this node's id (from the nodelist).
	NodeID uint32
	// Logger is the root logger; subsystems add "subsys".
	Logger *slog.Logger
	// Socket is the IPC socket path; empty means ipc.SocketPath().
	Socket string
	// MetricsAddr, if set, serves Prometheus metrics at
	// http://MetricsAddr/metrics.
	MetricsAddr string
	// Version is logged at start.
	Version string
	// OpenTransport opens the transport the configuration describes.
	OpenTransport func(spec config.TransportSpec, log *slog.Logger) (transport.Transport, error)
	// LoopbackSelf hands the node its own broadcasts directly; set it when
	// OpenTransport's transports leave this node out of broadcasts
	// (transport.Config.SkipSelf).
	LoopbackSelf bool
}

// ErrShutdown is the cause of a stop requested through cfg (corosync-cfgtool
// -H, or -k for this node).
var ErrShutdown = errors.New("shut down by request")

// Daemon is one running node.
type Daemon struct {
	opts   Options
	log    *slog.Logger
	r      *runner.Runner
	h      *host.Host
	tr     transport.Transport
	srv    *ipc.Server
	glue   *ipcGlue
	cancel context.CancelCauseFunc

	mu  sync.Mutex // guards cfg
	cfg *config.Config

	eng engines
}

// Run runs a node until ctx is done or a shutdown is requested, then
// leaves the ring cleanly.
func Run(ctx context.Context, opts Options) error {
	d := &Daemon{opts: opts, log: opts.Logger, cfg: opts.Config}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	outer := ctx
	ctx, d.cancel = context.WithCancelCause(context.Background())
	defer d.cancel(nil)
	if err := d.start(); err != nil {
		return err
	}
	stop := context.AfterFunc(outer, func() { d.leave(context.Cause(outer)) })
	defer stop()
	err := d.serve(ctx)
	if cause := context.Cause(ctx); errors.Is(cause, ErrShutdown) {
		return nil
	}
	return err
}

func (d *Daemon) start() error {
	cfg, id := d.opts.Config, d.opts.NodeID
	totemLog := d.log.With("subsys", "TOTEM")
	mainLog := d.log.With("subsys", "MAIN")
	tc, err := cfg.Totem(id)
	if err != nil {
		return err
	}
	spec, err := cfg.Transport(id)
	if err != nil {
		return err
	}
	stateDir := cfg.System.StateDir
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	t := tc.EffectiveTimers()
	mainLog.Info(fmt.Sprintf("Corosync Cluster Engine (corogo %s) starting up", d.opts.Version))
	totemLog.Info(fmt.Sprintf("Initializing transport (%s).", spec.Kind))
	totemLog.Info(fmt.Sprintf("Token Timeout (%d ms) retransmit timeout (%d ms)", t.Token.Milliseconds(), t.TokenRetransmit.Milliseconds()))
	totemLog.Info(fmt.Sprintf("token hold (%d ms) retransmits before loss (%d retrans)", t.Hold.Milliseconds(), tc.TokenRetransmitsBeforeLoss))
	totemLog.Info(fmt.Sprintf("join (%d ms) send_join (%d ms) consensus (%d ms) merge (%d ms)",
		t.Join.Milliseconds(), tc.SendJoin.Milliseconds(), t.Consensus.Milliseconds(), t.Merge.Milliseconds()))
	totemLog.Info(fmt.Sprintf("Maximum network MTU %d", tc.PGPayloadLimit()))
	tr, err := d.opts.OpenTransport(spec, totemLog)
	if err != nil {
		return err
	}
	d.tr = tr
	totemLog.Info(fmt.Sprintf("The network interface [%v] is now up.", spec.Local.Addr()))

	d.h = host.New(host.Options{
		NodeID:  id,
		Send:    func(g totem.Guarantee, parts ...[]byte) error { return d.r.Node().SendVec(g, parts...) },
		MaxItem: tc.MaxMessageSize,
		Logger:  d.log,
	})
	if err := d.registerEngines(); err != nil {
		tr.Close()
		return err
	}
	d.h.Start()
	r, err := runner.New(runner.Options{
		Totem: tc, Transport: tr, StateDir: stateDir, Logger: totemLog,
		Services:     (*daemonServices)(d),
		LoopbackSelf: d.opts.LoopbackSelf,
	})
	if err != nil {
		tr.Close()
		return err
	}
	d.r = r
	path := d.opts.Socket
	if path == "" {
		path = ipc.SocketPath()
	}
	srv, err := ipc.Listen(ipc.ServerOptions{
		Path:     path,
		Mode:     0o660,
		Allow:    ipc.AllowUIDGID(cfg.UIDs, cfg.GIDs),
		NodeID:   id,
		MaxFrame: maxIPCFrame,
		Logger:   d.log.With("subsys", "IPC"),
	})
	if err != nil {
		tr.Close()
		return err
	}
	d.srv = srv
	mainLog.Info("Listening for clients on " + path)
	return nil
}

// daemonServices is the runner's view of the daemon.
type daemonServices Daemon

func (s *daemonServices) Event(e *totem.Event) { s.h.Event(e) }

// Tick and NextTimer drive the engines' timers (votequorum).
func (s *daemonServices) Tick(now time.Duration)           { s.h.Tick(now) }
func (s *daemonServices) NextTimer() (time.Duration, bool) { return s.h.NextTimer() }
func (s *daemonServices) Poll() {
	s.h.Poll()
	if s.glue != nil {
		s.glue.release()
	}
}

func (d *Daemon) serve(ctx context.Context) error {
	d.glue = newGlue(d.r, d.h)
	var wg sync.WaitGroup
	srvCtx, stopSrv := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.srv.Serve(srvCtx, d.glue); err != nil {
			d.log.Error("IPC server stopped", "err", err)
		}
	}()
	if d.opts.MetricsAddr != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := metrics.Serve(srvCtx, d.opts.MetricsAddr, d.collect, d.log); err != nil {
				d.log.Error(err.Error())
			}
		}()
	}
	if _, err := sdnotify.Notify(sdnotify.Ready); err != nil {
		d.log.Warn(err.Error())
	}
	err := d.r.Run(ctx)
	_, _ = sdnotify.Notify(sdnotify.Stopping)
	stopSrv()
	wg.Wait()
	d.log.With("subsys", "MAIN").Info("Corosync Cluster Engine exiting normally")
	return err
}

// shutdown stops the daemon (cfg's shutdown and kill-node). It runs on
// the Run goroutine.
func (d *Daemon) shutdown(reason string) {
	d.log.With("subsys", "MAIN").Info(reason)
	d.announceLeave(fmt.Errorf("%w: %s", ErrShutdown, reason))
}

// leave stops the daemon when Run's context ends (a signal): the
// services announce the leave on the Run goroutine first.
func (d *Daemon) leave(cause error) {
	d.r.Submit(func() { d.announceLeave(cause) })
	// Should the Run goroutine be gone already, stop anyway.
	time.AfterFunc(5*time.Second, func() { d.cancel(cause) })
}

// leaveGrace is how long a leaving node keeps the ring after votequorum
// announced the leave (allow_downscale), so the announcement is delivered.
const leaveGrace = 500 * time.Millisecond

// announceLeave lets votequorum tell the others this is a clean leave
// (with allow_downscale), then stops Run after a short grace.
func (d *Daemon) announceLeave(cause error) {
	if d.eng.vq != nil && d.eng.vq.Settings().AllowDownscale {
		d.eng.vq.Leave()
		time.AfterFunc(leaveGrace, func() { d.cancel(cause) })
		return
	}
	d.cancel(cause)
}
