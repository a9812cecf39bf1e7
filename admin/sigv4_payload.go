package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// hashVerifier passes the body through and, at EOF, fails with an error
// wrapping ErrUnauthenticated if its SHA-256 differs from the signed one.
type hashVerifier struct {
	rc   io.ReadCloser
	h    hash.Hash
	want []byte
	err  error // sticky
}

func (v *hashVerifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if subtle.ConstantTimeCompare(v.h.Sum(nil), v.want) != 1 {
			v.err = authFail("payload does not match x-amz-content-sha256")
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = err
	}
	return n, err
}

func (v *hashVerifier) Close() error { return v.rc.Close() }

// Limits of the aws-chunked decoder. A chunk is held whole until its
// signature is verified, so its size is bounded.
const (
	maxChunkSize       = 1 << 20
	maxChunkHeaderLine = 256
)

// chunkedReader decodes an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)
// and releases a chunk's bytes only after its signature, computed by the SDK's
// stream signer chained from the seed signature, matches.
type chunkedReader struct {
	ctx    context.Context
	rc     io.ReadCloser
	br     *bufio.Reader
	signer *v4.StreamSigner
	t      time.Time
	buf    []byte // verified bytes not yet returned
	done   bool
	err    error // sticky
}

func newChunkedReader(ctx context.Context, rc io.ReadCloser, signer *v4.StreamSigner, t time.Time) *chunkedReader {
	return &chunkedReader{ctx: ctx, rc: rc, br: bufio.NewReader(rc), signer: signer, t: t}
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			c.err = io.EOF
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkedReader) Close() error { return c.rc.Close() }

// nextChunk reads "hex-size;chunk-signature=sig\r\n" data "\r\n" and verifies it.
func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	sizeStr, ext, ok := bytes.Cut(line, []byte(";"))
	const sigPrefix = "chunk-signature="
	if !ok || !bytes.HasPrefix(ext, []byte(sigPrefix)) {
		return authFail("malformed aws-chunked body")
	}
	size, err := strconv.ParseInt(string(sizeStr), 16, 64)
	if err != nil || size < 0 || size > maxChunkSize {
		return authFail("malformed or oversized aws-chunked chunk")
	}
	gotSig, err := hex.DecodeString(string(ext[len(sigPrefix):]))
	if err != nil || len(gotSig) != 32 {
		return authFail("malformed chunk signature")
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return authFail("truncated aws-chunked body")
	}
	var crlf [2]byte
	if _, err := io.ReadFull(c.br, crlf[:]); err != nil || crlf != [2]byte{'\r', '\n'} {
		return authFail("malformed aws-chunked body")
	}
	want, err := c.signer.GetSignature(c.ctx, nil, data, c.t)
	if err != nil || subtle.ConstantTimeCompare(want, gotSig) != 1 {
		return authFail("chunk signature does not match")
	}
	if size == 0 {
		c.done = true
		if _, err := c.br.ReadByte(); err != io.EOF {
			return authFail("data after the final aws-chunked chunk")
		}
	}
	c.buf = data
	return nil
}

func (c *chunkedReader) readLine() ([]byte, error) {
	var line []byte
	for {
		b, err := c.br.ReadByte()
		if err != nil {
			return nil, authFail("truncated aws-chunked body")
		}
		if b == '\n' {
			if len(line) == 0 || line[len(line)-1] != '\r' {
				return nil, authFail("malformed aws-chunked body")
			}
			return line[:len(line)-1], nil
		}
		line = append(line, b)
		if len(line) > maxChunkHeaderLine {
			return nil, authFail("malformed aws-chunked body")
		}
	}
}
