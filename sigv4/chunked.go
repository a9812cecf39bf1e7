package sigv4

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Limits of the aws-chunked decoder (see the package documentation).
const (
	// maxHeaderLine bounds a chunk header line, CRLF excluded. The longest
	// well-formed one is 177 bytes: 16 hex digits, ";chunk-signature=" and
	// an ECDSA (SigV4a) signature of up to 144 hex digits.
	maxHeaderLine = 256
	// maxSizeDigits is the most hex digits of a chunk size (an int64).
	maxSizeDigits = 16
	// maxSignatureHex bounds an unverified chunk signature (ECDSA P-256 DER).
	maxSignatureHex = 144
	// minSignedChunk: S3 refuses a signed chunk smaller than this unless it
	// is the last one with data (InvalidChunkSizeError).
	minSignedChunk = 8192
	// maxVerifiedChunk bounds a chunk whose signature the Verifier checks:
	// its bytes are held until then. (Our limit; SDKs send 64 or 128 KiB.)
	maxVerifiedChunk = 1 << 20
	// maxTrailerSection bounds the trailer lines, as S3 bounds a request's
	// header section (8 KiB).
	maxTrailerSection = 8 << 10
)

// chunkSigner computes the expected signature of each chunk, chained from
// the seed signature (the AWS SDK's stream signer).
type chunkSigner struct {
	ctx    context.Context
	signer *v4.StreamSigner
	t      time.Time
}

// sigRule says whether chunk headers carry a chunk-signature extension.
type sigRule int

const (
	sigOptional  sigRule = iota // aws-chunked without a STREAMING-* mode
	sigRequired                 // STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
	sigForbidden                // STREAMING-UNSIGNED-PAYLOAD-TRAILER
)

// ChunkedReader decodes an aws-chunked request body and yields its payload.
// It returns io.EOF only once the whole body was read and found well formed
// (see the package documentation for the rules); every other failure is an
// *Error wrapping ErrMalformedBody or ErrSignatureMismatch, or the error of
// the underlying reader, as it was returned. Errors are sticky.
type ChunkedReader struct {
	br       *bufio.Reader
	body     io.Reader
	signer   *chunkSigner // nil: chunk signatures are not verified
	rule     sigRule
	minChunk bool     // the S3 rule on chunk sizes applies (signed modes)
	declared []string // trailer names X-Amz-Trailer announces, lowercase
	allowSig bool     // x-amz-trailer-signature may follow the trailers
	want     int64    // X-Amz-Decoded-Content-Length, or -1
	decoded  int64    // payload bytes announced by the chunk sizes so far
	left     int64    // unverified chunk: payload bytes still to read
	inChunk  bool     // unverified chunk: its data's CRLF is still to read
	short    bool     // a data chunk under minSignedChunk was read
	held     []byte   // verified chunk: bytes not yet returned
	buf      []byte   // verified chunk: storage, reused
	trailer  http.Header
	err      error // sticky
}

// NewChunkedReader returns a reader of the payload of body, an aws-chunked
// request body, as the request's header h describes it: X-Amz-Content-Sha256
// gives the mode, X-Amz-Trailer the trailers the body must end with, and
// X-Amz-Decoded-Content-Length, if present, the payload's length.
//
// It checks the framing but verifies no chunk signature: use it for bodies
// the Verifier did not decode (an anonymous server, or a body bound by a hex
// x-amz-content-sha256, whose hash covers the encoded bytes and is checked
// by the reader underneath). The Verifier itself decodes and verifies the
// streaming modes.
func NewChunkedReader(body io.Reader, h http.Header) *ChunkedReader {
	return newChunkedReader(body, h, nil)
}

