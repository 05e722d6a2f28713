package main

import (
	"fmt"
	"strings"

	"github.com/corogo/corogo/internal/netns"
)

// testConf describes the corosync.conf the namespace tests write; every
// daemon of a cluster (ours or real corosync) reads the same text, apart
// from its own state_dir and logfile.
type testConf struct {
	cluster string
	// token and coef are totem.token and totem.token_coefficient in ms;
	// token 0 and coef < 0 leave corosync's defaults.
	token, coef int
	// logfile, when set, logs there; otherwise to stderr.
	logfile  string
	stateDir string
	// noSchedRR writes system.sched_rr: no (real corosync's real-time
	// scheduling off, to compare like with like).
	noSchedRR bool
	// quiet logs without debug; votequorum adds quorum.provider (the
	// configuration of shared/bench/corosync's baseline).
	quiet, votequorum bool
	// quorum holds extra lines of the quorum section (with votequorum).
	quorum string
}

// text renders the configuration for the hosts: udpu, crypto off, debug
// logging with hires timestamps (so our daemon logs Members[N] lines).
func (c testConf) text(hosts []netns.Host) string {
	var b strings.Builder
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: udpu\n\tcrypto_cipher: none\n\tcrypto_hash: none\n", c.cluster)
	if c.token > 0 {
		fmt.Fprintf(&b, "\ttoken: %d\n", c.token)
	}
	if c.coef >= 0 {
		fmt.Fprintf(&b, "\ttoken_coefficient: %d\n", c.coef)
	}
	b.WriteString("}\nnodelist {\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "\tnode {\n\t\tring0_addr: %s\n\t\tnodeid: %d\n\t\tname: n%d\n\t}\n", h.Addr, h.Index, h.Index)
	}
	debug := "on"
	if c.quiet {
		debug = "off"
	}
	fmt.Fprintf(&b, "}\nlogging {\n\tfileline: off\n\tto_syslog: no\n\ttimestamp: hires\n\tdebug: %s\n", debug)
	if c.logfile != "" {
		fmt.Fprintf(&b, "\tto_stderr: no\n\tto_logfile: yes\n\tlogfile: %s\n", c.logfile)
	} else {
		b.WriteString("\tto_stderr: yes\n\tto_logfile: no\n")
	}
	if c.votequorum {
		b.WriteString("}\nquorum {\n\tprovider: corosync_votequorum\n")
		b.WriteString(c.quorum)
	}
	fmt.Fprintf(&b, "}\nsystem {\n\tstate_dir: %s\n", c.stateDir)
	if c.noSchedRR {
		b.WriteString("\tsched_rr: no\n")
	}
	b.WriteString("}\n")
	return b.String()
}
