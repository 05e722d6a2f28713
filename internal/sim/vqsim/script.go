package vqsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Help is the command list Interp's help prints.
const Help = `All node ids are those of the nodelist; each node is in a numbered
partition (default 0). Nodes in different partitions cannot reach each other.

up       [<partition>:]<nodeid>[,<nodeid>...] ...   start nodes in partitions
down     <nodeid>[,<nodeid>...]                     kill nodes (crash; alias kill)
leave    <nodeid>[,<nodeid>...]                     shut nodes down cleanly
split    [<partition>:]<nodeid>[,<nodeid>...] ...   move nodes to partitions (alias move)
join     <partition> <partition> [<partition>...]   merge partitions into the first
qdevice  on|off|novote <nodeid>[,<nodeid>...]       quorum devices: vote, stop, poll without voting
qdevice  masterwins on|off <nodeid>[,<nodeid>...]   set the devices' master_wins
setexpected <votes> on <nodeid>                     corosync-quorumtool -e on a node
setvotes <votes> node <nodeid> on <nodeid>          corosync-quorumtool -v -n on a node
cancelwfa <nodeid>                                  cancel wait_for_all (from a node)
wait     <ms>                                       let simulated time pass
sync     on|off                                     wait for the cluster to settle after each command
sync                                                wait for the cluster to settle now
timeout  <ms>                                       bound on settling (default 60000)
show                                                one line per running node
help                                                this text
exit                                                leave
`

// Interp runs corosync-vqsim's commands (and ours) on a Cluster, one line
// at a time; cmd/vqsim and the scenario tests share it.
type Interp struct {
	C *Cluster
	// AutoShow prints the nodes' status after every command that changes
	// the cluster while auto sync is on, as corosync-vqsim does.
	AutoShow bool
}

// ErrExit is returned by Exec for the exit command.
var ErrExit = errors.New("exit")

// Exec runs one command line and returns what it prints. Blank lines and
// lines starting with # do nothing. An error is the command's failure,
// ErrExit for exit; the interpreter stays usable after either.
func (in *Interp) Exec(line string) (string, error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", nil
	}
	cl := in.C
	cmd, args := f[0], f[1:]
	changed := true
	var err error
	switch cmd {
	case "up":
		var gs []Group
		if gs, err = parseGroups(args); err == nil {
			err = cl.Up(gs...)
		}
	case "down", "kill":
		var ids []uint32
		if ids, err = parseIDs(cmd, args); err == nil {
			err = cl.Down(ids...)
		}
	case "leave":
		var ids []uint32
		if ids, err = parseIDs(cmd, args); err == nil {
			err = cl.Leave(ids...)
		}
	case "split", "move":
		var gs []Group
		if gs, err = parseGroups(args); err == nil {
			err = cl.Move(gs...)
		}
	case "join":
		var parts []int
		for _, a := range args {
			p, perr := strconv.Atoi(a)
			if perr != nil {
				return "", fmt.Errorf("join: bad partition %q", a)
			}
			parts = append(parts, p)
		}
		err = cl.Join(parts...)
	case "qdevice":
		err = in.qdevice(args)
	case "setexpected":
		if len(args) != 3 || args[1] != "on" {
			return "", errors.New("usage: setexpected <votes> on <nodeid>")
		}
		v, err := numbers(cmd, args[0], args[2])
		if err != nil {
			return "", err
		}
		err = cl.SetExpected(v[0], v[1])
		return in.after(changed, err)
	case "setvotes":
		if len(args) != 5 || args[1] != "node" || args[3] != "on" {
			return "", errors.New("usage: setvotes <votes> node <nodeid> on <nodeid>")
		}
		v, err := numbers(cmd, args[0], args[2], args[4])
		if err != nil {
			return "", err
		}
		err = cl.SetVotes(v[0], v[1], v[2])
		return in.after(changed, err)
	case "cancelwfa":
		if len(args) != 1 {
			return "", errors.New("usage: cancelwfa <nodeid>")
		}
		v, err := numbers(cmd, args[0])
		if err != nil {
			return "", err
		}
		err = cl.CancelWaitForAll(v[0])
		return in.after(changed, err)
	case "wait":
		if len(args) != 1 {
			return "", errors.New("usage: wait <ms>")
		}
		v, err := numbers(cmd, args[0])
		if err != nil {
			return "", err
		}
		return "", cl.Wait(time.Duration(v[0]) * time.Millisecond)
	case "sync":
		changed = false
		switch {
		case len(args) == 0:
			err = cl.Sync()
		case len(args) == 1 && (args[0] == "on" || args[0] == "off"):
			cl.SetAutoSync(args[0] == "on")
			return "#sync: " + args[0] + "\n", nil
		default:
			return "", errors.New("usage: sync [on|off]")
		}
	case "timeout":
		var d int64
		if len(args) != 1 {
			return "", errors.New("usage: timeout <ms>")
		}
		if d, err = strconv.ParseInt(args[0], 10, 64); err != nil || d <= 0 {
			return "", fmt.Errorf("timeout: bad value %q", args[0])
		}
		cl.o.SettleTimeout = time.Duration(d) * time.Millisecond
		return "", nil
	case "show":
		if len(args) > 0 {
			return "", errors.New("usage: show")
		}
		return cl.Show(), nil
	case "help":
		return Help, nil
	case "exit", "quit":
		return "", ErrExit
	case "autofence", "assert":
		return "", fmt.Errorf("%s is not supported by this simulator", cmd)
	default:
		return "", fmt.Errorf("unknown command %q (try help)", cmd)
	}
	return in.after(changed, err)
}

