package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/client/cmapclient"
	"github.com/corogo/corogo/internal/getopt"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/quorum"
	"github.com/corogo/corogo/votequorum"
)

const prog = "quorumtool"

// version is what -V prints.
const version = "0.1.0"

// Exit statuses, as corosync-quorumtool's.
const (
	exitOK         = 0
	exitFailure    = 1
	exitNotQuorate = 2
)

const (
	// votequorumName is the provider whose calls -v, -e and -f need.
	votequorumName = "corosync_votequorum"
	// cmap keys and prefixes read.
	providerKey    = "quorum.provider"
	nodelistPrefix = "nodelist.node."
	runtimeMembers = "runtime.members."

	notVotequorum = ", corosync is not using votequorum"
)

var options = []getopt.Option{
	{Short: 'V'},
	{Short: 'H'},
	{Short: 'a'},
	{Short: 's'},
	{Short: 'l'},
	{Short: 'p'},
	{Short: 'm'},
	{Short: 'f'},
	{Short: 'e', Arg: true},
	{Short: 'v', Arg: true},
	{Short: 'h'},
	{Short: 'i'},
	{Short: 'n', Arg: true},
	{Short: 'o', Arg: true},
	{Long: "socket", Arg: true, Single: true},
}

type command int

const (
	cmdShowStatus command = iota
	cmdShowNodes
	cmdSetVotes
	cmdSetExpected
	cmdMonitor
	cmdUnregisterQdevice
)

// tool is one invocation.
type tool struct {
	stdout, stderr io.Writer
	socket         string
	now            func() time.Time
	// lookupAddr and lookupHost resolve addresses for the Name column
	// (net.DefaultResolver's methods).
	lookupAddr func(ctx context.Context, addr string) ([]string, error)
	lookupHost func(ctx context.Context, host string) ([]string, error)

	view     view
	ips      bool // -i: addresses, not names
	allAddrs bool // -a
}

// run runs quorumtool with args (without the program name) and returns
// the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := &tool{
		stdout:     stdout,
		stderr:     stderr,
		now:        time.Now,
		lookupAddr: net.DefaultResolver.LookupAddr,
		lookupHost: net.DefaultResolver.LookupHost,
	}
	return t.run(ctx, args)
}

func (t *tool) run(ctx context.Context, args []string) int {
	parsed, _, err := getopt.Parse(args, options)
	if err != nil {
		fmt.Fprintf(t.stderr, "%s: %v\n", prog, err)
		t.usage()
		return exitFailure
	}
	cmd := cmdShowStatus
	t.view.order = byAddress
	var (
		votes     uint32
		nodeID    uint32
		nodeIDSet bool
	)
	for _, p := range parsed {
		if p.Opt.Long == "socket" {
			t.socket = p.Value
			continue
		}
		switch p.Opt.Short {
		case 'f':
			cmd = cmdUnregisterQdevice
		case 's':
			cmd = cmdShowStatus
		case 'a':
			t.allAddrs = true
		case 'm':
			cmd = cmdMonitor
		case 'i':
			t.ips = true
		case 'H':
			t.view.hex = true
		case 'l':
			cmd = cmdShowNodes
		case 'p':
			t.view.parsable = true
		case 'e':
			n, ok := strtonum(p.Value, 1, math.MaxInt32)
			if !ok {
				fmt.Fprintln(t.stderr, "New expected votes value was not valid, try a positive number")
				return exitFailure
			}
			votes = uint32(n)
			cmd = cmdSetExpected
		case 'n':
			n, ok := strtonum(p.Value, 1, math.MaxUint32)
			if !ok {
				fmt.Fprintln(t.stderr, "The nodeid was not valid, try a positive number")
				return exitFailure
			}
			nodeID, nodeIDSet = uint32(n), true
		case 'v':
			n, ok := strtonum(p.Value, 0, math.MaxInt32)
			if !ok {
				fmt.Fprintln(t.stderr, "New votes value was not valid, try a positive number or zero")
				return exitFailure
			}
			votes = uint32(n)
			cmd = cmdSetVotes
		case 'o':
			switch p.Value {
			case "a":
				t.view.order = byAddress
			case "i":
				t.view.order = byNodeID
			case "n":
				t.view.order = byName
			default:
				fmt.Fprintln(t.stderr, "Invalid ordering option. valid orders are a(address), i(node ID) or n(name)")
				return exitFailure
			}
		case 'V':
			fmt.Fprintf(t.stdout, "corosync-quorumtool version: %s\n", version)
			return exitOK
		case 'h':
			t.usage()
			return exitOK
		}
	}

	c, ok := t.connect(ctx)
	if !ok {
		return exitFailure
	}
	defer c.close()

	switch cmd {
	case cmdShowNodes:
		return t.showNodes(ctx, c)
	case cmdSetVotes:
		if c.vq == nil {
			fmt.Fprintln(t.stderr, "You cannot change node votes"+notVotequorum)
			return exitFailure
		}
		if !nodeIDSet {
			nodeID = c.local
		}
		if err := c.vq.SetVotes(ctx, nodeID, votes); err != nil {
			fmt.Fprintf(t.stderr, "Unable to set votes %d for nodeid: %d: %s\n", votes, nodeID, csError(err))
			return exitFailure
		}
		return exitOK
	case cmdSetExpected:
		if c.vq == nil {
			fmt.Fprintln(t.stderr, "You cannot change expected votes"+notVotequorum)
			return exitFailure
		}
		if err := c.vq.SetExpected(ctx, votes); err != nil {
			fmt.Fprintf(t.stderr, "Unable to set expected votes: %s\n", csError(err))
			return exitFailure
		}
		return exitOK
	case cmdMonitor:
		return t.monitor(ctx, c)
	case cmdUnregisterQdevice:
		if c.vq == nil {
			fmt.Fprintln(t.stderr, "You cannot unregister quorum device"+notVotequorum)
			return exitFailure
		}
		return t.unregisterQdevice(ctx, c)
	}
	return t.showStatus(ctx, c)
}

