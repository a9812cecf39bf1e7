package s3srv

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/envkms/kms/sse"
)

// parseCopySource splits x-amz-copy-source ("/bucket/key" or "bucket/key",
// URL-encoded, optionally "?versionId=null") into bucket and key.
func parseCopySource(v string) (bucket, key string, err *Error) {
	src, query, _ := strings.Cut(v, "?")
	if query != "" {
		q, perr := url.ParseQuery(query)
		if perr != nil || (q.Get("versionId") != "" && q.Get("versionId") != "null") {
			return "", "", errInvalidArgument("Invalid copy source version id: this server keeps one version per key.")
		}
	}
	dec, uerr := url.PathUnescape(src)
	if uerr != nil {
		return "", "", errInvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	dec = strings.TrimPrefix(dec, "/")
	bucket, key, ok := strings.Cut(dec, "/")
	if !ok || key == "" {
		return "", "", errInvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if e := validBucketName(bucket); e != nil {
		return "", "", e
	}
	if e := validObjectKey(key); e != nil {
		return "", "", e
	}
	return bucket, key, nil
}

// copyObject serves CopyObject. A copy onto itself with new encryption
// parameters only re-seals the object key (sse.Rekey, metadata only);
// any other copy decrypts the source and encrypts it for the destination.
func (s *Server) copyObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if err := validObjectKey(key); err != nil {
		return err
	}
	srcBucket, srcKey, perr := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if perr != nil {
		return perr
	}
	directive := r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument("Unknown metadata directive.")
	}
	replace := directive == "REPLACE"
	if s.cfg.DisableEncryption && hasSSEHeaders(r.Header) {
		return errEncryptionDisabled()
	}

	var (
		srcCKey *sse.CustomerKey
		dstReq  *sse.Request
		err     error
	)
	if !s.cfg.DisableEncryption {
		opt := sse.AllowInsecureSSEC(s.cfg.AllowInsecureSSEC)
		if srcCKey, err = sse.ParseCopySource(r.Header, r.TLS != nil, opt); err != nil {
			return err
		}
		if srcCKey != nil {
			defer srcCKey.Zero()
		}
		if dstReq, err = s.encryptionFor(r, bucket); err != nil {
			return err
		}
		if dstReq.CustomerKey != nil {
			defer dstReq.CustomerKey.Zero()
		}
	}

	om, f, err := s.openCopySourceObject(r, srcBucket, srcKey, srcCKey)
	if err != nil {
		return err
	}
	defer f.Close()
	tags, terr := copyTags(r.Header, om.Tags)
	if terr != nil {
		return terr
	}

	headers, user := om.Headers, om.UserMeta
	if replace {
		var herr *Error
		if headers, user, herr = objectHeadersFrom(r.Header); herr != nil {
			return herr
		}
	}

	inPlace := srcBucket == bucket && srcKey == key
	if inPlace && !replace && !hasSSEHeaders(r.Header) {
		return errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}

	now := s.now().UTC()
	var newSSE map[string]string
	if inPlace {
		if !s.cfg.DisableEncryption {
			if newSSE, err = s.enc.Rekey(r.Context(), bucket, key, om.SSE, srcCKey, dstReq); err != nil {
				return err
			}
		}
		err = s.store.updateObjectMeta(bucket, key, om.DataFile, func(m *objectMeta) {
			m.Headers, m.UserMeta, m.LastModified, m.Tags = headers, user, now, tags
			if newSSE != nil {
				m.SSE = newSSE
			}
		})
		if err != nil {
			return err
		}
		om.LastModified = now
		if newSSE != nil {
			om.SSE = newSSE
		}
		etag, err := s.objectETag(r.Context(), bucket, key, om)
		if err != nil {
			return err
		}
		return s.writeCopyResult(w, etag, now, newSSE, dstReq)
	}

	// Copy to another object: decrypt, re-encrypt for the destination.
	if _, err := s.store.bucketInfo(bucket); err != nil {
		return err
	}
	obj, err := s.openCopySource(r.Context(), srcBucket, srcKey, om, f, srcCKey)
	if err != nil {
		return err
	}
	defer obj.Close()
	out, err := s.store.tempFile()
	if err != nil {
		return errInternal(err)
	}
	start := func(dst io.Writer) (*sse.ObjectWriter, error) {
		return s.enc.EncryptObject(r.Context(), bucket, key, dstReq, dst) // dstReq nil: not encrypted
	}
	stored, etag, newSSE, err := writeStored(out, &readErrReader{r: obj.Range(0, obj.Size())}, start, "")
	if err != nil {
		discardTemp(out)
		return err
	}
	dst := objectMeta{
		Size: obj.Size(), StoredSize: stored, ETag: sidecarETag(etag, newSSE), LastModified: now,
		Headers: headers, UserMeta: user, SSE: newSSE, Tags: tags,
	}
	if err := s.store.commitObject(bucket, key, out, dst); err != nil {
		return err
	}
	return s.writeCopyResult(w, etag, now, newSSE, dstReq)
}

