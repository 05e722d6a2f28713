package syncproto

import (
	"encoding/binary"
	"fmt"

	"github.com/corogo/corogo/internal/service"
)

// Message ids of the "sync" group. The group has its own dispatcher, so the
// ids are plain numbers, not (service << 16) | fn.
const (
	idBarrier      = 0
	idServiceBuild = 1
)

// Sizes of the two messages on the wire (corosync-wire.md §5.2).
const (
	BarrierSize      = 32
	ServiceBuildSize = 552
	// MaxServices is the length of SERVICE_BUILD's service_list array.
	MaxServices = 128
)

// Barrier says that its sender has finished the current service's sync
// round in ring Ring.
type Barrier struct {
	Ring service.RingID
}

// ServiceBuild lists the services its sender takes part in sync with.
type ServiceBuild struct {
	Ring     service.RingID
	Services []service.ID
}

func putRing(b []byte, r service.RingID) {
	binary.LittleEndian.PutUint32(b, r.Rep)
	binary.LittleEndian.PutUint64(b[4:], r.Seq)
}

// AppendBarrier appends the 32-byte BARRIER message.
func AppendBarrier(dst []byte, m Barrier) []byte {
	var b [BarrierSize]byte
	service.PutHeader(b[:], 0, idBarrier, BarrierSize)
	putRing(b[16:], m.Ring)
	return append(dst, b[:]...)
}

// AppendServiceBuild appends the 552-byte SERVICE_BUILD message. At most
// MaxServices ids are encoded.
func AppendServiceBuild(dst []byte, m ServiceBuild) []byte {
	var b [ServiceBuildSize]byte
	service.PutHeader(b[:], 0, idServiceBuild, ServiceBuildSize)
	putRing(b[16:], m.Ring)
	n := min(len(m.Services), MaxServices)
	binary.LittleEndian.PutUint32(b[32:], uint32(n))
	for i := range n {
		binary.LittleEndian.PutUint32(b[40+4*i:], uint32(m.Services[i]))
	}
	return append(dst, b[:]...)
}

// DecodeError describes a sync message that was dropped.
type DecodeError struct {
	Len    int
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("sync: malformed message (%d bytes): %s", e.Len, e.Reason)
}

// Message is a decoded sync message: exactly one of Barrier and Build is
// set.
type Message struct {
	Barrier *Barrier
	Build   *ServiceBuild
	// RawRing is the ring id's 12 bytes as sent: corosync compares them
	// with memcmp, so a ring id is only ours when these bytes match.
	RawRing [12]byte
}

// Decode parses a sync-group item. Corosync's receivers do not convert the
// byte order of these messages; neither does Decode (an item from a node
// of the other byte order then names another ring and is ignored).
func Decode(msg []byte) (Message, error) {
	h, err := service.ParseHeader(msg, false)
	if err != nil {
		return Message{}, &DecodeError{len(msg), err.Error()}
	}
	var m Message
	switch {
	case h.Service == 0 && h.Fn == idBarrier:
		if len(msg) < BarrierSize-4 {
			return Message{}, &DecodeError{len(msg), "barrier shorter than 28 bytes"}
		}
		copy(m.RawRing[:], msg[16:28])
		m.Barrier = &Barrier{Ring: ringOf(msg[16:])}
	case h.Service == 0 && h.Fn == idServiceBuild:
		if len(msg) < 40 {
			return Message{}, &DecodeError{len(msg), "service build shorter than 40 bytes"}
		}
		copy(m.RawRing[:], msg[16:28])
		n := int(int32(binary.LittleEndian.Uint32(msg[32:])))
		if n < 0 || n > MaxServices {
			return Message{}, &DecodeError{len(msg), fmt.Sprintf("service list of %d entries", n)}
		}
		if len(msg) < 40+4*n {
			return Message{}, &DecodeError{len(msg), fmt.Sprintf("service list of %d entries does not fit", n)}
		}
		sb := &ServiceBuild{Ring: ringOf(msg[16:]), Services: make([]service.ID, 0, n)}
		for i := range n {
			v := binary.LittleEndian.Uint32(msg[40+4*i:])
			if v >= uint32(service.MaxID) {
				return Message{}, &DecodeError{len(msg), fmt.Sprintf("service id %d out of range", v)}
			}
			sb.Services = append(sb.Services, service.ID(v))
		}
		m.Build = sb
	default:
		return Message{}, &DecodeError{len(msg), fmt.Sprintf("unknown message id %#x", uint32(h.Service)<<16|uint32(h.Fn))}
	}
	return m, nil
}

func ringOf(b []byte) service.RingID {
	return service.RingID{Rep: binary.LittleEndian.Uint32(b), Seq: binary.LittleEndian.Uint64(b[4:])}
}
