package stream

import (
	"sync"
)

// openWhole opens the whole, not-last segments at the front of p on n
// goroutines (WithConcurrency(n), WriteTo from a memory source) and writes
// their plaintext to o.w in stream order. It returns how many bytes of p it
// consumed: whole segments up to, not including, the last complete segment
// that p does not show to be followed by more. Each goroutine opens every
// n-th segment straight from p into one of its two buffers, so ciphertext is
// read once and plaintext stays in the cache of the core that made it; the
// caller's goroutine writes each buffer out and hands it back. Every
// goroutine has ended when it returns, so p is not retained. No plaintext
// reaches o.w before its segment authenticated, and nothing after a segment
// that failed.
func (o *memOpener) openWhole(p []byte, n int) int {
	r := (*decryptReader)(o)
	s := &r.src
	// The segments to open: segment s.next+k at offs[k], ctLen bytes each
	// (all but segment 0 have the same length, and segment 0 is opened
	// sequentially by the caller if it is first: see Write).
	ctLen := int(s.g.ctCap(s.next))
	count := (len(p) - 1) / ctLen // a whole segment and at least one byte after it
	if maxCount := int64(maxSegments) - s.next; int64(count) > maxCount {
		count = int(maxCount)
	}
	if count < n {
		return 0 // fewer segments than goroutines: open them sequentially
	}
	ptLen := ctLen - tagSize
	first := s.next
	type result struct {
		buf *segment
		pt  []byte
		err bool
	}
	var (
		stop = make(chan struct{})
		wg   sync.WaitGroup
		outs = make([]chan result, n)
		free = make([]chan *segment, n)
	)
	bufs := make([]segment, 2*n)
	for k := range n {
		outs[k] = make(chan result, 2)
		free[k] = make(chan *segment, 2)
		free[k] <- &bufs[2*k]
		free[k] <- &bufs[2*k+1]
	}
	for k := range n {
		wg.Go(func() {
			for i := k; i < count; i += n {
				var sb *segment
				select {
				case sb = <-free[k]:
				case <-stop:
					return
				}
				sb.grow(ptLen, int(s.g.seg)+1, s.pool)
				sb.holdPlaintext(ptLen)
				setNonce(&sb.nonce, &s.prefix, uint32(first+int64(i)), notLastSegment)
				ct := p[i*ctLen : (i+1)*ctLen]
				pt, err := r.aead.Open(sb.buf[:0], sb.nonce[:], ct, nil)
				outs[k] <- result{buf: sb, pt: pt, err: err != nil}
				if err != nil {
					return
				}
			}
		})
	}
	done := 0
	for i := 0; i < count; i++ {
		res := <-outs[i%n]
		if res.err {
			r.fail(authError("Read", first+int64(i), ""))
			break
		}
		s.next++
		done++
		if err := o.emit(res.pt); err != nil {
			break
		}
		free[i%n] <- res.buf
	}
	close(stop)
	wg.Wait()
	for k := range bufs {
		bufs[k].giveBack(s.pool)
	}
	return done * ctLen
}
