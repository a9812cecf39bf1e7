package sse

import (
	"context"
	"io"
	"maps"
)

// InitiateMultipart creates the object key of a multipart upload and returns
// the metadata to keep with the upload: pass it to EncryptPart for every
// part and to CompleteMultipart. req nil or KindNone: empty metadata, parts
// pass through unencrypted.
func (e *Encryptor) InitiateMultipart(ctx context.Context, bucket, object string, req *Request) (map[string]string, error) {
	oek, meta, err := e.newObjectKey(ctx, bucket, object, req)
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
// and nonce prefix, so no (key, nonce) pair repeats).
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
		return &ObjectWriter{w: nopCloser{dst}}, nil
	}
	if m.parts != nil {
		return nil, errInvalidArgument(msgBadRequest) // the metadata of a completed object
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
	return &ObjectWriter{w: w}, nil
}

// CompleteMultipart returns the metadata of the completed object: a copy of
// the upload's meta plus the part list. parts are in ascending part number
// order, as in CompleteMultipartUpload, and the stored object is the
// concatenation of their encrypted parts in that order.
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
	if m.parts != nil {
		return nil, errInvalidArgument(msgBadRequest)
	}
	out[metaParts] = encodeParts(parts)
	return out, nil
}