func newChunkedReader(body io.Reader, h http.Header, signer *chunkSigner) *ChunkedReader {
	c := &ChunkedReader{br: bufio.NewReaderSize(body, 64<<10), body: body, signer: signer, want: -1, trailer: http.Header{}}
	switch h.Get(hdrContentSHA256) {
	case streamingSigned:
		c.rule, c.minChunk = sigRequired, true
	case streamingSignedTrailer:
		c.rule, c.minChunk, c.allowSig = sigRequired, true, true
	case streamingUnsigned:
		c.rule = sigForbidden
	}
	for _, v := range h.Values(hdrTrailer) {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if !validHeaderName(name) || slices.Contains(c.declared, name) {
				c.err = fail(ErrMalformedBody, "malformed x-amz-trailer header")
				return c
			}
			c.declared = append(c.declared, name)
		}
	}
	if len(c.declared) > 0 && h.Get(hdrContentSHA256) == streamingSigned {
		// The chunk signatures of this mode do not cover trailers.
		c.err = fail(ErrMalformedBody, "x-amz-trailer needs a payload mode with trailers")
		return c
	}
	if vs := h.Values(hdrDecodedLength); len(vs) > 0 {
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if len(vs) > 1 || err != nil || n < 0 {
			c.err = fail(ErrMalformedBody, "malformed x-amz-decoded-content-length header")
			return c
		}
		c.want = n
	}
	return c
}

// Trailer returns the trailers of the body, keyed by their canonical names,
// once Read has returned io.EOF; before that it is empty. The map must not
// be modified.
func (c *ChunkedReader) Trailer() http.Header { return c.trailer }

