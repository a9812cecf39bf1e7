package s3srv

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/envkms/kms/sse"
)

// minPartSize is S3's minimum size of every part but the last.
const minPartSize = 5 << 20

func (s *Server) createMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if err := validObjectKey(key); err != nil {
		return err
	}
	headers, user, herr := objectHeadersFrom(r.Header)
	if herr != nil {
		return herr
	}
	tags, terr := tagsFromHeader(r.Header) // applied at completion
	if terr != nil {
		return terr
	}
	var (
		meta map[string]string
		req  *sse.Request
	)
	if s.cfg.DisableEncryption {
		if hasSSEHeaders(r.Header) {
			return errEncryptionDisabled()
		}
	} else {
		var err error
		if req, err = s.encryptionFor(r, bucket); err != nil {
			return err
		}
		if req.CustomerKey != nil {
			defer req.CustomerKey.Zero()
		}
		if meta, err = s.enc.InitiateMultipart(r.Context(), bucket, key, req); err != nil {
			return err
		}
	}
	id, err := s.store.createUpload(bucket, uploadMeta{
		Key: key, Initiated: s.now().UTC(), Headers: headers, UserMeta: user, SSE: meta, Tags: tags,
	})
	if err != nil {
		return err
	}
	if meta != nil {
		setSSEHeaders(w, sse.ResponseHeaders(meta, customerKeyOf(req)))
	}
	return s.writeXML(w, initiateMultipartUploadResult{Xmlns: s3NS, Bucket: bucket, Key: key, UploadID: id})
}