func (t *tool) usage() {
	fmt.Fprintf(t.stdout, `usage: 
%s <options>

  options:

  -s             show quorum status
  -m             constantly monitor quorum status
  -l             list nodes
  -a             show all names or addresses for each node
  -p             when used with -s or -l, generates machine parsable output
  -v <votes>     change the number of votes for a node (*)
  -n <nodeid>    optional nodeid of node for -v
  -e <expected>  change expected votes for the cluster (*)
  -H             show nodeids in hexadecimal rather than decimal
  -i             show node IP addresses instead of the resolved name
  -o <a|n|i>     order by [a] IP address (default), [n] name, [i] nodeid
  -f             forcefully unregister a quorum device *DANGEROUS* (*)
  -h             show this help text
  -V             show version and exit
  --socket PATH  corosyncd's socket (default $COROSYNCD_SOCKET, else
                 /run/corosyncd/corosyncd.sock)

  (*) Starred items only work if votequorum is the quorum provider for corosync

`, prog)
}

// strtonum parses a decimal integer between lo and hi, as corosync's
// util_strtonum (strtoll in base 10: leading white space and a sign are
// allowed, trailing characters are not).
func strtonum(s string, lo, hi int64) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// csError names err's status as corosync's cs_strerror does, or gives the
// error itself when the request did not get an answer.
func csError(err error) string {
	if errors.Is(err, votequorum.ErrMessage) {
		return "CS_ERR_MESSAGE_ERROR"
	}
	var st service.Status
	if se, ok := errors.AsType[*votequorum.StatusError](err); ok {
		st = service.Status(se.Status)
	} else if se, ok := errors.AsType[*quorum.StatusError](err); ok {
		st = service.Status(se.Status)
	} else if se, ok := errors.AsType[*client.StatusError](err); ok {
		st = se.Status
	} else {
		return err.Error()
	}
	return client.CSName(st)
}

// conns are the connections to the daemon's services.
type conns struct {
	cmap *cmapclient.Client
	q    *quorum.Client
	vq   *votequorum.Client // nil unless votequorum is the provider
	// provider is the quorum provider's name; "" when none.
	provider string
	local    uint32
}

func (c *conns) close() {
	if c.cmap != nil {
		c.cmap.Close()
	}
	if c.q != nil {
		c.q.Close()
	}
	if c.vq != nil {
		c.vq.Close()
	}
}

