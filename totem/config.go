package totem

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config holds every Totem option with corosync 3.1's defaults. Durations
// are written as time.Duration and converted once into ticks of TickInterval.
// A zero value for a computed option (TokenRetransmit, Hold, Consensus) means
// "derive it as corosync does".
type Config struct {
	// NodeID is this node's id (nonzero).
	NodeID NodeID
	// Nodelist is every configured node, this one included. Its length N
	// scales the token timeout; "multicasts" go to all of them.
	Nodelist []NodeID

	// TickInterval is the duration of one Tick. Default 1 ms.
	TickInterval time.Duration

	// Token is the token loss timeout before scaling (corosync totem.token,
	// default 3000 ms). The effective value adds TokenCoefficient × (N − 2)
	// when N ≥ 3.
	Token time.Duration
	// TokenCoefficient is added per node beyond two (default 650 ms; 0 disables).
	TokenCoefficient time.Duration
	// TokenRetransmitsBeforeLoss only derives TokenRetransmit (default 4).
	TokenRetransmitsBeforeLoss int
	// TokenRetransmit resends the last token if it did not come back.
	// Default: effective token / (TokenRetransmitsBeforeLoss + 0.2).
	TokenRetransmit time.Duration
	// Hold is how long the representative holds an idle token.
	// Default: TokenRetransmit × 0.8 − 10 ms.
	Hold time.Duration
	// TokenWarning is the percentage of the token timeout after which a
	// "Token has not been received" notice is raised (default 75; 0 disables).
	TokenWarning int
	// Join is the re-send interval of join messages in GATHER (default 50 ms).
	Join time.Duration
	// SendJoin, when > 0, delays each join by a random 0..SendJoin. The core
	// has no randomness of its own: Rand must then be set.
	SendJoin time.Duration
	// Consensus is the GATHER consensus timeout. Default 1.2 × effective token.
	Consensus time.Duration
	// Merge is the delay before an idle representative sends a merge detect
	// (default 200 ms).
	Merge time.Duration
	// Downcheck is the interface re-check period (default 1000 ms); used by
	// the runtime only.
	Downcheck time.Duration
	// FailRecvConst is the number of rotations without aru progress, while
	// this node holds the aru, before it declares itself failed to receive
	// (default 2500).
	FailRecvConst int
	// SeqnoUnchangedConst is the number of idle rotations before the
	// representative holds the token (default 30).
	SeqnoUnchangedConst int
	// MaxNetworkDelay is used by the heartbeat detector only (default 50 ms).
	MaxNetworkDelay time.Duration
	// WindowSize is the most messages sent per rotation, ring-wide (default 50).
	WindowSize int
	// MaxMessages is the most messages one node sends per token visit (default 17).
	MaxMessages int
	// MissCountConst is the number of token visits a gap must persist before
	// a retransmission is requested (default 5).
	MissCountConst int
	// CancelTokenHoldOnRetransmit forwards a held token when retransmission
	// activity exists (default false).
	CancelTokenHoldOnRetransmit bool
	// NetMTU is totem.netmtu (default 1500). The totempg packet limit is
	// NetMTU − 90, as in corosync.
	NetMTU int
	// MaxMessageSize is the largest application message (default 1 MiB).
	MaxMessageSize int
	// SendQueueLimit bounds queued SRP messages; Send returns ErrTryAgain
	// beyond it. Default: 1.25 MiB worth of packets (1.25 × MaxMessageSize
	// / NetMTU = 873 for netmtu 1500): room for the largest message, and
	// for 17 rotations at window_size 50; corosync's MESSAGE_QUEUE_MAX (4
	// MiB of packets) only adds latency and memory under saturation.
	SendQueueLimit int

	// ReportReceipts fills Ready.Receipts, for invariant checkers.
	ReportReceipts bool
	// Faults deliberately breaks the protocol, to prove that the simulator's
	// invariant checks catch real bugs. Never set it outside tests.
	Faults Fault
	// Rand supplies randomness when SendJoin > 0: it returns a number in [0, n).
	Rand func(n int) int
}

// Fault is a set of deliberate protocol bugs (Config.Faults), for tests of
// the invariant checkers only.
type Fault uint32

