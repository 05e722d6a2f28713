package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/corogo/corogo/internal/getopt"
	"io"
	"slices"
	"strings"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/client/cmapclient"
)

const prog = "cmapctl"

// statsPrefix starts the keys of corosync's stats map.
const statsPrefix = "stats."

// notSupported is what every write gets: corosyncd's map is read-only.
const notSupported = "CS_ERR_NOT_SUPPORTED"

type action int

const (
	actPrint action = iota
	actGet
	actSet
	actDelete
	actDeletePrefix
	actLoad
	actTrack
	actClearStats
)

var options = []getopt.Option{
	{Short: 'm', Arg: true},
	{Short: 'h'},
	{Short: 'q'},
	{Short: 'g'},
	{Short: 's'},
	{Short: 'd'},
	{Short: 'D'},
	{Short: 't'},
	{Short: 'T'},
	{Short: 'b'},
	{Short: 'p', Arg: true},
	{Short: 'C', Arg: true},
	{Long: "socket", Arg: true, Single: true},
}

// valueTypes are the type names -s accepts.
var valueTypes = []string{"i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "flt", "dbl", "str", "bin"}

// tool is one invocation.
type tool struct {
	stdout     *bufio.Writer
	stderr     io.Writer
	socket     string
	showBinary bool
	quiet      bool
	stats      bool // the stats map
}

// run runs cmapctl with args (without the program name) and returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	t := &tool{stdout: bufio.NewWriter(stdout), stderr: stderr}
	code := t.run(ctx, args)
	if err := t.stdout.Flush(); err != nil && code == 0 {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		code = 1
	}
	return code
}

func (t *tool) run(ctx context.Context, args []string) int {
	parsed, operands, err := getopt.Parse(args, options)
	if err != nil {
		fmt.Fprintf(t.stderr, "%s: %v\n", prog, err)
		return 1
	}
	act := actPrint
	var file, clear string
	for _, p := range parsed {
		if p.Opt.Long == "socket" {
			t.socket = p.Value
			continue
		}
		switch p.Opt.Short {
		case 'h':
			t.usage()
			return 0
		case 'b':
			t.showBinary = true
		case 'q':
			t.quiet = true
		case 'g':
			act = actGet
		case 's':
			act = actSet
		case 'd':
			act = actDelete
		case 'D':
			act = actDeletePrefix
		case 'p':
			act, file = actLoad, p.Value
		case 'C':
			switch p.Value {
			case "knet", "totem", "ipc", "schedmiss", "all":
				act, clear, t.stats = actClearStats, p.Value, true
			default:
				fmt.Fprintln(t.stderr, "argument to -C should be 'knet', 'totem', 'ipc', 'schedmiss' or 'all'")
				return 1
			}
		case 't', 'T':
			act = actTrack
		case 'm':
			switch p.Value {
			case "icmap", "default":
				t.stats = false
			case "stats":
				t.stats = true
			default:
				fmt.Fprintln(t.stderr, "invalid map name, must be 'default', 'icmap' or 'stats'")
				return 1
			}
		}
	}
	if len(operands) == 0 && act != actLoad && act != actClearStats && act != actPrint {
		fmt.Fprintln(t.stderr, "Expected key after options")
		return 1
	}

	switch act {
	case actPrint, actGet:
	case actSet:
		if len(operands) < 3 {
			fmt.Fprintln(t.stderr, "At least 3 parameters are expected for set")
			return 1
		}
		if !slices.Contains(valueTypes, operands[1]) {
			fmt.Fprintf(t.stderr, "Unknown type %s\n", operands[1])
			return 1
		}
		fmt.Fprintf(t.stderr, "Failed to set key %s. Error %s\n", operands[0], notSupported)
		return 1
	case actDelete:
		fmt.Fprintf(t.stderr, "Can't delete key %s. Error %s\n", operands[0], notSupported)
		return 1
	case actDeletePrefix:
		fmt.Fprintf(t.stderr, "Can't delete keys with prefix %s. Error %s\n", operands[0], notSupported)
		return 1
	case actLoad:
		fmt.Fprintf(t.stderr, "Can't load settings from %s. Error %s\n", file, notSupported)
		return 1
	case actTrack:
		fmt.Fprintf(t.stderr, "Failed to add tracking function. Error %s\n", notSupported)
		return 1
	case actClearStats:
		fmt.Fprintf(t.stderr, "Can't set cmap stats clear key stats.clear.%s. Error %s\n", clear, notSupported)
		return 1
	}

	c, err := cmapclient.Dial(ctx, t.socket)
	if err != nil {
		fmt.Fprintf(t.stderr, "Failed to initialize the cmap API. Error: %v\n", err)
		return 1
	}
	defer c.Close()
	if act == actGet {
		return t.get(ctx, c, operands)
	}
	return t.print(ctx, c, operands)
}

