package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Errors returned by this package; match them with errors.Is.
var (
	// ErrUnavailable: not root, not Linux, or ip / nft missing.
	ErrUnavailable = errors.New("netns: unavailable")
	// ErrBadHost: a host number outside 1..N, or a bad argument.
	ErrBadHost = errors.New("netns: bad host")
	// ErrClosed: the cluster has been closed.
	ErrClosed = errors.New("netns: cluster closed")
	// ErrRunning: Start on a host whose process is still running.
	ErrRunning = errors.New("netns: process already running")
	// ErrNotRunning: a signal or wait for a host with no running process.
	ErrNotRunning = errors.New("netns: no running process")
	// ErrTimeout: a process did not exit, or a link did not come up, in time.
	ErrTimeout = errors.New("netns: timeout")
)

// MaxHosts bounds the number of hosts of one cluster (addresses .1 to
// .MaxHosts of a /24).
const MaxHosts = 200

// DefaultMTU is the MTU of both ends of every veth pair.
const DefaultMTU = 1500

// Fixed interface names. Each cluster has a switch namespace of its own, so
// these never collide and stay far below the kernel's 15-character limit.
const (
	bridgeName = "br0"  // the bridge, in the switch namespace
	hostIf     = "eth0" // a host's end of its veth pair
	portPrefix = "p"    // p<i>: host i's end in the switch namespace
)

// nft table names used in host namespaces.
const (
	tableCut  = "corogo_cut"
	tablePart = "corogo_part"
	tableLoss = "corogo_loss"
)

// testNet is the only address range this package uses: every cluster's
// /24 lies inside it, and only inside the cluster's namespaces.
var testNet = netip.MustParsePrefix("10.213.0.0/16")

// Options configure Create.
type Options struct {
	// Hosts is the number of hosts, 1..MaxHosts. Host i (1-based) has
	// address .i of Subnet.
	Hosts int
	// Subnet is the hosts' /24, which must lie inside 10.213.0.0/16. The
	// zero value picks 10.213.k.0/24 with k from 1 to 250, different for
	// each cluster of a process (clusters are isolated from each other
	// anyway; the differing k only makes logs easier to read).
	Subnet netip.Prefix
	// Dir holds one directory per host (h1, h2, ...) with the process log,
	// run/ (bound over /run with Spec.PrivateRun) and state/. Empty: a new
	// temporary directory, removed by Close.
	Dir string
	// MTU of the veth pairs; 0 means DefaultMTU.
	MTU int
	// Logger receives one line per cluster operation; nil discards.
	Logger *slog.Logger
	// LinkTimeout bounds the wait for links to come up; 0 means 5 s.
	LinkTimeout time.Duration
}

// Host describes one simulated host.
type Host struct {
	Index  int          // 1-based host number
	NS     string       // network namespace name (ip netns exec NS ...)
	Addr   netip.Addr   // address on eth0
	Prefix netip.Prefix // the cluster's /24
	Dir    string       // per-host directory
	RunDir string       // Dir/run: bound over /run with Spec.PrivateRun
	State  string       // Dir/state: an empty directory for daemon state
	Log    string       // Dir/output.log: stdout and stderr of Start
}

// Cluster is a set of hosts on one bridge, all in network namespaces of
// their own. Its methods are safe for concurrent use. Host numbers are
// 1-based, like corosync node IDs.
type Cluster struct {
	log      *slog.Logger
	ipPath   string
	nftPath  string
	switchNS string
	hosts    []Host // hosts[0] is host 1
	dir      string
	ownDir   bool
	mtu      int
	linkWait time.Duration

	mu      sync.Mutex // guards the fields below
	closed  bool
	procs   []*proc // procs[i-1]: the last process started on host i
	sockets []io.Closer

	closeOnce sync.Once
	closeErr  error
}

var (
	clusterSeq atomic.Uint32
	staleOnce  sync.Once
)

