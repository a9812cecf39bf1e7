package stream

// openWhole opens the whole, not-last segments at the front of p on n
// goroutines (WithConcurrency(n), WriteTo from a memory source) and writes
// their plaintext to o.w in stream order. It returns how many bytes of p it
// consumed: whole segments up to, not including, the last complete segment
// that p does not show to be followed by more, opened straight from p by
// inOrder, so ciphertext is read once and plaintext stays in the cache of
// the core that made it. Every goroutine has ended when it returns, so p is
// not retained. No plaintext reaches o.w before its segment authenticated,
// and nothing after a segment that failed.
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
	open := func(sb *segment, i int) ([]byte, error) {
		sb.grow(ptLen, int(s.g.seg)+1, s.pool)
		sb.holdPlaintext(ptLen)
		setNonce(&sb.nonce, &s.prefix, uint32(first+int64(i)), notLastSegment)
		return r.aead.Open(sb.buf[:0], sb.nonce[:], p[i*ctLen:(i+1)*ctLen], nil)
	}
	emit := func(pt []byte) error {
		s.next++
		return o.emit(pt)
	}
	done, failed := inOrder(n, count, s.pool, open, emit)
	if failed >= 0 {
		r.fail(authError("Read", first+int64(failed), ""))
	}
	return done * ctLen
}