// connect opens the services as corosync-quorumtool's init_all: cmap,
// quorum, and votequorum when it is the provider.
func (t *tool) connect(ctx context.Context) (*conns, bool) {
	c := &conns{}
	var err error
	if c.cmap, err = cmapclient.Dial(ctx, t.socket); err != nil {
		fmt.Fprintf(t.stderr, "Cannot initialize CMAP service: %v\n", err)
		return nil, false
	}
	if c.q, err = quorum.Dial(ctx, quorum.WithSocket(t.socket)); err != nil {
		fmt.Fprintf(t.stderr, "Cannot initialize QUORUM service: %v\n", err)
		c.close()
		return nil, false
	}
	c.local = c.q.NodeID()
	typ, err := c.q.Type(ctx)
	if err != nil {
		fmt.Fprintf(t.stderr, "Cannot initialize QUORUM service: %v\n", err)
		c.close()
		return nil, false
	}
	if typ != quorum.None {
		// As corosync-quorumtool, the provider's name is the configured
		// one.
		c.provider = typ.String()
		if kv, err := c.cmap.Get(ctx, providerKey); err == nil {
			if s, ok := kv.Value.(string); ok && s != "" {
				c.provider = s
			}
		}
	}
	if c.provider != votequorumName {
		return c, true
	}
	if c.vq, err = votequorum.Dial(ctx, t.socket); err != nil {
		fmt.Fprintf(t.stderr, "Cannot initialise VOTEQUORUM service: %v\n", err)
		c.close()
		return nil, false
	}
	return c, true
}

// showStatus serves -s: exit 0 when quorate, 2 when not, 1 on error.
func (t *tool) showStatus(ctx context.Context, c *conns) int {
	quorate, err := c.q.Quorate(ctx)
	if err != nil {
		fmt.Fprintf(t.stderr, "Unable to get cluster quorate status: %s\n", csError(err))
		return exitFailure
	}
	v, err := c.q.View(ctx)
	if err != nil {
		fmt.Fprintf(t.stderr, "Unable to get quorum view: %s\n", csError(err))
		return exitFailure
	}
	if err := t.display(ctx, c, quorate, v); err != nil {
		return exitFailure
	}
	if !quorate {
		return exitNotQuorate
	}
	return exitOK
}

// display gathers and prints the status for -s and -m, in one write. Its
// error is that of reading this node's votequorum information, after
// which the status is printed nonetheless.
func (t *tool) display(ctx context.Context, c *conns, quorate bool, v quorum.View) error {
	st, err := t.gather(ctx, c, quorate, v, true)
	var b bytes.Buffer
	writeStatus(&b, st, t.view)
	t.stdout.Write(b.Bytes())
	return err
}

// showNodes serves -l.
func (t *tool) showNodes(ctx context.Context, c *conns) int {
	v, err := c.q.View(ctx)
	if err != nil {
		fmt.Fprintf(t.stderr, "Unable to get quorum view: %s\n", csError(err))
		return exitFailure
	}
	st, _ := t.gather(ctx, c, v.Quorate, v, false)
	var b bytes.Buffer
	writeNodes(&b, st, t.view)
	t.stdout.Write(b.Bytes())
	return exitOK
}

// monitor serves -m: the status at once and after every change of the
// quorum view, until ctx ends (exit 0) or the daemon goes away (exit 1).
func (t *tool) monitor(ctx context.Context, c *conns) int {
	if c.provider == "" {
		fmt.Fprintf(t.stdout, "\nQuorum is not configured - cannot monitor\n")
		return t.showStatus(ctx, c)
	}
	if err := c.q.Track(ctx, quorum.TrackChanges); err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		fmt.Fprintf(t.stderr, "Unable to start quorum status tracking: %s\n", csError(err))
		return exitFailure
	}
	for {
		var v *quorum.View
		for v == nil {
			select {
			case <-ctx.Done():
				return exitOK
			case ev, ok := <-c.q.Events():
				if !ok {
					if ctx.Err() != nil {
						return exitOK
					}
					fmt.Fprintf(t.stderr, "Unable to dispatch quorum status: %v\n", c.q.Err())
					return exitFailure
				}
				v, _ = ev.(*quorum.View)
			}
		}
		err := t.display(ctx, c, v.Quorate, *v)
		fmt.Fprintln(t.stdout)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			fmt.Fprintf(t.stderr, "Unable to display quorum data: %s\n", csError(err))
			return exitFailure
		}
	}
}

