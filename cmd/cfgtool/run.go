package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/corogo/corogo/internal/getopt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/client/cfgclient"
	"github.com/corogo/corogo/internal/client/cmapclient"
)

const prog = "cfgtool"

// killReason is the reason sent with -k, as corosync-cfgtool sends it (the
// killed node logs "Killed by node N: <reason>").
const killReason = "Killed by corosync-cfgtool"

// reloadErrorKey is the cmap key in which corosync leaves the error of a
// reload that could not be applied.
const reloadErrorKey = "config.reload_error_message"

// Shutdown retries: corosync-cfgtool retries a busy daemon 30 times, a
// second apart.
const (
	shutdownTries = 30
	retryDelay    = time.Second
)

type action int

const (
	actNone action = iota
	actLinkStatus
	actNodeStatus
	actReload
	actReopenLogs
	actShutdown
	actShowAddrs
	actKillNode
)

var options = []getopt.Option{
	{Short: 'i', Long: "if", Arg: true},
	{Short: 's', Long: "status"},
	{Short: 'n', Long: "nodes"},
	{Short: 'b', Long: "brief"},
	{Short: 'r'}, // ring re-enable: gone in corosync 3, accepted and ignored
	{Short: 'R', Long: "reload"},
	{Short: 'L', Long: "reopen"},
	{Short: 'k', Long: "kill", Arg: true},
	{Short: 'a', Long: "address", Arg: true},
	{Short: 'h', Long: "help"},
	{Short: 'H', Long: "shutdown"},
	{Long: "force"},
	{Long: "socket", Arg: true, Single: true},
}

// tool is one invocation.
type tool struct {
	stdout, stderr io.Writer
	socket         string
	sleep          func(context.Context, time.Duration) error
}

// run runs cfgtool with args (without the program name) and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := &tool{stdout: stdout, stderr: stderr, sleep: sleepCtx}
	return t.run(ctx, args)
}

func (t *tool) run(ctx context.Context, args []string) int {
	parsed, _, err := getopt.Parse(args, options)
	if err != nil {
		fmt.Fprintf(t.stderr, "%s: %v\n", prog, err)
		return 1
	}
	act := actNone
	var (
		iface  string
		brief  bool
		force  bool
		nodeID uint32
	)
	for _, p := range parsed {
		switch {
		case p.Opt.Long == "force":
			force = true
		case p.Opt.Long == "socket":
			t.socket = p.Value
		}
		switch p.Opt.Short {
		case 'i':
			iface = p.Value
		case 's':
			act = actLinkStatus
		case 'n':
			act = actNodeStatus
		case 'b':
			brief = true
		case 'R':
			act = actReload
		case 'L':
			act = actReopenLogs
		case 'k', 'a':
			id, ok := parseNodeID(p.Value)
			if !ok {
				fmt.Fprintln(t.stderr, "The nodeid was not valid, try a positive number")
				return 1
			}
			nodeID = id
			act = actKillNode
			if p.Opt.Short == 'a' {
				act = actShowAddrs
			}
		case 'H':
			act = actShutdown
		}
	}
	switch act {
	case actLinkStatus, actNodeStatus:
		return t.status(ctx, act, iface, brief)
	case actReload:
		return t.reload(ctx)
	case actReopenLogs:
		return t.reopenLogs(ctx)
	case actKillNode:
		return t.killNode(ctx, nodeID)
	case actShutdown:
		return t.shutdown(ctx, force)
	case actShowAddrs:
		return t.showAddrs(ctx, nodeID)
	}
	t.usage()
	return 0
}

// parseNodeID accepts a decimal node id from 1 to 2³²-1, as corosync's
// util_strtonum(optarg, 1, UINT_MAX).
func parseNodeID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

func (t *tool) usage() {
	fmt.Fprintf(t.stdout, `%[1]s [[-i IP|LINK] [-b] -s] [-n] [-R] [-L] [-k NODEID] [-a NODEID] [-h] [-H [--force]] [--socket PATH]

Show and change the state of corosyncd on this node (corosync-cfgtool).
options:
	-s	Show the status of this node's links to every node.
	-b	With -s: one status character per node (n: this node; else
		1 enabled + 2 connected).
	-i	With -s: only the link with this number or local address.
	-n	Show the reachable nodes and their links.
	-R	Make every node reload its configuration file.
	-L	Reopen the log files (not supported by corosyncd).
	-k	Ask the node with this id to shut down.
	-a	Show the addresses of the node with this id.
	-h	Show this help.
	-H	Shut this node's corosyncd down.
		--force: regardless of other daemons' objections.
	--socket PATH
		corosyncd's socket (default $COROSYNCD_SOCKET, else
		/run/corosyncd/corosyncd.sock).
`, prog)
}

func (t *tool) dialCfg(ctx context.Context) (*cfgclient.Client, bool) {
	c, err := cfgclient.Dial(ctx, t.socket)
	if err != nil {
		fmt.Fprintf(t.stderr, "Could not initialize corosync configuration API error: %v\n", err)
		return nil, false
	}
	return c, true
}

func (t *tool) dialCmap(ctx context.Context) (*cmapclient.Client, bool) {
	c, err := cmapclient.Dial(ctx, t.socket)
	if err != nil {
		fmt.Fprintf(t.stderr, "Could not initialize corosync cmap API error: %v\n", err)
		return nil, false
	}
	return c, true
}

// csError names err's status as corosync's cs_strerror does, or gives
// the error itself when the request did not get an answer.
func csError(err error) string {
	if se, ok := errors.AsType[*client.StatusError](err); ok {
		return se.CSName()
	}
	return err.Error()
}

