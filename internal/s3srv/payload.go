package s3srv

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"strings"

	"github.com/envkms/kms/sigv4"
)

// maxPutSize is S3's limit for one PutObject or UploadPart.
const maxPutSize = 5 << 30

// checksumAlgorithms are the x-amz-checksum-* algorithms verified on upload.
func checksumAlgorithms() [5]string {
	return [...]string{"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}
}

func newChecksum(alg string) hash.Hash {
	switch alg {
	case "crc32":
		return crc32.NewIEEE()
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "crc64nvme":
		// CRC-64/NVME: poly 0xad93d23594c93659, reflected, init and xorout
		// all ones — the conventions of hash/crc64 with the reversed poly.
		return crc64.New(crc64.MakeTable(bits.Reverse64(0xad93d23594c93659)))
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	}
	return nil
}

// isAWSChunked reports whether the body is aws-chunked encoded.
func isAWSChunked(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return true
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(e), "aws-chunked") {
				return true
			}
		}
	}
	return false
}

// check is one digest the client announced for the payload.
type check struct {
	header  string // canonical header / trailer name
	h       hash.Hash
	want    []byte // nil: look the value up in the trailers at EOF
	trailer bool
}

// payloadReader yields the decoded request payload: exactly size bytes, and
// io.EOF only once the body ended where it should and every announced digest
// (Content-MD5, x-amz-checksum-*, aws-chunked signatures) matched.
type payloadReader struct {
	r       io.Reader
	chunked *sigv4.ChunkedReader // nil unless aws-chunked
	size    int64
	n       int64
	checks  []check
	err     error
	// contentMD5 is the request's Content-MD5 (validated), checked by sse
	// against the plaintext in its one MD5 pass (writeStored), not here.
	contentMD5 string
}

// openPayload prepares r's body for storing. It returns the reader and the
// payload size.
func (s *Server) openPayload(r *http.Request) (*payloadReader, *Error) {
	pr := &payloadReader{r: r.Body}
	if isAWSChunked(r) {
		dl := r.Header.Get("X-Amz-Decoded-Content-Length")
		if dl == "" {
			return nil, errMissingContentLength()
		}
		n, err := strconv.ParseInt(dl, 10, 64)
		if err != nil || n < 0 {
			return nil, errInvalidArgument("Invalid x-amz-decoded-content-length.")
		}
		pr.size = n
		// The SigV4 verifier decodes the streaming modes itself (and
		// verifies chunk signatures); everything else is decoded here:
		// anonymous requests, and bodies signed by a hex
		// x-amz-content-sha256, whose hash covers the encoded bytes and is
		// checked underneath.
		cr, ok := r.Body.(*sigv4.ChunkedReader)
		if !ok {
			cr = sigv4.NewChunkedReader(r.Body, r.Header)
		}
		pr.chunked, pr.r = cr, cr
	} else {
		if r.ContentLength < 0 {
			return nil, errMissingContentLength()
		}
		pr.size = r.ContentLength
	}
	s.log.Debug("s3server: request payload", "content_sha256", r.Header.Get("X-Amz-Content-Sha256"),
		"aws_chunked", pr.chunked != nil, "trailer", r.Header.Get("X-Amz-Trailer"), "size", pr.size)
	if pr.size > maxPutSize {
		return nil, errEntityTooLarge()
	}
	if v := r.Header.Get("Content-Md5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return nil, errInvalidDigest()
		}
		pr.contentMD5 = v
	}
	trailers := map[string]bool{}
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for _, t := range strings.Split(v, ",") {
			trailers[strings.ToLower(strings.TrimSpace(t))] = true
		}
	}
	for _, alg := range checksumAlgorithms() {
		name := "x-amz-checksum-" + alg
		if v := r.Header.Get(name); v != "" {
			want, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, errInvalidDigest()
			}
			pr.checks = append(pr.checks, check{header: http.CanonicalHeaderKey(name), h: newChecksum(alg), want: want})
		} else if trailers[name] && pr.chunked != nil {
			pr.checks = append(pr.checks, check{header: http.CanonicalHeaderKey(name), h: newChecksum(alg), trailer: true})
		}
	}
	return pr, nil
}

// Size is the payload length the client declared.
func (p *payloadReader) Size() int64 { return p.size }

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		if p.n > p.size {
			p.err = errInvalidRequest("The request body is longer than the declared content length.")
			return 0, p.err
		}
		for _, c := range p.checks {
			c.h.Write(b[:n])
		}
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		if p.n != p.size {
			p.err = errIncompleteBody()
		} else {
			p.err = p.verify()
		}
		if p.err == nil {
			p.err = io.EOF
		}
		return n, p.err
	case errors.Is(err, io.ErrUnexpectedEOF):
		p.err = errIncompleteBody()
		return n, p.err
	default:
		p.err = err
		return n, err
	}
}

func (p *payloadReader) verify() error {
	for _, c := range p.checks {
		want := c.want
		if c.trailer {
			v := p.chunked.Trailer().Get(c.header)
			if v == "" {
				return errInvalidRequest("The announced checksum trailer " + strings.ToLower(c.header) + " is missing.")
			}
			var err error
			if want, err = base64.StdEncoding.DecodeString(v); err != nil {
				return errInvalidDigest()
			}
		}
		if subtle.ConstantTimeCompare(c.h.Sum(nil), want) != 1 {
			return errBadDigest("The " + strings.ToLower(c.header) + " you specified did not match the calculated checksum.")
		}
	}
	return nil
}

// storedContentEncoding drops aws-chunked from a Content-Encoding value.
func storedContentEncoding(v string) string {
	var keep []string
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e != "" && !strings.EqualFold(e, "aws-chunked") {
			keep = append(keep, e)
		}
	}
	return strings.Join(keep, ",")
}
