package cmapclient

import (
	"context"
	"fmt"
	"iter"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cmap"
)

// KV is one key with its type and value (see cmap.KV for the Go types
// Value holds).
type KV = cmap.KV

// ValueType is a cmap value type.
type ValueType = cmap.ValueType

// TypeBinary is the type of binary values, which Format prints without
// the value.
const TypeBinary = cmap.TypeBinary

// Format prints kv as corosync-cmapctl does: "totem.token (u32) = 3000";
// a binary value as "key (bin)".
func Format(kv KV) string { return cmap.FormatValue(kv) }

// FormatBinary is Format as corosync-cmapctl -b prints: binary values
// are shown, escaped.
func FormatBinary(kv KV) string { return cmap.FormatValueBinary(kv) }

// Client is a connection to the cmap service. Its methods are safe for
// concurrent use.
type Client struct {
	c *ipc.Client
}

// Dial connects to the daemon's socket at path ("" for ipc.SocketPath())
// and opens the cmap service.
func Dial(ctx context.Context, path string) (*Client, error) {
	c, err := ipc.Dial(ctx, path, uint16(service.CMAP))
	if err != nil {
		return nil, fmt.Errorf("cmap: %w", err)
	}
	return &Client{c: c}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// NodeID is the local node's id, as the daemon announced it.
func (c *Client) NodeID() uint32 { return c.c.NodeID() }

// Get reads one key. A missing key is a *client.StatusError matching
// client.ErrNotExist.
func (c *Client) Get(ctx context.Context, key string) (KV, error) {
	op := "cmap get " + key
	req, err := cmap.AppendGet(nil, key)
	if err != nil {
		return KV{}, fmt.Errorf("%s: %w", op, err)
	}
	st, reply, err := c.c.Call(ctx, cmap.FnGet, req)
	if err != nil {
		return KV{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := client.Check(op, st); err != nil {
		return KV{}, err
	}
	kv, err := cmap.DecodeGetReply(key, reply)
	if err != nil {
		return KV{}, fmt.Errorf("%s: %w", op, err)
	}
	return kv, nil
}

// Iter returns every key starting with prefix ("" for all), in byte
// order of the key, asking the daemon page by page until it has no more.
func (c *Client) Iter(ctx context.Context, prefix string) ([]KV, error) {
	var kvs []KV
	for kv, err := range c.All(ctx, prefix) {
		if err != nil {
			return kvs, err
		}
		kvs = append(kvs, kv)
	}
	return kvs, nil
}

// All is Iter as an iterator: it yields the keys one by one, asking for
// the next page when the last one is used up, and stops after yielding an
// error (with a zero KV). The daemon keeps no iteration state, so keys
// added or removed meanwhile may or may not be seen, but none is yielded
// twice.
func (c *Client) All(ctx context.Context, prefix string) iter.Seq2[KV, error] {
	return func(yield func(KV, error) bool) {
		op := "cmap iterate " + fmt.Sprintf("%q", prefix)
		req := cmap.IterRequest{Prefix: prefix}
		for {
			buf, err := cmap.AppendIter(nil, req)
			if err != nil {
				yield(KV{}, fmt.Errorf("%s: %w", op, err))
				return
			}
			st, reply, err := c.c.Call(ctx, cmap.FnIter, buf)
			if err != nil {
				yield(KV{}, fmt.Errorf("%s: %w", op, err))
				return
			}
			if err := client.Check(op, st); err != nil {
				yield(KV{}, err)
				return
			}
			page, err := cmap.DecodeIterReply(reply)
			if err != nil {
				yield(KV{}, fmt.Errorf("%s: %w", op, err))
				return
			}
			for _, kv := range page.Entries {
				if kv.Key <= req.After {
					// The daemon must move forward: a page that does not
					// would loop forever.
					yield(KV{}, fmt.Errorf("%s: %w: key %q after %q", op, cmap.ErrBadValue, kv.Key, req.After))
					return
				}
				if !yield(kv, nil) {
					return
				}
				req.After = kv.Key
			}
			if !page.More {
				return
			}
			if len(page.Entries) == 0 {
				yield(KV{}, fmt.Errorf("%s: %w: empty page with more to come", op, cmap.ErrBadValue))
				return
			}
		}
	}
}
