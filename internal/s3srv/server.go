package s3srv

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/envkms/kms"
	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/sigv4"
	"github.com/envkms/kms/sse"
)

// AdminPrefix is where the KMS admin API is mounted. Requests under it never
// reach the S3 handlers (and no bucket can be named "admin").
const AdminPrefix = "/admin/v3/"

// Server is a path-style S3 server that stores objects as files and encrypts
// them with package sse. It is an http.Handler; create it with New and call
// Close when done.
type Server struct {
	cfg   Config
	log   *slog.Logger
	lock  *dirLock // held from New to Close
	store *store
	m     *kms.Manager
	enc   *sse.Encryptor
	// verifier checks the signature of S3 requests; nil when anonymous.
	verifier *sigv4.Verifier
	// adminAuth authenticates requests under AdminPrefix.
	adminAuth admin.Authenticator
	admin     http.Handler
	now       func() time.Time
	closeOnce sync.Once
	closeErr  error
	rk        *rekeyer // the bulk rekey job (rekey.go)
}

// New opens (or initialises) the data directory, locks it (an error
// wrapping ErrDataDirLocked if another Server holds it: nothing in the
// directory is touched then), starts the KMS Manager on the local backend
// with its key directory under DataDir (creating the master key "default" if
// needed) and returns the server. The lock is held until Close.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := mkdirAllDurable(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = lock.release()
		}
	}()
	st, err := newStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, lock: lock, store: st, now: time.Now}
	s.m, err = openManager(ctx, cfg.DataDir, cfg.KMS, cfg.Logger, cfg.MeterProvider, kms.WithKeyReferences(s.inventoryReferences),
		kms.WithKeyVersionReferences(s.inventoryVersionReferences))
	if err != nil {
		return nil, err
	}
	var km sse.KeyManager = s.m
	if cfg.WrapKeyManager != nil {
		km = cfg.WrapKeyManager(km)
	}
	if s.enc, err = sse.New(km, sse.WithConcurrency(cfg.Concurrency), sse.WithMeterProvider(cfg.MeterProvider)); err != nil {
		_ = s.m.Stop(ctx)
		return nil, err
	}
	if cfg.AccessKey != "" {
		// Either credential may make S3 requests; on the admin API the
		// role policy (adminOptions) tells them apart.
		s.verifier = sigv4.NewVerifier(cfg.credentials())
		s.adminAuth = cfg.adminAuthenticator()
	} else {
		s.adminAuth = admin.AuthenticatorFunc(func(*http.Request) (admin.Principal, error) {
			return admin.Principal{AccessKey: "anonymous", Admin: true}, nil
		})
		s.log.Warn("s3server: NO CREDENTIALS CONFIGURED — every S3 and admin request is accepted anonymously; pass -access-key and -secret-key to require SigV4 signatures")
	}
	if cfg.DisableEncryption {
		s.log.Warn("s3server: ENCRYPTION DISABLED — objects are stored in plaintext (benchmark mode)")
	}
	// The admin handler sees the request with AdminPrefix stripped, so it
	// can't verify the signature (which covers the full path) itself:
	// authenticate here and hand it the outcome.
	adminOpts, err := cfg.adminOptions()
	if err != nil {
		_ = s.m.Stop(ctx)
		return nil, err
	}
	h := admin.NewHandler(s.m, append([]admin.Option{
		admin.WithLogger(cfg.Logger),
		admin.WithAuthenticator(admin.AuthenticatorFunc(func(r *http.Request) (admin.Principal, error) {
			if a, ok := r.Context().Value(authResultKey{}).(authResult); ok {
				return a.p, a.err
			}
			return admin.Principal{}, admin.ErrUnauthenticated
		}))}, adminOpts...)...)
	s.admin = http.StripPrefix(strings.TrimSuffix(AdminPrefix, "/"), h)
	if err := s.initRekey(); err != nil {
		_ = s.m.Stop(ctx)
		return nil, err
	}
	return s, nil
}

// Manager returns the server's KMS Manager (for key management in-process).
func (s *Server) Manager() *kms.Manager { return s.m }

