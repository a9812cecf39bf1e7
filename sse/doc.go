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
//	io.Copy(w, r.Body); w.Close()
//	meta := w.Metadata()                 // store with the object
//	sse.ResponseHeaders(meta, req.CustomerKey)
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
// parallel; CompleteMultipart records the part numbers and plaintext sizes.
// The stored object is the concatenation of the encrypted parts, and
// DecryptObject reads ranges across part borders.
//
// # Metadata
//
// The map from ObjectWriter.Metadata (or InitiateMultipart, CompleteMultipart,
// Rekey) holds the public S3 headers (X-Amz-Server-Side-Encryption,
// ...-Aws-Kms-Key-Id, ...-Context, ...-Bucket-Key-Enabled,
// ...-Customer-Algorithm) and internal entries named with InternalPrefix
// ("X-Envkms-Internal-", any case):
//
//	X-Envkms-Internal-Version       format version, "1" ("2": sealed under a bucket key)
//	X-Envkms-Internal-Kind          SSE-S3 | SSE-KMS | SSE-C
//	X-Envkms-Internal-Sealed-Key    base64(salt[32] || nonce[12] || AES-GCM(OEK))
//	X-Envkms-Internal-Kms-Key-Id    KMS key id (SSE-S3, SSE-KMS)
//	X-Envkms-Internal-Kms-Data-Key  base64 of the wrapped data key (version 1)
//	X-Envkms-Internal-Kms-Bucket-Key base64 of the wrapped bucket key (version 2)
//	X-Envkms-Internal-Kms-Context   base64 JSON of the client's context (SSE-KMS)
//	X-Envkms-Internal-Bucket-Key    "true" if requested (SSE-KMS)
//	X-Envkms-Internal-Segment-Size  stream segment size in bytes
//	X-Envkms-Internal-Parts         multipart: "1-9:5242880,10:17" (number runs: plaintext size)
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
// SSE headers on GET/HEAD are InvalidArgument 400, as in S3; the MD5 of an
// SSE-C key is checked in constant time. HEAD responses carry the status
// only.
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