// Faults.
const (
	// FaultSkipRetransmit never serves retransmission requests.
	FaultSkipRetransmit Fault = 1 << iota
	// FaultSkipRecoveryResend does not re-send old-ring messages in RECOVERY.
	FaultSkipRecoveryResend
	// FaultDeliverOverGaps delivers past a missing message instead of waiting.
	FaultDeliverOverGaps
	// FaultIgnoreSafe delivers safe messages as agreed.
	FaultIgnoreSafe
	// FaultDuplicateDelivery delivers some messages twice.
	FaultDuplicateDelivery
)

// Corosync's fixed constants.
const (
	hzTick            = 10 * time.Millisecond // 1000/HZ with HZ = 100
	minTimeout        = 30 * time.Millisecond
	minHold           = 14 * time.Millisecond
	sortQueueSize     = 16384 // QUEUE_RTR_ITEMS_SIZE_MAX
	defaultMaxMsgSize = 1 << 20
	mcastOverhead     = 2 * 45 // totempg subtracts two MCAST headers from netmtu
	maxProcessors     = 384
)

// DefaultConfig returns corosync 3.1's defaults for node id in a cluster of
// the given nodelist.
func DefaultConfig(id NodeID, nodelist []NodeID) Config {
	return Config{
		NodeID:                     id,
		Nodelist:                   slices.Clone(nodelist),
		TickInterval:               time.Millisecond,
		Token:                      3000 * time.Millisecond,
		TokenCoefficient:           650 * time.Millisecond,
		TokenRetransmitsBeforeLoss: 4,
		TokenWarning:               75,
		Join:                       50 * time.Millisecond,
		Merge:                      200 * time.Millisecond,
		Downcheck:                  1000 * time.Millisecond,
		FailRecvConst:              2500,
		SeqnoUnchangedConst:        30,
		MaxNetworkDelay:            50 * time.Millisecond,
		WindowSize:                 50,
		MaxMessages:                17,
		MissCountConst:             5,
		NetMTU:                     1500,
		MaxMessageSize:             defaultMaxMsgSize,
		SendQueueLimit:             5 * defaultMaxMsgSize / 4 / 1500,
	}
}

// Timers are the effective timeouts after corosync's formulas.
type Timers struct {
	Token           time.Duration
	TokenRetransmit time.Duration
	Hold            time.Duration
	Consensus       time.Duration
	Join            time.Duration
	Merge           time.Duration
	Downcheck       time.Duration
	TokenWarning    time.Duration // 0 when disabled
}

// EffectiveTimers applies corosync's formulas: token + coefficient × (N − 2)
// for N ≥ 3; token_retransmit = token / (retransmits + 0.2); hold =
// token_retransmit × 0.8 − 10 ms; consensus = 1.2 × token. Results are
// truncated to whole milliseconds as corosync's integer arithmetic does.
func (c *Config) EffectiveTimers() Timers {
	t := Timers{Join: c.Join, Merge: c.Merge, Downcheck: c.Downcheck}
	t.Token = c.Token
	if n := len(c.Nodelist); n >= 3 && c.TokenCoefficient > 0 {
		t.Token += time.Duration(n-2) * c.TokenCoefficient
	}
	tokenMS := t.Token.Milliseconds()
	if c.TokenRetransmit > 0 {
		t.TokenRetransmit = c.TokenRetransmit
	} else {
		t.TokenRetransmit = time.Duration(float64(tokenMS)/(float64(c.TokenRetransmitsBeforeLoss)+0.2)) * time.Millisecond
	}
	if c.Hold > 0 {
		t.Hold = c.Hold
	} else {
		t.Hold = time.Duration(float64(t.TokenRetransmit.Milliseconds())*0.8-float64(hzTick.Milliseconds())) * time.Millisecond
	}
	if c.Consensus > 0 {
		t.Consensus = c.Consensus
	} else {
		t.Consensus = time.Duration(float64(tokenMS)*1.2) * time.Millisecond
	}
	if c.TokenWarning > 0 {
		t.TokenWarning = t.Token * time.Duration(c.TokenWarning) / 100
	}
	return t
}

// PGPayloadLimit is the largest totempg packet (corosync's net_mtu).
func (c *Config) PGPayloadLimit() int { return c.NetMTU - mcastOverhead }