// Close stops the KMS Manager and releases the data directory's lock. Only
// the first call does anything; later ones return its result.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.rk.stop()
		s.closeErr = s.m.Stop(ctx)
		if err := s.lock.release(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

type authResultKey struct{}

type authResult struct {
	p   admin.Principal
	err error
}

// requestIDKey carries the request id through the context.
type requestIDKey struct{}

// ServeHTTP authenticates the request and dispatches it to the admin API or
// an S3 operation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := strings.ToUpper(randHex(8))
	w.Header().Set("X-Amz-Request-Id", reqID)
	w.Header().Set("Server", "envkms-s3server")
	ctx := context.WithValue(r.Context(), requestIDKey{}, reqID)
	r = r.WithContext(ctx)
	ctl := http.NewResponseController(w)
	// Clear the write deadline an earlier download on this connection left
	// (net/http resets read deadlines per request, not write deadlines).
	_ = ctl.SetWriteDeadline(time.Time{})
	if r.Body != nil && r.Body != http.NoBody && s.cfg.BodyReadTimeout > 0 {
		r.Body = &deadlineBody{rc: r.Body, ctl: ctl, timeout: s.cfg.BodyReadTimeout}
	}

	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		p, authErr := s.adminAuth.Authenticate(r)
		r = r.WithContext(context.WithValue(ctx, authResultKey{}, authResult{p: p, err: authErr}))
		if s.serveRekey(w, r, p, authErr) {
			return
		}
		s.admin.ServeHTTP(w, r)
		return
	}
	if headerSectionSize(r.Header) > maxHeaderSection {
		s.writeError(w, r, errHeaderSectionTooLarge())
		return
	}
	if s.verifier != nil {
		// On success the body may be wrapped to be checked as it is read,
		// or replaced by the decoded aws-chunked payload (openPayload).
		if _, err := s.verifier.Verify(r); err != nil {
			s.writeError(w, r, errAccessDenied(err))
			return
		}
	}
	// A client must never be able to write (or spoof) internal metadata.
	sse.StripInternalHeaders(r.Header)
	if err := s.route(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

// isUnsupportedSubresource reports whether q is an S3 query subresource
// this server does not implement (for the method and resource at hand: see
// route); requests naming one get NotImplemented instead of being mistaken
// for plain object or bucket operations.
func isUnsupportedSubresource(q string) bool {
	switch q {
	case "acl", "policy", "tagging", "versioning", "versions", "lifecycle", "cors", "website",
		"logging", "notification", "replication", "requestPayment", "object-lock", "retention",
		"legal-hold", "torrent", "restore", "select", "attributes", "accelerate", "analytics",
		"inventory", "metrics", "intelligent-tiering", "ownershipControls", "publicAccessBlock",
		"policyStatus", "delete":
		return true
	}
	return false
}

// subresourceOf returns the one subresource named in q ("" for none), or
// NotImplemented if q names one this server does not implement or several.
func subresourceOf(q map[string][]string) (string, *Error) {
	sub := ""
	for name := range q {
		if !isUnsupportedSubresource(name) {
			continue
		}
		if sub != "" {
			return "", errInvalidRequest("A request may name only one subresource.")
		}
		sub = name
	}
	return sub, nil
}

// route dispatches an S3 request by path, method and query.
func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	sub, serr := subresourceOf(q)
	if serr != nil {
		return serr
	}
	if bucket == "" {
		if sub != "" {
			return errNotImplemented("This server does not implement the " + sub + " subresource.")
		}
		if r.Method == http.MethodGet {
			return s.listBuckets(w, r)
		}
		return errMethodNotAllowed()
	}
	if err := validBucketName(bucket); err != nil {
		return err
	}
	if key == "" {
		if sub != "" {
			return s.routeBucketSubresource(w, r, bucket, sub)
		}
		return s.routeBucket(w, r, bucket, q)
	}
	if len(key) > 1024 {
		return errKeyTooLong()
	}
	if sub != "" {
		return s.routeObjectSubresource(w, r, bucket, key, sub)
	}
	return s.routeObject(w, r, bucket, key, q)
}

func (s *Server) routeBucket(w http.ResponseWriter, r *http.Request, bucket string, q map[string][]string) error {
	_, enc := q["encryption"]
	_, uploads := q["uploads"]
	_, location := q["location"]
	switch r.Method {
	case http.MethodPut:
		if enc {
			return s.putBucketEncryption(w, r, bucket)
		}
		return s.createBucket(w, r, bucket)
	case http.MethodGet:
		switch {
		case enc:
			return s.getBucketEncryption(w, r, bucket)
		case location:
			return s.getBucketLocation(w, r, bucket)
		case uploads:
			return s.listMultipartUploads(w, r, bucket)
		case r.URL.Query().Get("list-type") == "2":
			return s.listObjectsV2(w, r, bucket)
		case r.URL.Query().Get("list-type") != "":
			return errInvalidArgument("Invalid list-type: 1 or 2 (or none, for ListObjects) are accepted.")
		}
		return s.listObjectsV1(w, r, bucket)
	case http.MethodHead:
		return s.headBucket(w, r, bucket)
	case http.MethodDelete:
		if enc {
			return s.deleteBucketEncryption(w, r, bucket)
		}
		return s.deleteBucket(w, r, bucket)
	}
	return errMethodNotAllowed()
}

