package quorum_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/corogo/corogo/internal/client/clienttest"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/quorum"
)

// Example asks whether the node is quorate, then follows the membership.
// A stand-in daemon plays corosyncd, so that the example runs anywhere;
// against the real daemon, Dial needs no option.
func Example() {
	d, err := clienttest.New(clienttest.Options{NodeID: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	d.SetMembership(service.RingID{Rep: 1, Seq: 0x2c}, []uint32{1, 2, 3})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := quorum.Dial(ctx, quorum.WithSocket(d.Path()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	quorate, err := c.Quorate(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("quorate:", quorate)

	if err := c.Track(ctx, quorum.TrackCurrent|quorum.TrackChanges); err != nil {
		log.Fatal(err)
	}
	// Node 3 leaves.
	d.SetMembership(service.RingID{Rep: 1, Seq: 0x30}, []uint32{1, 2})

	for range 4 {
		switch ev := (<-c.Events()).(type) {
		case *quorum.View:
			fmt.Printf("view: ring %v, members %v, quorate %v\n", ev.Ring, ev.Members, ev.Quorate)
		case *quorum.NodeList:
			fmt.Printf("nodes: ring %v, members %v, joined %v, left %v\n", ev.Ring, ev.Members, ev.Joined, ev.Left)
		}
	}
	// Output:
	// quorate: true
	// view: ring 1.2c, members [1 2 3], quorate true
	// nodes: ring 1.2c, members [1 2 3], joined [], left []
	// nodes: ring 1.30, members [1 2], joined [], left [3]
	// view: ring 1.30, members [1 2], quorate true
}
