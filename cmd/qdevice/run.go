package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"syscall"

	"github.com/corogo/corogo/internal/config"
	"github.com/corogo/corogo/internal/getopt"
	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/internal/qdevice/heuristics"
	"github.com/corogo/corogo/internal/qdevice/qdisk"
)

const prog = "qdevice"

const usage = `usage: qdevice [-c FILE] [-f] [-d] [-L] [-M MODEL] [-S SOCKET] [-p STATUS_SOCKET]
       qdevice -t [-c FILE] [-M MODEL]
       qdevice -s [-p STATUS_SOCKET]

  -c FILE           corosync.conf (default /etc/corosync/corosync.conf)
  -f                run in the foreground (otherwise detach, logging to syslog)
  -d                debug messages
  -L                log to syslog instead of standard error
  -M MODEL          use MODEL (qdisk or ping) instead of quorum.device.model
  -S SOCKET         corosyncd's socket (default $COROSYNCD_SOCKET, else
                    /run/corosyncd/corosyncd.sock)
  -p STATUS_SOCKET  the daemon's status socket (default ` + defaultStatusSocket + `)
  -t                check the configuration, print the device settings, exit
  -s                print the running daemon's status
  -h                this help
`

var options = []getopt.Option{
	{Short: 'c', Arg: true},
	{Short: 'f'},
	{Short: 'd'},
	{Short: 'L'},
	{Short: 'M', Arg: true},
	{Short: 'S', Arg: true},
	{Short: 'p', Arg: true},
	{Short: 't'},
	{Short: 's'},
	{Short: 'h', Long: "help"},
}

type opts struct {
	file, model, socket, statusSocket string
	foreground, debug, syslog         bool
	test, status, help                bool
}

func parseArgs(args []string) (opts, error) {
	o := opts{file: "/etc/corosync/corosync.conf", statusSocket: defaultStatusSocket}
	parsed, operands, err := getopt.Parse(args, options)
	if err != nil {
		return o, err
	}
	if len(operands) > 0 {
		return o, fmt.Errorf("unexpected argument %q", operands[0])
	}
	for _, p := range parsed {
		switch p.Opt.Short {
		case 'c':
			o.file = p.Value
		case 'f':
			o.foreground = true
		case 'd':
			o.debug = true
		case 'L':
			o.syslog = true
		case 'M':
			o.model = p.Value
		case 'S':
			o.socket = p.Value
		case 'p':
			o.statusSocket = p.Value
		case 't':
			o.test = true
		case 's':
			o.status = true
		case 'h':
			o.help = true
		}
	}
	return o, nil
}

// run runs qdevice with args (without the program name) and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n%s", prog, err, usage)
		return 1
	}
	switch {
	case o.help:
		fmt.Fprint(stdout, usage)
		return 0
	case o.status:
		s, err := readStatus(ctx, o.statusSocket)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return 1
		}
		fmt.Fprint(stdout, s)
		return 0
	}

	s, err := loadFile(ctx, o)
	if s != nil {
		for _, w := range s.warnings {
			fmt.Fprintln(stderr, w)
		}
	}
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, d := range ce.Diagnostics {
				fmt.Fprintln(stderr, d)
			}
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		}
		return 1
	}
	if o.test {
		for _, l := range s.describe() {
			fmt.Fprintln(stdout, l)
		}
		return 0
	}
	if !o.foreground {
		if err := detach(args); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return 1
		}
		return 0
	}
	log, err := newLogger(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	if err := serve(ctx, o, s, log); err != nil {
		log.Error("qdevice stopped", "err", err)
		return 1
	}
	return 0
}

// loadFile loads corosync.conf and its quorum.device section.
func loadFile(ctx context.Context, o opts) (*settings, error) {
	cfg, err := config.Load(ctx, o.file, nil)
	if err != nil {
		return nil, err
	}
	return loadSettings(cfg, o.model)
}

func newLogger(o opts, stderr io.Writer) (*slog.Logger, error) {
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	var w io.Writer = stderr
	if o.syslog {
		sw, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "corogo-qdevice")
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		w = sw
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("subsys", "QDEVICE"), nil
}

// buildModel makes the configured model.
func buildModel(s *settings, log *slog.Logger) qdevice.Model {
	runner := heuristics.NewRunner(heuristics.Config{
		Mode:        s.heuristics.mode,
		Timeout:     s.heuristics.timeout,
		SyncTimeout: s.heuristics.syncTimeout,
		Interval:    s.heuristics.interval,
		Checks:      s.checks(),
	}, log.With("part", "heuristics"))
	if s.model == modelPing {
		var validity = s.heuristics.interval + s.heuristics.timeout + s.heuristics.timeout/2
		if s.heuristics.mode != heuristics.ModeOn {
			validity = 0
		}
		return qdevice.NewPing(qdevice.PingConfig{
			ConfiguredNodes: len(s.nodes),
			MinScore:        s.ping.minScore,
			Heuristics:      runner,
			Validity:        validity,
			Log:             log.With("model", "ping"),
		})
	}
	return qdisk.New(qdisk.Config{
		Path:        s.qdisk.path,
		ClusterName: s.clusterName,
		Interval:    s.qdisk.interval,
		TKO:         s.qdisk.tko,
		MinScore:    s.qdisk.minScore,
		MaxNodeID:   s.nodes[len(s.nodes)-1],
		Heuristics:  runner,
		Log:         log.With("model", "qdisk"),
	})
}

// serve runs the device and its status socket until ctx ends.
func serve(ctx context.Context, o opts, s *settings, log *slog.Logger) error {
	ln, err := listenStatus(o.statusSocket)
	if err != nil {
		return err
	}
	model := buildModel(s, log)
	dev := qdevice.NewDevice(qdevice.DeviceConfig{
		Timeout:     s.timeout,
		SyncTimeout: s.syncTimeout,
		MasterWins:  s.masterWins,
		Dial:        dialVotequorum(o.socket),
		Log:         log,
	}, model)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { serveStatus(sctx, ln, dev.Status); close(done) }()
	log.Info("qdevice starting", "model", s.model, "config", o.file, "status_socket", o.statusSocket)
	err = dev.Run(ctx)
	cancel()
	<-done
	if err == nil {
		log.Info("qdevice stopped")
	}
	return err
}

// detach re-runs the daemon in the foreground in a new session, logging
// to syslog, as corosync-qdevice forks without -f, and returns at once.
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
	cmd := exec.Command(exe, append([]string{"-f", "-L"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	return cmd.Process.Release()
}
