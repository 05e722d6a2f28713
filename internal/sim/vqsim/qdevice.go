package vqsim

import (
	"errors"
	"fmt"
	"time"

	"github.com/corogo/corogo/internal/service"
	"github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/totem"
)

// DeviceName is the name the simulated quorum devices register with
// (corosync-vqsim's).
const DeviceName = "VQsim_qdevice"

// conn is a simulated client's connection to the votequorum service: the
// service.Conn the engine talks to. It keeps the replies by request id
// (a qdevice registration is answered later, when its QDEVICE_REG comes
// back from the ring) and hands events to the device, if any.
type conn struct {
	id      uint64
	replies map[uint32]service.Status
	dev     *device
}

var _ service.Conn = (*conn)(nil)

func (cl *Cluster) newConn() *conn {
	cl.nextID++
	return &conn{id: cl.nextID, replies: map[uint32]service.Status{}}
}

func (c *conn) ID() uint64         { return c.id }
func (c *conn) Cred() service.Cred { return service.Cred{PID: int32(1000 + c.id)} }
func (c *conn) Close(error)        {}

func (c *conn) Reply(reqID uint32, st service.Status, _ []byte) { c.replies[reqID] = st }

func (c *conn) Event(kind uint16, hdr, body []byte) {
	if c.dev != nil && kind == votequorum.EventNodeList {
		ev, err := votequorum.DecodeNodeListEvent(append(append([]byte(nil), hdr...), body...))
		if err == nil {
			c.dev.newRing(ev.Ring)
		}
	}
}

// request sends one request on the node's host and returns the reply's
// status (0 when none came yet).
func (n *node) request(c *conn, fn uint16, id uint32, payload []byte) service.Status {
	delete(c.replies, id)
	n.h.Request(c, service.Votequorum, service.Request{ID: id, Fn: fn, Payload: payload})
	return c.replies[id]
}

// adminConn returns the node's admin connection (corosync-quorumtool's),
// opening it on first use.
func (n *node) adminConn() (*conn, error) {
	if n.admin != nil {
		return n.admin, nil
	}
	c := n.cl.newConn()
	if st := n.h.Open(c, service.Votequorum); st != service.OK {
		return nil, fmt.Errorf("node %d: votequorum refused a connection: %v", n.id, st)
	}
	n.admin = c
	return c, nil
}

// DeviceMode is what a node's simulated quorum device does.
type DeviceMode uint8

// Device modes.
const (
	// DeviceOff: the device stops polling (after one last poll without
	// its vote, as corosync-vqsim's "qdevice off" does); votequorum
	// declares it dead after quorum.device.timeout.
	DeviceOff DeviceMode = iota
	// DeviceVote: the device polls and casts its vote.
	DeviceVote
	// DeviceNoVote: the device polls (it is alive) but does not cast its
	// vote, as a qdevice that lost its arbiter's ACK does.
	DeviceNoVote
)

// device is a node's simulated quorum device, a client of the node's
// votequorum as corosync-qdevice is: it registers, tracks the node list
// (to learn each new ring id), and polls with the ring id of the latest
// node list notification every half quorum.device.timeout, and at once
// when a new ring is announced (votequorum holds the sync until a poll
// with the new ring id arrives or sync_timeout passes).
type device struct {
	n          *node
	c          *conn
	mode       DeviceMode
	regReq     uint32 // the registration request awaiting its reply
	registered bool
	ring       totem.RingID
	hasRing    bool
	pollNow    bool
	nextPoll   int64 // when polling; 0 when not
	reqID      uint32
	lastPoll   service.Status
}

// busy reports whether the device owes a poll for the current ring or is
// still registering: the cluster is not settled then.
func (d *device) busy() bool {
	return d.regReq != 0 || d.pollNow
}

// nextAt is the tick at which step has something to do.
func (d *device) nextAt() int64 {
	if d.pollNow || d.regReq != 0 && d.c.replies[d.regReq] != 0 {
		return d.n.cl.c.Now() + 1
	}
	if d.nextPoll > 0 {
		return d.nextPoll
	}
	return 1<<62 - 1
}

func (d *device) newRing(r totem.RingID) {
	d.ring, d.hasRing = r, true
	if d.mode != DeviceOff {
		d.pollNow = true
	}
}

func (d *device) next() uint32 {
	d.reqID++
	return d.reqID
}

// step finishes a registration whose reply came and polls when due.
func (d *device) step(now int64) {
	n := d.n
	if d.regReq != 0 {
		st := d.c.replies[d.regReq]
		if st == 0 {
			return
		}
		d.regReq = 0
		if st != service.OK {
			n.cl.note("node %d qdevice registration failed: %v", n.id, st)
			d.mode = DeviceOff
			return
		}
		d.registered = true
		n.cl.note("node %d qdevice registered", n.id)
		d.pollNow = d.mode != DeviceOff
	}
	if !d.registered || d.mode == DeviceOff && !d.pollNow {
		return
	}
	if d.pollNow || d.nextPoll > 0 && now >= d.nextPoll {
		d.poll(now)
	}
}

