// Package sigv4 verifies AWS Signature Version 4 requests as Amazon S3 does:
// the header form (Authorization: AWS4-HMAC-SHA256 ...), presigned URLs,
// and aws-chunked bodies, with signed chunks or unsigned with trailers.
//
// A Verifier looks the secret key of the request's access key up, recomputes
// the signature with the AWS SDK's signer
// (github.com/aws/aws-sdk-go-v2/aws/signer/v4) over a copy of the request
// that holds only the headers the client signed, with the client's signing
// time, region and service, and compares the two in constant time:
//
//	v := sigv4.NewVerifier(lookup, sigv4.WithSignedPayload())
//	id, err := v.Verify(r) // then read r.Body to io.EOF before acting on it
//
// Errors are *Error values wrapping one sentinel (ErrSignatureMismatch,
// ErrRequestTime, ...), whose Reason is safe to show the client.
//
// # What a request must carry
//
// X-Amz-Date (header form), a signed host header, and every x-amz-* header
// signed (x-amz-content-sha256 is bound as the payload hash either way); a
// signed header may not be sent on two lines. SignedHeaders must list the
// names sorted, as S3 builds the canonical headers in sorted order whatever
// the list says: curl before 8.10 mis-sorts names that prefix one another
// (x-amz-server-side-encryption-customer-key-md5 before
// x-amz-server-side-encryption-customer-key), and S3 answers such requests
// SignatureDoesNotMatch; Verify refuses them with ErrSignatureMismatch.
// Headers the SDK's signer never signs (User-Agent, Expect, X-Amzn-Trace-Id,
// Transfer-Encoding) make a request unverifiable (ErrUnsupported). Session
// tokens are not interpreted: callers are identified by access key alone.
//
// # How the body is bound
//
//   - x-amz-content-sha256 with a hex SHA-256: the body is hashed as it is
//     read, and a mismatch is returned instead of io.EOF (ErrPayloadMismatch).
//     With Content-Encoding aws-chunked the hash covers the body as sent,
//     framing included, and r.Body yields it undecoded (S3 does not decode
//     it either: such a PUT stores the bytes as sent and keeps aws-chunked
//     in Content-Encoding);
//   - UNSIGNED-PAYLOAD: the body is not bound, as in S3 (refused with
//     WithSignedPayload). With Content-Encoding aws-chunked the request is
//     refused (ErrMalformedRequest), as S3 refuses it (400 InvalidArgument,
//     "aws-chunked encoding is not supported when x-amz-content-sha256
//     UNSIGNED-PAYLOAD is supplied");
//   - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: r.Body becomes a *ChunkedReader
//     that verifies every chunk's signature, chained from the seed
//     signature with the SDK's stream signer, before it releases the chunk;
//   - STREAMING-UNSIGNED-PAYLOAD-TRAILER (the SDKs' default upload over
//     HTTPS): r.Body becomes a *ChunkedReader that decodes the body; its
//     trailers (a checksum the server should verify) are in Trailer. The
//     body is not bound (refused with WithSignedPayload);
//   - the signed-trailer and ECDSA streaming modes are refused
//     (ErrUnsupported);
//   - no header (header form): without a body the empty body's hash is
//     signed; with one (Content-Length above 0, or unknown) the request is
//     refused before the body is read (ErrMalformedRequest), as S3 refuses
//     it (400 InvalidRequest, "Missing required header for this request:
//     x-amz-content-sha256"), unless WithMaxBufferedBody lets the Verifier
//     read and hash such bodies, within its limits, before it checks the
//     signature;
//   - presigned URLs: UNSIGNED-PAYLOAD, or the empty-body hash.
//
// # aws-chunked bodies
//
// There is one decoder, ChunkedReader; the Verifier uses it, and a server
// decodes with NewChunkedReader what the Verifier did not (an anonymous
// request, or, unlike S3, an aws-chunked body bound by a hex
// x-amz-content-sha256, which covers the encoded bytes: the decoder reads
// the body to its end, where the hash is checked, before it returns io.EOF).
// It applies the rules S3 applies to what the AWS SDKs, the AWS CLI and
// minio-go send:
//
//	body    = *chunk last *(trailer CRLF) CRLF
//	chunk   = size [";chunk-signature=" signature] CRLF data CRLF
//	last    = "0" [";chunk-signature=" signature] CRLF
//	trailer = name ":" value
//
// In detail:
//
//   - size is 1 to 16 hex digits and nothing else: no whitespace, no other
//     chunk extension, a header line of at most 256 bytes (the longest
//     well-formed one has 177). Lines end in CRLF; a bare CR or LF is refused.
//   - In the signed modes every chunk carries chunk-signature, and every
//     chunk holds at least 8192 bytes but the last one with data (S3:
//     InvalidChunkSizeError). The Verifier holds a chunk until its signature
//     matched, so it refuses chunks over 1 MiB (the SDKs send 64 or 128 KiB).
//     In STREAMING-UNSIGNED-PAYLOAD-TRAILER no chunk carries one.
//   - The trailers are exactly those X-Amz-Trailer names, each once (S3:
//     MalformedTrailerError); spaces or tabs around the value are ignored;
//     the trailer section is at most 8 KiB.
//   - The final CRLF is required and nothing may follow it (S3:
//     IncompleteBody).
//   - With X-Amz-Decoded-Content-Length the payload must have that length.
//   - An error of the reader underneath is returned as it is, also when it
//     arrives with the last bytes: the decoder reads its input to the end
//     before it reports io.EOF, so a hash mismatch found there is not lost.
//
// Framing errors wrap ErrMalformedBody; S3 answers most of them
// IncompleteBody.
package sigv4
