package stream

import (
	"runtime"
	"sync"
	"time"
)

// inOrder processes count segments of a caller's memory on n goroutines, the
// caller's own included, and hands their results to emit in stream order.
// It is the parallel path of both directions when all the segments are
// already in memory: sealing a large Write (encryptWriter.sealWhole) and
// opening a bytes.Reader (memOpener.openWhole).
//
// Segment i is processed by goroutine i mod n into one of that goroutine's
// two buffers, so its bytes stay in the cache of the core that made them.
// Goroutines 0..n-2 run ahead on their own share, waiting only for a free
// buffer; the caller's goroutine processes the last segment of each round
// of n itself, then emits the round. No goroutine waits to be handed its
// next segment (a parked goroutine woken for every segment costs as long as
// sealing one on a virtual machine, and lands on the waker's core), and
// waits for a result or a free buffer yield before they park (recv).
//
// do processes segment i into sb and returns its output (in sb's buffer).
// inOrder stops at the first segment do fails, emitting none from it on,
// and at the first error of emit. It returns how many segments were
// emitted, and the index of the failed segment (-1 if none). Every
// goroutine has ended when it returns, and every buffer has been given back
// to pool.
func inOrder(n, count int, pool *BufferPool, do func(sb *segment, i int) ([]byte, error), emit func(out []byte) error) (emitted, failed int) {
	type result struct {
		buf *segment
		out []byte
		err bool
	}
	var (
		stop = make(chan struct{})
		wg   sync.WaitGroup
		outs = make([]chan result, n-1)
		free = make([]chan *segment, n-1)
		bufs = make([]segment, 2*n-1) // two per worker, one for the caller
	)
	defer func() {
		close(stop)
		wg.Wait()
		for k := range bufs {
			bufs[k].giveBack(pool)
		}
	}()
	for k := range n - 1 {
		outs[k] = make(chan result, 2)
		free[k] = make(chan *segment, 2)
		free[k] <- &bufs[2*k]
		free[k] <- &bufs[2*k+1]
		wg.Go(func() {
			for i := k; i < count; i += n {
				sb, ok := recv(free[k], stop)
				if !ok {
					return
				}
				out, err := do(sb, i)
				outs[k] <- result{buf: sb, out: out, err: err != nil}
				if err != nil {
					return
				}
			}
		})
	}
	for round := 0; round < count; round += n {
		var own result
		if i := round + n - 1; i < count {
			out, err := do(&bufs[2*(n-1)], i)
			own = result{out: out, err: err != nil}
		}
		for i := round; i < min(round+n, count); i++ {
			k := i - round
			res := own
			if k < n-1 {
				res, _ = recv(outs[k], nil)
			}
			if res.err {
				return emitted, i
			}
			if emit(res.out) != nil {
				return emitted, -1
			}
			emitted++
			if res.buf != nil {
				free[k] <- res.buf
			}
		}
	}
	return emitted, -1
}

// recv receives from ch, or returns false once stop is closed (nil: never).
// It first yields rather than parks, for up to a millisecond: waking a
// parked goroutine can take 100-300µs on a virtual machine, about as long
// as sealing a segment, and the waker puts it on its own core's queue. ch
// must be buffered (len tells that a value is ready). The writer's pipeline
// and inOrder wait with it.
func recv[T any](ch <-chan T, stop <-chan struct{}) (T, bool) {
	start := time.Now()
	for i := 1; len(ch) == 0 && !closed(stop); i++ {
		if i%64 == 0 && time.Since(start) > time.Millisecond {
			break
		}
		runtime.Gosched()
	}
	select {
	case v := <-ch:
		return v, true
	case <-stop:
		var zero T
		return zero, false
	}
}

// closed reports whether stop is closed (never for nil).
func closed(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
