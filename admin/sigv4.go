package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// CredentialLookup returns the secret key for an access key and whether that
// caller is an admin; ok is false for an unknown access key.
type CredentialLookup func(accessKey string) (secretKey string, isAdmin bool, ok bool)

// SigV4Option configures a SigV4Verifier.
type SigV4Option func(*SigV4Verifier)

// WithClock sets the verifier's clock (default time.Now), for tests.
func WithClock(now func() time.Time) SigV4Option { return func(v *SigV4Verifier) { v.now = now } }

// WithMaxSkew sets how far a request's X-Amz-Date may be from the verifier's
// clock (default 15 minutes, as AWS).
func WithMaxSkew(d time.Duration) SigV4Option { return func(v *SigV4Verifier) { v.maxSkew = d } }

// WithRegions restricts the regions accepted in the credential scope (default:
// any region).
func WithRegions(regions ...string) SigV4Option {
	return func(v *SigV4Verifier) { v.regions = regions }
}

// WithServices restricts the service names accepted in the credential scope
// (default: any, e.g. "s3" as awscurl --service s3, or "execute-api").
func WithServices(services ...string) SigV4Option {
	return func(v *SigV4Verifier) { v.services = services }
}

// WithMaxBufferedBody sets how many body bytes the verifier buffers to hash a
// request that carries no x-amz-content-sha256 header (default 1 MiB). Larger
// bodies are refused.
func WithMaxBufferedBody(n int64) SigV4Option { return func(v *SigV4Verifier) { v.maxBuffered = n } }

// WithSignedPayload refuses requests whose body the signature does not
// cover (UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, presigned
// URLs with a body): whoever captured such a request could replay it with a
// body of their choosing. Use it for the admin API, whose bodies decide
// what happens (awscurl and the SDK signers hash the body anyway); S3 object
// uploads need the unsigned modes and should not set it.
func WithSignedPayload() SigV4Option { return func(v *SigV4Verifier) { v.signedBody = true } }