// openCopySource opens the plaintext of a copy's source object (srcCKey:
// its SSE-C key from the x-amz-copy-source-server-side-encryption-customer-*
// headers).
func (s *Server) openCopySource(ctx context.Context, srcBucket, srcKey string, om objectMeta, f io.ReaderAt, srcCKey *sse.CustomerKey) (*sse.ObjectReader, error) {
	if s.cfg.DisableEncryption && len(om.SSE) != 0 {
		return nil, errInvalidRequest("The source object is encrypted and this server runs with encryption disabled.")
	}
	return s.enc.DecryptObject(ctx, srcBucket, srcKey, om.SSE, srcCKey, f, om.StoredSize)
}

// readErrReader maps a short read of the stored source to an internal
// error (readErr), so a truncated source never becomes a shorter copy.
type readErrReader struct{ r io.Reader }

func (e *readErrReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = readErr(err)
	}
	return n, err
}

func (s *Server) writeCopyResult(w http.ResponseWriter, etag string, when time.Time, meta map[string]string, req *sse.Request) error {
	setSSEHeaders(w, sse.OperationHeaders(sse.OpCopyObject, meta, customerKeyOf(req)))
	return s.writeXML(w, copyObjectResult{Xmlns: s3NS, LastModified: xmlTime(when), ETag: quoteETag(etag)})
}

// copySourceRangeMsg is S3's message for a malformed x-amz-copy-source-range.
const copySourceRangeMsg = "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"

// parseCopySourceRange parses x-amz-copy-source-range against a source of
// size bytes, as S3 does: only "bytes=first-last" (InvalidArgument
// otherwise, also for last < first), and a range past the end of the
// source is InvalidArgument too ("Range specified is not valid for source
// object of size: N"), not GET's InvalidRange. ok is false without the
// header (the whole source).
func parseCopySourceRange(v string, size int64) (r byteRange, ok bool, err *Error) {
	if v == "" {
		return r, false, nil
	}
	spec, found := strings.CutPrefix(v, "bytes=")
	first, last, dash := strings.Cut(spec, "-")
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	if !found || !dash || err1 != nil || err2 != nil || a < 0 || b < a ||
		strconv.FormatInt(a, 10) != first || strconv.FormatInt(b, 10) != last {
		return r, false, errInvalidArgument(copySourceRangeMsg)
	}
	if b >= size {
		return r, false, errInvalidArgument("Range specified is not valid for source object of size: " + strconv.FormatInt(size, 10))
	}
	return byteRange{Start: a, Length: b - a + 1}, true, nil
}

