package s3srv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/envkms/kms/sse"
)

// countingWriter counts what goes to the stored file.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encrypter starts an sse writer into the stored file: EncryptObject or
// EncryptPart (with encryption disabled, their pass-through writer, which
// still computes the MD5 ETag).
type encrypter func(dst io.Writer) (*sse.ObjectWriter, error)

// writeStored writes src into f through start's writer. contentMD5 is the
// request's Content-MD5 ("": none), checked by sse against the plaintext in
// the same MD5 pass that makes the ETag. It returns the stored size, the
// ETag to answer (sse's: the plaintext MD5 for SSE-S3 and unencrypted
// objects, opaque for SSE-KMS and SSE-C) and the sse metadata.
func writeStored(f *os.File, src io.Reader, start encrypter, contentMD5 string) (int64, string, map[string]string, error) {
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 256<<10)
	ow, err := start(bw)
	if err != nil {
		return 0, "", nil, err
	}
	if contentMD5 != "" {
		if err := ow.ExpectContentMD5(contentMD5); err != nil {
			_ = ow.Close()
			return 0, "", nil, err
		}
	}
	if _, err := io.Copy(ow, src); err != nil {
		_ = ow.Close() // releases the object key; the file is discarded
		return 0, "", nil, err
	}
	if err := ow.Close(); err != nil {
		return 0, "", nil, err
	}
	if err := bw.Flush(); err != nil {
		return 0, "", nil, err
	}
	return cw.n, ow.ETag(), ow.Metadata(), nil
}

// sidecarETag is the ETag a sidecar keeps: the MD5 of an unencrypted object
// or part; nothing for an encrypted one, whose ETag sse keeps (sealed when
// it is the MD5) and objectETag reads.
func sidecarETag(etag string, sseMeta map[string]string) string {
	if hasSSEEntries(sseMeta) {
		return ""
	}
	return etag
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if err := validObjectKey(key); err != nil {
		return err
	}
	headers, user, herr := objectHeadersFrom(r.Header)
	if herr != nil {
		return herr
	}
	tags, terr := tagsFromHeader(r.Header)
	if terr != nil {
		return terr
	}
	var req *sse.Request
	if s.cfg.DisableEncryption {
		if hasSSEHeaders(r.Header) {
			return errEncryptionDisabled()
		}
		if _, err := s.store.bucketInfo(bucket); err != nil {
			return err
		}
	} else {
		var err error
		if req, err = s.encryptionFor(r, bucket); err != nil {
			return err
		}
		if req.CustomerKey != nil {
			defer req.CustomerKey.Zero()
		}
	}
	pr, perr := s.openPayload(r)
	if perr != nil {
		return perr
	}
	f, err := s.store.tempFile()
	if err != nil {
		return errInternal(err)
	}
	start := func(dst io.Writer) (*sse.ObjectWriter, error) {
		return s.enc.EncryptObject(r.Context(), bucket, key, req, dst) // req nil: not encrypted
	}
	stored, etag, meta, err := writeStored(f, pr, start, pr.contentMD5)
	if err != nil {
		discardTemp(f)
		return err
	}
	om := objectMeta{
		Size: pr.Size(), StoredSize: stored, ETag: sidecarETag(etag, meta), LastModified: s.now().UTC(),
		Headers: headers, UserMeta: user, SSE: meta, Tags: tags,
	}
	if err := s.store.commitObject(bucket, key, f, om); err != nil {
		return err
	}
	w.Header().Set("ETag", quoteETag(etag))
	setSSEHeaders(w, sse.OperationHeaders(sse.OpPutObject, meta, customerKeyOf(req)))
	w.WriteHeader(http.StatusOK)
	return nil
}

func customerKeyOf(req *sse.Request) *sse.CustomerKey {
	if req == nil {
		return nil
	}
	return req.CustomerKey
}

