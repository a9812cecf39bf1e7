package s3srv

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// x-amz-content-sha256 values announcing an aws-chunked body.
const (
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
)

const (
	maxChunkLine    = 4096
	maxTrailerBytes = 16 << 10
)

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n [trailer:value\r\n ...] \r\n
//
// It does not verify chunk signatures: with credentials configured, the
// SigV4 verifier (package admin) has already decoded and verified a
// STREAMING-AWS4-HMAC-SHA256-PAYLOAD body (and refuses the signed-trailer
// variant) before this reader would see it; anonymous servers accept any
// signature, like any other unsigned request. Read returns io.EOF only after
// the final chunk and the trailers were read.
type chunkedReader struct {
	br       *bufio.Reader
	left     int64 // bytes left in the current chunk
	inChunk  bool  // data of a chunk was started (CRLF pending)
	trailers http.Header
	err      error // sticky
}

func newChunkedReader(r io.Reader) *chunkedReader {
	return &chunkedReader{br: bufio.NewReaderSize(r, 64<<10), trailers: http.Header{}}
}

func errChunked(msg string) *Error {
	return s3err("IncompleteBody", http.StatusBadRequest, "Malformed aws-chunked body: "+msg)
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errChunked("body ends inside a chunk")
		}
		c.err = err
		return n, err
	}
	return n, nil
}

// header reads a chunk header line and returns the chunk size. A
// chunk-signature extension is accepted (see chunkedReader).
func (c *chunkedReader) header() (int64, error) {
	line, err := c.readLine()
	if err != nil {
		return 0, err
	}
	sizeHex, ext, _ := strings.Cut(line, ";")
	size, perr := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
	if perr != nil || size < 0 {
		return 0, errChunked("bad chunk size")
	}
	if ext != "" && !strings.HasPrefix(strings.TrimSpace(ext), "chunk-signature=") {
		return 0, errChunked("unknown chunk extension")
	}
	return size, nil
}

// nextChunk finishes the current unsigned chunk and reads the next header;
// at the final chunk it reads the trailers and returns io.EOF.
func (c *chunkedReader) nextChunk() error {
	if c.inChunk {
		if err := c.expectCRLF(); err != nil {
			return err
		}
		c.inChunk = false
	}
	size, err := c.header()
	if err != nil {
		return err
	}
	if size > 0 {
		c.left, c.inChunk = size, true
		return nil
	}
	if err := c.readTrailers(); err != nil {
		return err
	}
	return io.EOF
}

func (c *chunkedReader) expectCRLF() error {
	var b [2]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil || b != [2]byte{'\r', '\n'} {
		return errChunked("missing CRLF after chunk data")
	}
	return nil
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errChunked("chunk header too long")
		}
		return "", errChunked("body ends before the final chunk")
	}
	if len(line) > maxChunkLine {
		return "", errChunked("chunk header too long")
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (c *chunkedReader) readTrailers() error {
	total := 0
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) == 0 {
				return nil // tolerate a missing final CRLF
			}
			return errChunked("bad trailer")
		}
		total += len(line)
		if total > maxTrailerBytes {
			return errChunked("trailers too long")
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			return nil
		}
		name, value, ok := strings.Cut(s, ":")
		if !ok {
			return errChunked("bad trailer")
		}
		c.trailers.Add(textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)), strings.TrimSpace(value))
	}
}
