package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/daemon"
	"github.com/corogo/corogo/internal/logging"
	"github.com/corogo/corogo/internal/transport"
	"github.com/corogo/corogo/totem"
)

// version is corosyncd's version; corosync 3.1's wire protocol is spoken.
const version = "0.1.0 (corosync 3.1 wire protocol; transports: udpu udp)"

type flags struct {
	file       string
	foreground bool
	test       bool
	version    bool
	nodeID     uint
	metrics    string
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("corosyncd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.file, "c", "/etc/corosync/corosync.conf", "configuration `file` (corosync.conf syntax, or TOML when it ends in .toml)")
	fs.BoolVar(&f.foreground, "f", false, "run in the foreground (otherwise detach)")
	fs.BoolVar(&f.test, "t", false, "check the configuration, print the effective values and exit")
	fs.BoolVar(&f.version, "v", false, "print the version and exit")
	fs.UintVar(&f.nodeID, "n", 0, "this node's `nodeid` (default: the nodelist entry whose ring0_addr is local, or whose name is the host name)")
	fs.StringVar(&f.metrics, "m", "", "serve Prometheus metrics at http://`ADDR`/metrics (off by default; e.g. 127.0.0.1:9664)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return f, nil
}

// run is the whole daemon; main only wires signals.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if f.version {
		fmt.Fprintf(stdout, "corosyncd %s\n", version)
		return nil
	}
	cfg, err := config.Load(ctx, f.file, nil)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "corosyncd: warning:", w.String())
	}
	local, err := cfg.LocalNode(config.LocalOptions{NodeID: uint32(f.nodeID)})
	if err != nil {
		return fmt.Errorf("%s: %w", f.file, err)
	}
	if f.test {
		return cfg.WriteEffective(stdout, local.ID)
	}
	if !f.foreground {
		return detach(args)
	}

	log, closeLog, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	defer closeLog()
	if path := os.Getenv("COROSYNCD_CPUPROFILE"); path != "" {
		// A CPU profile of the whole run, for performance work.
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("COROSYNCD_CPUPROFILE: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("COROSYNCD_CPUPROFILE: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if path := os.Getenv("COROSYNCD_MEMPROFILE"); path != "" {
		// A heap profile written at exit, for memory work.
		defer func() {
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	return daemon.Run(ctx, daemon.Options{
		ConfigPath:    f.file,
		Config:        cfg,
		NodeID:        local.ID,
		Logger:        log,
		MetricsAddr:   f.metrics,
		Version:       version,
		OpenTransport: openTransport,
		LoopbackSelf:  true, // openTransport sets SkipSelf
	})
}

// openTransport builds the transport the configuration describes.
func openTransport(spec config.TransportSpec, log *slog.Logger) (transport.Transport, error) {
	kind := transport.UDPU
	if spec.Kind == string(transport.UDP) {
		kind = transport.UDP
	}
	tcfg := transport.DefaultConfig(kind)
	tcfg.LocalNodeID = spec.LocalNodeID
	tcfg.Local = spec.Local.Addr()
	tcfg.Port = spec.Local.Port()
	tcfg.Group = spec.Group.Addr()
	tcfg.TTL = int(spec.TTL)
	tcfg.BlockUnlisted = spec.BlockUnlistedIPs
	tcfg.NetMTU = spec.NetMTU
	// Totem never sends a datagram larger than netmtu (a recovery MCAST
	// reaches it; the kernel reassembles IP fragments). A buffer of
	// netmtu plus slack per batch entry, instead of one that holds any UDP
	// datagram, keeps the receive batches at a few hundred KiB.
	tcfg.RecvBufferSize = max(4096, spec.NetMTU+1024)
	// The runner hands the node its own broadcasts (daemon.Options
	// LoopbackSelf); the other nodes see the same datagrams.
	tcfg.SkipSelf = true
	tcfg.Logger = log
	for _, m := range spec.Members {
		tcfg.Members = append(tcfg.Members, transport.Member{NodeID: totem.NodeID(m.NodeID), Addr: m.Addr})
	}
	return transport.New(tcfg)
}

// newLogger sets up the logging section's outputs.
func newLogger(cfg *config.Config, stderr io.Writer) (*slog.Logger, func(), error) {
	lg := cfg.Logging
	level := slog.LevelInfo
	if lg.Debug == "on" || lg.Debug == "trace" {
		level = slog.LevelDebug
	}
	ts := logging.TimestampHires
	switch lg.Timestamp {
	case "on":
		ts = logging.TimestampOn
	case "off":
		ts = logging.TimestampOff
	}
	host, _ := os.Hostname()
	var hs logging.Multi
	var closers []func()
	if lg.ToStderr {
		hs = append(hs, logging.NewHandler(stderr, logging.Options{Level: level, Timestamp: ts, Host: host}))
	}
	if lg.ToLogfile && lg.Logfile != "" {
		if err := os.MkdirAll(filepath.Dir(lg.Logfile), 0o755); err != nil {
			return nil, nil, fmt.Errorf("logging.logfile: %w", err)
		}
		fh, err := os.OpenFile(lg.Logfile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("logging.logfile: %w", err)
		}
		closers = append(closers, func() { fh.Close() })
		hs = append(hs, logging.NewHandler(fh, logging.Options{Level: level, Timestamp: ts, Host: host}))
	}
	if lg.ToSyslog {
		if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "corosync"); err == nil {
			closers = append(closers, func() { w.Close() })
			hs = append(hs, logging.NewHandler(w, logging.Options{Level: level, Timestamp: logging.TimestampOff}))
		} else if lg.ToStderr || lg.ToLogfile {
			fmt.Fprintln(stderr, "corosyncd: warning: syslog unavailable:", err)
		}
	}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	return slog.New(hs), closeAll, nil
}

// detach re-runs the daemon in the foreground in a new session, as
// corosync forks without -f, and returns at once.
func detach(args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	defer null.Close()
	cmd := exec.Command(exe, append([]string{"-f"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	return cmd.Process.Release()
}
