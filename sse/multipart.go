package sse

import (
	"context"
	"crypto/md5"
	"io"
	"maps"
	"strconv"
)

// InitiateMultipart creates the object key of a multipart upload and returns
// the metadata to keep with the upload: pass it to EncryptPart for every
// part and to CompleteUpload. req nil or KindNone: empty metadata, parts
// pass through unencrypted.
func (e *Encryptor) InitiateMultipart(ctx context.Context, bucket, object string, req *Request) (map[string]string, error) {
	oek, _, meta, err := e.newObjectKey(ctx, bucket, object, req)
	clear(oek)
	if err != nil {
		return nil, err
	}
	return meta, nil
}

// EncryptPart returns a writer encrypting part partNumber (1..MaxPartNumber)
// of the upload with metadata meta into dst. key is the SSE-C key of the
// UploadPart request, required for SSE-C uploads (it must be the initiate
// key) and refused for others. Parts are independent streams: encrypt them
// in any order, in parallel, and again (each stream has its own random salt
// and nonce prefix, so no (key, nonce) pair repeats). After Close, the
// writer's ETag is the part's ETag (the same for the same content within
// the upload) and its Metadata the part's metadata, to keep with the part
// and pass to CompleteUpload.
func (e *Encryptor) EncryptPart(ctx context.Context, bucket, object string, meta map[string]string, key *CustomerKey, partNumber int, dst io.Writer) (*ObjectWriter, error) {
	if partNumber < 1 || partNumber > MaxPartNumber {
		return nil, errInvalidArgument(msgBadPartNumber)
	}
	m, err := decodeMeta(meta)
	if err != nil {
		return nil, err
	}
	if m == nil {
		if key != nil {
			return nil, errNotApplicable()
		}
		return e.newObjectWriter(nopCloser{dst}, map[string]string{}, nil, nil), nil
	}
	if m.parts != nil || m.partNumber != 0 {
		return nil, errInvalidArgument(msgBadRequest) // the metadata of a completed object or a part
	}
	oek, err := e.openKey(ctx, bucket, object, m, key, msgMultipartNoKey)
	if err != nil {
		return nil, err
	}
	defer clear(oek)
	w, err := newPayloadWriter(dst, oek, streamAAD(bucket, object, partNumber), m.segmentSize, e.concurrency)
	if err != nil {
		return nil, err
	}
	keys, err := newETagKeys(oek, bucket, object)
	if err != nil {
		return nil, errTampered(err)
	}
	// Also a part of an upload initiated before format version 3 records
	// its ETag (the completed object does not: Encryptor.ETag derives one).
	m.partNumber, m.withETags = partNumber, true
	return e.newObjectWriter(w, maps.Clone(meta), m, keys), nil
}

// CompleteMultipart returns the metadata of the completed object for an
// upload initiated before format version 3 (or unencrypted): a copy of the
// upload's meta plus the part list, without ETag entries. Use
// Encryptor.CompleteUpload, which also records the ETag; this remains for
// uploads whose parts have no Meta.
//
// Deprecated: use Encryptor.CompleteUpload, which records the ETag.
func CompleteMultipart(meta map[string]string, parts []Part) (map[string]string, error) {
	if err := validateParts(parts); err != nil {
		return nil, err
	}
	m, err := decodeMeta(meta)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(meta)
	if out == nil {
		out = map[string]string{}
	}
	if m == nil {
		return out, nil
	}
	if m.parts != nil || m.partNumber != 0 {
		return nil, errInvalidArgument(msgBadRequest)
	}
	out[metaParts] = encodeParts(parts)
	return out, nil
}

// CompleteUpload returns the metadata of the completed object, with its
// ETag (S3's: the MD5 of the binary part ETags, "-N"; read it with ETag).
// meta is the upload's metadata, parts the chosen parts in ascending part
// number order, each with the Meta its EncryptPart writer returned. The
// stored object is the concatenation of their encrypted parts in that
// order. No customer key is needed: an SSE-C upload completes without one,
// as in S3. An SSE-S3 upload opens its object key (the KMS, unless the
// bucket key is cached) to seal the result.
func (e *Encryptor) CompleteUpload(ctx context.Context, bucket, object string, meta map[string]string, parts []Part) (map[string]string, error) {
	out, err := CompleteMultipart(meta, parts)
	if err != nil {
		return nil, err
	}
	m, err := decodeMeta(out)
	if err != nil || m == nil || !m.withETags {
		return out, err
	}
	var keys *etagKeys
	if answersMD5(m.kind) {
		oek, err := e.openKey(ctx, bucket, object, m, nil, msgEncryptedObject)
		if err != nil {
			return nil, err
		}
		keys, err = newETagKeys(oek, bucket, object)
		clear(oek)
		if err != nil {
			return nil, errTampered(err)
		}
		defer keys.zero()
	}
	composite := md5.New()
	for _, p := range parts {
		pm, err := decodeMeta(p.Meta)
		if err != nil {
			return nil, err
		}
		if pm == nil || pm.partNumber != p.Number || pm.kind != m.kind || !equalDigest(pm.sealed, m.sealed) {
			return nil, errInvalidArgument(msgBadParts)
		}
		if keys == nil {
			b, ok := compositeETagBytes(pm.etag)
			if !ok {
				return nil, errInvalidArgument(msgBadParts)
			}
			composite.Write(b)
			continue
		}
		d, err := pm.openSealedMD5(keys)
		if err != nil {
			return nil, err
		}
		composite.Write(d)
	}
	sum := composite.Sum(nil)
	if keys != nil {
		m.etagEntries(keys, sum)
	} else {
		// The opaque part ETags hash to the opaque object ETag; the MD5 of
		// the part MD5s is not recorded (it would need the customer key).
		m.etag = hexETag(sum) + "-" + strconv.Itoa(len(parts))
	}
	m.encode(out)
	return out, nil
}
