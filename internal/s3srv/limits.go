package s3srv

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Connection-level limits of an s3server (see "Resource limits" in the
// package doc). NewHTTPServer applies the timeouts and MaxHeaderBytes;
// LimitListener caps the connections.
const (
	// DefaultMaxConns is how many connections the example server serves at
	// once (its -max-conns flag); further ones wait in the listen queue.
	DefaultMaxConns = 1024
	// ReadHeaderTimeout is how long a client may take to send the request
	// line and headers.
	ReadHeaderTimeout = 30 * time.Second
	// IdleTimeout closes keep-alive connections idle for that long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes caps the request line and headers net/http reads
	// (431 beyond); the S3 handler itself refuses header sections over
	// 8 KB, as S3 does.
	MaxHeaderBytes = 32 << 10
)

// Defaults of the per-request timeouts in Config.
const (
	DefaultBodyReadTimeout      = time.Minute
	DefaultResponseWriteTimeout = time.Minute
)

// NewHTTPServer returns an http.Server for h with the connection-level
// limits above (ReadHeaderTimeout, IdleTimeout, MaxHeaderBytes). It sets no
// ReadTimeout or WriteTimeout, which would bound a whole request and so the
// size of an upload or download: the Server bounds every read of a request
// body and every write of a response body instead (Config.BodyReadTimeout,
// Config.ResponseWriteTimeout). Serve it on LimitListener.
func NewHTTPServer(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

// LimitListener returns a Listener that has at most n connections open at
// once: Accept waits while n are, so clients beyond wait in the kernel's
// listen queue, and pre-authentication memory (headers being read, TLS
// handshakes) is bounded by n. Closing the listener ends a waiting Accept.
// (The same as golang.org/x/net/netutil.LimitListener.)
func LimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, sem: make(chan struct{}, max(n, 1)), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// deadlineBody gives every read of a request body a deadline: a client that
// stops sending fails with os.ErrDeadlineExceeded (400 RequestTimeout)
// instead of holding its connection, goroutine and buffers for ever.
type deadlineBody struct {
	rc      io.ReadCloser
	ctl     *http.ResponseController
	timeout time.Duration
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		// Past the body, net/http reads ahead on the connection: that
		// read must not fail (and cancel the request) while the handler
		// finishes.
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.rc.Close() }

// deadlineWriter gives every write of a response body a deadline, so a
// client that stops reading releases its download.
type deadlineWriter struct {
	w       io.Writer
	ctl     *http.ResponseController
	timeout time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		_ = d.ctl.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return d.w.Write(p)
}

// errRequestTimeout is S3's answer to a body that stopped arriving.
func errRequestTimeout(cause error) *Error {
	return &Error{Code: "RequestTimeout", Status: http.StatusBadRequest, Message: "Your socket connection to the server was not read from or written to within the timeout period.", Err: cause}
}
