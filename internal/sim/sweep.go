package sim

import (
	"context"
	"sync"
)

// SeedResult is one seed's outcome in a Sweep.
type SeedResult[R any] struct {
	Seed uint64
	Res  R
	Err  error
}

// Sweep runs run for each seed on workers goroutines, one seed each at a
// time, and yields the results in seed-list order. It stops dispatching
// when ctx ends, after an error, or when stop reports that a result ends
// the sweep (a violation with fail-fast, say). Runs must not share
// mutable state: each is a whole simulation of its own.
func Sweep[R any](ctx context.Context, seeds []uint64, workers int, run func(seed uint64) (R, error), stop func(R) bool) <-chan SeedResult[R] {
	ordered := make(chan SeedResult[R])
	slots := make([]chan SeedResult[R], len(seeds))
	for i := range slots {
		slots[i] = make(chan SeedResult[R], 1)
	}
	halted := make(chan struct{})
	var haltOnce sync.Once
	halt := func() { haltOnce.Do(func() { close(halted) }) }
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range seeds {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			case <-halted:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res, err := run(seeds[i])
				slots[i] <- SeedResult[R]{Seed: seeds[i], Res: res, Err: err}
			}
		}()
	}
	go func() {
		defer close(ordered)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for i := range slots {
			select {
			case r := <-slots[i]:
				ordered <- r
				if r.Err != nil || stop(r.Res) {
					halt()
				}
			case <-done:
				// Every worker finished: take what was run, in order.
				for j := i; j < len(slots); j++ {
					select {
					case r := <-slots[j]:
						ordered <- r
					default:
						return
					}
				}
				return
			}
		}
	}()
	return ordered
}
