// Package netns builds small simulated networks of Linux network namespaces
// for multi-host tests of real processes (corosyncd, or real corosync), and
// injects network faults into them. It is the Go twin of the shell harness
// shared/bench/corosync/netns.sh and cluster.sh, made for go test: unique
// names per run, cleanup on failure, logs kept per host.
//
// # Topology
//
// Create (or New, in a test) with N hosts makes N+1 namespaces, named after
// the test process and a per-process counter so that parallel runs and
// leftovers of crashed runs never collide:
//
//	root namespace (the test process): no address, no route, no interface
//	of the cluster; nothing is added to it
//	. . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . .
//
//	  switch namespace cg<pid>-<seq>sw
//	  +---------------------------------------------------------------+
//	  |  lo    br0: bridge, no address, STP off, forward delay 0,     |
//	  |             multicast snooping off                            |
//	  |          |            |                    |                  |
//	  |          p1           p2        ...        pN                 |
//	  +----------|------------|--------------------|------------------+
//	        veth |       veth |               veth |   MTU 1500
//	  +----------|--+ +-------|------+     +-------|------+
//	  | eth0        | | eth0         |     | eth0         |
//	  | 10.213.k.1  | | 10.213.k.2   | ... | 10.213.k.N   |
//	  | lo          | | lo           |     | lo           |
//	  +-------------+ +--------------+     +--------------+
//	   cg<pid>-<seq>h1  cg<pid>-<seq>h2     cg<pid>-<seq>hN
//
// Each host namespace has lo up, eth0 with 10.213.k.i/24, the connected
// route of that /24 and a 224.0.0.0/4 route for multicast (corosync's udp
// transport), and no default route. Host numbers are 1-based, like corosync
// node IDs, and host i has address .i. Interface names are fixed (br0, p<i>,
// eth0): every cluster has a switch namespace of its own, so they cannot
// collide and stay well under the kernel's 15 characters.
//
// # Isolation
//
// The veth pairs are created inside the switch namespace with their peer
// placed directly in the host namespace; no interface, address or route is
// ever created in the root namespace, and the bridge carries no address. So
// there is no route from the root namespace (or the real network) into
// 10.213.0.0/16 here, and none out of the hosts: a host namespace can reach
// only the other hosts of its cluster and its own loopback. The package
// refuses subnets outside 10.213.0.0/16. Code of the test process reaches
// the hosts only through sockets made inside a host namespace (ListenPacket,
// Listen, Dial, Probe): they enter the namespace on a locked OS thread with
// setns(2), create the socket (which stays in that namespace), and move the
// thread back; they refuse to run if the target is the caller's own
// namespace. Never send to a cluster address from a plain socket of the test
// process: the root namespace has no route to it, and the packet would go to
// the default gateway.
//
// # Processes
//
// Start runs a program in a host's namespace by forking from a thread that
// has entered it (so the PID returned is the program's), with stdout and
// stderr appended to Host.Log. Spec.PrivateRun adds a mount namespace with
// Host.RunDir bound over /run, which real corosync 3.1.7 needs (it
// hard-codes /var/run/corosync.pid), and a sysfs of the host's namespace
// over /sys, as ip netns exec mounts. Kill, Stop, Cont, Terminate, Signal,
// Wait and Running act on that program by PID (through a pidfd, so a reused
// PID is never hit). Started programs get SIGKILL if the test process dies
// (parent-death signal). Close kills them, kills by PID any other process
// left inside the cluster's namespaces, and deletes the namespaces. The
// first Create of a process also deletes namespaces named by this package
// whose test process no longer exists (CleanupStale).
//
// # Faults
//
// Cut(i, CutLink) sets host i's bridge port down (carrier loss);
// Cut(i, CutNFT) drops everything in and out of its eth0 with nftables;
// Heal(i) undoes both. Partition(groups...) installs, in every host, an
// nftables table dropping packets from and to hosts of other groups. Loss
// and LossInOut drop a percentage of packets at random with nftables
// (numgen random mod 100 < P), as netns.sh loss does. HealAll undoes every
// fault. All nftables rules live in the host namespaces, in tables
// corogo_cut, corogo_part and corogo_loss.
//
// # Use from a daemon test
//
//	func TestThreeNodes(t *testing.T) {
//		c := netns.New(t, 3) // skips unless root with ip and nft
//		for i := 1; i <= 3; i++ {
//			h := c.Host(i)
//			conf := writeConf(t, h.Dir, h.Addr, c.Hosts()) // nodelist from Hosts
//			if _, err := c.Start(i, netns.Spec{
//				Args:       []string{corosyncdPath, "-f", "-c", conf},
//				PrivateRun: true,
//			}); err != nil {
//				t.Fatal(err)
//			}
//		}
//		// ... wait for a 3-node membership ...
//		c.Partition([]int{1, 2}, []int{3}) // 3 alone; 1 and 2 keep quorum
//		// ... check ...
//		c.HealAll()
//		c.Kill(2) // crash; Start(2, ...) again to restart
//	}
//
// The cluster is closed by t.Cleanup; when the test failed, the end of each
// host's log is printed. Outside tests, Create and Close do the same by
// hand.
//
// Requirements: Linux, root, ip (iproute2) and nft (nftables); Available
// tells which is missing. On Debian: apt-get install iproute2 nftables.
package netns