// Validate checks the configuration and returns every problem found.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeID == 0 {
		bad("nodeid must be nonzero")
	}
	if len(c.Nodelist) == 0 {
		bad("nodelist is empty")
	} else if len(c.Nodelist) > maxProcessors {
		bad("nodelist has %d nodes; at most %d are allowed", len(c.Nodelist), maxProcessors)
	}
	seen := map[NodeID]bool{}
	for _, id := range c.Nodelist {
		if id == 0 {
			bad("nodelist contains nodeid 0")
		}
		if seen[id] {
			bad("nodelist contains nodeid %d twice", id)
		}
		seen[id] = true
	}
	if c.NodeID != 0 && len(c.Nodelist) > 0 && !seen[c.NodeID] {
		bad("nodeid %d is not in the nodelist", c.NodeID)
	}
	if c.TickInterval <= 0 {
		bad("tick interval must be positive")
	}
	if c.TokenRetransmitsBeforeLoss < 1 {
		bad("token_retransmits_before_loss_const must be at least 1, got %d", c.TokenRetransmitsBeforeLoss)
	}
	if c.TokenCoefficient < 0 {
		bad("token_coefficient must not be negative")
	}
	t := c.EffectiveTimers()
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"token", t.Token, minTimeout},
		{"token_retransmit", t.TokenRetransmit, minTimeout},
		{"hold", t.Hold, minHold},
		{"join", t.Join, minTimeout},
		{"consensus", t.Consensus, minTimeout},
		{"merge", t.Merge, minTimeout},
		{"downcheck", t.Downcheck, minTimeout},
	} {
		if d.v < d.min {
			bad("%s timeout %v is below the minimum %v", d.name, d.v, d.min)
		}
	}
	if c.Consensus > 0 && len(c.Nodelist) > 2 && t.Consensus < t.Token*12/10 {
		bad("consensus %v must be at least 1.2 × token (%v)", t.Consensus, t.Token*12/10)
	}
	if t.Consensus > 0 && t.Consensus < t.Join {
		bad("consensus %v must be longer than join %v", t.Consensus, t.Join)
	}
	if t.Hold >= t.TokenRetransmit && t.TokenRetransmit > 0 {
		bad("hold %v must be shorter than token_retransmit %v", t.Hold, t.TokenRetransmit)
	}
	if c.SendJoin < 0 {
		bad("send_join must not be negative")
	}
	if c.SendJoin > 0 && c.Rand == nil {
		bad("send_join needs a random source (Config.Rand)")
	}
	if c.TokenWarning < 0 || c.TokenWarning >= 100 {
		bad("token_warning must be in 0..99 percent, got %d", c.TokenWarning)
	}
	if c.FailRecvConst < 1 {
		bad("fail_recv_const must be at least 1")
	}
	if c.SeqnoUnchangedConst < 1 {
		bad("seqno_unchanged_const must be at least 1")
	}
	if c.WindowSize < 1 {
		bad("window_size must be at least 1")
	}
	if c.MaxMessages < 1 {
		bad("max_messages must be at least 1")
	}
	if c.MaxMessages > c.WindowSize {
		bad("max_messages (%d) must not exceed window_size (%d)", c.MaxMessages, c.WindowSize)
	}
	if c.MissCountConst < 1 {
		bad("miss_count_const must be at least 1")
	}
	if c.NetMTU < 576 || c.NetMTU > 65536 {
		bad("netmtu %d is out of range 576..65536", c.NetMTU)
	}
	if c.MaxMessageSize < 1 {
		bad("max message size must be positive")
	}
	if c.SendQueueLimit < 1 {
		bad("send queue limit must be positive")
	}
	if c.WindowSize >= sortQueueSize/2 {
		bad("window_size %d is too large for the %d-entry sort queue", c.WindowSize, sortQueueSize)
	}
	if len(errs) > 0 {
		return fmt.Errorf("totem: invalid configuration: %w", errors.Join(errs...))
	}
	return nil
}

// ticks converts a duration to a tick count, rounding up, at least 1.
func (c *Config) ticks(d time.Duration) int64 {
	if d <= 0 {
		return 1
	}
	n := int64((d + c.TickInterval - 1) / c.TickInterval)
	if n < 1 {
		n = 1
	}
	return n
}
