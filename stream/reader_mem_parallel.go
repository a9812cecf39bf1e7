package stream

import (
	"sync"
)

// openWhole opens the whole, not-last segments at the front of p on n
// goroutines (WithConcurrency(n), WriteTo from a memory source) and writes
// their plaintext to o.w in stream order. It returns how many bytes of p it
// consumed: whole segments up to, not including, the last complete segment
// that p does not show to be followed by more. Each of n-1 goroutines opens
// every n-th segment straight from p into one of its two buffers, so
// ciphertext is read once and plaintext stays in the cache of the core that
// made it; the caller's goroutine opens the remaining n-th segments itself,
// writes each buffer out in stream order and hands it back. Every
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
	// open opens segment first+i into sb; the caller checks the error.
	open := func(sb *segment, i int) ([]byte, error) {
		sb.grow(ptLen, int(s.g.seg)+1, s.pool)
		sb.holdPlaintext(ptLen)
		setNonce(&sb.nonce, &s.prefix, uint32(first+int64(i)), notLastSegment)
		return r.aead.Open(sb.buf[:0], sb.nonce[:], p[i*ctLen:(i+1)*ctLen], nil)
	}
	// Goroutine k < n-1 opens segments k, k+n, ...; the caller's goroutine
	// opens segments n-1, 2n-1, ... itself: at the start of each round of n
	// segments it opens the round's last one, then writes the round out in
	// stream order, so n goroutines keep n cores busy.
	for k := range n - 1 {
		wg.Go(func() {
			for i := k; i < count; i += n {
				var sb *segment
				select {
				case sb = <-free[k]:
				case <-stop:
					return
				}
				pt, err := open(sb, i)
				outs[k] <- result{buf: sb, pt: pt, err: err != nil}
				if err != nil {
					return
				}
			}
		})
	}
	done := 0
	ok := true
	for round := 0; ok && round < count; round += n {
		var own result
		if i := round + n - 1; i < count {
			pt, err := open(&bufs[2*(n-1)], i)
			own = result{pt: pt, err: err != nil}
		}
		for i := round; ok && i < min(round+n, count); i++ {
			k := i - round
			res := own
			if k < n-1 {
				res = <-outs[k]
			}
			if res.err {
				r.fail(authError("Read", first+int64(i), ""))
				ok = false
				break
			}
			s.next++
			done++
			if err := o.emit(res.pt); err != nil {
				ok = false
				break
			}
			if res.buf != nil {
				free[k] <- res.buf
			}
		}
	}
	close(stop)
	wg.Wait()
	for k := range bufs {
		bufs[k].giveBack(s.pool)
	}
	return done * ctLen
}
