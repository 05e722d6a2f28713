// Package ipc is the local transport between corosyncd and its clients:
// one Unix stream socket (SocketPath: $COROSYNCD_SOCKET, else
// /run/corosyncd/corosyncd.sock), a framing protocol of our own, the
// server the daemon runs (Listen, Server.Serve, Handler, Conn) and the
// client tools and libraries use (Dial, Client). Payloads are opaque here:
// each service defines its requests, replies and events.
//
// It plays the part of libqb's IPC in corosync, but is not compatible
// with it: corosync's clients cannot connect to corosyncd, nor ours to
// corosync.
//
// # Wire protocol, version 1
//
// All integers are little-endian. Every frame starts with a 16-byte
// header:
//
//	offset size field
//	0      4    length  whole frame, header included: 16 ≤ length ≤ max frame
//	4      2    kind    1 HELLO, 2 WELCOME, 3 REQUEST, 4 REPLY, 5 EVENT
//	6      2    fn      REQUEST: request type; EVENT: event kind (service-defined); else 0
//	8      4    id      REQUEST and its REPLY: request id (0 = no reply wanted); else 0
//	12     4    status  REPLY and WELCOME: a service.Status (cs_error_t, 1 = OK); else 0
//	16     ...  payload
//
// The kind numbering is append-only. Fields documented as 0 are ignored
// by version-1 receivers. The maximum frame is DefaultMaxFrame (16 + 1 MiB
// + 4 KiB) unless the server is configured otherwise; the server announces
// it in WELCOME and it holds in both directions.
//
// The client speaks first:
//
//	HELLO   (client → server) payload: "CGIP", u16 version (1), u16 service id, u32 flags (0)
//	WELCOME (server → client) status: OK or an error; payload: u16 version,
//	        u16 service id, u32 local node id, u32 max frame
//
// The WELCOME's status is OK, ErrAccess (the peer's SO_PEERCRED
// credentials are not admitted), ErrNotSupport (another protocol version;
// the payload then carries the server's), ErrInvalidArg (a malformed
// HELLO) or what the service's Open returned (ErrNotExist for an unknown
// service). After a non-OK WELCOME the server closes the connection.
// Payloads of HELLO and WELCOME longer than 12 bytes are accepted and the
// rest ignored, so a later version can append fields. Until the HELLO is
// accepted, frames are limited to 1 KiB, and the HELLO must arrive within
// 10 s.
//
// Then the client sends REQUESTs and the server sends REPLYs (one per
// REQUEST with a non-zero id, with that id) and EVENTs, in any
// interleaving. A client may send further REQUESTs without waiting for
// replies; their ids are its own business (Client uses a counter).
//
// A malformed frame from a client (a length below 16 or above the max
// frame, an unknown kind, a second HELLO, a REQUEST before the HELLO, any
// other kind from a client) is answered, where possible, with a REPLY
// carrying the frame's id and status ErrMsgTooBig (oversized) or
// ErrInvalidArg, and then that connection alone is closed. A REPLY with id
// 0 and an error status therefore tells a client why it is disconnected.
//
// # Server behaviour
//
// Each connection has a reader goroutine, which reads whole frames and
// hands every complete REQUEST already buffered (up to 256 frames or 4
// MiB) to Handler.Requests as one batch, then waits for the daemon's done
// before reading on: a daemon that does not keep up fills the client's
// socket, which is the backpressure. Its writer goroutine drains the
// output queue, writing everything queued with one system call. Reply and
// Event copy into the queue and never block; a connection whose queue
// would exceed MaxBacklog (32 MiB) is cut off (logged once, counted in
// ServerStats.BacklogCutoffs), so a client that does not read cannot stall
// the daemon. Conn.Close flushes what is queued (for up to 2 s) first.
//
// Access is decided at HELLO from SO_PEERCRED: root always, then
// ServerOptions.Allow (AllowUIDGID gives corosync's uidgid semantics).
// Listen refuses to start while another daemon listens on the socket,
// removes a stale one, and Serve removes the file on the way out, only if
// it is still the file it created.
//
// Deviation from the stream model: a client that half-closes its side
// (shutdown(SHUT_WR)) is treated as gone; replies to its last requests are
// not sent.
package ipc
