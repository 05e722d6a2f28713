package netns

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CutMethod selects how Cut isolates a host.
type CutMethod int

const (
	// CutLink sets the host's bridge port down: its eth0 loses carrier, as
	// when a cable is pulled. Sends may fail or vanish; the kernel sees the
	// link go down.
	CutLink CutMethod = iota
	// CutNFT drops every packet in and out of the host's eth0 with
	// nftables: the link stays up, packets silently vanish (sends from the
	// host fail with EPERM).
	CutNFT
)

func (m CutMethod) String() string {
	switch m {
	case CutLink:
		return "link"
	case CutNFT:
		return "nft"
	}
	return "CutMethod(" + strconv.Itoa(int(m)) + ")"
}

// nft runs an nft script inside host i's namespace.
func (c *Cluster) nft(i int, script string) error {
	h, err := c.host(i)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.nsRun(ctx, h.NS, []byte(script), c.nftPath, "-f", "-")
	return err
}

// replaceTable returns an nft script that atomically replaces (or, with an
// empty body, removes) table inet name.
func replaceTable(name, body string) string {
	s := "table inet " + name + "\ndelete table inet " + name + "\n"
	if body != "" {
		s += "table inet " + name + " {\n" + body + "}\n"
	}
	return s
}

// Cut isolates host i from the bridge.
func (c *Cluster) Cut(i int, how CutMethod) error {
	if _, err := c.host(i); err != nil {
		return err
	}
	switch how {
	case CutLink:
		if _, err := c.ipOut(c.switchNS, "link", "set", portPrefix+strconv.Itoa(i), "down"); err != nil {
			return err
		}
	case CutNFT:
		body := fmt.Sprintf("\tchain in { type filter hook input priority -10; policy accept; iifname %q drop; }\n"+
			"\tchain out { type filter hook output priority -10; policy accept; oifname %q drop; }\n", hostIf, hostIf)
		if err := c.nft(i, replaceTable(tableCut, body)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: cut method %v", ErrBadHost, how)
	}
	c.log.Info("netns: cut", "host", i, "how", how)
	return nil
}

// Heal undoes Cut of host i, by both methods, and waits until its link is
// up again.
func (c *Cluster) Heal(i int) error {
	if _, err := c.host(i); err != nil {
		return err
	}
	if err := c.nft(i, replaceTable(tableCut, "")); err != nil {
		return err
	}
	if _, err := c.ipOut(c.switchNS, "link", "set", portPrefix+strconv.Itoa(i), "up"); err != nil {
		return err
	}
	if err := c.waitLinks([]int{i}); err != nil {
		return err
	}
	if err := c.flushNeighbours([]int{i}); err != nil {
		return err
	}
	c.log.Info("netns: healed", "host", i)
	return nil
}

// Partition splits the hosts into groups that cannot reach each other:
// each host drops (nftables, in its own namespace) the packets from and to
// the hosts of other groups. Hosts named in no group form one more group
// together. It replaces any earlier partition; Partition() with no groups
// ends it. A host may appear in one group only.
func (c *Cluster) Partition(groups ...[]int) error {
	n := len(c.hosts)
	group := make([]int, n+1) // host -> group number; 0: not named
	for g, hs := range groups {
		for _, i := range hs {
			if i < 1 || i > n {
				return fmt.Errorf("%w: partition: host %d of %d", ErrBadHost, i, n)
			}
			if group[i] != 0 {
				return fmt.Errorf("%w: partition: host %d in two groups", ErrBadHost, i)
			}
			group[i] = g + 1
		}
	}
	for i := 1; i <= n; i++ {
		var others []string
		for j := 1; j <= n; j++ {
			if group[j] != group[i] {
				others = append(others, c.hosts[j-1].Addr.String())
			}
		}
		body := ""
		if len(others) > 0 {
			set := "{ " + strings.Join(others, ", ") + " }"
			body = fmt.Sprintf("\tchain in { type filter hook input priority -8; policy accept; ip saddr %s drop; }\n"+
				"\tchain out { type filter hook output priority -8; policy accept; ip daddr %s drop; }\n", set, set)
		}
		if err := c.nft(i, replaceTable(tablePart, body)); err != nil {
			return err
		}
	}
	c.log.Info("netns: partition", "groups", fmt.Sprint(groups))
	return nil
}

// Loss drops percent (0..100) of the packets arriving at host i, at random
// (nftables numgen random mod 100 < percent, as netns.sh does). It replaces
// any earlier Loss of host i; 0 removes it.
func (c *Cluster) Loss(i, percent int) error { return c.LossInOut(i, percent, 0) }

// LossInOut drops in percent of the packets arriving at host i and out
// percent of those it sends. netns.sh loss I P is LossInOut(I, P, P).
func (c *Cluster) LossInOut(i, in, out int) error {
	if in < 0 || in > 100 || out < 0 || out > 100 {
		return fmt.Errorf("%w: loss %d%%/%d%% not in 0..100", ErrBadHost, in, out)
	}
	// numgen random mod 100 yields 0..99, and nft rejects "< 100".
	match := func(pct int) string {
		if pct == 100 {
			return ""
		}
		return fmt.Sprintf("numgen random mod 100 < %d ", pct)
	}
	body := ""
	if in > 0 {
		body += fmt.Sprintf("\tchain in { type filter hook input priority -5; policy accept; iifname %q %sdrop; }\n", hostIf, match(in))
	}
	if out > 0 {
		body += fmt.Sprintf("\tchain out { type filter hook output priority -5; policy accept; oifname %q %sdrop; }\n", hostIf, match(out))
	}
	if err := c.nft(i, replaceTable(tableLoss, body)); err != nil {
		return err
	}
	c.log.Info("netns: loss", "host", i, "in%", in, "out%", out)
	return nil
}

// NoLoss removes the loss rules of host i.
func (c *Cluster) NoLoss(i int) error { return c.LossInOut(i, 0, 0) }

// HealAll undoes every Cut, Partition and Loss.
func (c *Cluster) HealAll() error {
	script := replaceTable(tableCut, "") + replaceTable(tablePart, "") + replaceTable(tableLoss, "")
	all := make([]int, 0, len(c.hosts))
	for _, h := range c.hosts {
		if err := c.nft(h.Index, script); err != nil {
			return err
		}
		if _, err := c.ipOut(c.switchNS, "link", "set", portPrefix+strconv.Itoa(h.Index), "up"); err != nil {
			return err
		}
		all = append(all, h.Index)
	}
	if err := c.waitLinks(all); err != nil {
		return err
	}
	if err := c.flushNeighbours(all); err != nil {
		return err
	}
	c.log.Info("netns: healed all")
	return nil
}

// Rules returns host i's nftables ruleset, for logs.
func (c *Cluster) Rules(i int) (string, error) {
	out, err := c.Exec(i, c.nftPath, "list", "ruleset")
	return string(out), err
}

// flushNeighbours forgets the ARP entries of the healed hosts, theirs and
// the others' about them. ARP requests sent while a link was down leave
// entries INCOMPLETE or FAILED, which would delay the first packets after
// the heal by up to a second (the ARP retransmit time); a heal should
// restore the network at once.
func (c *Cluster) flushNeighbours(healed []int) error {
	isHealed := make([]bool, len(c.hosts)+1)
	for _, i := range healed {
		isHealed[i] = true
	}
	for _, h := range c.hosts {
		var b strings.Builder
		if isHealed[h.Index] {
			fmt.Fprintf(&b, "neigh flush dev %s\n", hostIf)
		} else {
			for _, i := range healed {
				fmt.Fprintf(&b, "neigh flush to %s dev %s\n", c.hosts[i-1].Addr, hostIf)
			}
		}
		if _, err := c.ipBatch(h.NS, b.String()); err != nil {
			return err
		}
	}
	return nil
}