func parsePartNumber(v string) (int, *Error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > sse.MaxPartNumber {
		return 0, errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	q := r.URL.Query()
	n, perr := parsePartNumber(q.Get("partNumber"))
	if perr != nil {
		return perr
	}
	id := q.Get("uploadId")
	var ckey *sse.CustomerKey
	if s.cfg.DisableEncryption {
		if hasSSEHeaders(r.Header) {
			return errEncryptionDisabled()
		}
	} else {
		var err error
		if ckey, err = sse.ParseGet(r.Header, r.TLS != nil, sse.AllowInsecureSSEC(s.cfg.AllowInsecureSSEC)); err != nil {
			return err
		}
		if ckey != nil {
			defer ckey.Zero()
		}
	}
	um, err := s.store.getUpload(bucket, key, id)
	if err != nil {
		return err
	}
	if err := s.checkEncrypted(bucket, key, um.SSE); err != nil {
		return err
	}
	pr, pe := s.openPayload(r)
	if pe != nil {
		return pe
	}
	f, err := s.store.tempFile()
	if err != nil {
		return errInternal(err)
	}
	start := func(dst io.Writer) (*sse.ObjectWriter, error) {
		return s.enc.EncryptPart(r.Context(), bucket, key, um.SSE, ckey, n, dst) // um.SSE empty: not encrypted
	}
	stored, etag, partSSE, err := writeStored(f, pr, start, pr.contentMD5)
	if err != nil {
		discardTemp(f)
		return err
	}
	pm := partMeta{
		PartNumber: n, Size: pr.Size(), StoredSize: stored, ETag: sidecarETag(etag, partSSE),
		LastModified: s.now().UTC(), SSE: partSSE,
	}
	if err := s.store.commitPart(bucket, key, id, f, pm); err != nil {
		return err
	}
	w.Header().Set("ETag", quoteETag(etag))
	setSSEHeaders(w, sse.OperationHeaders(sse.OpUploadPart, um.SSE, ckey))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) completeMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	id := r.URL.Query().Get("uploadId")
	um, err := s.store.getUpload(bucket, key, id)
	if err != nil {
		return err
	}
	if err := s.checkEncrypted(bucket, key, um.SSE); err != nil {
		return err
	}
	var body completeMultipartUpload
	if err := readXML(r, &body); err != nil {
		return err
	}
	if len(body.Parts) == 0 {
		return errMalformedXML()
	}
	stored, err := s.store.listParts(bucket, key, id)
	if err != nil {
		return err
	}
	byNumber := make(map[int]partMeta, len(stored))
	for _, p := range stored {
		byNumber[p.PartNumber] = p
	}
	var (
		chosen  []partMeta
		parts   []sse.Part
		size    int64
		md5s    = md5.New()
		prevNum int
	)
	for i, cp := range body.Parts {
		if cp.PartNumber <= prevNum {
			return errInvalidPartOrder()
		}
		prevNum = cp.PartNumber
		p, ok := byNumber[cp.PartNumber]
		var partETag string
		if ok {
			if partETag, err = s.partETag(r.Context(), bucket, key, p); err != nil {
				return err
			}
		}
		if !ok || strings.Trim(cp.ETag, `"`) != partETag {
			return errInvalidPart("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.")
		}
		if i < len(body.Parts)-1 && p.Size < minPartSize {
			return errEntityTooSmall()
		}
		raw, _ := hex.DecodeString(partETag)
		md5s.Write(raw)
		chosen = append(chosen, p)
		parts = append(parts, sse.Part{Number: p.PartNumber, Size: p.Size, Meta: p.SSE})
		size += p.Size
	}
	// S3's multipart ETag, the MD5 of the binary part ETags: computed here
	// for an unencrypted upload, by sse (which seals it or derives an
	// opaque one) for an encrypted one.
	var meta map[string]string
	etag := hex.EncodeToString(md5s.Sum(nil)) + "-" + strconv.Itoa(len(chosen))
	if !s.cfg.DisableEncryption {
		if meta, err = s.enc.CompleteUpload(r.Context(), bucket, key, um.SSE, parts); err != nil {
			return err
		}
		if hasSSEEntries(meta) {
			if etag, err = s.enc.ETag(r.Context(), bucket, key, meta); err != nil {
				return err
			}
		}
	}
	var storedSize int64
	for _, p := range chosen {
		storedSize += p.StoredSize
	}
	om := objectMeta{
		Size: size, StoredSize: storedSize, ETag: sidecarETag(etag, meta), LastModified: s.now().UTC(),
		Headers: um.Headers, UserMeta: um.UserMeta, SSE: meta, PartsCount: len(chosen),
	}
	if err := s.store.completeUpload(bucket, key, id, chosen, om); err != nil {
		return err
	}
	setSSEHeaders(w, sse.OperationHeaders(sse.OpCompleteMultipartUpload, meta, nil))
	return s.writeXML(w, completeMultipartUploadResult{
		Xmlns: s3NS, Location: "/" + bucket + "/" + key, Bucket: bucket, Key: key, ETag: quoteETag(etag),
	})
}

func (s *Server) abortMultipart(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if err := s.store.abortUpload(bucket, key, r.URL.Query().Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	q := r.URL.Query()
	id := q.Get("uploadId")
	maxParts := 1000
	if v := q.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("max-parts must be a non-negative integer.")
		}
		maxParts = min(n, 1000)
	}
	marker := 0
	if v := q.Get("part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("part-number-marker must be a non-negative integer.")
		}
		marker = n
	}
	parts, err := s.store.listParts(bucket, key, id)
	if err != nil {
		if errors.Is(err, errStoreNoUpload) {
			return errNoSuchUpload()
		}
		return err
	}
	res := listPartsResult{Xmlns: s3NS, Bucket: bucket, Key: key, UploadID: id, PartNumberMarker: marker, MaxParts: maxParts}
	for _, p := range parts {
		if p.PartNumber <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		etag, err := s.partETag(r.Context(), bucket, key, p)
		if err != nil {
			return err
		}
		res.Parts = append(res.Parts, partInfo{PartNumber: p.PartNumber, LastModified: xmlTime(p.LastModified), ETag: quoteETag(etag), Size: p.Size})
		res.NextPartNumberMarker = p.PartNumber
	}
	return s.writeXML(w, res)
}
