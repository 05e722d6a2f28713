package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/corogo/corogo/internal/service"
)

// HeaderSize is the size of the header that starts every frame.
const HeaderSize = 16

// Version is the protocol version this package speaks, carried in HELLO and
// WELCOME.
const Version = 1

// Magic starts every HELLO payload.
const Magic = "CGIP"

// DefaultMaxFrame is the default largest frame, header included: a 1 MiB
// payload plus 4 KiB for a service's own headers.
const DefaultMaxFrame = HeaderSize + 1<<20 + 4<<10

// Bounds on a configured MaxFrame. The lower bound keeps room for HELLO,
// WELCOME and small requests; the upper one keeps lengths far from the
// u32 limit and read buffers sane.
const (
	MinMaxFrame = 256
	MaxMaxFrame = 1 << 30
)

// HelloSize and WelcomeSize are the payload sizes of HELLO and WELCOME in
// version 1. Longer payloads are accepted and the extra bytes ignored, so
// a later version may append fields.
const (
	HelloSize   = 12
	WelcomeSize = 12
)

// Kind is a frame's type. The numbering is append-only.
type Kind uint16

// Frame kinds.
const (
	// KindHello is the client's first frame: magic, version, service.
	KindHello Kind = 1
	// KindWelcome answers HELLO: status, version, service, node id, max
	// frame.
	KindWelcome Kind = 2
	// KindRequest is a client request; ID 0 asks for no reply.
	KindRequest Kind = 3
	// KindReply answers the REQUEST with the same ID.
	KindReply Kind = 4
	// KindEvent is an unsolicited message from the server.
	KindEvent Kind = 5

	// maxKind is the highest kind version 1 knows.
	maxKind = KindEvent
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindHello:
		return "HELLO"
	case KindWelcome:
		return "WELCOME"
	case KindRequest:
		return "REQUEST"
	case KindReply:
		return "REPLY"
	case KindEvent:
		return "EVENT"
	}
	return fmt.Sprintf("kind(%d)", uint16(k))
}

// Header is a decoded frame header.
type Header struct {
	// Length is the whole frame's length, header included.
	Length uint32
	// Kind is the frame type.
	Kind Kind
	// Fn is the request type (REQUEST) or event kind (EVENT), numbered by
	// the service; 0 in HELLO, WELCOME and REPLY.
	Fn uint16
	// ID is the request id of a REQUEST and its REPLY (0: no reply
	// wanted); 0 in the other kinds.
	ID uint32
	// Status is a REPLY's or WELCOME's outcome; 0 in the other kinds.
	Status service.Status
}

// PutHeader writes h into b[:HeaderSize].
func PutHeader(b []byte, h Header) {
	_ = b[HeaderSize-1]
	binary.LittleEndian.PutUint32(b[0:], h.Length)
	binary.LittleEndian.PutUint16(b[4:], uint16(h.Kind))
	binary.LittleEndian.PutUint16(b[6:], h.Fn)
	binary.LittleEndian.PutUint32(b[8:], h.ID)
	binary.LittleEndian.PutUint32(b[12:], uint32(h.Status))
}

// AppendHeader appends the 16 header bytes of h to dst.
func AppendHeader(dst []byte, h Header) []byte {
	return binary.LittleEndian.AppendUint32(
		binary.LittleEndian.AppendUint32(
			binary.LittleEndian.AppendUint16(
				binary.LittleEndian.AppendUint16(
					binary.LittleEndian.AppendUint32(dst, h.Length),
					uint16(h.Kind)),
				h.Fn),
			h.ID),
		uint32(h.Status))
}

// Errors of ParseHeader, wrapped in a *FrameError.
var (
	// ErrShortHeader: fewer than HeaderSize bytes.
	ErrShortHeader = errors.New("ipc: frame shorter than its 16-byte header")
	// ErrFrameLength: a length below HeaderSize.
	ErrFrameLength = errors.New("ipc: frame length below the header size")
	// ErrFrameTooBig: a length above the maximum frame size (or, from
	// Client.Call and Send, a payload that does not fit in one).
	ErrFrameTooBig = errors.New("ipc: frame larger than the maximum frame size")
	// ErrFrameKind: a kind this version does not know.
	ErrFrameKind = errors.New("ipc: unknown frame kind")
)

// FrameError is the error ParseHeader returns. Except for ErrShortHeader,
// Header holds the decoded fields, so a server can answer the frame's ID.
type FrameError struct {
	Header Header
	// Max is the maximum frame size the header was checked against.
	Max int
	// Err is ErrShortHeader, ErrFrameLength, ErrFrameTooBig or
	// ErrFrameKind.
	Err error
}

// Error describes the bad header.
func (e *FrameError) Error() string {
	switch e.Err {
	case ErrShortHeader:
		return e.Err.Error()
	case ErrFrameLength, ErrFrameTooBig:
		return fmt.Sprintf("%v: length %d (%s id %d, max %d)", e.Err, e.Header.Length, e.Header.Kind, e.Header.ID, e.Max)
	}
	return fmt.Sprintf("%v: %d (id %d)", e.Err, uint16(e.Header.Kind), e.Header.ID)
}