// firstReadSize is how much of a GET body is decrypted before the status
// line is sent, so that a wrong key or a tampered first segment becomes a
// proper error response.
const firstReadSize = 256 << 10

// getObject serves GetObject, or HeadObject when head is set.
func (s *Server) getObject(w http.ResponseWriter, r *http.Request, bucket, key string, head bool) error {
	q := r.URL.Query()
	if err := checkVersionID(q); err != nil {
		return err
	}
	partNumber := 0
	if _, ok := q["partNumber"]; ok {
		var perr *Error
		if partNumber, perr = parsePartNumber(q.Get("partNumber")); perr != nil {
			return perr
		}
		if r.Header.Get("Range") != "" {
			return errInvalidRequest("Cannot specify both Range header and partNumber query parameter")
		}
	}
	var ckey *sse.CustomerKey
	if s.cfg.DisableEncryption {
		if hasSSEHeaders(r.Header) {
			return errEncryptionDisabled()
		}
	} else {
		var err error
		ckey, err = sse.ParseGet(r.Header, r.TLS != nil, sse.AllowInsecureSSEC(s.cfg.AllowInsecureSSEC))
		if err != nil {
			return err
		}
		if ckey != nil {
			defer ckey.Zero()
		}
	}
	om, f, err := s.store.openObject(bucket, key)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := s.checkEncrypted(bucket, key, om.SSE); err != nil {
		return err
	}
	var (
		size      int64
		body      io.ReaderAt
		sseHeader http.Header
		obj       *sse.ObjectReader
	)
	switch {
	case s.cfg.DisableEncryption:
		if len(om.SSE) != 0 {
			return errInvalidRequest("The object is encrypted and this server runs with encryption disabled.")
		}
		size, body = om.StoredSize, f
	case head:
		if sseHeader, err = s.enc.Head(r.Context(), bucket, key, om.SSE, ckey); err != nil {
			return err
		}
		size = om.Size
	default:
		if obj, err = s.enc.DecryptObject(r.Context(), bucket, key, om.SSE, ckey, f, om.StoredSize); err != nil {
			return err
		}
		defer obj.Close() // zeroes the object key
		size, body, sseHeader = obj.Size(), obj, obj.Header()
	}
	// Preconditions are evaluated once the request may read the object
	// (an SSE-C object needs its key first, as in S3).
	etag, err := s.openedObjectETag(r.Context(), bucket, key, om, obj)
	if err != nil {
		return err
	}
	if notModified, err := checkGetConditions(r.Header, etag, om.LastModified); err != nil {
		return err
	} else if notModified {
		writeNotModified(w, etag, om.LastModified)
		return nil
	}

	var (
		rng     byteRange
		partial bool
		rerr    *Error
	)
	if partNumber > 0 {
		rng, partial, rerr = partRange(om, partNumber, size)
	} else {
		rng, partial, rerr = parseRange(r.Header.Get("Range"), size)
	}
	if rerr != nil {
		if partNumber == 0 {
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		}
		return rerr
	}
	if !partial {
		rng = byteRange{Start: 0, Length: size}
	}
	setObjectHeaders(w, om, etag)
	if partNumber > 0 && om.PartsCount > 0 {
		w.Header().Set("X-Amz-Mp-Parts-Count", strconv.Itoa(om.PartsCount))
	}
	setSSEHeaders(w, sseHeader)
	w.Header().Set("Content-Length", strconv.FormatInt(rng.Length, 10))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", "bytes "+strconv.FormatInt(rng.Start, 10)+"-"+
			strconv.FormatInt(rng.Start+rng.Length-1, 10)+"/"+strconv.FormatInt(size, 10))
	}
	if head {
		w.WriteHeader(status)
		return nil
	}

	var src io.Reader
	if obj != nil {
		src = obj.Range(rng.Start, rng.Length)
	} else {
		src = io.NewSectionReader(body, rng.Start, rng.Length)
	}
	// Decrypt the beginning before committing to a status, so failures
	// there are clean S3 errors.
	first := make([]byte, min(rng.Length, firstReadSize))
	if _, err := io.ReadFull(src, first); err != nil {
		return readErr(err)
	}
	w.WriteHeader(status)
	// Every write has a deadline: a client that stops reading releases
	// the object (its file, key and decryption buffers).
	dw := &deadlineWriter{w: w, ctl: http.NewResponseController(w), timeout: s.cfg.ResponseWriteTimeout}
	if _, err := dw.Write(first); err != nil {
		return nil // client went away
	}
	ww := &writeErrRecorder{w: dw}
	_, err = io.Copy(ww, src)
	if err != nil && ww.err == nil {
		s.log.Error("s3server: reading the object failed mid-response; aborting the connection",
			"bucket", bucket, "key", key, "cause", err.Error())
		// The status line is out: the only honest signal left is an
		// incomplete response, never a short "clean" body.
		panic(http.ErrAbortHandler)
	}
	return nil
}

