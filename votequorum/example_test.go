package votequorum_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/corogo/corogo/votequorum"
	"github.com/corogo/corogo/votequorum/votequorumtest"
)

// Example reads this node's votes and quorum, then follows the cluster as
// a node leaves. A stand-in daemon plays corosyncd, so that the example
// runs anywhere; against the real daemon, Dial's path is "".
func Example() {
	d, err := votequorumtest.New(votequorumtest.Options{
		NodeID: 1,
		Nodes:  []votequorumtest.Node{{ID: 1}, {ID: 2}, {ID: 3}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, d.Path())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	info, err := c.GetInfo(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("node %d: votes %d, expected %d, total %d, quorum %d, flags %v\n",
		info.NodeID, info.Votes, info.ExpectedVotes, info.TotalVotes, info.Quorum, info.Flags)

	if err := c.TrackStart(ctx, votequorum.TrackChanges, 42); err != nil {
		log.Fatal(err)
	}
	// Nodes 2 and 3 leave.
	d.SetMembership(votequorum.RingID{NodeID: 1, Seq: 8}, []uint32{1})

	for range 4 {
		switch ev := (<-c.Events()).(type) {
		case *votequorum.NodeListNotification:
			fmt.Printf("ring %v: members %v\n", ev.Ring, ev.Members)
		case *votequorum.QuorumNotification:
			fmt.Printf("quorate %v (context %d)\n", ev.Quorate, ev.Context)
		}
	}
	// Output:
	// node 1: votes 1, expected 3, total 3, quorum 2, flags Quorate
	// ring 1.4: members [1 2 3]
	// quorate true (context 42)
	// ring 1.8: members [1]
	// quorate false (context 42)
}

// Example_qdevice is what a quorum device daemon does: register, poll
// every few seconds with the ring it last saw, and unregister when it
// stops.
func Example_qdevice() {
	d, err := votequorumtest.New(votequorumtest.Options{
		NodeID: 1,
		Nodes:  []votequorumtest.Node{{ID: 1}, {ID: 2}},
		// quorum.device with one vote: expected votes 3.
		QdeviceVotes: 1,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := votequorum.Dial(ctx, d.Path())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	const name = "Qdevice"
	if err := c.QdeviceRegister(ctx, name); err != nil {
		log.Fatal(err)
	}
	// The ring comes from the node list notifications.
	if err := c.TrackStart(ctx, votequorum.TrackCurrent, 0); err != nil {
		log.Fatal(err)
	}
	var ring votequorum.RingID
	for ring == (votequorum.RingID{}) {
		if nl, ok := (<-c.Events()).(*votequorum.NodeListNotification); ok {
			ring = nl.Ring
		}
	}
	if err := c.QdevicePoll(ctx, name, true, ring); err != nil {
		log.Fatal(err)
	}
	info, err := c.GetInfo(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("total votes %d, flags %v\n", info.TotalVotes, info.Flags)

	// A poll for a ring that is gone is ignored.
	err = c.QdevicePoll(ctx, name, true, votequorum.RingID{NodeID: 1, Seq: 1})
	fmt.Println("stale poll:", errors.Is(err, votequorum.ErrMessage))

	if err := c.QdeviceUnregister(ctx, name); err != nil {
		log.Fatal(err)
	}
	// Output:
	// total votes 3, flags Quorate Qdevice QdeviceAlive QdeviceCastVote
	// stale poll: true
}