// Available reports why clusters cannot be made here, or nil if they can:
// this needs Linux, root, and the ip (iproute2) and nft (nftables) programs.
func Available() error {
	if !supported {
		return fmt.Errorf("%w: needs Linux, this is %s", ErrUnavailable, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (euid %d)", ErrUnavailable, os.Geteuid())
	}
	for _, p := range []string{"ip", "nft"} {
		if _, err := lookTool(p); err != nil {
			return fmt.Errorf("%w: %v (apt-get install iproute2 nftables)", ErrUnavailable, err)
		}
	}
	return nil
}

// lookTool finds a system program in PATH or in the sbin directories, which
// a non-login root shell may lack in PATH.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or sbin", name)
}

// New makes a cluster of n hosts for a test: it skips the test when
// Available fails, fails it when the cluster cannot be made, keeps host
// directories in tb.TempDir(), logs to tb, and closes the cluster at the
// end of the test, printing the tail of every host's log if the test
// failed.
func New(tb testing.TB, n int) *Cluster {
	tb.Helper()
	return NewWith(tb, Options{Hosts: n})
}

// NewWith is New with options; empty Dir and nil Logger are filled in as New
// does.
func NewWith(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	if err := Available(); err != nil {
		tb.Skipf("skipping network namespace test: %v", err)
	}
	if opts.Dir == "" {
		opts.Dir = tb.TempDir()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(tb.Output(), nil))
	}
	c, err := Create(opts)
	if err != nil {
		tb.Fatalf("netns: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("netns: close: %v", err)
		}
		if tb.Failed() {
			for _, h := range c.hosts {
				if tail := logTail(h.Log, 16<<10); tail != "" {
					tb.Logf("--- output of host %d (%s, %s):\n%s", h.Index, h.NS, h.Log, tail)
				}
			}
		}
	})
	return c
}

// logTail returns at most limit bytes of the end of a file, "" if it is
// missing or empty.
func logTail(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return ""
	}
	off := max(fi.Size()-limit, 0)
	b := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(b, off)
	return string(b[:n])
}