// unregisterQdevice serves -f: it unregisters whatever device this node
// has registered, by the name votequorum reports.
func (t *tool) unregisterQdevice(ctx context.Context, c *conns) int {
	in, err := c.vq.GetInfo(ctx, c.local)
	if err != nil {
		fmt.Fprintf(t.stderr, "Unable to get quorum device info: %s\n", csError(err))
		return exitFailure
	}
	if in.Flags&votequorum.QdeviceRegistered == 0 {
		return exitOK
	}
	if err := c.vq.QdeviceUnregister(ctx, in.QdeviceName); err != nil {
		fmt.Fprintf(t.stderr, "Unable to unregister quorum device: %s\n", csError(err))
		return exitFailure
	}
	return exitOK
}

// gather collects the status to print: votequorum's information on each
// member and, with local, on this node, and the members' names. The error
// is that of reading this node's information: with "does not exist" the
// Votequorum block is still shown (zero), as corosync-quorumtool does;
// otherwise it is left out and the error printed.
func (t *tool) gather(ctx context.Context, c *conns, quorate bool, v quorum.View, local bool) (*status, error) {
	st := &status{
		Date:       t.now(),
		Provider:   c.provider,
		Votequorum: c.vq != nil,
		LocalID:    c.local,
		Ring:       v.Ring,
		Quorate:    quorate,
	}
	var localErr error
	if c.vq != nil && local {
		in, err := c.vq.GetInfo(ctx, c.local)
		switch {
		case err == nil:
			st.Local = &in
		case errors.Is(err, votequorum.ErrNotExist):
			st.Local = &votequorum.Info{}
		default:
			fmt.Fprintf(t.stderr, "Unable to get node info: %s\n", csError(err))
		}
		localErr = err
	}
	nl := t.readNodelist(ctx, c)
	for _, id := range v.Members {
		n := nodeStatus{ID: id}
		if c.vq != nil {
			in, err := c.vq.GetInfo(ctx, id)
			if err != nil {
				n.NoInfo = true
			} else {
				n.Info = in
			}
		}
		n.Name = t.nodeName(ctx, nl, id)
		st.Nodes = append(st.Nodes, n)
	}
	return st, localErr
}

// nodeEntry is what cmap says of a node: its nodelist name and its
// addresses by link number ("" for a link without one).
type nodeEntry struct {
	name  string
	addrs []string
}

var (
	nodelistKeyRE = regexp.MustCompile(`^nodelist\.node\.(\d+)\.(nodeid|name|ring(\d+)_addr)$`)
	memberKeyRE   = regexp.MustCompile(`^runtime\.members\.(\d+)\.ip$`)
	memberIPRE    = regexp.MustCompile(`r\((\d+)\) ip\(([^)]*)\)`)
)

