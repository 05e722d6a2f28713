package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/corogo/corogo/cpg"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cmap"
)

// timeout bounds the whole listing.
const timeout = 10 * time.Second

// errHelp: -h was given; the usage went to stdout.
var errHelp = errors.New("help requested")

// options are the command line (corosync-cpgtool's getopt "hd:ne").
type options struct {
	delim     byte // 0: none
	escape    bool
	namesOnly bool
}

// parseArgs parses args as getopt(3) with "hd:ne" does: options may be
// grouped (-ne), -d takes the rest of its argument or the next one (only
// its first byte is used; an empty one means no delimiter), "--" ends the
// options, and other arguments are ignored. -h prints the usage and stops.
func parseArgs(args []string, stdout io.Writer) (options, error) {
	o := options{escape: true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
	chars:
		for j := 1; j < len(a); j++ {
			switch a[j] {
			case 'h':
				usage(stdout)
				return o, errHelp
			case 'n':
				o.namesOnly = true
			case 'e':
				o.escape = false
			case 'd':
				v := a[j+1:]
				if v == "" {
					if i+1 >= len(args) {
						return o, errors.New("option requires an argument -- 'd'")
					}
					i++
					v = args[i]
				}
				if v != "" {
					o.delim = v[0]
				}
				break chars
			default:
				return o, fmt.Errorf("invalid option -- '%c'", a[j])
			}
		}
	}
	return o, nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, "cpgtool [-d delimiter] [-e] [-n] [-h]\n\n"+
		"Lists the closed process groups of the local corosyncd and their members.\n"+
		"options:\n"+
		"\t-d\tSeparate the fields with this character (its first byte).\n"+
		"\t-e\tPrint group names as they are, without escaping unprintable bytes.\n"+
		"\t-n\tList only the names of the existing groups.\n"+
		"\t-h\tPrint this help.\n"+
		"\nThe daemon's socket is $COROSYNCD_SOCKET, else /run/corosyncd/corosyncd.sock.\n")
}

// run lists the groups as corosync-cpgtool does.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseArgs(args, stdout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := cpg.Dial(ctx)
	if err != nil {
		return fmt.Errorf("cannot connect to corosyncd's cpg service: %w", err)
	}
	defer c.Close()
	if o.namesOnly {
		names, err := c.GroupNames(ctx)
		if err != nil {
			return fmt.Errorf("listing the groups: %w", err)
		}
		return writeNames(stdout, names, o.delim, o.escape)
	}
	groups, err := c.Groups(ctx)
	if err != nil {
		return fmt.Errorf("listing the groups: %w", err)
	}
	addrs := func(uint32) string { return "" }
	if o.delim == 0 {
		// Addresses are a nicety: without cmap they are left empty, as
		// corosync-cpgtool leaves them when it cannot get them.
		if m, err := memberAddrs(ctx); err == nil {
			addrs = func(id uint32) string { return m[id] }
		}
	}
	return writeGroups(stdout, groups, o.delim, o.escape, addrs)
}

// memberAddrs reads runtime.members.<id>.ip from the daemon's cmap
// service: node id → its addresses, space-separated.
func memberAddrs(ctx context.Context) (map[uint32]string, error) {
	const prefix = "runtime.members."
	ic, err := ipc.Dial(ctx, "", uint16(service.CMAP))
	if err != nil {
		return nil, fmt.Errorf("cmap: %w", err)
	}
	defer ic.Close()
	out := map[uint32]string{}
	after := ""
	for {
		req, err := cmap.AppendIter(nil, cmap.IterRequest{Prefix: prefix, After: after})
		if err != nil {
			return nil, fmt.Errorf("cmap: %w", err)
		}
		st, p, err := ic.Call(ctx, cmap.FnIter, req)
		if err != nil {
			return nil, fmt.Errorf("cmap: listing %s*: %w", prefix, err)
		}
		if st != service.OK {
			return nil, fmt.Errorf("cmap: listing %s*: %v", prefix, st)
		}
		page, err := cmap.DecodeIterReply(p)
		if err != nil {
			return nil, fmt.Errorf("cmap: %w", err)
		}
		for _, kv := range page.Entries {
			rest, ok := strings.CutSuffix(strings.TrimPrefix(kv.Key, prefix), ".ip")
			id, err := strconv.ParseUint(rest, 10, 32)
			v, isString := kv.Value.(string)
			if ok && err == nil && isString {
				out[uint32(id)] = parseMemberIP(v)
			}
		}
		if !page.More || len(page.Entries) == 0 {
			return out, nil
		}
		after = page.Entries[len(page.Entries)-1].Key
	}
}
