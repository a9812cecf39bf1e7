// Package s3srv is the importable core of examples/s3server: a small but
// real path-style S3 server that stores objects as files with a JSON
// metadata sidecar and does all encryption through package sse, with master
// keys held by a kms.Manager on the local backend whose key directory lives
// under the data directory.
//
// Operations: CreateBucket, DeleteBucket (empty only), HeadBucket,
// ListBuckets, ListObjectsV2 (prefix, delimiter, max-keys, continuation),
// PutObject, GetObject (Range: "a-b", "a-", suffix "-n"; 416 when
// unsatisfiable), HeadObject, DeleteObject, CopyObject (x-amz-copy-source,
// SSE-C copy-source keys, metadata directive; a copy onto itself that only
// changes encryption re-seals the object key without rewriting the payload),
// multipart Create/UploadPart/Complete/Abort/ListParts, and
// Put/Get/DeleteBucketEncryption (per-bucket default SSE-S3 or SSE-KMS).
// Objects without any encryption request or bucket default get SSE-S3, as S3
// does. The KMS admin API (package admin) is mounted at AdminPrefix.
//
// Request bodies may be plain or aws-chunked, the shapes the AWS SDKs send:
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// decoded by package sigv4's one aws-chunked decoder (with credentials the
// sigv4.Verifier decodes them and verifies every chunk signature with the
// AWS SDK's stream signer). Content-MD5 and
// x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256} (header or trailer)
// are verified before an object is committed.
//
// With Config.AccessKey/SecretKey every request must carry a valid SigV4
// signature (header or presigned form), checked with a sigv4.Verifier;
// S3 requests that fail get 403 AccessDenied (a malformed aws-chunked body
// 400 IncompleteBody), admin requests the admin API's own JSON error.
//
// Client-supplied headers can never write internal sse metadata
// (sse.StripInternalHeaders on every request, sse.IsInternal on the way
// out), and responses never carry it. Sidecars are not trusted for
// authenticity: sse binds every object's key to its bucket and name, so
// moving or swapping files on disk makes reads fail rather than return the
// wrong data.
package s3srv