// uploadPartCopy serves UploadPartCopy: a byte range of any source object,
// decrypted, is encrypted as part N of the destination upload, in the
// upload's kind (an SSE-C upload takes the destination key from the
// x-amz-server-side-encryption-customer-* headers, an SSE-C source its key
// from x-amz-copy-source-server-side-encryption-customer-*).
func (s *Server) uploadPartCopy(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	q := r.URL.Query()
	n, perr := parsePartNumber(q.Get("partNumber"))
	if perr != nil {
		return perr
	}
	id := q.Get("uploadId")
	srcBucket, srcKey, perr := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if perr != nil {
		return perr
	}
	var srcCKey, ckey *sse.CustomerKey
	if s.cfg.DisableEncryption {
		if hasSSEHeaders(r.Header) {
			return errEncryptionDisabled()
		}
	} else {
		var err error
		opt := sse.AllowInsecureSSEC(s.cfg.AllowInsecureSSEC)
		if ckey, err = sse.ParseGet(r.Header, r.TLS != nil, opt); err != nil {
			return err
		}
		if ckey != nil {
			defer ckey.Zero()
		}
		if srcCKey, err = sse.ParseCopySource(r.Header, r.TLS != nil, opt); err != nil {
			return err
		}
		if srcCKey != nil {
			defer srcCKey.Zero()
		}
	}
	um, err := s.store.getUpload(bucket, key, id)
	if err != nil {
		return err
	}
	if err := s.checkEncrypted(bucket, key, um.SSE); err != nil {
		return err
	}
	om, f, err := s.openCopySourceObject(r, srcBucket, srcKey, srcCKey)
	if err != nil {
		return err
	}
	defer f.Close()
	rng, partial, rerr := parseCopySourceRange(r.Header.Get("X-Amz-Copy-Source-Range"), om.Size)
	if rerr != nil {
		return rerr
	}
	if !partial {
		rng = byteRange{Start: 0, Length: om.Size}
	}
	if rng.Length > maxPutSize {
		return errEntityTooLarge()
	}
	if s.cfg.DisableEncryption && len(om.SSE) != 0 {
		return errInvalidRequest("The source object is encrypted and this server runs with encryption disabled.")
	}
	out, err := s.store.tempFile()
	if err != nil {
		return errInternal(err)
	}
	cw := &countingWriter{w: out}
	bw := bufio.NewWriterSize(cw, 256<<10)
	src := sse.CopySource{Bucket: srcBucket, Object: srcKey, Meta: om.SSE, Key: srcCKey, Data: f, Size: om.StoredSize}
	// um.SSE empty: the upload is not encrypted, the part passes through.
	ow, err := s.enc.CopyPart(r.Context(), src, rng.Start, rng.Length, bucket, key, um.SSE, ckey, n, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		discardTemp(out)
		return err
	}
	etag, partSSE := ow.ETag(), ow.Metadata()
	now := s.now().UTC()
	pm := partMeta{
		PartNumber: n, Size: rng.Length, StoredSize: cw.n, ETag: sidecarETag(etag, partSSE),
		LastModified: now, SSE: partSSE,
	}
	if err := s.store.commitPart(bucket, key, id, out, pm); err != nil {
		return err
	}
	setSSEHeaders(w, sse.OperationHeaders(sse.OpUploadPartCopy, um.SSE, ckey))
	return s.writeXML(w, copyPartResult{Xmlns: s3NS, LastModified: xmlTime(now), ETag: quoteETag(etag)})
}

// openCopySourceObject opens the source of a CopyObject or UploadPartCopy
// and evaluates its x-amz-copy-source-if-* conditions, after its SSE-C key
// (srcCKey) if it has one, as S3 does: a wrong source key is 403 whatever
// the conditions say. The caller closes the file.
func (s *Server) openCopySourceObject(r *http.Request, bucket, key string, srcCKey *sse.CustomerKey) (objectMeta, *os.File, error) {
	om, f, err := s.store.openObject(bucket, key)
	if err != nil {
		return objectMeta{}, nil, err
	}
	err = s.checkEncrypted(bucket, key, om.SSE)
	if err == nil && !s.cfg.DisableEncryption && (srcCKey != nil || sse.KindOf(om.SSE) == sse.KindC) {
		_, err = s.enc.Head(r.Context(), bucket, key, om.SSE, srcCKey) // checks the source's key
	}
	if err == nil {
		var etag string
		if etag, err = s.objectETag(r.Context(), bucket, key, om); err == nil {
			err = checkCopySourceConditions(r.Header, etag, om.LastModified)
		}
	}
	if err != nil {
		f.Close()
		return objectMeta{}, nil, err
	}
	return om, f, nil
}
