package qdisk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Errors of OpenDisk. Match them with errors.Is.
var (
	// ErrBadHeader: slot 0 holds something that is not a qdisk header;
	// the device is not overwritten.
	ErrBadHeader = errors.New("qdisk: the storage does not hold a qdisk header (refusing to overwrite it; zero its first 4096 bytes to use it)")
	// ErrOtherCluster: the header names another cluster.
	ErrOtherCluster = errors.New("qdisk: the storage belongs to another cluster")
	// ErrTooSmall: a block device smaller than Size.
	ErrTooSmall = errors.New("qdisk: the storage is too small")
)

// Storage is what the model reads and writes every cycle. *Disk is the
// real one; tests use others.
type Storage interface {
	// Cycle writes block (at most SlotSize bytes) into node id's slot
	// and then reads slots 1..maxID. slots[i] holds the start of slot i
	// (at least MaxBlockLen bytes); slots is nil when the read failed.
	Cycle(id uint32, block []byte) (slots [][]byte, writeErr, readErr error)
	// Close releases the storage.
	Close() error
}

// Disk is the shared file or block device.
type Disk struct {
	f      *os.File
	path   string
	direct bool
	maxID  uint32
	header []byte // as read at open, SlotSize bytes
	wbuf   []byte // SlotSize bytes, aligned
	rbuf   []byte // (maxID+1) × SlotSize bytes, aligned
}

// OpenDisk opens the shared storage at path for a cluster, reading slots
// up to maxID (the highest configured node id). The file must exist
// (it is never created: a path that is not on shared storage would give
// every node its own "disk"); a regular file shorter than Size is
// extended. An all-zero header is initialized; any other header must be
// a qdisk header of this cluster.
//
// The file is opened with O_DIRECT when the file system allows it (it
// bypasses the page cache, which would hide other nodes' writes on a
// shared block device) and O_DSYNC (each write reaches the storage
// before the cycle reads).
func OpenDisk(path, cluster string, maxID uint32) (*Disk, error) {
	if maxID < 1 || maxID > MaxNodeID {
		return nil, fmt.Errorf("qdisk: highest node id %d is not in 1..%d", maxID, MaxNodeID)
	}
	want := NewHeader(cluster)
	wantBytes, err := want.AppendTo(nil)
	if err != nil {
		return nil, err
	}
	flags := os.O_RDWR | unix.O_DSYNC
	f, err := os.OpenFile(path, flags|unix.O_DIRECT, 0)
	direct := true
	if errors.Is(err, unix.EINVAL) {
		f, err = os.OpenFile(path, flags, 0)
		direct = false
	}
	if err != nil {
		return nil, fmt.Errorf("qdisk: open: %w", err)
	}
	d := &Disk{
		f: f, path: path, direct: direct, maxID: maxID,
		wbuf: alignedBuf(SlotSize), rbuf: alignedBuf(int(maxID+1) * SlotSize),
	}
	if err := d.checkSize(); err != nil {
		f.Close()
		return nil, err
	}
	if err := d.readHeader(wantBytes, want); err != nil {
		f.Close()
		return nil, err
	}
	return d, nil
}

// Direct reports whether the disk is read and written with O_DIRECT.
func (d *Disk) Direct() bool { return d.direct }

// Path returns the path opened.
func (d *Disk) Path() string { return d.path }

func (d *Disk) checkSize() error {
	fi, err := d.f.Stat()
	if err != nil {
		return fmt.Errorf("qdisk: %w", err)
	}
	switch {
	case fi.Mode().IsRegular():
		if fi.Size() < Size {
			// Never shrinks; nodes extending at once agree.
			if err := d.f.Truncate(Size); err != nil {
				return fmt.Errorf("qdisk: extend to %d bytes: %w", Size, err)
			}
		}
		return nil
	case fi.Mode()&os.ModeDevice != 0:
		end, err := d.f.Seek(0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("qdisk: size of %s: %w", d.path, err)
		}
		if end < Size {
			return fmt.Errorf("%w: %d bytes, need %d", ErrTooSmall, end, Size)
		}
		return nil
	}
	return fmt.Errorf("qdisk: %s is neither a regular file nor a block device", d.path)
}

func (d *Disk) readHeader(wantBytes []byte, want Header) error {
	buf := d.rbuf[:SlotSize]
	if err := d.readAt(buf, 0); err != nil {
		return fmt.Errorf("qdisk: read header: %w", err)
	}
	if isZero(buf) {
		clear(d.wbuf)
		copy(d.wbuf, wantBytes)
		if _, err := d.f.WriteAt(d.wbuf, 0); err != nil {
			return fmt.Errorf("qdisk: initialize header: %w", err)
		}
		if err := d.readAt(buf, 0); err != nil {
			return fmt.Errorf("qdisk: read header: %w", err)
		}
	}
	h, err := DecodeHeader(buf)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadHeader, err)
	}
	if h.ClusterName != want.ClusterName {
		return fmt.Errorf("%w: %q (this cluster is %q)", ErrOtherCluster, h.ClusterName, want.ClusterName)
	}
	if h.SlotSize != SlotSize || h.MaxNodeID != MaxNodeID {
		return fmt.Errorf("%w: slot size %d, max node id %d", ErrBadHeader, h.SlotSize, h.MaxNodeID)
	}
	d.header = bytes.Clone(buf)
	return nil
}

// readAt fills buf from off; bytes past the end of a file read as zeros.
func (d *Disk) readAt(buf []byte, off int64) error {
	n, err := d.f.ReadAt(buf, off)
	if err == io.EOF {
		clear(buf[n:])
		return nil
	}
	return err
}

// Cycle implements Storage. The header is read with the slots; a header
// that changed (someone reformatted the storage) fails the read.
func (d *Disk) Cycle(id uint32, block []byte) (slots [][]byte, writeErr, readErr error) {
	if id < 1 || id > d.maxID || len(block) > SlotSize {
		return nil, fmt.Errorf("qdisk: bad slot %d or block of %d bytes", id, len(block)), nil
	}
	clear(d.wbuf)
	copy(d.wbuf, block)
	if _, err := d.f.WriteAt(d.wbuf, int64(id)*SlotSize); err != nil {
		writeErr = fmt.Errorf("qdisk: write slot %d: %w", id, err)
	}
	if err := d.readAt(d.rbuf, 0); err != nil {
		return nil, writeErr, fmt.Errorf("qdisk: read: %w", err)
	}
	if !bytes.Equal(d.rbuf[:SlotSize], d.header) {
		return nil, writeErr, fmt.Errorf("%w: the header changed", ErrBadHeader)
	}
	slots = make([][]byte, d.maxID+1)
	for i := 1; i <= int(d.maxID); i++ {
		slots[i] = bytes.Clone(d.rbuf[i*SlotSize : i*SlotSize+MaxBlockLen])
	}
	return slots, writeErr, nil
}

// Close implements Storage.
func (d *Disk) Close() error { return d.f.Close() }

// alignedBuf returns n bytes aligned on SlotSize, as O_DIRECT needs.
func alignedBuf(n int) []byte {
	b := make([]byte, n+SlotSize)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (SlotSize - 1))
	if off != 0 {
		off = SlotSize - off
	}
	return b[off : off+n : off+n]
}