// Create makes a cluster. The caller must Close it, also when a test fails.
func Create(opts Options) (_ *Cluster, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.Hosts < 1 || opts.Hosts > MaxHosts {
		return nil, fmt.Errorf("%w: %d hosts, want 1..%d", ErrBadHost, opts.Hosts, MaxHosts)
	}
	seq := clusterSeq.Add(1)
	subnet := opts.Subnet
	if !subnet.IsValid() {
		subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(1 + (seq-1)%250), 0}), 24)
	}
	subnet = subnet.Masked()
	if !subnet.Addr().Is4() || subnet.Bits() != 24 || !testNet.Contains(subnet.Addr()) {
		return nil, fmt.Errorf("netns: subnet %v: want a /24 inside %v", subnet, testNet)
	}
	mtu := opts.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < 68 || mtu > 65535 {
		return nil, fmt.Errorf("netns: MTU %d out of range", mtu)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{log: log, mtu: mtu, linkWait: opts.LinkTimeout}
	if c.linkWait <= 0 {
		c.linkWait = 5 * time.Second
	}
	if c.ipPath, err = lookTool("ip"); err != nil {
		return nil, err
	}
	if c.nftPath, err = lookTool("nft"); err != nil {
		return nil, err
	}
	c.dir = opts.Dir
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "netns-"); err != nil {
			return nil, fmt.Errorf("netns: %w", err)
		}
		c.ownDir = true
	}
	defer func() {
		if err != nil {
			if cerr := c.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	staleOnce.Do(func() {
		if removed, err := CleanupStale(log); err != nil {
			log.Warn("netns: stale namespace cleanup", "err", err)
		} else if len(removed) > 0 {
			log.Info("netns: removed stale namespaces", "ns", removed)
		}
	})

	prefix := nsPrefix + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(uint64(seq), 10)
	c.switchNS = prefix + "sw"
	c.procs = make([]*proc, opts.Hosts)
	for i := 1; i <= opts.Hosts; i++ {
		hd := filepath.Join(c.dir, "h"+strconv.Itoa(i))
		h := Host{
			Index:  i,
			NS:     prefix + "h" + strconv.Itoa(i),
			Addr:   hostAddr(subnet, i),
			Prefix: subnet,
			Dir:    hd,
			RunDir: filepath.Join(hd, "run"),
			State:  filepath.Join(hd, "state"),
			Log:    filepath.Join(hd, "output.log"),
		}
		for _, d := range []string{h.RunDir, h.State} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("netns: %w", err)
			}
		}
		c.hosts = append(c.hosts, h)
	}
	start := time.Now()
	if err := c.setup(); err != nil {
		return nil, err
	}
	c.log.Info("netns: cluster up", "hosts", len(c.hosts), "subnet", subnet, "switch", c.switchNS,
		"dir", c.dir, "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

func hostAddr(subnet netip.Prefix, i int) netip.Addr {
	a := subnet.Addr().As4()
	a[3] = byte(i)
	return netip.AddrFrom4(a)
}

// setup creates the namespaces, the bridge and the veth pairs, then waits
// for every link to come up. Every ip command names its namespace (-n) or
// manages namespaces; nothing is configured in the root namespace.
func (c *Cluster) setup() error {
	var b strings.Builder
	fmt.Fprintf(&b, "netns add %s\n", c.switchNS)
	for _, h := range c.hosts {
		fmt.Fprintf(&b, "netns add %s\n", h.NS)
	}
	if _, err := c.ipBatch("", b.String()); err != nil {
		return err
	}

	b.Reset()
	fmt.Fprintf(&b, "link set lo up\n")
	fmt.Fprintf(&b, "link add %s type bridge stp_state 0 forward_delay 0 mcast_snooping 0\n", bridgeName)
	fmt.Fprintf(&b, "link set %s up\n", bridgeName)
	for _, h := range c.hosts {
		p := portPrefix + strconv.Itoa(h.Index)
		fmt.Fprintf(&b, "link add %s mtu %d type veth peer name %s mtu %d netns %s\n", p, c.mtu, hostIf, c.mtu, h.NS)
		fmt.Fprintf(&b, "link set %s master %s\n", p, bridgeName)
		fmt.Fprintf(&b, "link set %s up\n", p)
	}
	if _, err := c.ipBatch(c.switchNS, b.String()); err != nil {
		return err
	}

	for _, h := range c.hosts {
		b.Reset()
		fmt.Fprintf(&b, "link set lo up\n")
		fmt.Fprintf(&b, "addr add %s/%d dev %s\n", h.Addr, h.Prefix.Bits(), hostIf)
		fmt.Fprintf(&b, "link set %s up\n", hostIf)
		// corosync's udp transport sends multicast; without a default
		// route (there is none, on purpose) it needs this one.
		fmt.Fprintf(&b, "route add 224.0.0.0/4 dev %s\n", hostIf)
		if _, err := c.ipBatch(h.NS, b.String()); err != nil {
			return err
		}
	}
	idx := make([]int, len(c.hosts))
	for k := range idx {
		idx[k] = k + 1
	}
	return c.waitLinks(idx)
}

// waitLinks polls until the bridge ports of the given hosts forward and
// their eth0 has carrier, at most c.linkWait.
func (c *Cluster) waitLinks(hosts []int) error {
	deadline := time.Now().Add(c.linkWait)
	const step = 20 * time.Millisecond
	pending := append([]int(nil), hosts...)
	for tries := 0; ; tries++ {
		var still []int
		for _, i := range pending {
			ok, err := c.linkReady(i)
			if err != nil {
				return err
			}
			if !ok {
				still = append(still, i)
			}
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) || tries > int(c.linkWait/step)+10 {
			return fmt.Errorf("%w: links of hosts %v not up after %v", ErrTimeout, pending, c.linkWait)
		}
		time.Sleep(step)
	}
}

func (c *Cluster) linkReady(i int) (bool, error) {
	port, err := c.ipOut(c.switchNS, "-o", "-d", "link", "show", "dev", portPrefix+strconv.Itoa(i))
	if err != nil {
		return false, err
	}
	if !strings.Contains(port, ",LOWER_UP>") || !strings.Contains(port, "bridge_slave state forwarding") {
		return false, nil
	}
	eth, err := c.ipOut(c.hosts[i-1].NS, "-o", "link", "show", "dev", hostIf)
	if err != nil {
		return false, err
	}
	return strings.Contains(eth, ",LOWER_UP>") && strings.Contains(eth, " state UP "), nil
}

// ipBatch runs ip -batch - with script, inside namespace ns ("" only for
// netns add/del, which manage namespaces and touch no interface).
func (c *Cluster) ipBatch(ns, script string) (string, error) {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return runTool(script, c.ipPath, args...)
}

// ipOut runs ip -n ns args.
func (c *Cluster) ipOut(ns string, args ...string) (string, error) {
	return runTool("", c.ipPath, append([]string{"-n", ns}, args...)...)
}

// runTool runs a management command from the test process (ip selects its
// namespace itself), bounded to 30 s.
func runTool(stdin, path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("netns: %s %s: %w: %s", filepath.Base(path), strings.Join(args, " "),
			err, strings.TrimSpace(firstLines(stdin+"\n"+out.String(), 20)))
	}
	return out.String(), nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}

