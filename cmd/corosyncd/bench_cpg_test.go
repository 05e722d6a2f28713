package main

// TestNetnsCPGBenchmark measures CPG throughput, delivery latency, daemon
// CPU and RSS of corosyncd and of the real corosync 3.1.7 on the same
// 3-host namespace cluster, in one run, as shared/bench/corosync/bench.sh
// does for corosync alone. It is a benchmark: skipped unless
// COROGO_CPGBENCH=1; it needs root, ip, nft, and for the corosync side the
// corosync binary and libcpg-dev (to build shared/bench/corosync/src/cpgload.c).
//
//	COROGO_CPGBENCH=1 go test ./cmd/corosyncd/ -run TestNetnsCPGBenchmark -v -count=1 -timeout 60m
//
// Environment:
//
//	COROGO_CPGBENCH=1            run it
//	COROGO_CPGBENCH_IMPL=LIST    corosyncd,corosync (default both)
//	COROGO_CPGBENCH_SIZES=LIST   message sizes (default 64,1024,16384,65536)
//	COROGO_CPGBENCH_DUR=SECONDS  length of one throughput run (default 8)
//	COROGO_CPGBENCH_REPS=R       runs per size and mode (default 3; the median is reported)
//	COROGO_CPGBENCH_OUT=FILE     also write the tables (markdown) to FILE
//
// Setup, for both implementations alike: udpu, default timers, crypto off,
// debug off, quorum.provider corosync_votequorum, system.sched_rr: no (so
// neither uses real-time scheduling), the configuration of the baseline's
// "sched_rr: no" runs. Clients: cmd/cpgbench on corosyncd, cpgload (the
// baseline's libcpg client, same payload and hash chain) on corosync. One
// throughput run: every host runs a client that joins the group; host 1
// sends (mode "one") or all three send (mode "all") as fast as flow control
// allows for DUR seconds; the figure is the receiving host 2's delivery
// rate between its first and last delivery (as the baseline counts). The
// hash chains of the three hosts must be equal. Latency: host 1 sends 64 B
// at 1,000 msgs/s for 10 s; p50/p99 over hosts 2 and 3; the CPU the three
// daemons burn meanwhile (from /proc/PID/stat) is reported in cores. RSS is
// the largest VmRSS of a daemon sampled during the throughput runs.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corogo/corogo/internal/netns"
)

type cbResult map[string]string

func (r cbResult) f(keys ...string) float64 {
	for _, k := range keys {
		if v, ok := r[k]; ok {
			x, _ := strconv.ParseFloat(v, 64)
			return x
		}
	}
	return 0
}

func parseResult(out string) (cbResult, bool) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "RESULT ") {
			continue
		}
		r := cbResult{}
		for _, f := range strings.Fields(line)[1:] {
			if k, v, ok := strings.Cut(f, "="); ok {
				r[k] = v
			}
		}
		return r, true
	}
	return nil, false
}

// procTicks returns utime+stime of pid in clock ticks (1/100 s).
func procTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

func procRSSKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

type cbBench struct {
	t       *testing.T
	b       *bnCluster
	impl    string
	client  string // cpgbench or cpgload
	maxRSS  int64
	results []string // table rows
}

