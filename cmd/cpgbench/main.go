// Command cpgbench is the CPG benchmark client: one process per node, each
// talking to its node's corosyncd, measures throughput, delivery latency
// and agreed ordering of a process group.
//
//	cpgbench [-group NAME] [-members N] [-senders N] [-send] [-size BYTES]
//	         [-duration D] [-rate N] [-count N] [-timeout D] [-label S] [-safe]
//	         [-socket PATH] [-pid PID]
//
// Every instance joins the group and waits until it has -members members;
// instances started with -send multicast messages of -size bytes for
// -duration (at -rate messages/s, or as fast as flow control allows),
// then one END marker. Every instance counts the deliveries, measures the
// latency of each data message from the CLOCK_MONOTONIC timestamp in it
// (processes of one machine share that clock), checks each sender's
// sequence numbers and folds (node id, pid, seq, type) of every delivered
// message into an FNV-1a 64 hash chain. It stops once END markers from
// -senders senders were delivered, or after -timeout (default
// duration+90s), and prints one line:
//
//	RESULT msgs_per_s=… mb_per_s=… lat_p50_us=… lat_p99_us=… delivered=… hash=%016x label=… node=… role=send|recv size=… guarantee=agreed|safe members=… senders_seen=… ends=… incomplete=0|1 rx_bytes=… window_s=… lat_n=… lat_max_us=… seq_errors=… foreign=… [sent=… send_s=… send_rate=… tryagain=…] cpu_s=… rx_msgs=… msg_per_s=… MB_per_s=…
//
// Rates are over the window from the first to the last data delivery (MB
// are 10^6 bytes); tryagain counts the messages that flow control (or full
// buffers) made wait; the last three fields repeat values under cpgload's
// names for the baseline's scripts.
//
// The payload, the hash and the statistics are those of the corosync
// baseline's cpgload (shared/bench/corosync/src/cpgload.c): cpgbench on
// corosyncd and cpgload on corosync can be compared, and in a mixed ring
// every instance of either must print the same hash.
//
// Exit status: 0 success, 2 errors, 3 the members never arrived, 4 not
// every END marker was delivered.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		// One P, as for the daemon: the client is a loop of socket reads
		// and writes, and cross-thread wake-ups cost more than they give.
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	if path := os.Getenv("CPGBENCH_CPUPROFILE"); path != "" {
		// A CPU profile of the client, for performance work.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer f.Close()
			}
		}
	}
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	stop()
	var ce *codeError
	if err != nil && !errors.Is(err, flag.ErrHelp) && !(errors.As(err, &ce) && ce.quiet) {
		fmt.Fprintln(os.Stderr, "cpgbench:", err)
	}
	os.Exit(exitCode(err))
}