// writeErrRecorder remembers its writer's error, so that an io.Copy error
// can be told apart as a read (decryption) error. It lets io.Copy use the
// source's WriteTo, which avoids a second buffer.
type writeErrRecorder struct {
	w   io.Writer
	err error
}

func (e *writeErrRecorder) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// readErr maps an error reading stored data before the response started.
func readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errInternal(errors.New("stored object is shorter than its metadata says"))
	}
	return err
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if err := checkVersionID(r.URL.Query()); err != nil {
		return err
	}
	if err := s.store.deleteObject(bucket, key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func errInvalidPartNumber() *Error {
	return s3err("InvalidPartNumber", http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable")
}

// partRange is the byte range of part n of an object of size bytes, for
// GetObject and HeadObject with partNumber. As S3, part 1 of an object not
// uploaded in parts is the whole object, and any part beyond the last is
// InvalidPartNumber (416). ok is false for an empty object not uploaded in
// parts (no range to send).
func partRange(om objectMeta, n int, size int64) (r byteRange, ok bool, err *Error) {
	if om.PartsCount == 0 {
		if n != 1 {
			return r, false, errInvalidPartNumber()
		}
		return byteRange{Start: 0, Length: size}, size > 0, nil
	}
	if n > om.PartsCount {
		return r, false, errInvalidPartNumber()
	}
	if len(om.PartSizes) != om.PartsCount {
		return r, false, errNotImplemented("partNumber is not available for this object: it was completed by an earlier version of this server, which did not record its part sizes.")
	}
	var off int64
	for _, sz := range om.PartSizes[:n-1] {
		off += sz
	}
	r = byteRange{Start: off, Length: om.PartSizes[n-1]}
	if r.Start < 0 || r.Length < 0 || r.Start+r.Length > size {
		return byteRange{}, false, errInternal(fmt.Errorf("%w: part sizes do not add up to the object size", errStoreCorrupt))
	}
	return r, true, nil
}

func errNoSuchVersion() *Error {
	return s3err("NoSuchVersion", http.StatusNotFound, "The specified version does not exist.")
}

// checkVersionID accepts a versionId query parameter only if it names the
// one version this server keeps of every object, "null", as an unversioned
// S3 bucket does.
func checkVersionID(q map[string][]string) *Error {
	v, ok := q["versionId"]
	switch {
	case !ok:
		return nil
	case len(v) == 0 || v[0] == "":
		return errInvalidArgument("Version id cannot be the empty string")
	case v[0] != nullVersion:
		return errNoSuchVersion()
	}
	return nil
}

// objectMetaFor returns the sidecar of the object a request names (with
// its versionId, if any).
func (s *Server) objectMetaFor(r *http.Request, bucket, key string) (objectMeta, error) {
	if err := checkVersionID(r.URL.Query()); err != nil {
		return objectMeta{}, err
	}
	return s.store.statObject(bucket, key)
}
