package totem

import "slices"

// Node sets are kept as ascending slices of node ids: the member lists of
// corosync are sets, compared as sets, and ascending order is the ring order.

// setHas reports whether s contains id.
func setHas(s []NodeID, id NodeID) bool {
	_, ok := slices.BinarySearch(s, id)
	return ok
}

// setAdd inserts id into s, keeping it sorted, and returns the result.
func setAdd(s []NodeID, id NodeID) []NodeID {
	i, ok := slices.BinarySearch(s, id)
	if ok {
		return s
	}
	return slices.Insert(s, i, id)
}

// setMerge adds every element of add to s.
func setMerge(s []NodeID, add []NodeID) []NodeID {
	for _, id := range add {
		s = setAdd(s, id)
	}
	return s
}

// setSubtract returns a new set a − b.
func setSubtract(a, b []NodeID) []NodeID {
	out := make([]NodeID, 0, len(a))
	for _, id := range a {
		if !setHas(b, id) {
			out = append(out, id)
		}
	}
	return out
}

// setEqualUnsorted reports whether the wire list l (any order) equals set s.
func setEqualUnsorted(l []uint32, s []NodeID) bool {
	if !setSubsetUnsorted(l, s) {
		return false
	}
	// l ⊆ s; equality needs every element of s in l. Lists are small.
	for _, id := range s {
		if !slices.Contains(l, id) {
			return false
		}
	}
	return true
}

// setSubsetUnsorted reports whether every element of the wire list l is in s.
func setSubsetUnsorted(l []uint32, s []NodeID) bool {
	for _, id := range l {
		if !setHas(s, id) {
			return false
		}
	}
	return true
}

// setFrom returns the sorted, de-duplicated set of a wire list.
func setFrom(l []uint32) []NodeID {
	s := slices.Clone(l)
	slices.Sort(s)
	return slices.Compact(s)
}
