// Package sse gives a storage server Amazon S3 server-side encryption:
// SSE-S3, SSE-KMS and SSE-C, with S3's headers, error codes and semantics.
//
// The server passes request headers and stored object metadata in and gets
// encryption out, without handling keys or ciphers:
//
//	enc, err := sse.New(manager) // a running *kms.Manager
//
//	// PutObject (also CreateMultipartUpload, CopyObject destination)
//	sse.StripInternalHeaders(r.Header)
//	req, err := sse.ParsePut(r.Header, r.TLS != nil)
//	w, err := enc.EncryptObject(ctx, bucket, object, req.OrDefault(bucketDefault), file)
//	w.ExpectContentMD5(r.Header.Get("Content-MD5")) // if present: BadDigest at Close
//	io.Copy(w, r.Body); w.Close()
//	meta := w.Metadata()                 // after Close: store with the object
//	etag := w.ETag()                     // answer it; never hash stored bytes
//	sse.OperationHeaders(sse.OpPutObject, meta, req.CustomerKey)
//
//	// HEAD, GET, listings, conditional requests: the stored object's ETag
//	etag, err := enc.ETag(ctx, bucket, object, meta) // no SSE-C key needed
//
//	// GetObject / HeadObject
//	key, err := sse.ParseGet(r.Header, r.TLS != nil)
//	obj, err := enc.DecryptObject(ctx, bucket, object, meta, key, file, fileSize)
//	defer obj.Close()
//	io.Copy(rw, obj.Range(off, n))       // obj.Size(), obj.Header()
//	hdr, err := enc.Head(ctx, bucket, object, meta, key)
//
// Every error is an *Error carrying the S3 error code and HTTP status to
// answer with (see the table below). SSE-C headers on a connection that is
// not TLS are refused unless the server passes AllowInsecureSSEC(true).
//
// # Keys
//
// Each object has its own random 32-byte object key (OEK), the key of its
// payload stream (package stream: Tink's AES-GCM-HKDF streaming format, in
// 1 MiB segments). The stream's associated data names bucket, object and
// part number, so stored bytes moved to another object, or parts reordered,
// fail authentication. The OEK is sealed with AES-256-GCM under a key
// derived by HKDF-SHA256 from a key-encryption key, with a random salt, and
// bound to the kind, bucket and object:
//
//   - SSE-S3 and SSE-KMS: the KEK is a data key from the KMS (the default key
//     for SSE-S3, the requested key for SSE-KMS), generated with the
//     encryption context {"aws:s3:arn": "arn:aws:s3:::bucket/object"} plus
//     the client's x-amz-server-side-encryption-context. Only the wrapped
//     data key is stored.
//   - SSE-C: the KEK is the customer key. It is never stored, not even as a
//     hash: a key is right exactly when it opens the sealed OEK (AES-GCM
//     authentication), so a wrong key is AccessDenied.
//
// Because only the seal depends on the KEK, Rekey changes an SSE-C key, the
// KMS key, the kind, or moves to a fresh data key after a master-key
// rotation by rewriting metadata only. A copy to another object re-encrypts
// (DecryptObject, then EncryptObject): the payload is bound to its path.
// Every EncryptObject, InitiateMultipart and stream uses fresh randomness,
// so no (key, nonce) pair ever repeats, also when a part is uploaded again.
//
// # Multipart uploads
//
// InitiateMultipart creates and seals the OEK; EncryptPart encrypts each part
// as its own stream (part number in the associated data) in any order and in
// parallel; CompleteUpload records the part numbers, plaintext sizes and the
// ETag. The stored object is the concatenation of the encrypted parts, and
// DecryptObject reads ranges across part borders. Each part's writer gives
// its ETag and its metadata (Part.Meta), to keep with the part until the
// upload completes. CopyPart serves UploadPartCopy: a byte range of a
// source of any kind (an SSE-C source's key from ParseCopySource), decrypted
// and encrypted as a part of the destination upload, in the upload's kind.
//
// # ETags
//
// ObjectWriter hashes the plaintext with MD5 while it encrypts, on another
// goroutine beside the cipher (in 256 KiB chunks; small objects inline), so
// a PUT's wall time carries no MD5 of its own where a core is free; there is
// no second pass. The ETag to answer comes from exactly two places:
// ObjectWriter.ETag for the PUT, UploadPart or copy that just wrote the
// object or part, and Encryptor.ETag for a stored object or part (HEAD,
// GET, listings, conditional requests, ListParts, CompleteMultipartUpload).
// As in S3:
//
//   - SSE-S3 and unencrypted: the hex MD5 of the plaintext.
//   - SSE-KMS and SSE-C: 32 hex digits that are not the MD5: HMAC-SHA256 of
//     the MD5 under a key derived from the object key (FORMAT.md), so the
//     same content in another object has another ETag, and the same part
//     content within one upload the same part ETag.
//   - Multipart: the MD5 of the binary part ETags, then "-N".
//
// The plaintext MD5 is stored only sealed (AES-GCM under a key derived from
// the object key), so a server never keeps it in the clear: Encryptor.ETag
// unseals it for SSE-S3 (the object key, from the bucket key cache or the
// KMS); the opaque ETag of SSE-KMS and SSE-C is kept in the clear, so
// listings and HEAD need no customer key. Rekey keeps the ETag entries
// (SSE-S3 then answers the MD5, SSE-KMS and SSE-C the opaque value).
// Metadata written before format version 3 records no ETag; Encryptor.ETag
// answers a value derived from the sealed key, stable while the object is.
// ExpectContentMD5 checks a Content-MD5 in the same MD5 pass: BadDigest 400.
//
// # Metadata
//
// The map from ObjectWriter.Metadata (or InitiateMultipart, CompleteMultipart,
// Rekey) holds the public S3 headers (X-Amz-Server-Side-Encryption,
// ...-Aws-Kms-Key-Id, ...-Context, ...-Bucket-Key-Enabled,
// ...-Customer-Algorithm) and internal entries named with InternalPrefix
// ("X-Envkms-Internal-", any case):
//
//	X-Envkms-Internal-Version       format version, "3" ("4": sealed under a bucket key); "1", "2" without ETag entries
//	X-Envkms-Internal-Kind          SSE-S3 | SSE-KMS | SSE-C
//	X-Envkms-Internal-Sealed-Key    base64(salt[32] || nonce[12] || AES-GCM(OEK))
//	X-Envkms-Internal-Kms-Key-Id    KMS key id (SSE-S3, SSE-KMS)
//	X-Envkms-Internal-Kms-Data-Key  base64 of the wrapped data key (version 1)
//	X-Envkms-Internal-Kms-Bucket-Key base64 of the wrapped bucket key (version 2)
//	X-Envkms-Internal-Kms-Context   base64 JSON of the client's context (SSE-KMS)
//	X-Envkms-Internal-Bucket-Key    "true" if requested (SSE-KMS)
//	X-Envkms-Internal-Segment-Size  stream segment size in bytes
//	X-Envkms-Internal-Parts         multipart: "1-9:5242880,10:17" (number runs: plaintext size)
//	X-Envkms-Internal-Etag          SSE-KMS, SSE-C: the opaque ETag (not the MD5), in the clear
//	X-Envkms-Internal-Sealed-Md5    base64(nonce[12] || AES-GCM(MD5)): the plaintext MD5, sealed
//	X-Envkms-Internal-Part-Number   the metadata of one uploaded part (EncryptPart)
//
// Decryption and response headers read only internal entries. A server must
// not return them (FilterInternal) and must not let requests write them
// (StripInternalHeaders on every request, before copying headers into
// metadata). An unknown version is ErrUnsupportedVersion; any malformed
// entry is ErrCorruptMetadata.
//
// # Bucket keys
//
// SSE-S3 objects, and SSE-KMS objects whose request (or bucket default)
// enables a bucket key, seal their OEK under an S3 Bucket Key instead of a
// data key of their own: a KMS data key bound to the bucket's ARN (and the
// client's context), cached by the Encryptor, so PUTs and GETs call the KMS
// once per bucket key, not per object. A bucket key is used for at most
// WithBucketKeyLimits (default 2^20 objects, 10 minutes); with a KeyManager
// that is an InvalidationReporter (kms.Manager), ClearCache, DisableKey,
// ScheduleKeyDeletion, RotateKey and Stop take effect on bucket keys when
// they return. WithoutBucketKeys restores a data key per object. See
// FORMAT.md, version 2.
//
// # Errors
//
//	Sentinel               Code                             Status  When
//	ErrInvalidArgument     InvalidArgument                  400     malformed or conflicting SSE headers, bad part number
//	ErrInvalidAlgorithm    InvalidEncryptionAlgorithmError  400     customer-algorithm other than AES256
//	ErrInsecureTransport   InvalidRequest                   400     SSE-C headers without TLS
//	ErrMissingCustomerKey  InvalidRequest                   400     SSE-C object or upload, no key in the request
//	ErrNotApplicable       InvalidRequest                   400     SSE-C key for an object that is not SSE-C
//	ErrNotEncrypted        InvalidRequest                   400     Rekey of an unencrypted object
//	ErrWrongCustomerKey    AccessDenied                     403     the SSE-C key does not open the object
//	ErrKMSKeyNotFound      KMS.NotFoundException            400     unknown KMS key
//	ErrKMSKeyDisabled      KMS.DisabledException            400     disabled KMS key
//	ErrKMSKeyInvalidState  KMS.KMSInvalidStateException     400     KMS key pending deletion
//	ErrKMS                 ServiceUnavailable               503     KMS down, not running, timed out or not configured
//	ErrTampered            InternalError                    500     stored bytes or sealed metadata altered, truncated, moved
//	ErrCorruptMetadata     InternalError                    500     malformed internal entries
//	ErrUnsupportedVersion  InternalError                    500     metadata from a newer format
//	ErrClosed              InternalError                    500     use after Close
//
//	ErrBadDigest           BadDigest                        400     the plaintext does not match Content-MD5
//	ErrInvalidDigest       InvalidDigest                    400     a Content-MD5 that is not base64 of 16 bytes
//
// SSE headers on GET/HEAD are InvalidArgument 400, as in S3; the MD5 of an
// SSE-C key is checked in constant time. HEAD responses carry the status
// only.
//
// # Where implementations disagree, this package follows AWS S3
//
//   - A wrong SSE-C key is AccessDenied 403 (not 400), on GET, HEAD,
//     UploadPart and for a copy source; a missing one InvalidRequest 400.
//   - SSE-S3 and SSE-KMS headers (x-amz-server-side-encryption, ...-aws-kms-
//     key-id, ...-context, ...-bucket-key-enabled) on UploadPart and
//     UploadPartCopy are InvalidArgument 400 (ParseGet), as on GET and HEAD:
//     a part takes the upload's encryption.
//   - SSE-KMS and SSE-C ETags are not the MD5 (S3 documents them as
//     opaque); an SSE-KMS or SSE-C multipart ETag is the MD5 of the opaque
//     part ETags, "-N", as S3 computes it.
//   - CompleteMultipartUpload of an SSE-C upload needs no customer key and
//     returns no SSE-C headers; its response carries x-amz-server-side-
//     encryption, ...-aws-kms-key-id and ...-bucket-key-enabled only.
//     UploadPart and UploadPartCopy return those plus the SSE-C algorithm
//     and key MD5, but not the encryption context (OperationHeaders).
//   - A Content-MD5 that does not match is BadDigest 400; a malformed one
//     InvalidDigest 400.
//   - UploadPartCopy ranges (a server's parsing, see internal/s3srv): only
//     "bytes=first-last"; a malformed range, last < first, and a range past
//     the end of the source are InvalidArgument 400 ("Range specified is not
//     valid for source object of size: N"), not GET's InvalidRange 416.
//
// # Reading safely
//
// ObjectReader never returns bytes of a segment before it authenticated.
// DecryptObject authenticates the final segment of a single-part object, and
// checks the stored size against the recorded parts of a multipart one,
// before the first byte is read, so truncation is an error at open, not a
// shorter object. Tampering found in the middle of a long read is an error
// from Read: the server must then abort the response (close the connection)
// rather than end it cleanly. What the format cannot detect without state
// outside the object: replacing an object (data and metadata together) with
// an older version of itself, and removing trailing parts of a multipart
// object together with their entries in the part list.
package sse
