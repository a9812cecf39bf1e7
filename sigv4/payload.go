package sigv4

// Which payload hash a request may have signed, and binding the body to it.

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// emptyBody reports whether r has no body.
func emptyBody(r *http.Request) bool {
	return r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody
}

// awsChunked reports whether Content-Encoding names aws-chunked.
func awsChunked(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for e := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(e), "aws-chunked") {
				return true
			}
		}
	}
	return false
}

// payloadPlan says which payload hashes may have been signed and how the
// body must be checked afterwards.
type payloadPlan struct {
	candidates []string
	buffered   []byte // body read to compute its hash (no x-amz-content-sha256)
	hasBuffer  bool
	reserved   int64 // bytes of the Verifier's budget held until Verify returns
}

func (v *Verifier) payloadHashes(r *http.Request, sr sigRequest, q url.Values) (payloadPlan, error) {
	declared := r.Header.Values(hdrContentSHA256)
	if len(declared) > 1 {
		return payloadPlan{}, fail(ErrMalformedRequest, "repeated x-amz-content-sha256 header")
	}
	if sr.presigned && len(declared) == 0 {
		if len(q[qContentSHA256]) > 1 {
			// Not taken as absent (UNSIGNED-PAYLOAD) nor as either value.
			return payloadPlan{}, fail(ErrMalformedRequest, "repeated X-Amz-Content-Sha256 query parameter")
		}
		declared = q[qContentSHA256]
	}
	if len(declared) == 1 {
		ph := declared[0]
		switch {
		case ph == unsignedPayload, ph == streamingUnsigned, ph == streamingSigned:
		case len(ph) == sha256.Size*2 && isLowerHex(ph):
		case strings.HasPrefix(ph, "STREAMING-"):
			return payloadPlan{}, fail(ErrUnsupported, "unsupported streaming payload mode")
		default:
			return payloadPlan{}, fail(ErrMalformedRequest, "malformed x-amz-content-sha256")
		}
		if ph == unsignedPayload && awsChunked(r.Header) {
			// S3: 400 InvalidArgument, "aws-chunked encoding is not
			// supported when x-amz-content-sha256 UNSIGNED-PAYLOAD is
			// supplied".
			return payloadPlan{}, fail(ErrMalformedRequest, "aws-chunked encoding needs a STREAMING-* x-amz-content-sha256, not UNSIGNED-PAYLOAD")
		}
		if v.signedBody && (ph == unsignedPayload || ph == streamingUnsigned) && !emptyBody(r) {
			return payloadPlan{}, fail(ErrPayloadNotSigned, "the payload must be signed")
		}
		return payloadPlan{candidates: []string{ph}}, nil
	}
	if sr.presigned {
		if emptyBody(r) {
			return payloadPlan{candidates: []string{unsignedPayload, emptySHA256}}, nil
		}
		if v.signedBody {
			return payloadPlan{}, fail(ErrPayloadNotSigned, "the payload must be signed")
		}
		return payloadPlan{candidates: []string{unsignedPayload}}, nil
	}
	// Header form without x-amz-content-sha256: the signer hashed the body,
	// which must be read before the signature can be checked.
	if emptyBody(r) {
		return payloadPlan{candidates: []string{emptySHA256}}, nil
	}
	if v.maxBuffered <= 0 {
		// S3: 400 InvalidRequest "Missing required header for this request:
		// x-amz-content-sha256". Refused before a byte of the body is read.
		return payloadPlan{}, fail(ErrMalformedRequest, "missing x-amz-content-sha256 header (required for a request with a body)")
	}
	return v.bufferBody(r)
}

// bufferBody reads and hashes the body of a header-form request without
// x-amz-content-sha256 (WithMaxBufferedBody). The body is read before the
// signature is checked, so its bytes count against the Verifier's budget
// until Verify returns (see release); a body that is too long, or that would
// take the budget over, is refused before any of it is read.
func (v *Verifier) bufferBody(r *http.Request) (payloadPlan, error) {
	n := r.ContentLength // -1: unknown (chunked transfer)
	if n > v.maxBuffered {
		return payloadPlan{}, fail(ErrUnsupported, "body too large to verify without x-amz-content-sha256")
	}
	if n < 0 {
		n = v.maxBuffered
	}
	if !v.reserve(n) {
		return payloadPlan{}, fail(ErrUnsupported, "too many bodies without x-amz-content-sha256 being verified at once")
	}
	plan := payloadPlan{reserved: n}
	body, err := io.ReadAll(io.LimitReader(r.Body, n+1))
	if err != nil {
		v.release(plan)
		return payloadPlan{}, fmt.Errorf("sigv4: reading the body to hash it: %w", err)
	}
	if int64(len(body)) > n {
		v.release(plan)
		return payloadPlan{}, fail(ErrUnsupported, "body too large to verify without x-amz-content-sha256")
	}
	sum := sha256.Sum256(body)
	plan.candidates = []string{hex.EncodeToString(sum[:])}
	plan.buffered, plan.hasBuffer = body, true
	return plan, nil
}

// reserve takes n bytes of the budget for bodies read before their
// signature is checked, and reports whether they were free.
func (v *Verifier) reserve(n int64) bool {
	for {
		cur := v.inFlight.Load()
		if cur+n > v.maxBufferedTotal {
			return false
		}
		if v.inFlight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// release returns the bytes plan reserved.
func (v *Verifier) release(plan payloadPlan) {
	if plan.reserved > 0 {
		v.inFlight.Add(-plan.reserved)
	}
}

// bindPayload makes the body honour the payload hash that was signed.
func bindPayload(r *http.Request, creds aws.Credentials, sr sigRequest, ph string, plan payloadPlan) error {
	switch {
	case plan.hasBuffer:
		r.Body = io.NopCloser(bytes.NewReader(plan.buffered))
	case ph == unsignedPayload:
	case ph == streamingSigned:
		if r.Body == nil || r.Body == http.NoBody {
			return fail(ErrMalformedBody, "streaming payload without a body")
		}
		seed, _ := hex.DecodeString(sr.signature)
		signer := &chunkSigner{
			ctx:    r.Context(),
			signer: v4.NewStreamSigner(creds, sr.service, sr.region, seed),
			t:      sr.t,
		}
		r.Body = newChunkedReader(r.Body, r.Header, signer)
	case ph == streamingUnsigned:
		// Nothing to decode: a request without a body (a GET signed so).
		if !emptyBody(r) {
			r.Body = newChunkedReader(r.Body, r.Header, nil)
		}
	default:
		want, _ := hex.DecodeString(ph)
		body := r.Body
		if body == nil {
			body = http.NoBody
		}
		r.Body = &hashReader{rc: body, h: sha256.New(), want: want}
	}
	return nil
}

// hashReader passes the body through and, at its end, fails with
// ErrPayloadMismatch instead of io.EOF if its SHA-256 differs from the signed
// one.
type hashReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want []byte
	err  error // sticky
}

func (v *hashReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if subtle.ConstantTimeCompare(v.h.Sum(nil), v.want) != 1 {
			v.err = fail(ErrPayloadMismatch, "payload does not match x-amz-content-sha256")
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = err
	}
	return n, err
}

func (v *hashReader) Close() error { return v.rc.Close() }
