package clienttest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// modulePath marks the goroutines LeakedGoroutines looks for.
const modulePath = "github.com/corogo/corogo/"

// LeakedGoroutines returns the stacks of the goroutines, other than the
// caller, that run code of this module, after giving them up to wait to
// end.
func LeakedGoroutines(wait time.Duration) []string {
	deadline := time.Now().Add(wait)
	for {
		leaked := moduleGoroutines()
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func moduleGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	// The first goroutine of the dump is the caller.
	stacks := strings.Split(string(buf), "\n\n")
	var out []string
	for _, st := range stacks[1:] {
		if strings.Contains(st, modulePath) {
			out = append(out, st)
		}
	}
	return out
}

// Main is a TestMain body that fails a passing run whose tests left
// goroutines of this module running:
//
//	func TestMain(m *testing.M) { os.Exit(clienttest.Main(m)) }
func Main(m interface{ Run() int }) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if leaked := LeakedGoroutines(5 * time.Second); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "%d goroutines leaked:\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
		return 1
	}
	return 0
}
