package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxSeeds bounds a seed list, against typos such as 1-1000000000.
const MaxSeeds = 10_000_000

// ParseSeeds parses a list of seeds and inclusive ranges, such as
// "1-10,17,100-200", keeping the order given.
func ParseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad seed %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("bad seed range %q", part)
			}
		}
		if uint64(len(out))+(b-a) >= MaxSeeds {
			return nil, fmt.Errorf("more than %d seeds", MaxSeeds)
		}
		for x := a; ; x++ {
			out = append(out, x)
			if x == b {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no seeds in %q", s)
	}
	return out, nil
}