// inMap reports whether key belongs to the selected map.
func (t *tool) inMap(key string) bool { return strings.HasPrefix(key, statsPrefix) == t.stats }

// print prints the keys under each prefix; it fails when no prefix
// matched a key (or, without prefixes, the map is empty), as
// corosync-cmapctl.
func (t *tool) print(ctx context.Context, c *cmapclient.Client, prefixes []string) int {
	noResult := 0
	iterate := prefixes
	if len(iterate) == 0 {
		iterate = []string{""}
	}
	for _, prefix := range iterate {
		found := false
		for kv, err := range c.All(ctx, prefix) {
			if err != nil {
				fmt.Fprintf(t.stderr, "Failed to initialize iteration. Error %s\n", csError(err))
				return 1
			}
			if !t.inMap(kv.Key) {
				continue
			}
			found = true
			t.printKey(kv)
		}
		if !found {
			noResult++
		}
	}
	if noResult > 0 && noResult >= len(prefixes) {
		return 1
	}
	return 0
}

// get prints the given keys, stopping at the first missing one.
func (t *tool) get(ctx context.Context, c *cmapclient.Client, keys []string) int {
	for _, key := range keys {
		kv, err := c.Get(ctx, key)
		if err != nil {
			fmt.Fprintf(t.stderr, "Can't get key %s. Error %s\n", key, csError(err))
			return 1
		}
		if !t.inMap(key) {
			// The key is in the other map.
			fmt.Fprintf(t.stderr, "Can't get key %s. Error CS_ERR_NOT_EXIST\n", key)
			return 1
		}
		t.printKey(kv)
	}
	return 0
}

// printKey prints one key as corosync-cmapctl's print_key: "key (type) =
// value"; with -q the value alone, except that a binary value keeps its
// "bin)" (corosync's quirk).
func (t *tool) printKey(kv cmapclient.KV) {
	line := cmapclient.Format(kv)
	if t.showBinary {
		line = cmapclient.FormatBinary(kv)
	}
	if t.quiet {
		if kv.Type == cmapclient.TypeBinary {
			line = strings.TrimPrefix(line, kv.Key+" (")
		} else {
			line = strings.TrimPrefix(line, kv.Key+" ("+kv.Type.String()+") = ")
		}
	}
	t.stdout.WriteString(line)
	t.stdout.WriteByte('\n')
}

func (t *tool) usage() {
	fmt.Fprintf(t.stdout, `
usage:  %[1]s [-b] [-q] [-g] [-m map] [--socket PATH] [key_or_prefix...]

Print the keys of corosyncd's configuration map (read-only).

    -b  show the values of binary keys
    -m  the map: 'icmap' (or 'default', the default) holds the
        configuration and runtime state; 'stats' the statistics
    --socket PATH
        corosyncd's socket (default $COROSYNCD_SOCKET, else
        /run/corosyncd/corosyncd.sock)

Display all keys:
    %[1]s [-b]

Display keys with prefix key_name:
    %[1]s [-b] key_name...

Get key:
    %[1]s [-b] -g key_name...

Quiet mode (values only):
    %[1]s [-b] -q -g key_name...

Setting (-s), deleting (-d, -D), loading (-p), tracking (-t, -T) and
clearing statistics (-C) are not supported: corosyncd's map is read-only.
`, prog)
}

// csError names err's status as corosync's cs_strerror does, or gives
// the error itself when the request did not get an answer.
func csError(err error) string {
	if se, ok := errors.AsType[*client.StatusError](err); ok {
		return se.CSName()
	}
	return err.Error()
}
