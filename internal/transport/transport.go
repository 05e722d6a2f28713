package transport

import (
	"net/netip"

	"github.com/corogo/corogo/totem"
)

// Kind names a transport.
type Kind string

// Transports.
const (
	// UDPU sends every "multicast" as a unicast to each nodelist member,
	// this node included.
	UDPU Kind = "udpu"
	// UDP uses an IP multicast group.
	UDP Kind = "udp"
)

// Member is one nodelist entry.
type Member struct {
	NodeID totem.NodeID
	Addr   netip.Addr // ring0_addr
}

// Datagram is one received datagram. Data is owned by the caller's batch
// buffer and valid until the next Receive with the same batch.
type Datagram struct {
	From netip.AddrPort
	Data []byte
}

// Stats counts transport activity.
type Stats struct {
	// TxDatagrams counts datagrams handed to the kernel: a Broadcast frame
	// counts one per member with udpu, two with udp (the group and the
	// node's own copy). RxDatagrams counts datagrams returned by Receive.
	TxDatagrams, RxDatagrams uint64
	// TxErrors counts datagrams not sent: unknown targets, refusals by the
	// kernel, and datagrams pending when the transport was closed.
	TxErrors uint64
	// RxErrors counts receive system calls that failed (other than "try
	// again"), such as a reported ICMP error.
	RxErrors uint64
	// RxUnlisted counts datagrams dropped because their source address is
	// not a nodelist member (block_unlisted_ips).
	RxUnlisted uint64
	// RxTruncated counts datagrams dropped as larger than the receive buffer.
	RxTruncated uint64
}

// Transport sends and receives Totem frames. Send and Receive may be
// called from different goroutines; Send is not called concurrently with
// itself, nor Receive with itself.
type Transport interface {
	// Send transmits frames in order. A frame To totem.Broadcast goes to
	// every member (udpu) or to the group (udp); any other frame is a
	// token unicast to that member. Unknown targets are skipped and counted
	// as errors; a send error on one destination does not stop the rest.
	Send(frames []totem.Frame) error
	// Receive blocks until at least one datagram arrives or the transport
	// is closed, fills batch[:n] (each Data sliced from that entry's own
	// buffer, which Receive allocates on first use and reuses after), and
	// returns n. After Close it returns net.ErrClosed.
	Receive(batch []Datagram) (int, error)
	// SetMembers replaces the member table (configuration reload).
	SetMembers(members []Member) error
	// LocalAddr is the address the token socket is bound to.
	LocalAddr() netip.AddrPort
	// Stats returns the counters.
	Stats() Stats
	// Close releases the sockets and unblocks Receive.
	Close() error
}
