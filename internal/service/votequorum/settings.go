package votequorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/corogo/corogo/internal/config"
)

// Name is the provider name corosync-quorumtool prints.
const Name = "corosync_votequorum"

// ServiceName is the service's name, as corosync logs it.
const ServiceName = "corosync vote quorum service v1.0"

// Defaults of votequorum(5) and the qdevice API.
const (
	DefaultLMSWindow          = 10 * time.Second
	DefaultQdeviceTimeout     = 10 * time.Second
	DefaultQdeviceSyncTimeout = 30 * time.Second
)

// Settings are votequorum's configuration, resolved as corosync's
// votequorum_readconfig resolves corosync.conf.
type Settings struct {
	// Votes are this node's votes; Expected its expected votes (the
	// nodelist's sum of votes plus the device's, or quorum.expected_votes).
	Votes, Expected uint32
	// TwoNode, WaitForAll, LastManStanding and LMSWindow are the options.
	TwoNode, WaitForAll, LastManStanding bool
	LMSWindow                            time.Duration
	// ATB is the tie breaker mode; ATBNodes its list.
	ATB      ATB
	ATBNodes []uint32
	// AllowDownscale implies EVTracking.
	AllowDownscale, EVTracking bool
	// Qdevice is set when quorum.device.model is; QdeviceVotes are its
	// votes; QdeviceCanOperate is false when the configuration forbids a
	// device (registration is then refused).
	Qdevice                            bool
	QdeviceVotes                       uint32
	QdeviceTimeout, QdeviceSyncTimeout time.Duration
	QdeviceCanOperate                  bool
	// NodeCount is the number of nodes in the nodelist.
	NodeCount int
	// NodelistExpected is the nodelist's sum of votes (with the device's
	// automatic votes), which expected votes tracking starts from when no
	// barrier is stored.
	NodelistExpected uint32
}

// SettingsFrom resolves the votequorum settings of node nodeID from a
// configuration, with corosync's rules: two_node implies wait_for_all
// (unless set to 0), two_node is dropped with auto_tie_breaker,
// auto_tie_breaker is dropped in an odd-sized cluster without
// wait_for_all, the device's votes default to nodes - 1 and add to the
// expected votes. c must come from config.Load or config.Read: their
// validation refuses, with file and line, what corosync refuses (no
// nodelist, a device with two_node, last_man_standing, auto_tie_breaker or
// allow_downscale, device votes missing or too high, auto_tie_breaker with
// last_man_standing in an odd cluster), so it is not checked again here.
// The warnings returned say what was adjusted.
func SettingsFrom(c *config.Config, nodeID uint32) (Settings, []string, error) {
	q := c.Quorum
	s := Settings{
		TwoNode: q.TwoNode, WaitForAll: q.WaitForAll, LastManStanding: q.LastManStanding,
		LMSWindow: q.LastManStandingWindow, AllowDownscale: q.AllowDownscale,
		EVTracking:     q.ExpectedVotesTracking || q.AllowDownscale,
		QdeviceTimeout: DefaultQdeviceTimeout, QdeviceSyncTimeout: DefaultQdeviceSyncTimeout,
		QdeviceCanOperate: true, NodeCount: len(c.Nodes),
	}
	if s.LMSWindow == 0 {
		s.LMSWindow = DefaultLMSWindow
	}
	var warn []string
	var nodelistExpected uint32
	s.Votes = 1
	for _, n := range c.Nodes {
		nodelistExpected += n.QuorumVotes
		if n.ID == nodeID {
			s.Votes = n.QuorumVotes
		}
	}
	if q.AutoTieBreaker {
		switch q.AutoTieBreakerNode {
		case "", "lowest":
			s.ATB = ATBLowest
		case "highest":
			s.ATB = ATBHighest
		default:
			if len(q.AutoTieBreakerNodes) > 0 {
				s.ATB, s.ATBNodes = ATBList, q.AutoTieBreakerNodes
			} else {
				warn = append(warn, "auto_tie_breaker_node is not valid; auto_tie_breaker is disabled")
			}
		}
	}
	qdevVotes := int64(-1)
	if d := q.Device; d != nil {
		if model, _ := d.Get("model"); model != "" {
			s.Qdevice = true
			if v, ok := d.Get("votes"); ok {
				n, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					return s, warn, fmt.Errorf("votequorum: quorum.device.votes %q: %w", v, err)
				}
				qdevVotes = int64(n)
			}
			if v, ok := d.Get("timeout"); ok {
				if n, err := strconv.ParseUint(v, 10, 32); err == nil && n > 0 {
					s.QdeviceTimeout = time.Duration(n) * time.Millisecond
				}
			}
			if v, ok := d.Get("sync_timeout"); ok {
				if n, err := strconv.ParseUint(v, 10, 32); err == nil && n > 0 {
					s.QdeviceSyncTimeout = time.Duration(n) * time.Millisecond
				}
			}
		}
	}
	if s.TwoNode && s.ATB != ATBNone {
		warn = append(warn, "two_node and auto_tie_breaker are both specified but are not compatible; two_node has been disabled")
		s.TwoNode = false
	}
	if s.ATB != ATBNone && nodelistExpected%2 == 1 && !s.WaitForAll {
		warn = append(warn, "auto_tie_breaker is set and the cluster has an odd number of nodes without wait_for_all; auto_tie_breaker has been disabled")
		s.ATB, s.ATBNodes = ATBNone, nil
	}
	s.Expected = nodelistExpected
	if s.Qdevice && qdevVotes < 0 {
		qdevVotes = int64(nodelistExpected) - 1
		s.Expected += uint32(qdevVotes)
	}
	if qdevVotes > 0 {
		s.QdeviceVotes = uint32(qdevVotes)
	}
	s.NodelistExpected = s.Expected
	if q.ExpectedVotes != 0 {
		s.Expected = q.ExpectedVotes
	}
	return s, warn, nil
}

// EVStore keeps the expected votes tracking barrier across restarts
// (corosync's <state_dir>/ev_tracking).
type EVStore interface {
	// Load returns the stored barrier, 0 when there is none.
	Load() (uint32, error)
	// Save stores the barrier durably.
	Save(v uint32) error
}

// FileStore is the EVStore corosync uses: 4 bytes in host (little-endian)
// order in <state_dir>/ev_tracking.
type FileStore struct{ Path string }

// NewFileStore returns the store in stateDir.
func NewFileStore(stateDir string) *FileStore {
	return &FileStore{Path: filepath.Join(stateDir, "ev_tracking")}
}

// Load reads the barrier; a missing or short file is 0 (and is created).
func (f *FileStore) Load() (uint32, error) {
	b, err := os.ReadFile(f.Path)
	if err == nil && len(b) >= 4 {
		return binary.LittleEndian.Uint32(b), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("votequorum: read %s: %w", f.Path, err)
	}
	return 0, f.Save(0)
}

// Save writes the barrier and syncs it to disk.
func (f *FileStore) Save(v uint32) error {
	fd, err := os.OpenFile(f.Path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("votequorum: open %s: %w", f.Path, err)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err = fd.WriteAt(b[:], 0)
	if err == nil {
		err = fd.Sync()
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("votequorum: write %s: %w", f.Path, err)
	}
	return nil
}

// MemStore is an EVStore in memory, for tests and simulations.
type MemStore struct{ V uint32 }

// Load returns the stored value.
func (m *MemStore) Load() (uint32, error) { return m.V, nil }

// Save stores the value.
func (m *MemStore) Save(v uint32) error { m.V = v; return nil }
