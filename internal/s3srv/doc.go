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
// wrong data, and since the server encrypts every object, an object whose
// sidecar has no sse metadata is refused (500 InternalError), never served.
//
// # Someone who can write the data directory
//
// With encryption on (the default) and without the master secret, they can:
// delete objects, uploads and buckets; roll an object back to an earlier
// version of itself (its sealed key binds bucket and key, not the version);
// change what a sidecar says outside its sse block (the stored content
// headers and user metadata, the ETag, Last-Modified, the size a listing
// shows), which the server returns as stored; and make objects unreadable.
// They cannot read an object or make the server serve bytes it did not
// encrypt: swapped, moved, altered, truncated or reordered data and sidecars,
// and sidecars stripped of their sse metadata, fail with an error. In this
// example the master secret is DIR/.kms/master.key: whoever can read the
// data directory can unseal every key, decrypt every object and forge new
// ones, so the directory must be as private as the key.
//
// With Config.DisableEncryption (benchmark mode) nothing is encrypted or
// authenticated: whoever can read the data directory reads every object,
// and whoever can write it can replace any object's bytes and metadata or
// add objects, which the server serves as stored.
package s3srv
