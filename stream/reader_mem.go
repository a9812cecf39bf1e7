package stream

import (
	"bytes"
	"io"
)

// memorySource returns the source as an io.WriterTo if it is one that
// hands out its remaining bytes from memory in place (a bytes.Reader or
// bytes.Buffer writes all of them in one Write), so that segments can be
// opened where they lie instead of being copied into the reader's buffer
// first. Other WriterTos (files, connections) would only copy through a
// buffer of their own.
func memorySource(r io.Reader) (io.WriterTo, bool) {
	switch s := r.(type) {
	case *bytes.Reader:
		return s, true
	case *bytes.Buffer:
		return s, true
	}
	return nil, false
}

// memOpener is the io.Writer a memory source writes the rest of the stream
// into (see decryptReader.writeFromMemory). A whole segment followed by at
// least one more byte is known not to be the last one, and is opened
// straight from the source's memory into the reader's buffer, whose
// plaintext then goes to w: the ciphertext is read once, as a raw Open of
// it would. Anything shorter (a segment cut by the end of a Write, and the
// final segment, which is the last one only once the source says it has
// ended) is collected in the reader's buffer first and opened there. As on
// every path, no plaintext reaches w before its segment authenticates.
//
// Opening in the source's memory reads it once, as on the copying path:
// the caller must not modify the source's bytes while it is being read,
// which is the contract of a bytes.Reader anyway.
type memOpener decryptReader

// Write opens the whole segments of p and keeps the rest.
func (o *memOpener) Write(p []byte) (int, error) {
	r := (*decryptReader)(o)
	total := len(p)
	for len(p) > 0 {
		if r.err != nil {
			return total - len(p), r.err
		}
		s := &r.src
		if s.next >= maxSegments {
			return total - len(p), r.fail(authError("Read", s.next, "too many segments"))
		}
		ctLen := int(s.g.ctCap(s.next))
		if r.conc > 1 && r.held == 0 && s.next > 0 {
			if m := o.openWhole(p, r.conc); m > 0 || r.err != nil {
				p = p[m:]
				continue
			}
		}
		if r.held == 0 && len(p) > ctLen {
			// A whole segment, not the last: open it where it lies.
			r.seg.grow(ctLen-tagSize, int(s.g.seg)+1, s.pool)
			setNonce(&r.seg.nonce, &s.prefix, uint32(s.next), notLastSegment)
			r.seg.holdPlaintext(ctLen - tagSize)
			pt, err := r.aead.Open(r.seg.buf[:0], r.seg.nonce[:], p[:ctLen], nil)
			if err != nil {
				return total - len(p), r.fail(authError("Read", s.next, ""))
			}
			p = p[ctLen:]
			s.next++
			if err := o.emit(pt); err != nil {
				return total - len(p), err
			}
			continue
		}
		if r.held == ctLen {
			// The collected segment is whole and p holds more: not the last.
			if err := o.openHeld(notLastSegment); err != nil {
				return total - len(p), err
			}
			continue
		}
		m := min(len(p), ctLen-r.held)
		r.seg.grow(r.held+m, int(s.g.seg)+1, s.pool)
		copy(r.seg.buf[r.held:], p[:m])
		r.seg.touch(r.held + m)
		r.held += m
		p = p[m:]
	}
	return total, nil
}

// openHeld opens the segment collected in the reader's buffer in place and
// writes its plaintext to w.
func (o *memOpener) openHeld(last bool) error {
	r := (*decryptReader)(o)
	s := &r.src
	if r.held < tagSize {
		return r.fail(authError("Read", s.next, "truncated segment"))
	}
	setNonce(&r.seg.nonce, &s.prefix, uint32(s.next), last)
	r.seg.holdPlaintext(r.held)
	ct := r.seg.buf[:r.held]
	r.held = 0
	pt, err := r.aead.Open(ct[:0], r.seg.nonce[:], ct, nil)
	if err != nil {
		return r.fail(authError("Read", s.next, ""))
	}
	s.next++
	return o.emit(pt)
}

// emit writes authenticated plaintext to w.
func (o *memOpener) emit(pt []byte) error {
	if len(pt) == 0 {
		return nil // an empty final segment
	}
	n, err := o.w.Write(pt)
	o.written += int64(n)
	if err != nil {
		o.wErr = err
		return (*decryptReader)(o).fail(err)
	}
	return nil
}

// writeFromMemory is WriteTo for a memory source, called with no unread
// plaintext and no segment of the stream read yet beyond s.next.
func (r *decryptReader) writeFromMemory(src io.WriterTo, w io.Writer) (int64, error) {
	o := (*memOpener)(r)
	o.w, o.written, o.wErr = w, 0, nil
	if r.src.peeked {
		// The byte read ahead by Read is the first of segment next.
		r.src.peeked = false
		r.seg.grow(1, int(r.src.g.seg)+1, r.src.pool)
		r.seg.buf[0] = r.src.peek
		r.seg.touch(1)
		r.held = 1
	}
	_, err := src.WriteTo(o)
	written := o.written
	switch {
	case r.err != nil: // failed in Write: authentication, or w's error
	case err != nil:
		r.fail(&Error{Op: "Read", Segment: r.src.next, Reason: "reading ciphertext", Err: err})
	default:
		// The source has ended: what is held is the last segment.
		r.src.eof = true
		if o.openHeld(lastSegment) == nil {
			r.fail(io.EOF)
		}
		written = o.written
	}
	o.w = nil
	if r.err == io.EOF {
		return written, nil
	}
	return written, r.err
}