// after is what a command prints once done: with AutoShow, the nodes'
// status after a successful command that changed the cluster.
func (in *Interp) after(changed bool, err error) (string, error) {
	if in.AutoShow && changed && in.C.AutoSync() && err == nil {
		return in.C.Show(), nil
	}
	return "", err
}

// numbers parses unsigned 32-bit numbers.
func numbers(cmd string, args ...string) ([]uint32, error) {
	var out []uint32
	for _, a := range args {
		v, err := strconv.ParseUint(a, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: bad number %q", cmd, a)
		}
		out = append(out, uint32(v))
	}
	return out, nil
}

func (in *Interp) qdevice(args []string) error {
	cl := in.C
	if len(args) >= 2 && args[0] == "masterwins" {
		if args[1] != "on" && args[1] != "off" {
			return errors.New("usage: qdevice masterwins on|off <nodeid>[,<nodeid>...]")
		}
		ids, err := parseIDs("qdevice", args[2:])
		if err != nil {
			return err
		}
		return cl.MasterWins(args[1] == "on", ids...)
	}
	if len(args) < 2 {
		return errors.New("usage: qdevice on|off|novote <nodeid>[,<nodeid>...]")
	}
	var mode DeviceMode
	switch args[0] {
	case "on":
		mode = DeviceVote
	case "off":
		mode = DeviceOff
	case "novote":
		mode = DeviceNoVote
	default:
		return errors.New("usage: qdevice on|off|novote <nodeid>[,<nodeid>...]")
	}
	ids, err := parseIDs("qdevice", args[1:])
	if err != nil {
		return err
	}
	return cl.Qdevice(mode, ids...)
}

// parseGroups parses "[P:]id[,id...]" arguments.
func parseGroups(args []string) ([]Group, error) {
	if len(args) == 0 {
		return nil, errors.New("no nodes given")
	}
	var gs []Group
	for _, a := range args {
		g := Group{}
		list := a
		if p, rest, ok := strings.Cut(a, ":"); ok {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= MaxPartitions {
				return nil, fmt.Errorf("bad partition in %q (0..%d)", a, MaxPartitions-1)
			}
			g.Partition, list = n, rest
		}
		ids, err := splitIDs(list)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
		g.Nodes = ids
		gs = append(gs, g)
	}
	return gs, nil
}

// parseIDs parses node ids separated by commas or spaces; a partition
// prefix is allowed and ignored.
func parseIDs(cmd string, args []string) ([]uint32, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: no nodes given", cmd)
	}
	var out []uint32
	for _, a := range args {
		if _, rest, ok := strings.Cut(a, ":"); ok {
			a = rest
		}
		ids, err := splitIDs(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", cmd, a, err)
		}
		out = append(out, ids...)
	}
	return out, nil
}

func splitIDs(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		v, err := strconv.ParseUint(f, 10, 32)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("bad node id %q", f)
		}
		out = append(out, uint32(v))
	}
	if len(out) == 0 {
		return nil, errors.New("no node ids")
	}
	return out, nil
}
