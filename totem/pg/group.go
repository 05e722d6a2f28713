package pg

import (
	"encoding/binary"
	"fmt"
)

// The two groups corosync uses (corosync-wire.md §4), and their group
// headers as they appear on the wire.
const (
	// GroupA carries all service traffic ("a").
	GroupA = "a"
	// GroupSync carries the sync protocol ("sync").
	GroupSync = "sync"
	// GroupHeaderA is the group header of an item sent to GroupA:
	// 01 00 01 00 61.
	GroupHeaderA = "\x01\x00\x01\x00a"
	// GroupHeaderSync is the group header of an item sent to GroupSync:
	// 01 00 04 00 73 79 6e 63.
	GroupHeaderSync = "\x01\x00\x04\x00sync"
)

// MaxGroups is corosync's MAX_GROUPS_PER_MSG: a sender addresses at most
// this many groups in one item. ParseGroups does not enforce it on receive
// (corosync does not either); the lengths bound the work.
const MaxGroups = 32

// MaxGroupName is the longest group name a length word can describe.
const MaxGroupName = 0xFFFF

// AppendGroupHeader appends the group header addressing groups to dst:
// group_count u16, one u16 length per group, then the names concatenated,
// little-endian, and returns the extended slice. The item's payload follows
// it. AppendGroupHeader(nil, GroupA) yields GroupHeaderA.
//
// It panics if there are more than MaxGroups groups or a name is longer than
// MaxGroupName bytes: group names are constants of the caller, so this is a
// programming error (use CheckGroups to validate names from elsewhere).
func AppendGroupHeader(dst []byte, groups ...string) []byte {
	if err := CheckGroups(groups...); err != nil {
		panic(err)
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(groups)))
	for _, g := range groups {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(g)))
	}
	for _, g := range groups {
		dst = append(dst, g...)
	}
	return dst
}

// CheckGroups reports whether groups can be encoded in a group header: at
// most MaxGroups names, each at most MaxGroupName bytes.
func CheckGroups(groups ...string) error {
	if len(groups) > MaxGroups {
		return errorf("encode", ReasonGroupHeader, "%d groups, at most %d", len(groups), MaxGroups)
	}
	for i, g := range groups {
		if len(g) > MaxGroupName {
			return errorf("encode", ReasonGroupHeader, "group %d name has %d bytes, at most %d", i, len(g), MaxGroupName)
		}
	}
	return nil
}

// GroupHeader is a parsed group header. It refers to the item it was parsed
// from and does not allocate.
type GroupHeader struct {
	raw     []byte // the whole header: count, lengths, names
	count   int
	swapped bool
}

// ParseGroups splits an item into its group header and payload. swapped
// reports that the SRP message arrived in the other byte order; the count
// and length words are then byte-swapped (group names are bytes). It never
// allocates or panics.
func ParseGroups(item []byte, swapped bool) (GroupHeader, []byte, error) {
	if len(item) < 2 {
		return GroupHeader{}, nil, errorf("parse groups", ReasonGroupHeader, "%d bytes, group count needs 2", len(item))
	}
	n := int(u16(item, swapped))
	off := 2 + 2*n
	if len(item) < off {
		return GroupHeader{}, nil, errorf("parse groups", ReasonGroupHeader, "%d bytes, %d group lengths need %d", len(item), n, off)
	}
	for i := 0; i < n; i++ {
		off += int(u16(item[2+2*i:], swapped))
	}
	if len(item) < off {
		return GroupHeader{}, nil, errorf("parse groups", ReasonGroupHeader, "%d bytes, %d group names need %d", len(item), n, off)
	}
	return GroupHeader{raw: item[:off:off], count: n, swapped: swapped}, item[off:], nil
}

// Count returns the number of groups addressed.
func (g GroupHeader) Count() int { return g.count }

// Len returns the size of the group header in bytes (the payload's offset).
func (g GroupHeader) Len() int { return len(g.raw) }

// Bytes returns the group header as it appeared in the item.
func (g GroupHeader) Bytes() []byte { return g.raw }

// Name returns the name of group i, 0 ≤ i < Count(), as a sub-slice of the
// item. It panics if i is out of range, like a slice index.
func (g GroupHeader) Name(i int) []byte {
	if i < 0 || i >= g.count {
		panic(fmt.Sprintf("pg: group index %d out of range [0,%d)", i, g.count))
	}
	off := 2 + 2*g.count
	for j := 0; j < i; j++ {
		off += int(u16(g.raw[2+2*j:], g.swapped))
	}
	return g.raw[off : off+int(u16(g.raw[2+2*i:], g.swapped))]
}

// Has reports whether the item is addressed to the group name. Corosync
// delivers an item to every local group instance that joined any listed name;
// names match by exact length and bytes.
func (g GroupHeader) Has(name string) bool {
	off := 2 + 2*g.count
	for i := 0; i < g.count; i++ {
		n := int(u16(g.raw[2+2*i:], g.swapped))
		if string(g.raw[off:off+n]) == name {
			return true
		}
		off += n
	}
	return false
}

// Is reports whether the header addresses exactly one group, name: the form
// of every item corosync sends.
func (g GroupHeader) Is(name string) bool {
	return g.count == 1 && string(g.raw[4:]) == name
}

// Equal reports whether the header is byte-for-byte the little-endian
// header hdr, such as GroupHeaderA.
func (g GroupHeader) Equal(hdr string) bool {
	if !g.swapped {
		return string(g.raw) == hdr
	}
	if len(g.raw) != len(hdr) {
		return false
	}
	// Compare the swapped words with the little-endian ones.
	words := 2 + 2*g.count
	for i := 0; i < words; i += 2 {
		if g.raw[i] != hdr[i+1] || g.raw[i+1] != hdr[i] {
			return false
		}
	}
	return string(g.raw[words:]) == hdr[words:]
}
