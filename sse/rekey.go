package sse

import (
	"context"
	"strconv"
)

// Rekey re-seals the object key of bucket/object for newReq and returns the
// new metadata; the payload is untouched. Use it for a copy in place that
// changes the SSE-C key, the KMS key, SSE-S3 <-> SSE-KMS or SSE-C <->
// SSE-S3/SSE-KMS, and to move an object to a fresh data key after a master
// key rotation. oldKey is the current SSE-C key (copy-source headers) if the
// object is SSE-C. Entries of meta that are not SSE entries are kept.
//
// A copy to another bucket/object cannot be re-sealed, because the payload is
// bound to its path: read the source with DecryptObject and write the
// destination with EncryptObject. Removing encryption likewise needs a
// re-write.
func (e *Encryptor) Rekey(ctx context.Context, bucket, object string, meta map[string]string, oldKey *CustomerKey, newReq *Request) (map[string]string, error) {
	m, err := decodeMeta(meta)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errInvalidRequest(ErrNotEncrypted, msgNotEncrypted)
	}
	if m.partNumber != 0 {
		return nil, errInvalidArgument(msgBadRequest) // the metadata of a part
	}
	if newReq == nil || newReq.Kind == KindNone {
		return nil, errInvalidArgument(msgNoRekeyToNothing)
	}
	if err := newReq.validate(); err != nil {
		return nil, err
	}
	oek, err := e.openKey(ctx, bucket, object, m, oldKey, msgEncryptedObject)
	if err != nil {
		return nil, err
	}
	defer clear(oek)
	nm, err := e.sealFor(ctx, bucket, object, newReq, oek, m.segmentSize)
	if err != nil {
		return nil, err
	}
	nm.parts = m.parts
	if err := rekeyETags(m, nm, oek, bucket, object); err != nil {
		return nil, err
	}
	out := withoutSSE(meta)
	nm.encode(out)
	return out, nil
}

// rekeyETags carries the ETag entries of m over to nm, the same object
// (same object key) of another kind: SSE-S3 answers the MD5 when it is
// recorded, SSE-KMS and SSE-C an opaque ETag, derived from the MD5 if m had
// none. Metadata of version 1 and 2 stays without ETag entries.
func rekeyETags(m, nm *objectMeta, oek []byte, bucket, object string) error {
	nm.withETags = m.withETags
	if !m.withETags {
		return nil
	}
	nm.sealedMD5 = m.sealedMD5
	switch {
	case answersMD5(nm.kind) && m.sealedMD5 != nil:
		nm.etag = ""
	case m.etag != "" || m.sealedMD5 == nil:
		nm.etag = m.etag // "" when nothing was recorded (an upload)
	default:
		keys, err := newETagKeys(oek, bucket, object)
		if err != nil {
			return errTampered(err)
		}
		defer keys.zero()
		d, err := m.openSealedMD5(keys)
		if err != nil {
			return err
		}
		nm.etag = keys.opaque(d)
		if m.parts != nil {
			nm.etag += "-" + strconv.Itoa(len(m.parts))
		}
	}
	return nil
}
