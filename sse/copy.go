package sse

import (
	"context"
	"errors"
	"io"
	"strconv"
)

// CopySource is the source object of an UploadPartCopy (or a CopyObject to
// another object): its stored metadata and bytes, and its SSE-C key from
// ParseCopySource (the x-amz-copy-source-server-side-encryption-customer-*
// headers), nil unless it is SSE-C.
type CopySource struct {
	Bucket, Object string
	Meta           map[string]string // the source's stored metadata
	Key            *CustomerKey      // SSE-C source only
	Data           io.ReaderAt       // the source's stored bytes
	Size           int64             // their length
}

// CopyPart serves UploadPartCopy: it decrypts the plaintext bytes
// [off, off+n) of src, of any kind, and encrypts them as part partNumber of
// the upload of bucket/object with metadata meta, in the upload's kind (key:
// the upload's SSE-C key from ParseGet), into dst. It returns the closed
// part writer: its ETag is the part's ETag and its Metadata the part's
// metadata, as for EncryptPart. A range outside the source is
// InvalidArgument (S3's UploadPartCopy answer; see the package doc); a
// missing or wrong source key is InvalidRequest 400 or AccessDenied 403. A
// failure reading the source after the first byte is returned as is (the
// caller discards dst).
func (e *Encryptor) CopyPart(ctx context.Context, src CopySource, off, n int64, bucket, object string, meta map[string]string, key *CustomerKey, partNumber int, dst io.Writer) (*ObjectWriter, error) {
	obj, err := e.DecryptObject(ctx, src.Bucket, src.Object, src.Meta, src.Key, src.Data, src.Size)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if off < 0 || n < 0 || off > obj.Size() || n > obj.Size()-off {
		return nil, errInvalidArgument("Range specified is not valid for source object of size: " + strconv.FormatInt(obj.Size(), 10))
	}
	w, err := e.EncryptPart(ctx, bucket, object, meta, key, partNumber, dst)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, obj.Range(off, n)); err != nil {
		_ = w.Close() // releases the keys; the caller discards dst
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errTampered(err) // the stored source is shorter than its metadata says
		}
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return w, nil
}