// Unwrap returns the sentinel.
func (e *FrameError) Unwrap() error { return e.Err }

// ParseHeader decodes and checks the header at the start of b against the
// maximum frame size maxFrame (DefaultMaxFrame when ≤ 0). Only the header
// is read: b may hold less than the whole frame, or more. The error is a
// *FrameError wrapping ErrShortHeader, ErrFrameLength, ErrFrameTooBig or
// ErrFrameKind; the length is checked before the kind.
func ParseHeader(b []byte, maxFrame int) (Header, error) {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	if len(b) < HeaderSize {
		return Header{}, &FrameError{Max: maxFrame, Err: ErrShortHeader}
	}
	h := Header{
		Length: binary.LittleEndian.Uint32(b[0:]),
		Kind:   Kind(binary.LittleEndian.Uint16(b[4:])),
		Fn:     binary.LittleEndian.Uint16(b[6:]),
		ID:     binary.LittleEndian.Uint32(b[8:]),
		Status: service.Status(binary.LittleEndian.Uint32(b[12:])),
	}
	switch {
	case h.Length < HeaderSize:
		return h, &FrameError{Header: h, Max: maxFrame, Err: ErrFrameLength}
	case uint64(h.Length) > uint64(maxFrame):
		return h, &FrameError{Header: h, Max: maxFrame, Err: ErrFrameTooBig}
	case h.Kind == 0 || h.Kind > maxKind:
		return h, &FrameError{Header: h, Max: maxFrame, Err: ErrFrameKind}
	}
	return h, nil
}

// Hello is the payload of a HELLO frame (after the magic).
type Hello struct {
	// Version is the protocol version the client speaks.
	Version uint16
	// Service is the service id the client connects to.
	Service uint16
	// Flags are client flags; none are defined in version 1 (send 0; the
	// server ignores them).
	Flags uint32
}

// Errors of ParseHello and ParseWelcome.
var (
	// ErrBadMagic: a HELLO that does not start with Magic.
	ErrBadMagic = errors.New("ipc: HELLO without the CGIP magic")
	// ErrShortPayload: a HELLO or WELCOME payload shorter than 12 bytes.
	ErrShortPayload = errors.New("ipc: payload too short")
)

// AppendHello appends a complete HELLO frame carrying h to dst.
func AppendHello(dst []byte, h Hello) []byte {
	dst = AppendHeader(dst, Header{Length: HeaderSize + HelloSize, Kind: KindHello})
	dst = append(dst, Magic...)
	dst = binary.LittleEndian.AppendUint16(dst, h.Version)
	dst = binary.LittleEndian.AppendUint16(dst, h.Service)
	return binary.LittleEndian.AppendUint32(dst, h.Flags)
}

// ParseHello decodes a HELLO payload (the bytes after the header). Bytes
// after the first HelloSize are ignored.
func ParseHello(p []byte) (Hello, error) {
	if len(p) < HelloSize {
		if len(p) >= len(Magic) && string(p[:len(Magic)]) != Magic {
			return Hello{}, ErrBadMagic
		}
		return Hello{}, fmt.Errorf("%w: HELLO of %d bytes, want %d", ErrShortPayload, len(p), HelloSize)
	}
	if string(p[:len(Magic)]) != Magic {
		return Hello{}, ErrBadMagic
	}
	return Hello{
		Version: binary.LittleEndian.Uint16(p[4:]),
		Service: binary.LittleEndian.Uint16(p[6:]),
		Flags:   binary.LittleEndian.Uint32(p[8:]),
	}, nil
}

// Welcome is the payload of a WELCOME frame. The outcome is the header's
// Status.
type Welcome struct {
	// Version is the protocol version the server speaks.
	Version uint16
	// Service echoes the HELLO's service id.
	Service uint16
	// NodeID is the local node's id.
	NodeID uint32
	// MaxFrame is the largest frame, header included, the server accepts
	// and sends.
	MaxFrame uint32
}

// AppendWelcome appends a complete WELCOME frame with status st carrying w
// to dst.
func AppendWelcome(dst []byte, st service.Status, w Welcome) []byte {
	dst = AppendHeader(dst, Header{Length: HeaderSize + WelcomeSize, Kind: KindWelcome, Status: st})
	dst = binary.LittleEndian.AppendUint16(dst, w.Version)
	dst = binary.LittleEndian.AppendUint16(dst, w.Service)
	dst = binary.LittleEndian.AppendUint32(dst, w.NodeID)
	return binary.LittleEndian.AppendUint32(dst, w.MaxFrame)
}

// ParseWelcome decodes a WELCOME payload (the bytes after the header).
// Bytes after the first WelcomeSize are ignored.
func ParseWelcome(p []byte) (Welcome, error) {
	if len(p) < WelcomeSize {
		return Welcome{}, fmt.Errorf("%w: WELCOME of %d bytes, want %d", ErrShortPayload, len(p), WelcomeSize)
	}
	return Welcome{
		Version:  binary.LittleEndian.Uint16(p[0:]),
		Service:  binary.LittleEndian.Uint16(p[2:]),
		NodeID:   binary.LittleEndian.Uint32(p[4:]),
		MaxFrame: binary.LittleEndian.Uint32(p[8:]),
	}, nil
}
