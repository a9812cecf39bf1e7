package stream

import (
	"fmt"
	"io"
)

// maxConcurrency bounds WithConcurrency; each goroutine needs two segment buffers.
const maxConcurrency = 256

// Option configures a stream. Encryption and decryption must use the same
// segment size; concurrency is local and may differ.
type Option func(*config)

type config struct {
	segmentSize int
	concurrency int
	rand        io.Reader // salt and nonce prefix source; nil means crypto/rand
	pool        *BufferPool
	err         error
}

// WithSegmentSize sets the ciphertext segment size in bytes (default
// DefaultSegmentSize), from MinSegmentSize (57: header, tag and 1 byte, as
// Tink requires) to MaxSegmentSize (1 GiB). Every segment but the last is
// exactly this long; the first one includes the header.
func WithSegmentSize(n int) Option {
	return func(c *config) {
		if err := checkSegmentSize("Option", n); err != nil {
			c.setErr(err)
			return
		}
		c.segmentSize = n
	}
}

// WithConcurrency seals or opens segments on n goroutines, the caller's
// included (default 1: on the caller's goroutine alone). Output order is
// preserved. Goroutines end when the stream does (Close, the end of the
// stream, an error) or is dropped. Segments are pipelined in
// batches, so memory grows to about 2n segments. n must be in [1, 256].
// NewDecryptReaderAt ignores it: concurrent ReadAt calls are the parallelism.
func WithConcurrency(n int) Option {
	return func(c *config) {
		if n < 1 || n > maxConcurrency {
			c.setErr(argError("Option", fmt.Sprintf("concurrency %d outside [1, %d]", n, maxConcurrency)))
			return
		}
		c.concurrency = n
	}
}

// WithBufferPool makes writers and readers take their segment buffers from
// pool and give them back when they are done, instead of allocating their
// own; see BufferPool. NewDecryptReaderAt ignores it (a ReaderAt reuses its
// own buffers between ReadAt calls).
func WithBufferPool(pool *BufferPool) Option {
	return func(c *config) { c.pool = pool }
}

// withRand replaces crypto/rand as the source of salt and nonce prefix. Tests
// use it to produce the fixed test vectors; a stream's security depends on the
// salt being random, so it is not exported.
func withRand(r io.Reader) Option {
	return func(c *config) { c.rand = r }
}

// setErr records the first invalid option; err is an *Error.
func (c *config) setErr(err error) {
	if c.err == nil {
		c.err = err
	}
}

// newConfig applies opts over the defaults. op names the calling API for errors.
func newConfig(op string, opts []Option) (config, error) {
	if len(opts) == 0 {
		// The default path: applying options moves the config to the heap
		// (an Option may keep its pointer), so skip that when there are none.
		return defaultConfig(), nil
	}
	return applyOptions(op, opts)
}

func defaultConfig() config { return config{segmentSize: DefaultSegmentSize, concurrency: 1} }

func applyOptions(op string, opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.err != nil {
		e := *c.err.(*Error)
		e.Op = op
		return c, &e
	}
	return c, nil
}
