package cfgclient

import (
	"context"
	"fmt"

	"github.com/corogo/corogo/internal/client"
	"github.com/corogo/corogo/internal/ipc"
	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/cfg"
)

// LinkStatus is the state of one link to one node.
type LinkStatus = cfg.LinkStatus

// NodeStatus is a node's reachability and links.
type NodeStatus = cfg.NodeStatus

// ShutdownFlags are corosync's corosync_cfg_shutdown_flags_t.
type ShutdownFlags = cfg.ShutdownFlags

// Shutdown flags. The daemon has no shutdown trackers that could veto, so
// all three shut down at once.
const (
	ShutdownRequest    = cfg.ShutdownRequest
	ShutdownRegardless = cfg.ShutdownRegardless
	ShutdownImmediate  = cfg.ShutdownImmediate
)

// MaxReasonLen is the longest reason KillNode accepts, in bytes.
const MaxReasonLen = cfg.MaxReasonLen

// Client is a connection to the cfg service. Its methods are safe for
// concurrent use.
type Client struct {
	c *ipc.Client
}

// Dial connects to the daemon's socket at path ("" for ipc.SocketPath())
// and opens the cfg service.
func Dial(ctx context.Context, path string) (*Client, error) {
	c, err := ipc.Dial(ctx, path, uint16(service.CFG))
	if err != nil {
		return nil, fmt.Errorf("cfg: %w", err)
	}
	return &Client{c: c}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// call sends one request and checks its status.
func (c *Client) call(ctx context.Context, op string, fn uint16, payload []byte) ([]byte, error) {
	st, reply, err := c.c.Call(ctx, fn, payload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := client.Check(op, st); err != nil {
		return nil, err
	}
	return reply, nil
}

// LocalNodeID returns this node's id (corosync_cfg_local_get).
func (c *Client) LocalNodeID(ctx context.Context) (uint32, error) {
	const op = "cfg local node id"
	reply, err := c.call(ctx, op, cfg.FnLocalGet, nil)
	if err != nil {
		return 0, err
	}
	id, err := cfg.DecodeNodeID(reply)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return id, nil
}

// RingStatus returns this node's links to every configured node, this
// node included, sorted by link and node id.
func (c *Client) RingStatus(ctx context.Context) ([]LinkStatus, error) {
	const op = "cfg ring status"
	reply, err := c.call(ctx, op, cfg.FnRingStatusGet, nil)
	if err != nil {
		return nil, err
	}
	ls, err := cfg.DecodeLinks(reply)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return ls, nil
}

// NodeStatus returns one node's reachability and links
// (corosync_cfg_node_status_get). A node the daemon does not know is a
// *client.StatusError matching client.ErrNotExist.
func (c *Client) NodeStatus(ctx context.Context, nodeID uint32) (NodeStatus, error) {
	op := fmt.Sprintf("cfg node status %d", nodeID)
	reply, err := c.call(ctx, op, cfg.FnNodeStatusGet, cfg.AppendNodeID(nil, nodeID))
	if err != nil {
		return NodeStatus{}, err
	}
	s, err := cfg.DecodeNodeStatus(reply)
	if err != nil {
		return NodeStatus{}, fmt.Errorf("%s: %w", op, err)
	}
	return s, nil
}

// KillNode asks node nodeID to shut down, giving reason (at most
// MaxReasonLen bytes). It returns once the request is on its way to the
// ring, not when the node is down.
func (c *Client) KillNode(ctx context.Context, nodeID uint32, reason string) error {
	op := fmt.Sprintf("cfg kill node %d", nodeID)
	req, err := cfg.AppendKillNodeRequest(nil, cfg.KillNodeRequest{NodeID: nodeID, Reason: reason})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = c.call(ctx, op, cfg.FnKillNode, req)
	return err
}

// Shutdown shuts this node's daemon down (corosync_cfg_try_shutdown). It
// returns once the daemon has accepted the request; the connection ends
// when the daemon stops.
func (c *Client) Shutdown(ctx context.Context, flags ShutdownFlags) error {
	_, err := c.call(ctx, "cfg shutdown", cfg.FnShutdown, cfg.AppendShutdownRequest(nil, flags))
	return err
}

// Reload makes every node re-read its configuration file
// (corosync_cfg_reload_config). It returns when this node has reloaded:
// nil, or a *client.StatusError when this node's reload failed (the
// daemon logs why); other nodes' results are in their logs.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.call(ctx, "cfg reload", cfg.FnReload, nil)
	return err
}