// SigV4Verifier authenticates requests signed with AWS Signature Version 4,
// in the header form (Authorization: AWS4-HMAC-SHA256 ...) and the presigned
// query form (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature).
//
// The expected signature is computed by the AWS SDK's signer
// (github.com/aws/aws-sdk-go-v2/aws/signer/v4) over a copy of the request
// that holds only the headers the client signed, with the client's signing
// time, region and service; the two signatures are compared in constant time.
//
// The payload is bound as follows:
//   - x-amz-content-sha256 with a hex SHA-256: the body is hashed as it is read
//     and a mismatch surfaces as a read error wrapping ErrUnauthenticated at
//     EOF, so callers must read the whole body before acting on it (the admin
//     handler does);
//   - UNSIGNED-PAYLOAD: the body is not bound (as in S3);
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER (what aws-sdk-go-v2 sends for uploads
//     over HTTPS): the body is not bound either and is passed on still
//     aws-chunked encoded; the server decodes it and checks the trailing
//     checksum (examples/s3server does);
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: the aws-chunked body is decoded and
//     every chunk signature is verified (with the SDK's stream signer) before
//     its bytes are released; the signed trailer variant is refused;
//   - no header (header form): the body, up to WithMaxBufferedBody, is read and
//     hashed before the signature is checked;
//   - presigned URLs: UNSIGNED-PAYLOAD, or the empty-body hash.
//
// Requests must carry X-Amz-Date (header form) and sign the host header and
// every x-amz-* header they carry (x-amz-content-sha256 is bound as the
// payload hash either way); a signed header may not be sent on two lines.
// Signed headers the SDK never signs (User-Agent, Expect, X-Amzn-Trace-Id,
// Transfer-Encoding) make a request unverifiable. Session tokens are not
// interpreted: callers are identified by access key alone.
//
// The path and query are taken from the request as received (RequestURI), so
// the verifier works under http.StripPrefix.
type SigV4Verifier struct {
	lookup      CredentialLookup
	now         func() time.Time
	maxSkew     time.Duration
	regions     []string
	services    []string
	maxBuffered int64
	signedBody  bool // WithSignedPayload
	signer      *v4.Signer
}

// NewSigV4Verifier returns a verifier that checks signatures against the
// secrets lookup returns.
func NewSigV4Verifier(lookup CredentialLookup, opts ...SigV4Option) *SigV4Verifier {
	v := &SigV4Verifier{
		lookup:      lookup,
		now:         time.Now,
		maxSkew:     15 * time.Minute,
		maxBuffered: 1 << 20,
		signer:      v4.NewSigner(),
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

const (
	sigAlgorithm     = "AWS4-HMAC-SHA256"
	amzDateLayout    = "20060102T150405Z"
	scopeDateLayout  = "20060102"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	unsignedTrailer  = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	emptySHA256      = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	maxPresignExpiry = 7 * 24 * time.Hour

	hdrAuthorization = "Authorization"
	hdrAmzDate       = "X-Amz-Date"
	hdrContentSHA256 = "X-Amz-Content-Sha256"
	qAlgorithm       = "X-Amz-Algorithm"
	qCredential      = "X-Amz-Credential"
	qDate            = "X-Amz-Date"
	qExpires         = "X-Amz-Expires"
	qSignedHeaders   = "X-Amz-SignedHeaders"
	qSignature       = "X-Amz-Signature"
	qContentSHA256   = "X-Amz-Content-Sha256"
)

// authError is the verifier's error: a fixed reason (never a secret nor a
// value taken from the request), wrapping ErrUnauthenticated. The handler
// shows the reason to the client.
type authError struct{ reason string }

func (e *authError) Error() string { return ErrUnauthenticated.Error() + ": " + e.reason }
func (e *authError) Unwrap() error { return ErrUnauthenticated }

func authFail(reason string) error { return &authError{reason: reason} }

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

// Authenticate verifies r's signature and returns the caller. On success it
// may replace r.Body with a reader that verifies the payload as it is read.
func (v *SigV4Verifier) Authenticate(r *http.Request) (Principal, error) {
	if v == nil || v.lookup == nil {
		return Principal{}, authFail("no credential lookup configured")
	}
	u, err := requestURL(r)
	if err != nil {
		return Principal{}, authFail("malformed request URI")
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Principal{}, authFail("malformed query string")
	}
	authz := r.Header.Values(hdrAuthorization)
	presigned := query.Has(qSignature) || query.Has(qAlgorithm) || query.Has(qCredential)
	var sr sigRequest
	switch {
	case len(authz) > 0 && presigned:
		return Principal{}, authFail("request is signed both in the Authorization header and the query")
	case len(authz) > 1:
		return Principal{}, authFail("more than one Authorization header")
	case len(authz) == 1:
		sr, err = v.parseHeaderForm(authz[0], r.Header)
	case presigned:
		sr, err = v.parseQueryForm(query)
	default:
		return Principal{}, authFail("request is not signed")
	}
	if err != nil {
		return Principal{}, err
	}
	if err := v.checkScope(sr); err != nil {
		return Principal{}, err
	}
	secret, isAdmin, ok := v.lookup(sr.accessKey)
	if !ok {
		return Principal{}, authFail("unknown access key")
	}
	creds := aws.Credentials{AccessKeyID: sr.accessKey, SecretAccessKey: secret}

	payload, err := v.payloadHashes(r, sr, query)
	if err != nil {
		return Principal{}, err
	}
	rr, err := rebuildRequest(r, u, query, sr)
	if err != nil {
		return Principal{}, err
	}
	matched := ""
	for _, ph := range payload.candidates {
		ok, err := v.matches(r, rr, creds, sr, ph)
		if err != nil {
			return Principal{}, err
		}
		if ok {
			matched = ph
			break
		}
	}
	if matched == "" {
		return Principal{}, authFail("signature does not match")
	}
	if err := v.bindPayload(r, creds, sr, matched, payload); err != nil {
		return Principal{}, err
	}
	return Principal{AccessKey: sr.accessKey, Admin: isAdmin}, nil
}