// run runs one measurement: clients on the 3 hosts; senders lists the
// sending hosts. It returns every host's RESULT and the daemons' CPU in
// cores over the run.
func (cb *cbBench) run(label string, size int, dur time.Duration, rate int, senders []int) (map[int]cbResult, float64) {
	t := cb.t
	c := cb.b.c
	pids := []int{c.PID(1), c.PID(2), c.PID(3)}
	var t0 int64
	for _, p := range pids {
		t0 += procTicks(p)
	}
	start := time.Now()
	stop := make(chan struct{})
	var wgRSS sync.WaitGroup
	wgRSS.Add(1)
	go func() {
		defer wgRSS.Done()
		tk := time.NewTicker(500 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				for _, p := range pids {
					if r := procRSSKiB(p); r > cb.maxRSS {
						cb.maxRSS = r
					}
				}
			}
		}
	}()
	outs := make(map[int]cbResult)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), dur+3*time.Minute)
	defer cancel()
	for i := 1; i <= 3; i++ {
		send := slices.Contains(senders, i)
		var args []string
		h := c.Host(i)
		if cb.impl == bnOurs {
			args = []string{"ip", "netns", "exec", h.NS, "env", "COROSYNCD_SOCKET=" + bnSocket(h), cb.client,
				"-members", "3", "-senders", strconv.Itoa(len(senders)), "-size", strconv.Itoa(size),
				"-duration", dur.String(), "-rate", strconv.Itoa(rate), "-label", label}
			if send {
				args = append(args, "-send")
			}
		} else {
			args = []string{"ip", "netns", "exec", h.NS, cb.client,
				"-N", "3", "-S", strconv.Itoa(len(senders)), "-s", strconv.Itoa(size),
				"-d", strconv.FormatFloat(dur.Seconds(), 'f', -1, 64), "-r", strconv.Itoa(rate), "-l", label}
			if send {
				args = append(args, "-x")
			}
		}
		wg.Add(1)
		go func(i int, args []string) {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, args[0], args[1:]...)
			out, err := cmd.CombinedOutput()
			r, ok := parseResult(string(out))
			if !ok {
				t.Errorf("%s host %d: no RESULT (err %v): %s", label, i, err, out)
				return
			}
			mu.Lock()
			outs[i] = r
			mu.Unlock()
		}(i, args)
	}
	wg.Wait()
	close(stop)
	wgRSS.Wait()
	var t1 int64
	for _, p := range pids {
		t1 += procTicks(p)
	}
	cores := float64(t1-t0) / 100 / time.Since(start).Seconds()
	return outs, cores
}

