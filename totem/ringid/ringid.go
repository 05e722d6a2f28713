// Package ringid reads and writes corosync's ring id file,
// <state_dir>/ringid_<nodeid>: 8 bytes holding the sequence number of the
// last ring this node committed to, as a native-endian u64. A missing or
// short file reads as absent; Load then creates it holding 0, as corosync
// does.
package ringid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Path returns the file's path for a node.
func Path(stateDir string, nodeID uint32) string {
	return filepath.Join(stateDir, fmt.Sprintf("ringid_%d", nodeID))
}

// Load returns the stored sequence number and whether one was stored. When
// the file is missing or short it is created holding 0.
func Load(stateDir string, nodeID uint32) (seq uint64, ok bool, err error) {
	p := Path(stateDir, nodeID)
	b, err := os.ReadFile(p)
	if err == nil && len(b) >= 8 {
		return binary.NativeEndian.Uint64(b[:8]), true, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, false, fmt.Errorf("ringid: read %s: %w", p, err)
	}
	if err := Store(stateDir, nodeID, 0); err != nil {
		return 0, false, err
	}
	return 0, false, nil
}

// Store writes seq durably: to a temporary file that is synced and renamed
// over the old one.
func Store(stateDir string, nodeID uint32, seq uint64) error {
	p := Path(stateDir, nodeID)
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], seq)
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("ringid: create %s: %w", tmp, err)
	}
	if _, err := f.Write(b[:]); err != nil {
		f.Close()
		return fmt.Errorf("ringid: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ringid: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ringid: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("ringid: rename %s: %w", p, err)
	}
	return nil
}
