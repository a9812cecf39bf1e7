package s3srv

import (
	"context"

	"github.com/envkms/kms/sse"
)

// objectETag is the ETag (without quotes) to answer for a stored object, in
// GET/HEAD headers, listings, conditional requests and copy results. Every
// reader of an object's ETag goes through it.
//
// An unencrypted object's sidecar keeps its MD5. An encrypted object's ETag
// is sse's (Encryptor.ETag): the plaintext MD5 for SSE-S3, unsealed with the
// object key (a KMS call unless the bucket key is cached), an opaque value
// kept in the clear for SSE-KMS and SSE-C (no customer key needed). The
// sidecar of an encrypted object keeps no ETag, except one written before
// sse recorded ETags: the MD5 of its ciphertext, answered as before so it
// stays stable.
func (s *Server) objectETag(ctx context.Context, bucket, key string, om objectMeta) (string, error) {
	if om.ETag != "" || !hasSSEEntries(om.SSE) {
		return om.ETag, nil
	}
	return s.enc.ETag(ctx, bucket, key, om.SSE)
}

// openedObjectETag is objectETag for an object a GET has opened (obj; nil
// for HEAD or an unencrypted server): an encrypted object's ETag then comes
// from the reader, which already holds the object key, so the key is opened
// once per GET, not twice.
func (s *Server) openedObjectETag(ctx context.Context, bucket, key string, om objectMeta, obj *sse.ObjectReader) (string, error) {
	if obj == nil || om.ETag != "" || !hasSSEEntries(om.SSE) {
		return s.objectETag(ctx, bucket, key, om)
	}
	return obj.ETag(), nil
}

// partETag is objectETag for an uploaded part (ListParts, and matching the
// part list of CompleteMultipartUpload).
func (s *Server) partETag(ctx context.Context, bucket, key string, pm partMeta) (string, error) {
	if pm.ETag != "" || !hasSSEEntries(pm.SSE) {
		return pm.ETag, nil
	}
	return s.enc.ETag(ctx, bucket, key, pm.SSE)
}

// hasSSEEntries reports whether meta holds sse's internal entries (the
// object or part is encrypted).
func hasSSEEntries(meta map[string]string) bool {
	for k := range meta {
		if sse.IsInternal(k) {
			return true
		}
	}
	return false
}
