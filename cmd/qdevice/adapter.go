package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/corogo/corogo/internal/qdevice"
	"github.com/corogo/corogo/votequorum"
)

// dialTimeout bounds one connection attempt.
const dialTimeout = 10 * time.Second

// vqClient adapts *votequorum.Client to qdevice.Votequorum.
type vqClient struct {
	c    *votequorum.Client
	done chan struct{}
	once sync.Once
}

// dialVotequorum returns a dialer for corosyncd's socket ("" = default).
func dialVotequorum(socket string) qdevice.Dialer {
	return func(ctx context.Context) (qdevice.Votequorum, error) {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		c, err := votequorum.Dial(dctx, socket)
		if err != nil {
			return nil, err
		}
		return &vqClient{c: c, done: make(chan struct{})}, nil
	}
}

func (a *vqClient) LocalNodeID() uint32 { return a.c.LocalNodeID() }

// Track starts votequorum's tracking and turns node list notifications
// into memberships; the channel closes with the connection.
func (a *vqClient) Track(ctx context.Context) (<-chan qdevice.Membership, error) {
	if err := a.c.TrackStart(ctx, votequorum.TrackCurrent|votequorum.TrackChanges, 0); err != nil {
		return nil, err
	}
	ch := make(chan qdevice.Membership, 16)
	go func() {
		defer close(ch)
		for ev := range a.c.Events() {
			nl, ok := ev.(*votequorum.NodeListNotification)
			if !ok {
				continue
			}
			m := qdevice.NewMembership(qdevice.RingID{NodeID: nl.Ring.NodeID, Seq: nl.Ring.Seq}, nl.Members)
			select {
			case ch <- m:
			case <-a.done:
				return
			}
		}
	}()
	return ch, nil
}

func (a *vqClient) Register(ctx context.Context, name string) error {
	return a.c.QdeviceRegister(ctx, name)
}

func (a *vqClient) Unregister(ctx context.Context, name string) error {
	return a.c.QdeviceUnregister(ctx, name)
}

// Poll maps votequorum's stale-ring status to qdevice.ErrStaleRing.
func (a *vqClient) Poll(ctx context.Context, name string, cast bool, ring qdevice.RingID) error {
	err := a.c.QdevicePoll(ctx, name, cast, votequorum.RingID{NodeID: ring.NodeID, Seq: ring.Seq})
	if errors.Is(err, votequorum.ErrMessage) {
		return fmt.Errorf("%w: %w", qdevice.ErrStaleRing, err)
	}
	return err
}

func (a *vqClient) MasterWins(ctx context.Context, name string, allow bool) error {
	return a.c.QdeviceMasterWins(ctx, name, allow)
}

func (a *vqClient) Close() error {
	a.once.Do(func() { close(a.done) })
	return a.c.Close()
}
