package s3srv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// stalledRequest sends req on a fresh connection with a body that declares
// size bytes but delivers only the first sent of them, then stalls. It
// returns the response, or an error if none came within wait.
func (e *testEnv) stalledRequest(req *http.Request, size, sent int, wait time.Duration) (*http.Response, error) {
	e.t.Helper()
	raw, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	e.t.Cleanup(func() { _ = conn.Close() })
	pr, pw := io.Pipe()
	e.t.Cleanup(func() { _ = pw.Close() })
	req.Body, req.ContentLength = pr, int64(size)
	go func() { _ = req.Write(conn) }()
	go func() { _, _ = pw.Write(make([]byte, sent)) }() // then nothing more
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

func (e *testEnv) sign(req *http.Request, payloadHash string) {
	e.t.Helper()
	creds := aws.Credentials{AccessKeyID: e.cfg.AccessKey, SecretAccessKey: e.cfg.SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "s3", "us-east-1", time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// An upload whose body stops arriving fails with 400 RequestTimeout once a
// read has waited BodyReadTimeout, instead of holding the connection (and
// its buffers) for as long as the client likes; nothing is stored.
func TestStalledBodyTimesOut(t *testing.T) {
	for _, anonymous := range []bool{false, true} {
		cfg := Config{BodyReadTimeout: 300 * time.Millisecond}
		name := "signed UNSIGNED-PAYLOAD"
		if !anonymous {
			cfg.AccessKey, cfg.SecretKey = "AKSTALL", "stall-secret"
		} else {
			name = "anonymous"
		}
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t, cfg)
			e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
			req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/bkt/stalled", nil)
			req.ContentLength = 1 << 20
			if !anonymous {
				req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				e.sign(req, "UNSIGNED-PAYLOAD")
			}
			start := time.Now()
			resp, err := e.stalledRequest(req, 1<<20, 64<<10, 10*time.Second)
			if err != nil {
				t.Fatalf("no answer to a stalled upload within 10 s: %v", err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("stalled upload: %d, want 400 RequestTimeout", resp.StatusCode)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("stalled upload answered after %v", d)
			}
			e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/stalled", nil, nil)
			// The connection pool is fine afterwards.
			e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/ok", []byte("ok"), nil)
		})
	}
}

// A header-signed body without x-amz-content-sha256 can only be checked
// after it is read whole; the server refuses it before reading (400 or 403,
// depending on how package sigv4 classifies it), so a stalled one pins no
// memory and no time, even without a body deadline.
func TestUnhashedBodyRefusedBeforeReading(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: "AKPREAUTH", SecretKey: "preauth-secret", BodyReadTimeout: -1})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	body := make([]byte, 1<<20)
	sum := sha256.Sum256(body)
	req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/bkt/unhashed", nil)
	req.ContentLength = int64(len(body))
	e.sign(req, hex.EncodeToString(sum[:])) // no X-Amz-Content-Sha256 header
	resp, err := e.stalledRequest(req, len(body), 1000, 5*time.Second)
	if err != nil {
		t.Fatalf("no answer to a stalled unhashed body: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unhashed body: %d, want 400 or 403", resp.StatusCode)
	}
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/unhashed", nil, nil)
}

// A client that stops reading a download is dropped once a write has
// blocked for ResponseWriteTimeout: the handler returns and releases the
// object (file, key, decryption buffers) instead of waiting for ever.
func TestStalledDownloadIsDropped(t *testing.T) {
	e := newTestEnv(t, Config{ResponseWriteTimeout: 300 * time.Millisecond})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := randBytes(16 << 20)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/big", data, nil)

	raw, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.(*net.TCPConn).SetReadBuffer(16 << 10)
	conn := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	defer conn.Close()
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/bkt/big", nil)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %d", resp.StatusCode)
	}
	// Not reading: the server's writes block, and must give up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		if !bytes.Contains(buf, []byte("s3srv.(*Server).getObject")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("GetObject still writing to a client that stopped reading 10 s ago")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LimitListener keeps at most n connections open; Accept waits for one to
// close, and Close ends a waiting Accept.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(inner, 2)
	accepted := make(chan net.Conn, 4)
	errc := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	<-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted with a limit of 2")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted after one closed")
	}
	// Two are open again (second and third); a fourth waits, and Close ends it.
	c4, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	time.Sleep(50 * time.Millisecond)
	_ = ln.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Accept")
	}
}

// NewHTTPServer sets the connection-level limits and no whole-request
// timeouts.
func TestNewHTTPServer(t *testing.T) {
	hs := NewHTTPServer(http.NotFoundHandler(), nil)
	if hs.ReadHeaderTimeout != ReadHeaderTimeout || hs.IdleTimeout != IdleTimeout || hs.MaxHeaderBytes != MaxHeaderBytes ||
		hs.ReadTimeout != 0 || hs.WriteTimeout != 0 {
		t.Fatalf("%+v", hs)
	}
}
