package s3srv

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
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

	om, f, err := s.store.openObject(srcBucket, srcKey)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := s.checkEncrypted(srcBucket, srcKey, om.SSE); err != nil {
		return err
	}
	srcETag, err := s.objectETag(r.Context(), srcBucket, srcKey, om)
	if err != nil {
		return err
	}
	if err := checkCopySourceConditions(r.Header, srcETag, om.LastModified); err != nil {
		return err
	}
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
		return s.writeCopyResult(w, om.ETag, now, newSSE, dstReq)
	}

	// Copy to another object: decrypt, re-encrypt for the destination.
	if _, err := s.store.bucketInfo(bucket); err != nil {
		return err
	}
	out, err := s.store.tempFile()
	if err != nil {
		return errInternal(err)
	}
	cw := &countingWriter{w: out, h: md5.New()}
	bw := bufio.NewWriterSize(cw, 256<<10)
	size := om.StoredSize
	if s.cfg.DisableEncryption {
		if len(om.SSE) != 0 {
			discardTemp(out)
			return errInvalidRequest("The source object is encrypted and this server runs with encryption disabled.")
		}
		_, err = bw.ReadFrom(io.NewSectionReader(f, 0, size))
	} else {
		newSSE, size, err = s.reencrypt(r, bw, srcBucket, srcKey, om, f, srcCKey, bucket, key, dstReq)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		discardTemp(out)
		return err
	}
	etag := hex.EncodeToString(cw.h.Sum(nil))
	dst := objectMeta{
		Size: size, StoredSize: cw.n, ETag: etag, LastModified: now,
		Headers: headers, UserMeta: user, SSE: newSSE, Tags: tags,
	}
	if err := s.store.commitObject(bucket, key, out, dst); err != nil {
		return err
	}
	return s.writeCopyResult(w, etag, now, newSSE, dstReq)
}

// reencrypt streams the plaintext of the source object into an encryption
// for the destination path. It returns the destination's sse metadata and
// plaintext size.
func (s *Server) reencrypt(r *http.Request, dst io.Writer, srcBucket, srcKey string, om objectMeta, src io.ReaderAt, srcCKey *sse.CustomerKey, bucket, key string, dstReq *sse.Request) (map[string]string, int64, error) {
	obj, err := s.enc.DecryptObject(r.Context(), srcBucket, srcKey, om.SSE, srcCKey, src, om.StoredSize)
	if err != nil {
		return nil, 0, err
	}
	defer obj.Close()
	ow, err := s.enc.EncryptObject(r.Context(), bucket, key, dstReq, dst)
	if err != nil {
		return nil, 0, err
	}
	if _, err := io.Copy(ow, obj.Range(0, obj.Size())); err != nil {
		_ = ow.Close() // releases the object key; the file is discarded
		return nil, 0, readErr(err)
	}
	if err := ow.Close(); err != nil {
		return nil, 0, err
	}
	return ow.Metadata(), obj.Size(), nil
}

func (s *Server) writeCopyResult(w http.ResponseWriter, etag string, when time.Time, meta map[string]string, req *sse.Request) error {
	if meta != nil {
		setSSEHeaders(w, sse.ResponseHeaders(meta, customerKeyOf(req)))
	}
	return s.writeXML(w, copyObjectResult{Xmlns: s3NS, LastModified: xmlTime(when), ETag: quoteETag(etag)})
}
