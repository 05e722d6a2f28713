package ipc

import (
	"encoding/binary"
	"errors"
	"io"
)

// errNeedMore reports that the buffer does not hold a whole frame yet.
var errNeedMore = errors.New("ipc: need more bytes")

// frameReader cuts frames out of a byte stream. It reads into one buffer
// that grows to fit the largest frame seen (up to max) and shrinks back to
// size when it runs empty. Frames returned by next stay valid until the
// following fill.
type frameReader struct {
	rd   io.Reader
	buf  []byte
	r, w int // buf[r:w] is unread
	max  int // largest frame accepted
	size int // buffer size to return to when idle
}

func newFrameReader(rd io.Reader, size, max int) *frameReader {
	return &frameReader{rd: rd, buf: make([]byte, size), size: size, max: max}
}

// buffered is the number of unread bytes.
func (f *frameReader) buffered() int { return f.w - f.r }

// next returns the next whole frame in the buffer, without reading. It
// returns errNeedMore when the buffer holds only part of one, and a
// *FrameError (with the header) for a bad header; then the frame is not
// consumed.
func (f *frameReader) next() (Header, []byte, error) {
	if f.w-f.r < HeaderSize {
		return Header{}, nil, errNeedMore
	}
	h, err := ParseHeader(f.buf[f.r:f.w], f.max)
	if err != nil {
		return h, nil, err
	}
	n := int(h.Length)
	if f.w-f.r < n {
		return h, nil, errNeedMore
	}
	frame := f.buf[f.r : f.r+n : f.r+n]
	f.r += n
	return h, frame, nil
}

// resize sets the idle buffer size, growing the buffer now if it is
// smaller.
func (f *frameReader) resize(size int) {
	f.size = size
	if len(f.buf) < size {
		nb := make([]byte, size)
		f.w = copy(nb, f.buf[f.r:f.w])
		f.r = 0
		f.buf = nb
	}
}

// fill reads once from the stream into the buffer, making room for the
// pending frame first. It invalidates the frames next returned before. A
// read that returns bytes and an error reports the bytes; the error comes
// back from the following read.
func (f *frameReader) fill() error {
	need := HeaderSize
	if f.w-f.r >= HeaderSize {
		// next has checked this length against max.
		need = int(binary.LittleEndian.Uint32(f.buf[f.r:]))
	}
	switch {
	case f.r == f.w:
		f.r, f.w = 0, 0
		if len(f.buf) > f.size {
			f.buf = make([]byte, f.size)
		}
	case f.r > 0:
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	if need > len(f.buf) {
		nb := make([]byte, need)
		f.w = copy(nb, f.buf[:f.w])
		f.buf = nb
	}
	n, err := f.rd.Read(f.buf[f.w:])
	f.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// shrink returns buf emptied for reuse as an output buffer, or nil once
// it has been large (more than outShrink) and mostly unused (under a
// quarter) for outShrinkAfter writes in a row: a burst is over, let its
// memory go. underused counts those writes.
func shrink(buf []byte, underused *int) []byte {
	if cap(buf) <= outShrink || len(buf) >= cap(buf)/4 {
		*underused = 0
		return buf[:0]
	}
	if *underused++; *underused < outShrinkAfter {
		return buf[:0]
	}
	*underused = 0
	return nil
}
