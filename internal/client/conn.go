package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
)

// eventBuffer is the capacity of a Conn's Events channel; beyond it
// events wait in the connection's unbounded queue.
const eventBuffer = 16

// Conn is a connection to one service of the daemon whose events a
// goroutine of its own decodes into a channel: the skeleton of the
// public clients of the quorum and votequorum services. Its methods are
// safe for concurrent use.
type Conn[E any] struct {
	ic        *ipc.Client
	prefix    string
	malformed error
	decode    func(ipc.Event) (E, bool, error)
	events    chan E
	quit      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once

	mu  sync.Mutex
	err error // a malformed event ended the connection
}

// Dial connects to the daemon's socket at path (ipc.Dial's default when
// "") and opens service svc; ctx bounds the connection and the
// handshake. prefix begins the connection's errors ("quorum", ...);
// malformed is the sentinel an event decode fails with. decode decodes
// one event: false, with a nil error, ignores it (a kind of a later
// version), and an error ends the connection.
func Dial[E any](ctx context.Context, path string, svc service.ID, prefix string, malformed error, decode func(ipc.Event) (E, bool, error)) (*Conn[E], error) {
	ic, err := ipc.Dial(ctx, path, uint16(svc))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	c := &Conn[E]{
		ic:        ic,
		prefix:    prefix,
		malformed: malformed,
		decode:    decode,
		events:    make(chan E, eventBuffer),
		quit:      make(chan struct{}),
	}
	c.wg.Add(1)
	go c.forward()
	return c, nil
}

// NodeID is the local node's id, as the daemon announced it when the
// connection opened.
func (c *Conn[E]) NodeID() uint32 { return c.ic.NodeID() }

// Close ends the connection and waits for its goroutine. Events not yet
// received are dropped and the Events channel is closed.
func (c *Conn[E]) Close() {
	c.once.Do(func() { close(c.quit) })
	c.ic.Close()
	c.wg.Wait()
}

// Err returns why the connection ended, nil while it is up: an error
// matching ipc.ErrDisconnected when the daemon went away, ipc.ErrClosed
// after Close, or the malformed sentinel for an event that could not be
// decoded.
func (c *Conn[E]) Err() error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.ic.Err(); err != nil {
		return fmt.Errorf("%s: %w", c.prefix, err)
	}
	return nil
}

// Events returns the channel of decoded events, in the order the daemon
// sent them. It is closed when the connection ends (Err tells why),
// after the events received before.
func (c *Conn[E]) Events() <-chan E { return c.events }

// Call sends one request op (named in errors) and returns the daemon's
// status and reply. A connection that ended on a malformed event fails
// with that event's error rather than ipc.ErrClosed.
func (c *Conn[E]) Call(ctx context.Context, op string, fn uint16, payload []byte) (service.Status, []byte, error) {
	st, reply, err := c.ic.Call(ctx, fn, payload)
	if err != nil {
		c.mu.Lock()
		merr := c.err
		c.mu.Unlock()
		if merr != nil && errors.Is(err, ipc.ErrClosed) {
			err = merr
		}
		return 0, nil, fmt.Errorf("%s: %s: %w", c.prefix, op, err)
	}
	return st, reply, nil
}

// forward is the connection's goroutine: it decodes the connection's
// events into c.events.
func (c *Conn[E]) forward() {
	defer c.wg.Done()
	defer close(c.events)
	for ev := range c.ic.Events() {
		e, ok, err := c.decode(ev)
		if err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("%w: event %d: %w", c.malformed, ev.Fn, err)
			c.mu.Unlock()
			// The connection's Close does not wait for this goroutine.
			c.ic.Close()
			return
		}
		if !ok {
			continue
		}
		select {
		case c.events <- e:
		case <-c.quit:
			return
		}
	}
}