// readNodelist reads the nodes' names and addresses from cmap: the
// nodelist's name and ringX_addr keys, with the addresses the daemon
// resolved (runtime.members.<id>.ip, "r(0) ip(10.0.0.1) ") taking the
// place of the configured ones. A node id maps to its entry; errors leave
// the map incomplete (names then fall back to what is known).
func (t *tool) readNodelist(ctx context.Context, c *conns) map[uint32]*nodeEntry {
	type pos struct {
		id    uint32
		idSet bool
		nodeEntry
	}
	byPos := map[uint64]*pos{}
	kvs, _ := c.cmap.Iter(ctx, nodelistPrefix)
	for _, kv := range kvs {
		m := nodelistKeyRE.FindStringSubmatch(kv.Key)
		if m == nil {
			continue
		}
		i, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil {
			continue
		}
		p := byPos[i]
		if p == nil {
			p = &pos{}
			byPos[i] = p
		}
		switch {
		case m[2] == "nodeid":
			if id, ok := toUint32(kv.Value); ok {
				p.id, p.idSet = id, true
			}
		case m[2] == "name":
			if s, ok := kv.Value.(string); ok {
				p.name = s
			}
		default:
			link, err := strconv.Atoi(m[3])
			if s, ok := kv.Value.(string); ok && err == nil && link < 256 {
				p.addrs = setAddr(p.addrs, link, s)
			}
		}
	}
	out := map[uint32]*nodeEntry{}
	// Positions in order, so that the first entry of a node id wins, as
	// corosync-quorumtool's iteration finds it.
	for _, k := range slices.Sorted(maps.Keys(byPos)) {
		p := byPos[k]
		if p.idSet && out[p.id] == nil {
			e := p.nodeEntry
			out[p.id] = &e
		}
	}
	kvs, _ = c.cmap.Iter(ctx, runtimeMembers)
	for _, kv := range kvs {
		m := memberKeyRE.FindStringSubmatch(kv.Key)
		s, isString := kv.Value.(string)
		if m == nil || !isString {
			continue
		}
		id64, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil {
			continue
		}
		id := uint32(id64)
		for _, ip := range memberIPRE.FindAllStringSubmatch(s, -1) {
			link, err := strconv.Atoi(ip[1])
			if err != nil || link >= 256 || ip[2] == "" {
				continue
			}
			if out[id] == nil {
				out[id] = &nodeEntry{}
			}
			out[id].addrs = setAddr(out[id].addrs, link, ip[2])
		}
	}
	return out
}

func signed(i int64) (uint32, bool) {
	if i < 0 || i > math.MaxUint32 {
		return 0, false
	}
	return uint32(i), true
}

// setAddr sets the address of a link, growing the list as needed.
func setAddr(addrs []string, link int, a string) []string {
	for len(addrs) <= link {
		addrs = append(addrs, "")
	}
	addrs[link] = a
	return addrs
}

// toUint32 reads a node id from a cmap value of any integer type (or a
// decimal string).
func toUint32(v any) (uint32, bool) {
	var n uint64
	switch v := v.(type) {
	case uint8:
		n = uint64(v)
	case uint16:
		n = uint64(v)
	case uint32:
		n = uint64(v)
	case uint64:
		n = v
	case int8:
		return signed(int64(v))
	case int16:
		return signed(int64(v))
	case int32:
		return signed(int64(v))
	case int64:
		return signed(v)
	case string:
		var err error
		if n, err = strconv.ParseUint(v, 10, 32); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if n > math.MaxUint32 {
		return 0, false
	}
	return uint32(n), true
}

// nodeName is the Name column, as corosync-quorumtool's node_name: the
// nodelist name (unless -i), else the node's first address, resolved to
// a name unless -i; with -a the node's other addresses follow, ", "
// separated (the name takes the first address's place).
func (t *tool) nodeName(ctx context.Context, nl map[uint32]*nodeEntry, id uint32) string {
	e := nl[id]
	if e == nil {
		return ""
	}
	var parts []string
	start := 0
	if !t.ips && e.name != "" {
		parts = append(parts, e.name)
		start = 1
	}
	n := len(e.addrs)
	if !t.allAddrs {
		n = min(n, 1)
	}
	for i := start; i < n; i++ {
		if e.addrs[i] == "" {
			continue
		}
		parts = append(parts, t.resolve(ctx, e.addrs[i]))
	}
	return strings.Join(parts, ", ")
}

// resolve turns an address into what getnameinfo gives corosync-quorumtool:
// with -i the numeric address (a configured host name is looked up), else
// the address's name by reverse lookup, or the address when it has none.
func (t *tool) resolve(ctx context.Context, a string) string {
	ip, err := netip.ParseAddr(a)
	if err != nil {
		// A host name, as configured.
		if t.ips {
			if addrs, err := t.lookupHost(ctx, a); err == nil && len(addrs) > 0 {
				return addrs[0]
			}
		}
		return a
	}
	if t.ips {
		return ip.String()
	}
	if names, err := t.lookupAddr(ctx, ip.String()); err == nil && len(names) > 0 {
		return strings.TrimSuffix(names[0], ".")
	}
	return ip.String()
}
