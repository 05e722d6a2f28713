package votequorumtest

import (
	"fmt"

	"github.com/corogo/corogo/internal/service"
	svq "github.com/corogo/corogo/internal/service/votequorum"
	"github.com/corogo/corogo/totem"
	"github.com/corogo/corogo/votequorum"
)

// Flag groups.
const (
	qdeviceFlags = votequorum.QdeviceAlive | votequorum.QdeviceCastVote | votequorum.QdeviceMasterWins
)

// peer is another node of the simulated cluster: what its NODEINFO
// messages say.
type peer struct {
	votes  uint32
	qflags votequorum.InfoFlags // QdeviceAlive, QdeviceCastVote, QdeviceMasterWins
}

// lib is the votequorum service clients see: the real engine's, behind a
// thin layer that records the requests (Server.Calls) and answers the
// refused ones (Server.Refuse). The engines' goroutine only.
type lib struct {
	s      *Server
	vq     *svq.Engine
	refuse map[uint16]service.Status
}

func (l *lib) ID() service.ID                        { return service.Votequorum }
func (l *lib) Name() string                          { return l.vq.Name() }
func (l *lib) Exec(m service.Exec)                   { l.vq.Exec(m) }
func (l *lib) ConfChange(c *totem.ConfChange)        { l.vq.ConfChange(c) }
func (l *lib) Connect(c service.Conn) service.Status { return l.vq.Connect(c) }
func (l *lib) Disconnect(c service.Conn)             { l.vq.Disconnect(c) }

// Request records the request, then answers it with the refusal status
// set for its type or hands it to the engine.
func (l *lib) Request(c service.Conn, r service.Request) {
	if line := describe(r); line != "" {
		l.s.logCall(line)
	}
	if st, ok := l.refuse[r.Fn]; ok {
		c.Reply(r.ID, st, nil)
		return
	}
	l.vq.Request(c, r)
}

// describe is a request's line in Server.Calls; "" for get info.
func describe(r service.Request) string {
	bad := fmt.Sprintf("fn %d malformed", r.Fn)
	switch r.Fn {
	case svq.FnGetInfo:
		return ""
	case svq.FnSetExpected:
		v, err := svq.DecodeSetExpected(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("setexpected %d", v)
	case svq.FnSetVotes:
		id, v, err := svq.DecodeSetVotes(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("setvotes %d %d", id, v)
	case svq.FnTrackStart:
		f, ctx, err := svq.DecodeTrackStart(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("trackstart %d %#x", f, ctx)
	case svq.FnTrackStop:
		return "trackstop"
	case svq.FnQdeviceRegister, svq.FnQdeviceUnregister:
		name, err := svq.DecodeName(r.Payload)
		if err != nil {
			return bad
		}
		if r.Fn == svq.FnQdeviceRegister {
			return "qdevice register " + name
		}
		return "qdevice unregister " + name
	case svq.FnQdeviceUpdate:
		o, n, err := svq.DecodeNames(r.Payload)
		if err != nil {
			return bad
		}
		return "qdevice update " + o + " " + n
	case svq.FnQdevicePoll:
		p, err := svq.DecodePoll(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("qdevice poll %s %v %x.%x", p.Name, p.CastVote, p.Ring.Rep, p.Ring.Seq)
	case svq.FnQdeviceMasterWins:
		name, allow, err := svq.DecodeMasterWins(r.Payload)
		if err != nil {
			return bad
		}
		return fmt.Sprintf("qdevice masterwins %s %v", name, allow)
	case svq.FnCancelWaitForAll:
		return "cancel waitforall"
	}
	return fmt.Sprintf("fn %d", r.Fn)
}

func public(in svq.Info) votequorum.Info {
	return votequorum.Info{
		NodeID:          in.NodeID,
		State:           votequorum.NodeState(in.State),
		Votes:           in.Votes,
		ExpectedVotes:   in.ExpectedVotes,
		HighestExpected: in.HighestExpected,
		TotalVotes:      in.TotalVotes,
		Quorum:          in.Quorum,
		Flags:           votequorum.InfoFlags(in.Flags),
		QdeviceVotes:    in.QdeviceVotes,
		QdeviceName:     in.QdeviceName,
	}
}

// selfConn is the server's own connection to the engine, through which
// it plays a quorum device daemon on this node (RegisterQdevice,
// SetQdeviceState). Its requests are not in Calls.
type selfConn struct{ status service.Status }

func (c *selfConn) ID() uint64                                  { return ^uint64(0) }
func (c *selfConn) Cred() service.Cred                          { return service.Cred{} }
func (c *selfConn) Reply(_ uint32, st service.Status, _ []byte) { c.status = st }
func (c *selfConn) Event(uint16, []byte, []byte)                {}
func (c *selfConn) Close(error)                                 {}