// Close closes the underlying body if it is an io.Closer.
func (c *ChunkedReader) Close() error {
	if cl, ok := c.body.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Read reads decoded payload bytes.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for len(c.held) == 0 && c.left == 0 {
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if len(c.held) > 0 {
		n := copy(p, c.held)
		c.held = c.held[n:]
		return n, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err != nil {
		c.err = truncated(err, "body ends inside a chunk")
		return n, c.err
	}
	return n, nil
}

// truncated maps the end of the input to a malformed-body error and passes
// any other error of the underlying reader on unchanged.
func truncated(err error, reason string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fail(ErrMalformedBody, reason)
	}
	return err
}

// next reads the next chunk header (and, when verifying, the chunk), or the
// end of the body, where it returns io.EOF.
func (c *ChunkedReader) next() error {
	if c.inChunk {
		if err := c.crlf("missing CRLF after chunk data"); err != nil {
			return err
		}
		c.inChunk = false
	}
	size, sig, err := c.header()
	if err != nil {
		return err
	}
	if c.minChunk && size > 0 {
		if c.short {
			return fail(ErrMalformedBody, "only the last chunk may be smaller than 8192 bytes")
		}
		c.short = size < minSignedChunk
	}
	if c.want >= 0 && size > c.want-c.decoded {
		return fail(ErrMalformedBody, "body is longer than x-amz-decoded-content-length")
	}
	c.decoded += size
	if c.signer != nil {
		if err := c.verified(size, sig); err != nil {
			return err
		}
	} else if size > 0 {
		c.left, c.inChunk = size, true
		return nil
	}
	if size > 0 {
		return nil
	}
	if c.want >= 0 && c.decoded != c.want {
		return fail(ErrMalformedBody, "body is shorter than x-amz-decoded-content-length")
	}
	if err := c.trailers(); err != nil {
		return err
	}
	// Read the input to its end: nothing may follow the final CRLF, and the
	// reader underneath may only now report that the body is not the one
	// signed (a hex x-amz-content-sha256 is checked at its EOF).
	switch _, err := c.br.ReadByte(); {
	case err == nil:
		return fail(ErrMalformedBody, "data after the final chunk")
	case err != io.EOF:
		return err
	}
	return io.EOF
}

// verified reads a chunk's data and its CRLF, and holds the data once its
// signature matched.
func (c *ChunkedReader) verified(size int64, sig []byte) error {
	if size > maxVerifiedChunk {
		return fail(ErrMalformedBody, "chunk larger than 1 MiB")
	}
	if int64(cap(c.buf)) < size {
		c.buf = make([]byte, size)
	}
	data := c.buf[:size]
	if _, err := io.ReadFull(c.br, data); err != nil {
		return truncated(err, "body ends inside a chunk")
	}
	if size > 0 {
		if err := c.crlf("missing CRLF after chunk data"); err != nil {
			return err
		}
	}
	want, err := c.signer.signer.GetSignature(c.signer.ctx, nil, data, c.signer.t)
	if err != nil || subtle.ConstantTimeCompare(want, sig) != 1 {
		return fail(ErrSignatureMismatch, "chunk signature does not match")
	}
	c.held = data
	return nil
}

// header reads "hex-size[;chunk-signature=sig]" CRLF.
func (c *ChunkedReader) header() (size int64, sig []byte, err error) {
	line, err := c.line(maxHeaderLine, "body ends before the final chunk")
	if err != nil {
		return 0, nil, err
	}
	sizeHex, ext, hasExt := strings.Cut(line, ";")
	if sizeHex == "" || len(sizeHex) > maxSizeDigits || !isHex(sizeHex) {
		return 0, nil, fail(ErrMalformedBody, "malformed chunk size")
	}
	size, perr := strconv.ParseInt(sizeHex, 16, 64)
	if perr != nil {
		return 0, nil, fail(ErrMalformedBody, "malformed chunk size")
	}
	switch {
	case !hasExt && c.rule == sigRequired:
		return 0, nil, fail(ErrMalformedBody, "chunk without a chunk-signature")
	case !hasExt:
		return size, nil, nil
	case c.rule == sigForbidden:
		return 0, nil, fail(ErrMalformedBody, "chunk-signature in an unsigned payload")
	case !strings.HasPrefix(ext, chunkSignatureExt):
		return 0, nil, fail(ErrMalformedBody, "unknown chunk extension")
	}
	hexSig := ext[len(chunkSignatureExt):]
	if c.signer != nil {
		if len(hexSig) != 64 || !isLowerHex(hexSig) {
			return 0, nil, fail(ErrMalformedBody, "malformed chunk signature")
		}
		sig, _ = hex.DecodeString(hexSig)
		return size, sig, nil
	}
	if hexSig == "" || len(hexSig) > maxSignatureHex || !isLowerHex(hexSig) {
		return 0, nil, fail(ErrMalformedBody, "malformed chunk signature")
	}
	return size, nil, nil
}

// trailers reads the trailer lines and the empty line that ends the body.
func (c *ChunkedReader) trailers() error {
	budget := maxTrailerSection
	for {
		line, err := c.line(budget, "body ends before its final CRLF")
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		budget -= len(line) + 2
		name, value, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.Trim(name, " \t"))
		value = strings.Trim(value, " \t")
		if !ok || !validHeaderName(name) || value == "" {
			return fail(ErrMalformedBody, "malformed trailer")
		}
		if !slices.Contains(c.declared, name) && !(c.allowSig && name == trailerSignature) {
			return fail(ErrMalformedBody, "trailer not announced in x-amz-trailer")
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if _, dup := c.trailer[key]; dup {
			return fail(ErrMalformedBody, "repeated trailer")
		}
		c.trailer[key] = []string{value}
	}
	for _, name := range c.declared {
		if _, ok := c.trailer[textproto.CanonicalMIMEHeaderKey(name)]; !ok {
			return fail(ErrMalformedBody, "trailer announced in x-amz-trailer is missing")
		}
	}
	return nil
}

// line reads a CRLF-terminated line of at most limit bytes (CRLF
// excluded). A bare CR or LF is refused.
func (c *ChunkedReader) line(limit int, atEOF string) (string, error) {
	var b strings.Builder
	for {
		ch, err := c.br.ReadByte()
		if err != nil {
			return "", truncated(err, atEOF)
		}
		if ch == '\r' {
			next, err := c.br.ReadByte()
			if err != nil {
				return "", truncated(err, atEOF)
			}
			if next != '\n' {
				return "", fail(ErrMalformedBody, "CR without LF")
			}
			return b.String(), nil
		}
		if ch == '\n' || b.Len() >= limit {
			return "", fail(ErrMalformedBody, "malformed or overlong line")
		}
		b.WriteByte(ch)
	}
}

// crlf reads the CRLF that ends chunk data.
func (c *ChunkedReader) crlf(reason string) error {
	for _, want := range []byte{'\r', '\n'} {
		ch, err := c.br.ReadByte()
		if err != nil {
			return truncated(err, reason)
		}
		if ch != want {
			return fail(ErrMalformedBody, reason)
		}
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
