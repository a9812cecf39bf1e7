// Package s3srv is the importable core of examples/s3server: a small but
// real path-style S3 server that stores objects as files with a JSON
// metadata sidecar and does all encryption through package sse, with master
// keys held by a kms.Manager on the local backend whose key directory lives
// under the data directory.
//
// Operations: CreateBucket, DeleteBucket (empty of objects; pending
// multipart uploads are aborted with it), HeadBucket, ListBuckets,
// GetBucketLocation, GetBucketVersioning (an empty VersioningConfiguration
// for a bucket never versioned) and PutBucketVersioning (Suspended only,
// which is what an unversioned bucket does: kept and answered; Enabled is
// NotImplemented), GetBucketAcl and GetObjectAcl (the owner has
// FULL_CONTROL), ListObjectsV2 (prefix, delimiter, max-keys, start-after,
// continuation, encoding-type), ListObjects V1 (marker, prefix, delimiter,
// max-keys, encoding-type; NextMarker only with a delimiter, as S3),
// ListObjectVersions (every object is its only version: VersionId "null",
// IsLatest; key-marker, version-id-marker), PutObject, GetObject (Range:
// "a-b", "a-", suffix "-n"; 416 when unsatisfiable; partNumber: the part's
// byte range with x-amz-mp-parts-count, part 1 of an object not uploaded in
// parts being the whole object, 416 InvalidPartNumber beyond the last part,
// 400 with a Range), HeadObject (the same), DeleteObject, DeleteObjects
// (Quiet; Content-MD5 or x-amz-checksum-* required; 1000 keys at most),
// CopyObject (x-amz-copy-source, SSE-C copy-source keys, metadata and
// tagging directives, x-amz-copy-source-if-*; a copy onto itself that only
// changes encryption re-seals the object key without rewriting the
// payload), multipart Create/UploadPart/Complete/Abort/ListParts and
// ListMultipartUploads (sorted by key, then initiation time, as in S3),
// Put/Get/DeleteObjectTagging (and x-amz-tagging on PutObject and
// CreateMultipartUpload, applied at completion; S3's limits: 10 tags, keys
// of 128 and values of 256 characters, InvalidTag), and
// Put/Get/DeleteBucketEncryption (per-bucket default SSE-S3 or SSE-KMS).
// Objects without any encryption request or bucket default get SSE-S3, as S3
// does. The KMS admin API (package admin) is mounted at AdminPrefix.
//
// Where S3 behaves in a particular way, so does the server: GetObject and
// HeadObject evaluate If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since in RFC 9110's order (a true If-Match overrides a false
// If-Unmodified-Since; If-None-Match makes If-Modified-Since irrelevant;
// unparsable dates are ignored), answering 412 PreconditionFailed or 304
// Not Modified without a body; the copy-source forms answer 412 for any
// condition that fails (checkCopySourceConditions, shared with
// UploadPartCopy). User metadata names are sent in lower case. A versionId
// of "null" is accepted wherever S3 takes one; any other is NoSuchVersion
// (404). x-amz-mp-parts-count is sent only with partNumber. Reading a bucket
// configuration the server does not keep (lifecycle, cors, policy, website,
// bucket tagging, object lock, public access block, ownership controls,
// replication) answers as S3 does for a bucket with none: its 404 error,
// and empty logging, notification, accelerate and requestPayment
// documents; deleting one succeeds. Other subresources are 501
// NotImplemented. An object's tags live in its sidecar and change with it
// in one rename, so no write is ever partly visible.
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
// Config.UserAccessKey/UserSecretKey add a second credential that is not an
// admin: it may make the same S3 requests, and the admin API authorizes it
// with admin's built-in role policy as Config.UserRole (key-user by
// default), the AccessKey credential as administrator.
//
// Client-supplied headers can never write internal sse metadata
// (sse.StripInternalHeaders on every request, sse.IsInternal on the way
// out), and responses never carry it. Sidecars are not trusted for
// authenticity: sse binds every object's key to its bucket and name, so
// moving or swapping files on disk makes reads fail rather than return the
// wrong data, and since the server encrypts every object, an object whose
// sidecar has no sse metadata is refused (500 InternalError), never served.
//
// # Resource limits
//
// Before a request is authenticated the server holds only its connection
// and headers: net/http reads at most MaxHeaderBytes (32 KiB) of request
// line and headers within ReadHeaderTimeout (30 s), header sections over
// 8 KB are refused (400 RequestHeaderSectionTooLarge, as S3), and no byte of
// a body is read before its signature is checked (package sigv4 refuses a
// header-signed body without x-amz-content-sha256 unread; every other form
// declares the payload hash in the signed headers). The example server
// accepts at most DefaultMaxConns (1024, its -max-conns flag) connections at
// once through LimitListener, so unauthenticated clients can pin about
// max-conns × (MaxHeaderBytes + net/http's 8 KiB of buffers), some 40 MiB,
// for at most ReadHeaderTimeout each. Keep-alive connections close after
// IdleTimeout (2 min) idle. NewHTTPServer sets these.
//
// Every read of a request body must receive data within
// Config.BodyReadTimeout (default 1 min; else 400 RequestTimeout and the
// connection closes), and every write of a GetObject or listing body must
// complete within Config.ResponseWriteTimeout (default 1 min; else the
// connection is dropped). Whole uploads and downloads have no time limit,
// so large objects are not cut off. Per request the server holds about:
// PutObject and UploadPart, a 256 KiB write buffer and the sse pipeline's few
// 1 MiB segments per Config.Concurrency; GetObject, 256 KiB read ahead and as
// many segments; XML bodies (CompleteMultipartUpload, PutBucketEncryption),
// up to 1 MiB, DeleteObjects 2 MiB, PutObjectTagging 64 KiB; listings,
// max-keys (at most 1000) entries and one batch of 512 directory entries,
// whatever the bucket's size. Objects: 5 GiB per PutObject or UploadPart,
// keys of 1024 bytes, user metadata of 2 KB, 10 tags.
//
// # Durability and locking
//
// A write is acknowledged once it survives a power cut: files are fsynced
// before they are renamed into place and directories after (see storage.go
// for the order). New refuses a data directory another Server holds
// (ErrDataDirLocked: an flock on DIR/s3server.lock, held until Close; on
// systems without flock the lock is not enforced and keeping a second server
// off the directory is the operator's job).
//
// # Someone who can write the data directory
//
// With encryption on (the default) and without the master secret, they can:
// delete objects, uploads and buckets; roll an object back to an earlier
// version of itself (its sealed key binds bucket and key, not the version);
// change what a sidecar says outside its sse block (the stored content
// headers and user metadata, Last-Modified, the size a listing shows), and
// the opaque ETag of SSE-KMS and SSE-C objects in it, which the server
// returns as stored; and make objects unreadable. (An SSE-S3 object's ETag,
// its plaintext MD5, is sealed under the object key: altered, it fails.)
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
