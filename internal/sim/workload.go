package sim

import (
	"errors"
	"math"
	"math/rand/v2"

	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/totem/totemtest"
)

// workload sends application messages from every running node at random
// times: mostly small, some medium, rarely large, up to maxSize.
type workload struct {
	rng      *rand.Rand
	codec    *codec
	buf      []byte
	interval float64 // mean ticks between two sends of one node
	maxSize  int
	next     []int64 // next[id]: when node id sends next
	inc      []int   // inc[id]: the incarnation counter[id] counts for
	counter  []uint32

	sent, refused int
}

func newWorkload(rng *rand.Rand, nodes int, interval int64, maxSize int, cd *codec) *workload {
	w := &workload{rng: rng, codec: cd, buf: make([]byte, maxSize), interval: float64(interval), maxSize: maxSize,
		next: make([]int64, nodes+1), inc: make([]int, nodes+1), counter: make([]uint32, nodes+1)}
	for id := 1; id <= nodes; id++ {
		w.next[id] = w.gap()
	}
	return w
}

// gap draws an exponential inter-send time, at least one tick.
func (w *workload) gap() int64 {
	return 1 + int64(w.rng.ExpFloat64()*w.interval)
}

// size draws a message size: 2% tiny (1–15 B), 88% small (16 B–1 KiB),
// 9.5% medium (1–64 KiB), 0.5% large (64 KiB–maxSize, a fifth of them
// exactly maxSize); log-uniform within each class.
func (w *workload) size() int {
	logUniform := func(lo, hi int) int {
		if hi <= lo {
			return hi
		}
		return int(math.Exp(math.Log(float64(lo)) + w.rng.Float64()*(math.Log(float64(hi))-math.Log(float64(lo)))))
	}
	var n int
	switch p := w.rng.Float64(); {
	case p < 0.02:
		n = 1 + w.rng.IntN(HeaderSize-1)
	case p < 0.90:
		n = logUniform(HeaderSize, 1024)
	case p < 0.995:
		n = logUniform(1024, 64<<10)
	case w.rng.IntN(5) == 0:
		n = w.maxSize
	default:
		n = logUniform(64<<10, w.maxSize)
	}
	return max(1, min(n, w.maxSize))
}

// nextAt returns the earliest next send.
func (w *workload) nextAt() int64 {
	m := int64(math.MaxInt64)
	for _, t := range w.next[1:] {
		m = min(m, t)
	}
	return m
}

// step sends the messages due at now (none at or after stop).
func (w *workload) step(c *totemtest.Cluster, now, stop int64) {
	for id := 1; id < len(w.next); id++ {
		for w.next[id] <= now {
			w.next[id] += w.gap()
			if now >= stop {
				continue
			}
			// The draws happen whether or not the node is up, so that one
			// node's fate does not shift the others' workload.
			size := w.size()
			g := totem.Agreed
			if w.rng.IntN(10) < 3 {
				g = totem.Safe
			}
			nid := totem.NodeID(id)
			if c.State(nid) != totemtest.NodeUp {
				continue
			}
			if inc := c.Incarnation(nid); inc != w.inc[id] {
				w.inc[id], w.counter[id] = inc, 0
			}
			msg := w.buf[:size]
			w.codec.encode(msg, makeMsgID(nid, w.inc[id], w.counter[id]))
			if err := c.Send(nid, msg, g); err != nil {
				if !errors.Is(err, totem.ErrTryAgain) {
					panic("sim: Send: " + err.Error())
				}
				w.refused++
				continue
			}
			if size >= HeaderSize {
				w.counter[id]++
			}
			w.sent++
		}
	}
}