// N returns the number of hosts.
func (c *Cluster) N() int { return len(c.hosts) }

// Host returns host i (1-based). It panics if i is out of range, like an
// index expression.
func (c *Cluster) Host(i int) Host {
	if i < 1 || i > len(c.hosts) {
		panic(fmt.Sprintf("netns: host %d of %d", i, len(c.hosts)))
	}
	return c.hosts[i-1]
}

// Hosts returns all hosts, host 1 first.
func (c *Cluster) Hosts() []Host { return append([]Host(nil), c.hosts...) }

// SwitchNS returns the name of the namespace holding the bridge.
func (c *Cluster) SwitchNS() string { return c.switchNS }

// Dir returns the directory holding the host directories.
func (c *Cluster) Dir() string { return c.dir }

func (c *Cluster) host(i int) (Host, error) {
	if i < 1 || i > len(c.hosts) {
		return Host{}, fmt.Errorf("%w: host %d of %d", ErrBadHost, i, len(c.hosts))
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return Host{}, ErrClosed
	}
	return c.hosts[i-1], nil
}

// nsPath is where ip netns binds namespace name.
func nsPath(name string) string {
	for _, d := range []string{"/run/netns", "/var/run/netns"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join("/run/netns", name)
}

// Exec runs a program inside host i's network namespace and returns its
// combined output, bounded to 30 s. Its error includes the output.
func (c *Cluster) Exec(i int, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.ExecContext(ctx, i, args...)
}

// ExecContext is Exec with a context that bounds the run.
func (c *Cluster) ExecContext(ctx context.Context, i int, args ...string) ([]byte, error) {
	h, err := c.host(i)
	if err != nil {
		return nil, err
	}
	out, err := c.nsRun(ctx, h.NS, nil, args...)
	return []byte(out), err
}

// nsRun runs args inside namespace ns with stdin, returning the combined
// output.
func (c *Cluster) nsRun(ctx context.Context, ns string, stdin []byte, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("netns: exec: no program")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		if path, err = lookTool(args[0]); err != nil {
			return "", fmt.Errorf("netns: exec: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = procAttr(false)
	if err := inNetns(nsPath(ns), cmd.Start); err != nil {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return "", fmt.Errorf("netns: exec in %s: %s: %w", ns, strings.Join(args, " "), err)
	}
	if err := cmd.Wait(); err != nil {
		return out.String(), fmt.Errorf("netns: exec in %s: %s: %w: %s", ns, strings.Join(args, " "), err,
			strings.TrimSpace(firstLines(out.String(), 20)))
	}
	return out.String(), nil
}

// literalAddr rejects addresses whose host part is a name: resolving it
// would run on other threads, in the test process's own namespace, and
// could query a DNS server outside the cluster. Unix socket addresses
// (abstract ones are per network namespace) need no resolution.
func literalAddr(network, address string) error {
	if strings.HasPrefix(network, "unix") {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrBadHost, address, err)
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%w: address %q: want an IP literal, not a name", ErrBadHost, address)
	}
	return nil
}

// ListenPacket opens a packet socket inside host i's namespace, as
// net.ListenPacket would there (address "10.213.k.i:5405", ":0", ...; IP
// literals only, no names; unix networks allowed: abstract unix sockets are
// per network namespace). The socket stays in that namespace whatever goroutine uses it. Close closes it
// if the caller has not.
func (c *Cluster) ListenPacket(i int, network, address string) (net.PacketConn, error) {
	if err := literalAddr(network, address); err != nil {
		return nil, err
	}
	h, err := c.host(i)
	if err != nil {
		return nil, err
	}
	var pc net.PacketConn
	err = inNetns(nsPath(h.NS), func() error {
		var err error
		pc, err = net.ListenPacket(network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: listen %s %s on host %d: %w", network, address, i, err)
	}
	c.track(pc)
	return pc, nil
}

// Listen opens a stream listener inside host i's namespace (addresses as
// for ListenPacket).
func (c *Cluster) Listen(i int, network, address string) (net.Listener, error) {
	if err := literalAddr(network, address); err != nil {
		return nil, err
	}
	h, err := c.host(i)
	if err != nil {
		return nil, err
	}
	var l net.Listener
	err = inNetns(nsPath(h.NS), func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: listen %s %s on host %d: %w", network, address, i, err)
	}
	c.track(l)
	return l, nil
}

// Dial connects from inside host i's namespace, bounded to 5 s (addresses
// as for ListenPacket). Only addresses inside the cluster, its loopback and
// abstract unix sockets of the namespace are reachable from there.
func (c *Cluster) Dial(i int, network, address string) (net.Conn, error) {
	if err := literalAddr(network, address); err != nil {
		return nil, err
	}
	h, err := c.host(i)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	err = inNetns(nsPath(h.NS), func() error {
		var err error
		conn, err = net.DialTimeout(network, address, 5*time.Second)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: dial %s %s from host %d: %w", network, address, i, err)
	}
	c.track(conn)
	return conn, nil
}

func (c *Cluster) track(cl io.Closer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = cl.Close()
		return
	}
	c.sockets = append(c.sockets, cl)
}

// Close stops every process started on the cluster (SIGKILL, by PID), kills
// any other process left inside its namespaces, closes the sockets it
// opened, deletes all its namespaces (which removes the bridge and the veth
// pairs) and removes the directory it created. It is idempotent and safe to
// call on a partly made cluster.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Cluster) close() error {
	c.mu.Lock()
	c.closed = true
	procs := append([]*proc(nil), c.procs...)
	sockets := c.sockets
	c.sockets = nil
	c.mu.Unlock()

	var errs []error
	for i, p := range procs {
		if p == nil {
			continue
		}
		if err := p.kill(10 * time.Second); err != nil && !errors.Is(err, ErrNotRunning) {
			errs = append(errs, fmt.Errorf("host %d: %w", i+1, err))
		}
	}
	for _, s := range sockets {
		_ = s.Close()
	}
	names := make([]string, 0, len(c.hosts)+1)
	for _, h := range c.hosts {
		names = append(names, h.NS)
	}
	if c.switchNS != "" { // empty if Create failed early
		names = append(names, c.switchNS)
	}
	if err := deleteNamespaces(c.ipPath, names, c.log); err != nil {
		errs = append(errs, err)
	}
	if c.ownDir {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	c.log.Info("netns: cluster closed", "switch", c.switchNS)
	return errors.Join(errs...)
}
