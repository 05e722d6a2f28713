package cpg_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/corogo/corogo/cpg"
	"github.com/corogo/corogo/cpg/cpgtest"
)

// Join a group, multicast to it and read the events: the configuration
// change of the join, then the group's messages (our own included), in
// the ring's total order.
func Example() {
	// A fake one-node daemon; a real program dials the local corosyncd
	// with cpg.Dial(ctx) and no options.
	daemon, err := cpgtest.Start(cpgtest.Options{NodeID: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer daemon.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cpg.Dial(ctx, cpg.WithSocket(daemon.Socket()), cpg.WithPID(4242))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Join(ctx, "example"); err != nil {
		log.Fatal(err)
	}
	for _, s := range []string{"hello", "world"} {
		if err := c.Mcast(ctx, "example", cpg.Agreed, []byte(s)); err != nil {
			log.Fatal(err)
		}
	}
	for n := 0; n < 2; {
		switch ev := (<-c.Events()).(type) {
		case *cpg.ConfChange:
			fmt.Println("members:", ev.Members, "joined:", ev.Joined)
		case *cpg.Message:
			fmt.Printf("from %d/%d: %s\n", ev.NodeID, ev.PID, ev.Data)
			n++
		}
	}
	// Output:
	// members: [1/4242] joined: [1/4242:join]
	// from 1/4242: hello
	// from 1/4242: world
}