func TestNetnsCPGBenchmark(t *testing.T) {
	if os.Getenv("COROGO_CPGBENCH") != "1" {
		t.Skip("benchmark: set COROGO_CPGBENCH=1 to run it")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("skipping benchmark: %v", err)
	}
	impls := []string{bnOurs, bnTheirs}
	if s := os.Getenv("COROGO_CPGBENCH_IMPL"); s != "" {
		impls = strings.Split(s, ",")
	}
	sizes := []int{64, 1024, 16384, 65536}
	if s := os.Getenv("COROGO_CPGBENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("COROGO_CPGBENCH_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	dur := 8 * time.Second
	if s := os.Getenv("COROGO_CPGBENCH_DUR"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		dur = time.Duration(n) * time.Second
	}
	reps := 3
	if s := os.Getenv("COROGO_CPGBENCH_REPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("COROGO_CPGBENCH_REPS=%q", s)
		}
		reps = n
	}
	daemon := nsBuild(t)
	tmp := t.TempDir()
	cpgbench := filepath.Join(tmp, "cpgbench")
	if out, err := exec.Command("go", "build", "-o", cpgbench, "../cpgbench").CombinedOutput(); err != nil {
		t.Fatalf("build cpgbench: %v\n%s", err, out)
	}
	var corosync, cpgload string
	if slices.Contains(impls, bnTheirs) {
		var err error
		if corosync, err = mxLookCorosync(); err != nil {
			t.Logf("corosync side skipped: %v", err)
			impls = slices.DeleteFunc(impls, func(s string) bool { return s == bnTheirs })
		} else {
			src := filepath.Join("..", "..", "..", "shared", "bench", "corosync", "src", "cpgload.c")
			cpgload = filepath.Join(tmp, "cpgload")
			if out, err := exec.Command("gcc", "-O2", "-Wall", "-o", cpgload, src, "-lcpg", "-lqb").CombinedOutput(); err != nil {
				t.Logf("corosync side skipped: cannot build %s: %v\n%s", src, err, out)
				impls = slices.DeleteFunc(impls, func(s string) bool { return s == bnTheirs })
			}
		}
	}
	var table strings.Builder
	table.WriteString("| implementation | size | senders | msgs/s at host 2 | MB/s | daemons' CPU (cores) | p50 µs | p99 µs | hashes equal |\n|---|---|---|---|---|---|---|---|---|\n")
	var extra []string
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			opts := netns.Options{Hosts: 3, Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
			c := netns.NewWith(t, opts)
			cfg := bnConfig{impl: impl, n: 3, timers: bnDefaultTimers}
			b := &bnCluster{t: t, c: c, cfg: cfg, daemon: daemon, corosync: corosync, res: &bnResults{}}
			hosts := c.Hosts()
			for _, h := range hosts {
				conf := filepath.Join(h.Dir, "corosync.conf")
				logf := filepath.Join(h.Dir, "corosync.log")
				tc := testConf{cluster: "cbbench", token: 0, coef: -1, logfile: logf, stateDir: h.State, noSchedRR: true, quiet: true, votequorum: true}
				if err := os.WriteFile(conf, []byte(tc.text(hosts)), 0o644); err != nil {
					t.Fatal(err)
				}
				b.conf = append(b.conf, conf)
				b.logs = append(b.logs, logf)
			}
			t.Cleanup(b.stopAll)
			for i := 1; i <= 3; i++ {
				b.start(i)
			}
			// Wait until every host completed a sync of the ring of 3.
			deadline := time.Now().Add(60 * time.Second)
			for {
				done := 0
				for i := 1; i <= 3; i++ {
					ls := b.lines(i, 0)
					rings := 0
					for _, l := range ls {
						if strings.Contains(l, "Completed service synchronization") {
							rings++
						}
					}
					if rings > 0 {
						done++
					}
				}
				if done == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("cluster did not sync")
				}
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(5 * time.Second) // ring of 3 settled (bench.sh sleeps 2 s after its wait)
			cb := &cbBench{t: t, b: b, impl: impl, client: cpgbench}
			if impl == bnTheirs {
				cb.client = cpgload
			}
			name := impl
			if impl == bnTheirs {
				name = "corosync 3.1.7"
			}
			for _, size := range sizes {
				for _, mode := range []string{"one", "all"} {
					senders := []int{1}
					if mode == "all" {
						senders = []int{1, 2, 3}
					}
					var rates, mbs, cpus []float64
					hashes := true
					for rep := 1; rep <= reps; rep++ {
						label := fmt.Sprintf("%s-%d-%s-%d", impl, size, mode, rep)
						outs, cores := cb.run(label, size, dur, 0, senders)
						r2 := outs[2]
						rate := r2.f("msgs_per_s", "msg_per_s")
						mb := r2.f("mb_per_s", "MB_per_s")
						h := map[string]bool{}
						for _, r := range outs {
							h[r["hash"]] = true
						}
						if len(h) != 1 || len(outs) != 3 {
							hashes = false
						}
						t.Logf("%s: host 2 %.0f msgs/s %.2f MB/s, daemons %.2f cores, hashes %v", label, rate, mb, cores, h)
						rates, mbs, cpus = append(rates, rate), append(mbs, mb), append(cpus, cores)
					}
					fmt.Fprintf(&table, "| %s | %d | %d | %.0f | %.2f | %.2f | | | %v |\n", name, size, len(senders),
						median(rates), median(mbs), median(cpus), hashes)
				}
			}
			// Latency at a light load.
			var p50s, p99s, cpus []float64
			hashes := true
			for rep := 1; rep <= reps; rep++ {
				label := fmt.Sprintf("%s-lat-%d", impl, rep)
				outs, cores := cb.run(label, 64, 10*time.Second, 1000, []int{1})
				for _, i := range []int{2, 3} {
					p50s = append(p50s, outs[i].f("lat_p50_us"))
					p99s = append(p99s, outs[i].f("lat_p99_us"))
				}
				h := map[string]bool{}
				for _, r := range outs {
					h[r["hash"]] = true
				}
				hashes = hashes && len(h) == 1
				cpus = append(cpus, cores)
				t.Logf("%s: p50 %s/%s µs p99 %s/%s µs, daemons %.2f cores", label, outs[2]["lat_p50_us"], outs[3]["lat_p50_us"],
					outs[2]["lat_p99_us"], outs[3]["lat_p99_us"], cores)
			}
			fmt.Fprintf(&table, "| %s | 64 @ 1000/s | 1 | | | %.2f | %.0f | %.0f | %v |\n", name, median(cpus), median(p50s), median(p99s), hashes)
			extra = append(extra, fmt.Sprintf("%s: largest daemon RSS during the runs %.1f MB", name, float64(cb.maxRSS)/1024))
		})
	}
	out := table.String() + "\n" + strings.Join(extra, "\n") + "\n"
	t.Logf("results (udpu, sched_rr no, %s per throughput run, median of %d):\n%s", dur, reps, out)
	if f := os.Getenv("COROGO_CPGBENCH_OUT"); f != "" {
		if err := os.WriteFile(f, []byte(out), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
