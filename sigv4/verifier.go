package sigv4

import (
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// CredentialLookup returns the secret access key of accessKey, and false for
// an access key it does not know. It is called once per request, from many
// goroutines at once.
type CredentialLookup func(accessKey string) (secretKey string, ok bool)

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock sets the Verifier's clock (default time.Now), for tests.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithMaxSkew sets how far a request's X-Amz-Date may be from the
// Verifier's clock, either way (default 15 minutes, as S3).
func WithMaxSkew(d time.Duration) Option { return func(v *Verifier) { v.maxSkew = d } }

// WithRegions restricts the regions accepted in the credential scope
// (default: any region).
func WithRegions(regions ...string) Option {
	return func(v *Verifier) { v.regions = regions }
}

// WithServices restricts the service names accepted in the credential scope
// (default: any, such as "s3" or "execute-api").
func WithServices(services ...string) Option {
	return func(v *Verifier) { v.services = services }
}

// WithMaxBufferedBody lets a header-form request without an
// x-amz-content-sha256 header carry a body of up to perRequest bytes. Such a
// signature covers the body's SHA-256, so the Verifier must read the whole
// body before it can check the signature; total bounds the bytes all
// requests hold that way at once. A body longer than perRequest, or one that
// would take the total over total (a body of unknown length counts as
// perRequest), is refused with ErrUnsupported before any of it is read, and
// a request's bytes count until Verify returns.
//
// By default (or with perRequest <= 0) such requests are refused with
// ErrMalformedRequest before any of the body is read, as S3 refuses them
// (400 InvalidRequest, "Missing required header for this request:
// x-amz-content-sha256"): reading a body before authentication lets anyone
// who knows an access key, which every presigned URL shows, pin memory.
// Turn it on only for clients that cannot send the header: SDK signers of
// services other than s3, and curl --aws-sigv4, which sends it for s3 only
// in recent releases (7.88 sends none, but signs one given with -H). Requests
// without a body need no header either way.
func WithMaxBufferedBody(perRequest, total int64) Option {
	return func(v *Verifier) {
		v.maxBuffered, v.maxBufferedTotal = perRequest, max(total, 0)
	}
}

// WithSignedPayload refuses requests with a body the signature does not
// cover (UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, presigned URLs
// with a body) with ErrPayloadNotSigned: whoever captured such a request
// could replay it with a body of their choosing. Use it where bodies decide
// what happens, such as an admin API; S3 object uploads need the unsigned
// modes and should not set it.
func WithSignedPayload() Option { return func(v *Verifier) { v.signedBody = true } }

// Verifier verifies AWS Signature Version 4 requests. It is safe for
// concurrent use. Create it with NewVerifier.
type Verifier struct {
	lookup     CredentialLookup
	now        func() time.Time
	maxSkew    time.Duration
	regions    []string
	services   []string
	signedBody bool // WithSignedPayload
	signer     *v4.Signer

	// WithMaxBufferedBody: bodies read before their signature is checked.
	maxBuffered      int64 // per request; <= 0: refused
	maxBufferedTotal int64 // all requests at once
	inFlight         atomic.Int64
}

// NewVerifier returns a Verifier that checks signatures against the secret
// keys lookup returns. It panics if lookup is nil.
func NewVerifier(lookup CredentialLookup, opts ...Option) *Verifier {
	if lookup == nil {
		panic("sigv4: NewVerifier with a nil CredentialLookup")
	}
	v := &Verifier{
		lookup:  lookup,
		now:     time.Now,
		maxSkew: 15 * time.Minute,
		signer:  v4.NewSigner(),
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

// Identity is who signed a verified request, and the credential scope they
// signed it for.
type Identity struct {
	AccessKey string
	Region    string
	Service   string
}

const (
	sigAlgorithm     = "AWS4-HMAC-SHA256"
	amzDateLayout    = "20060102T150405Z"
	scopeDateLayout  = "20060102"
	maxPresignExpiry = 7 * 24 * time.Hour
	emptySHA256      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// x-amz-content-sha256 values that are not a hash.
	unsignedPayload        = "UNSIGNED-PAYLOAD"
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsigned      = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

	hdrAuthorization  = "Authorization"
	hdrAmzDate        = "X-Amz-Date"
	hdrContentSHA256  = "X-Amz-Content-Sha256"
	hdrTrailer        = "X-Amz-Trailer"
	hdrDecodedLength  = "X-Amz-Decoded-Content-Length"
	qAlgorithm        = "X-Amz-Algorithm"
	qCredential       = "X-Amz-Credential"
	qDate             = "X-Amz-Date"
	qExpires          = "X-Amz-Expires"
	qSignedHeaders    = "X-Amz-SignedHeaders"
	qSignature        = "X-Amz-Signature"
	qContentSHA256    = "X-Amz-Content-Sha256"
	trailerSignature  = "x-amz-trailer-signature"
	chunkSignatureExt = "chunk-signature="
)

// sigRequest is what a signed request claims.
type sigRequest struct {
	accessKey        string
	region, service  string
	signedHeaders    []string
	signedHeadersStr string
	signature        string // lowercase hex
	t                time.Time
	presigned        bool
}

// Verify checks r's signature, in the header form (Authorization:
// AWS4-HMAC-SHA256 ...) or the presigned query form (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
// X-Amz-Signature), and returns who signed it. The error is an *Error
// wrapping one of the sentinels, or, when Verify had to read the body to hash
// it, the body's read error, wrapped.
//
// On success Verify may replace r.Body so that the body is checked as it is
// read (see the package documentation): read it to io.EOF before acting on
// it, since a body that does not match its signature fails only there. For
// the aws-chunked modes r.Body becomes a *ChunkedReader yielding the decoded
// payload, whose Trailer holds the trailers once it returned io.EOF.
//
// The path and query are taken from the request as received (RequestURI),
// so Verify works under http.StripPrefix.
func (v *Verifier) Verify(r *http.Request) (Identity, error) {
	u, err := requestURL(r)
	if err != nil {
		return Identity{}, fail(ErrMalformedRequest, "malformed request URI")
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Identity{}, fail(ErrMalformedRequest, "malformed query string")
	}
	authz := r.Header.Values(hdrAuthorization)
	presigned := query.Has(qSignature) || query.Has(qAlgorithm) || query.Has(qCredential)
	var sr sigRequest
	switch {
	case len(authz) > 0 && presigned:
		return Identity{}, fail(ErrMalformedRequest, "request is signed both in the Authorization header and the query")
	case len(authz) > 1:
		return Identity{}, fail(ErrMalformedRequest, "more than one Authorization header")
	case len(authz) == 1:
		sr, err = v.parseHeaderForm(authz[0], r.Header)
	case presigned:
		sr, err = v.parseQueryForm(query)
	default:
		return Identity{}, fail(ErrNotSigned, "request is not signed")
	}
	if err != nil {
		return Identity{}, err
	}
	if err := v.checkScope(sr); err != nil {
		return Identity{}, err
	}
	secret, ok := v.lookup(sr.accessKey)
	if !ok {
		return Identity{}, fail(ErrUnknownAccessKey, "unknown access key")
	}
	creds := aws.Credentials{AccessKeyID: sr.accessKey, SecretAccessKey: secret}

	plan, err := v.payloadHashes(r, sr, query)
	if err != nil {
		return Identity{}, err
	}
	defer v.release(plan)
	rr, err := rebuildRequest(r, u, query, sr)
	if err != nil {
		return Identity{}, err
	}
	matched := ""
	for _, ph := range plan.candidates {
		ok, err := v.matches(r, rr, creds, sr, ph)
		if err != nil {
			return Identity{}, err
		}
		if ok {
			matched = ph
			break
		}
	}
	if matched == "" {
		return Identity{}, fail(ErrSignatureMismatch, "signature does not match")
	}
	if err := bindPayload(r, creds, sr, matched, plan); err != nil {
		return Identity{}, err
	}
	return Identity{AccessKey: sr.accessKey, Region: sr.region, Service: sr.service}, nil
}