func (s *Server) routeObject(w http.ResponseWriter, r *http.Request, bucket, key string, q map[string][]string) error {
	_, uploads := q["uploads"]
	_, hasUploadID := q["uploadId"]
	switch r.Method {
	case http.MethodPut:
		switch {
		case hasUploadID && r.Header.Get("X-Amz-Copy-Source") != "":
			return s.uploadPartCopy(w, r, bucket, key)
		case hasUploadID:
			return s.uploadPart(w, r, bucket, key)
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return s.copyObject(w, r, bucket, key)
		}
		return s.putObject(w, r, bucket, key)
	case http.MethodGet:
		if hasUploadID {
			return s.listParts(w, r, bucket, key)
		}
		return s.getObject(w, r, bucket, key, false)
	case http.MethodHead:
		return s.getObject(w, r, bucket, key, true)
	case http.MethodDelete:
		if hasUploadID {
			return s.abortMultipart(w, r, bucket, key)
		}
		return s.deleteObject(w, r, bucket, key)
	case http.MethodPost:
		switch {
		case uploads:
			return s.createMultipart(w, r, bucket, key)
		case hasUploadID:
			return s.completeMultipart(w, r, bucket, key)
		}
	}
	return errMethodNotAllowed()
}

// writeXML writes an XML response body with status 200.
func (s *Server) writeXML(w http.ResponseWriter, v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return errInternal(err)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	// A listing can be a megabyte: a client must read it.
	dw := &deadlineWriter{w: w, ctl: http.NewResponseController(w), timeout: s.cfg.ResponseWriteTimeout}
	_, _ = dw.Write([]byte(xml.Header))
	_, _ = dw.Write(b)
	return nil
}

// writeError renders err as an S3 XML error (HEAD responses get no body).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toS3Error(err)
	reqID, _ := r.Context().Value(requestIDKey{}).(string)
	attrs := []any{"method", r.Method, "path", r.URL.Path, "code", e.Code, "status", e.Status, "request_id", reqID}
	if e.Err != nil {
		attrs = append(attrs, "cause", e.Err.Error())
	}
	if e.Status >= 500 {
		s.log.Error("s3server: request failed", attrs...)
	} else {
		s.log.Info("s3server: request refused", attrs...)
	}
	h := w.Header()
	for k := range h {
		if k != "X-Amz-Request-Id" && k != "Server" && (k != "Content-Range" || e.Status != http.StatusRequestedRangeNotSatisfiable) {
			delete(h, k)
		}
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	b, _ := xml.Marshal(errorDocument{Code: e.Code, Message: e.Message, Resource: r.URL.Path, MaxSizeAllowed: e.MaxSizeAllowed, RequestID: reqID})
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

// toS3Error maps any error of the handlers to the S3 error to send.
func toS3Error(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var se *sse.Error
	if errors.As(err, &se) {
		return &Error{Code: se.Code, Status: se.HTTPStatus, Message: se.Message, Err: err}
	}
	var ve *sigv4.Error
	if errors.As(err, &ve) {
		// From reading the body: its aws-chunked framing is bad, or it does
		// not match its signed hash or a chunk signature.
		if errors.Is(err, sigv4.ErrMalformedBody) {
			return &Error{Code: "IncompleteBody", Status: http.StatusBadRequest, Message: "Malformed aws-chunked body: " + ve.Reason, Err: err}
		}
		return errAccessDenied(err)
	}
	switch {
	case errors.Is(err, errStoreNoBucket):
		return errNoSuchBucket()
	case errors.Is(err, errStoreNoObject):
		return errNoSuchKey()
	case errors.Is(err, errStoreNoUpload):
		return errNoSuchUpload()
	case errors.Is(err, errStoreBucketExists):
		return errBucketExists()
	case errors.Is(err, errStoreNotEmpty):
		return errBucketNotEmpty()
	case errors.Is(err, errStoreConflict):
		return &Error{Code: "OperationAborted", Status: http.StatusConflict, Message: "A conflicting conditional operation is currently in progress against this resource. Please try again.", Err: err}
	case errors.Is(err, kms.ErrNotRunning), errors.Is(err, kms.ErrUnavailable):
		return errServiceUnavailable(err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errRequestTimeout(err)
	case errors.Is(err, context.Canceled):
		return &Error{Code: "RequestTimeout", Status: http.StatusBadRequest, Message: "The request was canceled.", Err: err}
	}
	return errInternal(err)
}
