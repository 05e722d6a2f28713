package netns

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nsPrefix starts every namespace name: cg<pid>-<seq>sw for the switch,
// cg<pid>-<seq>h<i> for host i, where pid is the test process and seq counts
// the clusters it made.
const nsPrefix = "cg"

var nsNameRE = regexp.MustCompile(`^` + nsPrefix + `([0-9]+)-([0-9]+)(sw|h[0-9]+)$`)

// CleanupStale deletes the namespaces of this package left behind by test
// processes that no longer exist (a crashed or killed run), after killing,
// by PID, any process still inside them. Namespaces of live processes,
// including this one, are left alone. It returns the names it deleted.
// Create calls it once per process.
func CleanupStale(log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ip, err := lookTool("ip")
	if err != nil {
		return nil, err
	}
	names, err := listNamespaces(ip)
	if err != nil {
		return nil, err
	}
	var stale []string
	for _, n := range names {
		m := nsNameRE.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || pidAlive(pid) {
			continue
		}
		stale = append(stale, n)
	}
	if len(stale) == 0 {
		return nil, nil
	}
	return stale, deleteNamespaces(ip, stale, log)
}

// pidAlive reports whether a process with this PID exists.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// listNamespaces returns the names ip netns list prints.
func listNamespaces(ip string) ([]string, error) {
	out, err := runTool("", ip, "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// deleteNamespaces kills the processes inside each named namespace (by PID,
// never this process) and deletes the namespace. Missing namespaces are
// skipped.
func deleteNamespaces(ip string, names []string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, n := range names {
		if !nsNameRE.MatchString(n) {
			errs = append(errs, fmt.Errorf("netns: refusing to delete namespace %q: not one of ours", n))
			continue
		}
		if _, err := os.Stat(nsPath(n)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		// Another process (or a concurrent CleanupStale) may delete the
		// namespace meanwhile: an error about a namespace that is gone
		// is no error.
		gone := func() bool {
			_, err := os.Stat(nsPath(n))
			return errors.Is(err, os.ErrNotExist)
		}
		if err := killInside(ip, n, log); err != nil && !gone() {
			errs = append(errs, err)
		}
		if _, err := runTool("", ip, "netns", "del", n); err != nil && !gone() {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killInside sends SIGKILL, by PID, to every process whose network
// namespace is ns (as ip netns pids finds them), except this process, and
// waits up to 2 s for them to go.
func killInside(ip, ns string, log *slog.Logger) error {
	out, err := runTool("", ip, "netns", "pids", ns)
	if err != nil {
		return err
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + f + "/cmdline")
		log.Warn("netns: killing leftover process", "ns", ns, "pid", pid,
			"cmd", strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			pids = append(pids, pid)
		}
	}
	// A killed process that is not our child is reaped by its parent or
	// init; a zombie no longer holds the namespace, so wait only while the
	// process is neither gone nor a zombie.
	for tries := 0; tries < 100 && len(pids) > 0; tries++ {
		var left []int
		for _, pid := range pids {
			if pidAlive(pid) && !zombie(pid) {
				left = append(left, pid)
			}
		}
		pids = left
		if len(pids) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	if k := strings.LastIndexByte(s, ')'); k >= 0 && k+2 < len(s) {
		return s[k+2] == 'Z' || s[k+2] == 'X'
	}
	return false
}
