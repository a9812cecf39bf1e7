package s3srv

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/envkms/kms/sse"
)

// contentHeaderNames are the standard headers stored with an object and
// returned on GET/HEAD.
func contentHeaderNames() [6]string {
	return [...]string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires"}
}

const maxUserMetadata = 2 << 10 // S3: 2 KB of user-defined metadata

// maxHeaderSection caps a request's header fields, as S3 does (8 KB, of
// which user metadata may take 2 KB): so the headers an object stores and
// returns on every GET and HEAD are bounded too. Counted as on the wire:
// name, ": ", value and CRLF of every field.
const maxHeaderSection = 8 << 10

// headerSectionSize is the size of h's fields as maxHeaderSection counts it.
func headerSectionSize(h http.Header) int {
	n := 0
	for name, vs := range h {
		for _, v := range vs {
			n += len(name) + len(v) + 4
		}
	}
	return n
}

func errHeaderSectionTooLarge() *Error {
	e := s3err("RequestHeaderSectionTooLarge", http.StatusBadRequest, "Your request header section exceeds the maximum allowed size.")
	e.MaxSizeAllowed = maxHeaderSection
	return e
}

// objectHeadersFrom collects the content headers and x-amz-meta-* user
// metadata of a PUT, CopyObject (REPLACE) or CreateMultipartUpload. Internal
// names are dropped even if StripInternalHeaders missed them.
func objectHeadersFrom(h http.Header) (headers, user map[string]string, err *Error) {
	headers = map[string]string{}
	for _, name := range contentHeaderNames() {
		v := h.Get(name)
		if name == "Content-Encoding" {
			v = storedContentEncoding(v)
		}
		if v != "" {
			headers[name] = v
		}
	}
	if headers["Content-Type"] == "" {
		headers["Content-Type"] = "binary/octet-stream"
	}
	user = map[string]string{}
	size := 0
	for name, vs := range h {
		if !strings.HasPrefix(name, "X-Amz-Meta-") || sse.IsInternal(name) || len(vs) == 0 {
			continue
		}
		user[name] = strings.Join(vs, ",")
		size += len(name) - len("X-Amz-Meta-") + len(user[name])
	}
	if size > maxUserMetadata {
		e := s3err("MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size.")
		e.MaxSizeAllowed = maxUserMetadata
		return nil, nil, e
	}
	return headers, user, nil
}

// setObjectHeaders writes an object's stored headers, etag (unquoted, from
// objectETag) and tag count to a GET/HEAD response. User metadata names go
// out in lower case, as S3 sends them (they are stored canonicalised, and
// clients such as the AWS SDKs keep the case they receive): the map key is
// written directly, past http.Header's canonicalisation.
func setObjectHeaders(w http.ResponseWriter, om objectMeta, etag string) {
	h := w.Header()
	for k, v := range om.Headers {
		h.Set(k, v)
	}
	for k, v := range om.UserMeta {
		if !sse.IsInternal(k) && strings.HasPrefix(k, "X-Amz-Meta-") {
			h[strings.ToLower(k)] = []string{v}
		}
	}
	h.Set("ETag", quoteETag(etag))
	h.Set("Last-Modified", om.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	if len(om.Tags) > 0 {
		h.Set("X-Amz-Tagging-Count", strconv.Itoa(len(om.Tags)))
	}
}

// setSSEHeaders copies sse's response headers, never an internal one.
func setSSEHeaders(w http.ResponseWriter, sh http.Header) {
	for k, vs := range sh {
		if sse.IsInternal(k) {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
}

// hasSSEHeaders reports whether a request carries any SSE header (used to
// refuse them when encryption is disabled).
func hasSSEHeaders(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, "X-Amz-Server-Side-Encryption") || strings.HasPrefix(k, "X-Amz-Copy-Source-Server-Side-Encryption") {
			return true
		}
	}
	return false
}

// errStoreUnencrypted: stored metadata without sse entries on a server that
// encrypts every object. The server never wrote it; it is tampering (sse
// metadata deleted and the data replaced) or a data directory written in
// benchmark mode.
var errStoreUnencrypted = errors.New("object has no encryption metadata, but this server encrypts every object: the sidecar was tampered with or written with DisableEncryption")

// checkEncrypted refuses meta, the stored sse metadata of bucket/key (or of an
// upload to it), when the server encrypts everything and meta has no sse
// entry: sse would otherwise serve the stored bytes as an unencrypted object.
// (Malformed entries are sse's to report.)
func (s *Server) checkEncrypted(bucket, key string, meta map[string]string) error {
	if s.cfg.DisableEncryption {
		return nil
	}
	for k := range meta {
		if sse.IsInternal(k) {
			return nil
		}
	}
	return errInternal(fmt.Errorf("%w: %s/%s", errStoreUnencrypted, bucket, key))
}

func errEncryptionDisabled() *Error {
	return errNotImplemented("Server-side encryption is disabled on this server (benchmark mode).")
}
