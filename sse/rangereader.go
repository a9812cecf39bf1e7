package sse

import (
	"io"
	"sync"

	"github.com/envkms/kms/stream"
)

// rawChunk is the read size for objects that are not encrypted.
const rawChunk = 256 << 10

// Range returns a reader of the n plaintext bytes from off (clipped to the
// object size). It reads one whole segment per call to the stream, so each
// segment is decrypted once, and implements io.WriterTo so io.Copy needs no
// second buffer; with WithConcurrency(n), WriteTo decrypts n segments at a
// time in parallel. Errors are those of ReadAt; on an error the server must
// abort the response, not end it cleanly.
func (r *ObjectReader) Range(off, n int64) io.Reader {
	if off < 0 || n < 0 {
		return &rangeReader{err: errInvalidArgument("negative range")}
	}
	end := r.size
	if off <= r.size && n < r.size-off {
		end = off + n
	}
	return &rangeReader{r: r, pos: off, end: end}
}

type rangeReader struct {
	r        *ObjectReader
	pos, end int64
	buf      []byte
	pending  []byte // decrypted, not yet returned
	err      error
}

// chunkAt returns how many bytes to read at pos: up to the end of the
// segment (or part) holding it.
func (rr *rangeReader) chunkAt(pos int64) (int64, error) {
	part := rr.r.partAt(pos)
	local := pos - part.plainOff
	next := local + rawChunk
	if rr.r.seg != 0 {
		var err error
		if next, err = stream.SegmentEnd(local, rr.r.seg); err != nil {
			return 0, err // unreachable: the metadata's segment size is valid
		}
	}
	next = min(next, part.plainSize)
	return min(next-local, rr.end-pos), nil
}

// readChunk reads p (a chunk) at pos. Reaching the end of the object early is
// an error: sizes are authenticated, so it can't happen to an intact object.
func (rr *rangeReader) readChunk(p []byte, pos int64) (int, error) {
	got, err := rr.r.ReadAt(p, pos)
	if err == io.EOF {
		if got == len(p) {
			err = nil
		} else {
			err = io.ErrUnexpectedEOF
		}
	}
	return got, err
}

func (rr *rangeReader) Read(p []byte) (int, error) {
	if len(rr.pending) > 0 {
		n := copy(p, rr.pending)
		rr.pending = rr.pending[n:]
		return n, nil
	}
	if rr.err != nil {
		return 0, rr.err
	}
	if rr.pos >= rr.end {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	c, err := rr.chunkAt(rr.pos)
	if err != nil {
		rr.err = err
		return 0, err
	}
	if int64(len(p)) >= c {
		n, err := rr.readChunk(p[:c], rr.pos)
		rr.pos += int64(n)
		rr.err = err
		return n, err
	}
	if int64(cap(rr.buf)) < c {
		rr.buf = make([]byte, c)
	}
	got, err := rr.readChunk(rr.buf[:c], rr.pos)
	rr.pos += int64(got)
	rr.err = err
	rr.pending = rr.buf[:got]
	n := copy(p, rr.pending)
	rr.pending = rr.pending[n:]
	if n > 0 {
		return n, nil
	}
	return 0, err
}

// WriteTo writes the rest of the range to w, a batch of segments at a time.
// With WithConcurrency(k), k > 1, a batch is k segments decrypted in
// parallel, and the next batch is decrypted while the current one is being
// written: a server's GET keeps both decrypting and sending busy instead of
// alternating between them.
func (rr *rangeReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if len(rr.pending) > 0 {
		n, err := w.Write(rr.pending)
		total += int64(n)
		rr.pending = rr.pending[n:]
		if err != nil {
			return total, err
		}
	}
	if rr.err != nil || rr.pos >= rr.end {
		return total, rr.err
	}
	k := max(rr.r.concurrency, 1)
	var batches [2]rangeBatch
	cur, next := &batches[0], &batches[1]
	// plan sets b's chunks from pos and returns the position after them.
	plan := func(b *rangeBatch, pos int64) (int64, error) {
		b.chunks = b.chunks[:0]
		if len(b.bufs) < k {
			b.bufs = make([][]byte, k)
		}
		for len(b.chunks) < k && pos < rr.end {
			c, err := rr.chunkAt(pos)
			if err != nil {
				return pos, err
			}
			i := len(b.chunks)
			if int64(cap(b.bufs[i])) < c {
				b.bufs[i] = make([]byte, c)
			}
			b.chunks = append(b.chunks, rangeChunk{pos: pos, buf: b.bufs[i][:c]})
			pos += c
		}
		return pos, nil
	}
	write := func(b *rangeBatch) error {
		for _, c := range b.chunks {
			if c.got > 0 {
				n, err := w.Write(c.buf[:c.got])
				total += int64(n)
				rr.pos += int64(n)
				if err != nil {
					return err
				}
			}
			if c.err != nil {
				rr.err = c.err
				break
			}
		}
		return nil
	}
	if k == 1 {
		// One buffer, read then written.
		for rr.err == nil && rr.pos < rr.end {
			if _, err := plan(cur, rr.pos); err != nil {
				rr.err = err
				break
			}
			cur.run(rr, false)
			if err := write(cur); err != nil {
				return total, err
			}
		}
		return total, rr.err
	}
	pos, err := plan(cur, rr.pos)
	if err != nil {
		rr.err = err
		return total, err
	}
	cur.run(rr, len(cur.chunks) > 1 || pos < rr.end) // inline if nothing to overlap with
	for {
		cur.wg.Wait()
		started := false
		if !cur.failed() && pos < rr.end {
			var perr error
			if pos, perr = plan(next, pos); perr != nil {
				rr.err = perr
			} else {
				next.run(rr, true)
				started = true
			}
		}
		if err := write(cur); err != nil {
			next.wg.Wait() // the batch in flight must let go of its buffers
			return total, err
		}
		if !started || rr.err != nil {
			next.wg.Wait()
			return total, rr.err
		}
		cur, next = next, cur
	}
}

// rangeChunk is one segment (or raw chunk) of a rangeBatch.
type rangeChunk struct {
	pos int64
	buf []byte
	got int
	err error
}

// rangeBatch is the segments WriteTo decrypts together, and their buffers.
type rangeBatch struct {
	chunks []rangeChunk
	bufs   [][]byte
	wg     sync.WaitGroup
}

// run reads the batch's chunks: each on its own goroutine if parallel (the
// caller waits on wg), else inline.
func (b *rangeBatch) run(rr *rangeReader, parallel bool) {
	for i := range b.chunks {
		c := &b.chunks[i]
		if !parallel {
			c.got, c.err = rr.readChunk(c.buf, c.pos)
			continue
		}
		b.wg.Go(func() { c.got, c.err = rr.readChunk(c.buf, c.pos) })
	}
}

// failed reports whether a chunk of the batch failed.
func (b *rangeBatch) failed() bool {
	for _, c := range b.chunks {
		if c.err != nil {
			return true
		}
	}
	return false
}