func (d *device) poll(now int64) {
	n := d.n
	d.pollNow = false
	st := n.request(d.c, votequorum.FnQdevicePoll, d.next(),
		votequorum.AppendPoll(nil, votequorum.Poll{Name: DeviceName, CastVote: d.mode == DeviceVote, Ring: d.ring}))
	if st != d.lastPoll {
		n.cl.note("node %d qdevice poll (cast_vote=%v ring %s): %v", n.id, d.mode == DeviceVote, fmtRing(d.ring), st)
	}
	d.lastPoll = st
	if d.mode == DeviceOff {
		d.nextPoll = 0
		return
	}
	half := n.settings.QdeviceTimeout / 2
	if half < time.Millisecond {
		half = time.Millisecond
	}
	d.nextPoll = now + int64(half/time.Millisecond)
}

// Qdevice sets the mode of the quorum devices of nodes (which must be
// up): a device is registered with the node's votequorum on first use,
// then polls as its mode says. A restarted node has no device until
// Qdevice is called again. With auto sync, the cluster then settles.
func (cl *Cluster) Qdevice(mode DeviceMode, ids ...uint32) error {
	return cl.eachUp(ids, func(_ uint32, n *node) error { return n.qdevice(mode) })
}

func (n *node) qdevice(mode DeviceMode) error {
	d := n.dev
	if d == nil {
		if mode == DeviceOff {
			return nil
		}
		d = &device{n: n, c: n.cl.newConn(), mode: mode}
		d.c.dev = d
		if st := n.h.Open(d.c, service.Votequorum); st != service.OK {
			return fmt.Errorf("node %d: votequorum refused the qdevice connection: %v", n.id, st)
		}
		// Track the node list, as corosync-qdevice does, to learn the ring
		// ids to poll with.
		if st := n.request(d.c, votequorum.FnTrackStart, d.next(),
			votequorum.AppendTrackStart(nil, votequorum.TrackCurrent|votequorum.TrackChanges, 0)); st != service.OK {
			return fmt.Errorf("node %d: qdevice track start: %v", n.id, st)
		}
		id := d.next()
		switch st := n.request(d.c, votequorum.FnQdeviceRegister, id, votequorum.AppendName(nil, DeviceName)); st {
		case 0:
			d.regReq = id
		case service.OK:
			d.registered = true
		default:
			return fmt.Errorf("node %d: qdevice registration: %w: %v", n.id, ErrRefused, st)
		}
		n.dev = d
		n.cl.note("node %d qdevice registering", n.id)
	}
	old := d.mode
	d.mode = mode
	switch {
	case mode != DeviceOff:
		d.pollNow = d.registered
	case old != DeviceOff && d.registered:
		// One last poll without the vote, then silence.
		d.pollNow = true
	}
	return nil
}

// MasterWins sets or clears the master_wins flag of the node's
// registered quorum device (votequorum_qdevice_master_wins).
func (cl *Cluster) MasterWins(allow bool, ids ...uint32) error {
	var errs []error
	for _, id := range ids {
		n, err := cl.node(id)
		if err == nil && !n.up() {
			err = fmt.Errorf("node %d: %w", id, ErrNodeDown)
		}
		if err == nil && (n.dev == nil || !n.dev.registered) {
			err = fmt.Errorf("node %d: no registered quorum device", id)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d := n.dev
		if st := n.request(d.c, votequorum.FnQdeviceMasterWins, d.next(), votequorum.AppendMasterWins(nil, DeviceName, allow)); st != service.OK {
			errs = append(errs, fmt.Errorf("node %d: master wins: %w: %v", id, ErrRefused, st))
		}
	}
	return errors.Join(append(errs, cl.settle())...)
}

// SetExpected asks node on's votequorum to set the cluster's expected
// votes, as corosync-quorumtool -e does.
func (cl *Cluster) SetExpected(expected uint32, on uint32) error {
	n, c, err := cl.adminOn(on)
	if err != nil {
		return err
	}
	cl.note("setexpected %d on %d", expected, on)
	if st := n.request(c, votequorum.FnSetExpected, 1, votequorum.AppendSetExpected(nil, expected)); st != service.OK {
		return fmt.Errorf("setexpected %d on node %d: %w: %v", expected, on, ErrRefused, st)
	}
	return cl.settle()
}

// SetVotes asks node on's votequorum to set node target's votes, as
// corosync-quorumtool -v V -n target does (target 0: the quorum device).
func (cl *Cluster) SetVotes(votes, target, on uint32) error {
	n, c, err := cl.adminOn(on)
	if err != nil {
		return err
	}
	cl.note("setvotes %d node %d on %d", votes, target, on)
	if st := n.request(c, votequorum.FnSetVotes, 1, votequorum.AppendSetVotes(nil, target, votes)); st != service.OK {
		return fmt.Errorf("setvotes %d node %d on node %d: %w: %v", votes, target, on, ErrRefused, st)
	}
	return cl.settle()
}

// CancelWaitForAll asks node on's votequorum to cancel wait_for_all on
// every node (corosync's quorum.cancel_wait_for_all key).
func (cl *Cluster) CancelWaitForAll(on uint32) error {
	n, c, err := cl.adminOn(on)
	if err != nil {
		return err
	}
	cl.note("cancel wait_for_all on %d", on)
	if st := n.request(c, votequorum.FnCancelWaitForAll, 1, nil); st != service.OK {
		return fmt.Errorf("cancelwfa on node %d: %w: %v", on, ErrRefused, st)
	}
	return cl.settle()
}

func (cl *Cluster) adminOn(on uint32) (*node, *conn, error) {
	n, err := cl.node(on)
	if err == nil && !n.up() {
		err = fmt.Errorf("node %d: %w", on, ErrNodeDown)
	}
	if err != nil {
		return nil, nil, err
	}
	c, err := n.adminConn()
	return n, c, err
}
