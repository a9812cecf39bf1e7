package admin

// Which payload hash a request may have signed, and binding the body to it.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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

// payloadPlan says which payload hashes may have been signed and how the
// body must be checked afterwards.
type payloadPlan struct {
	candidates []string
	buffered   []byte // body read to compute its hash (no x-amz-content-sha256)
	hasBuffer  bool
}

func (v *SigV4Verifier) payloadHashes(r *http.Request, sr sigRequest, q url.Values) (payloadPlan, error) {
	declared := r.Header.Values(hdrContentSHA256)
	if len(declared) > 1 {
		return payloadPlan{}, authFail("repeated x-amz-content-sha256 header")
	}
	if sr.presigned && len(declared) == 0 && len(q[qContentSHA256]) == 1 {
		declared = q[qContentSHA256]
	}
	if len(declared) == 1 {
		ph := declared[0]
		switch {
		case ph == unsignedPayload, ph == unsignedTrailer, ph == streamingPayload:
		case len(ph) == sha256.Size*2 && isLowerHex(ph):
		case strings.HasPrefix(ph, "STREAMING-"):
			return payloadPlan{}, authFail("unsupported streaming payload mode")
		default:
			return payloadPlan{}, authFail("malformed x-amz-content-sha256")
		}
		if v.signedBody && (ph == unsignedPayload || ph == unsignedTrailer) && !emptyBody(r) {
			return payloadPlan{}, authFail("the payload must be signed")
		}
		return payloadPlan{candidates: []string{ph}}, nil
	}
	if sr.presigned {
		if emptyBody(r) {
			return payloadPlan{candidates: []string{unsignedPayload, emptySHA256}}, nil
		}
		if v.signedBody {
			return payloadPlan{}, authFail("the payload must be signed")
		}
		return payloadPlan{candidates: []string{unsignedPayload}}, nil
	}
	// Header form without x-amz-content-sha256: the signer hashed the body.
	if r.Body == nil || r.Body == http.NoBody {
		return payloadPlan{candidates: []string{emptySHA256}}, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, v.maxBuffered+1))
	if err != nil {
		return payloadPlan{}, authFail("could not read the request body")
	}
	if int64(len(body)) > v.maxBuffered {
		return payloadPlan{}, authFail("body too large to verify without x-amz-content-sha256")
	}
	sum := sha256.Sum256(body)
	return payloadPlan{candidates: []string{hex.EncodeToString(sum[:])}, buffered: body, hasBuffer: true}, nil
}

// bindPayload makes the body honour the payload hash that was signed.
func (v *SigV4Verifier) bindPayload(r *http.Request, creds aws.Credentials, sr sigRequest, ph string, plan payloadPlan) error {
	switch {
	case plan.hasBuffer:
		r.Body = io.NopCloser(bytes.NewReader(plan.buffered))
	case ph == unsignedPayload:
	case ph == streamingPayload:
		if r.Body == nil {
			return authFail("streaming payload without a body")
		}
		seed, _ := hex.DecodeString(sr.signature)
		r.Body = newChunkedReader(r.Context(), r.Body, v4.NewStreamSigner(creds, sr.service, sr.region, seed), sr.t)
	default:
		want, _ := hex.DecodeString(ph)
		body := r.Body
		if body == nil {
			body = http.NoBody
		}
		r.Body = &hashVerifier{rc: body, h: sha256.New(), want: want}
	}
	return nil
}
