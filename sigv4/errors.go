package sigv4

import "errors"

// Sentinel errors. Every error the package returns for a refused request or
// body is an *Error wrapping exactly one of them, so callers can branch with
// errors.Is and map them to their own answers (the S3 error S3 sends is named
// beside each). Errors of the request body's own reader are passed on as
// they are.
var (
	// ErrNotSigned: the request carries neither an Authorization header nor
	// presigned query parameters (S3: AccessDenied).
	ErrNotSigned = errors.New("sigv4: request is not signed")

	// ErrMalformedRequest: the signature parameters, X-Amz-Date, the
	// credential scope, x-amz-content-sha256 or the signed headers are
	// malformed, missing, repeated, or not accepted by the Verifier's options
	// (S3: AuthorizationHeaderMalformed, AuthorizationQueryParametersError,
	// AccessDenied for unsigned x-amz-* headers, InvalidRequest for a body
	// without x-amz-content-sha256, InvalidArgument for aws-chunked with
	// UNSIGNED-PAYLOAD).
	ErrMalformedRequest = errors.New("sigv4: malformed signed request")

	// ErrUnsupported: a well-formed request this package cannot verify: another
	// algorithm, the signed-trailer or ECDSA streaming modes, a signed header
	// the AWS SDK's signer never signs, or, with WithMaxBufferedBody, a body
	// without x-amz-content-sha256 over the Verifier's limits
	// (S3: NotImplemented or InvalidArgument).
	ErrUnsupported = errors.New("sigv4: unsupported signed request")

	// ErrUnknownAccessKey: the lookup does not know the access key
	// (S3: InvalidAccessKeyId).
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

	// ErrRequestTime: X-Amz-Date is too far from the Verifier's clock, or a
	// presigned URL has expired (S3: RequestTimeTooSkewed, AccessDenied).
	ErrRequestTime = errors.New("sigv4: request time not accepted")

	// ErrSignatureMismatch: the request's or a chunk's signature is not the one
	// the secret key gives (S3: SignatureDoesNotMatch).
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")

	// ErrPayloadNotSigned: WithSignedPayload is set and the signature does not
	// cover the body.
	ErrPayloadNotSigned = errors.New("sigv4: payload is not signed")

	// ErrPayloadMismatch: the body's SHA-256 is not the signed
	// x-amz-content-sha256 (S3: XAmzContentSHA256Mismatch).
	ErrPayloadMismatch = errors.New("sigv4: payload does not match its signed hash")

	// ErrMalformedBody: an aws-chunked body breaks the rules of the package
	// documentation: framing, chunk sizes, trailers, decoded length, bytes
	// after the end (S3: IncompleteBody, InvalidChunkSizeError,
	// MalformedTrailerError).
	ErrMalformedBody = errors.New("sigv4: malformed aws-chunked body")
)

// Error is the error for a refused request or body. Err is one of the
// sentinels above; Reason is a fixed text that says what was wrong, safe to
// show the client: it never holds a secret nor a value taken from the
// request.
type Error struct {
	Err    error
	Reason string
}

// Error returns "sigv4: " and the reason.
func (e *Error) Error() string { return "sigv4: " + e.Reason }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

func fail(kind error, reason string) error { return &Error{Err: kind, Reason: reason} }