// status serves -s and -n.
func (t *tool) status(ctx context.Context, act action, iface string, brief bool) int {
	c, ok := t.dialCfg(ctx)
	if !ok {
		return 1
	}
	defer c.Close()
	local, err := c.LocalNodeID(ctx)
	if err != nil {
		fmt.Fprintf(t.stderr, "Could not get the local node id, the error is: %s\n", csError(err))
		return 1
	}
	links, err := c.RingStatus(ctx)
	if err != nil {
		fmt.Fprintf(t.stderr, "Could not get the link status, the error is: %s\n", csError(err))
		return 1
	}
	if len(links) == 0 {
		fmt.Fprintln(t.stderr, "No nodes found in nodelist")
		return 1
	}
	if act == actLinkStatus {
		writeLinkStatus(t.stdout, local, links, iface, brief)
		return 0
	}
	var statuses []cfgclient.NodeStatus
	for _, id := range nodeIDs(local, links) {
		if id == local {
			continue
		}
		s, err := c.NodeStatus(ctx, id)
		if err != nil {
			if ctx.Err() != nil || !errors.Is(err, client.ErrNotExist) {
				fmt.Fprintf(t.stderr, "Could not get the node status for nodeid %d, the error is: %s\n", id, csError(err))
			}
			continue
		}
		statuses = append(statuses, s)
	}
	writeNodeStatus(t.stdout, local, transportOf(links), statuses)
	return 0
}

// reload serves -R.
func (t *tool) reload(ctx context.Context) int {
	fmt.Fprintln(t.stdout, "Reloading corosync.conf...")
	c, ok := t.dialCfg(ctx)
	if !ok {
		return 1
	}
	rc := 0
	if err := c.Reload(ctx); err != nil {
		fmt.Fprintf(t.stderr, "Could not reload configuration. Error %s\n", csError(err))
		rc = 1
	} else {
		fmt.Fprintln(t.stdout, "Done")
	}
	c.Close()

	// As corosync-cfgtool: a reload may be accepted and still fail to
	// apply; the daemon then leaves the error in cmap.
	m, ok := t.dialCmap(ctx)
	if !ok {
		return 1
	}
	defer m.Close()
	kv, err := m.Get(ctx, reloadErrorKey)
	if err == nil {
		fmt.Fprintf(t.stdout, "ERROR from reload: %v - see syslog for more information\n", kv.Value)
		fmt.Fprintln(t.stderr, "Errors in applying config, corosync.conf might not match the running system")
		rc = 1
	} else if !errors.Is(err, client.ErrNotExist) {
		fmt.Fprintf(t.stderr, "Could not check the result of the reload: %s\n", csError(err))
		rc = 1
	}
	return rc
}

// reopenLogs serves -L, which corosyncd does not offer.
func (t *tool) reopenLogs(ctx context.Context) int {
	c, ok := t.dialCfg(ctx)
	if !ok {
		return 1
	}
	c.Close()
	fmt.Fprintln(t.stderr, "Could not reopen corosync logging files. Error CS_ERR_NOT_SUPPORTED")
	return 1
}

// killNode serves -k.
func (t *tool) killNode(ctx context.Context, id uint32) int {
	fmt.Fprintf(t.stdout, "Killing node %d\n", id)
	c, ok := t.dialCfg(ctx)
	if !ok {
		return 1
	}
	defer c.Close()
	if err := c.KillNode(ctx, id, killReason); err != nil {
		fmt.Fprintf(t.stderr, "Could not kill node (error = %s)\n", csError(err))
		return 1
	}
	return 0
}

// shutdown serves -H, retrying while the daemon is busy.
func (t *tool) shutdown(ctx context.Context, force bool) int {
	c, ok := t.dialCfg(ctx)
	if !ok {
		return 1
	}
	defer c.Close()
	flags := cfgclient.ShutdownRequest
	if force {
		flags = cfgclient.ShutdownRegardless
	}
	fmt.Fprintln(t.stdout, "Shutting down corosync")
	var err error
	for try := 0; ; try++ {
		err = c.Shutdown(ctx, flags)
		if !errors.Is(err, client.ErrTryAgain) || try+1 >= shutdownTries {
			break
		}
		if serr := t.sleep(ctx, retryDelay); serr != nil {
			err = serr
			break
		}
	}
	if err != nil {
		fmt.Fprintf(t.stderr, "Could not shutdown (error = %s)\n", csError(err))
		return 1
	}
	return 0
}

// showAddrs serves -a: the node's address on each link, in link order.
func (t *tool) showAddrs(ctx context.Context, id uint32) int {
	c, ok := t.dialCfg(ctx)
	if !ok {
		return 1
	}
	defer c.Close()
	s, err := c.NodeStatus(ctx, id)
	if err != nil {
		fmt.Fprintf(t.stderr, "Could not get node address for nodeid %d\n", id)
		return 1
	}
	fmt.Fprintln(t.stdout, strings.Join(nodeAddrs(s), " "))
	return 0
}

// nodeAddrs returns the node's addresses, by link number, without ports
// or duplicates.
func nodeAddrs(s cfgclient.NodeStatus) []string {
	links := slices.Clone(s.Links)
	slices.SortStableFunc(links, func(a, b cfgclient.LinkStatus) int { return int(a.LinkNo) - int(b.LinkNo) })
	var addrs []string
	for _, l := range links {
		a := l.RemoteAddr
		if ap, err := netip.ParseAddrPort(a); err == nil {
			a = ap.Addr().String()
		}
		if a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
