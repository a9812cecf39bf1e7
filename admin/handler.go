package admin

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/envkms/kms"
)

// DefaultMaxBodyBytes is the request body limit unless WithMaxBodyBytes says
// otherwise.
const DefaultMaxBodyBytes = 64 << 10

// Option configures the handler returned by NewHandler.
type Option func(*handler)

// WithAuthenticator sets who may call the API. Without one, every request is
// refused with 401: the API never runs open by accident. For a trusted
// network only, pass an AuthenticatorFunc that returns an admin Principal.
func WithAuthenticator(a Authenticator) Option { return func(h *handler) { h.auth = a } }

// WithLogger sets the audit logger (default slog.Default()). One record per
// call: principal, action, key_id, outcome, status; never bodies.
func WithLogger(l *slog.Logger) Option { return func(h *handler) { h.logger = l } }

// WithMaxBodyBytes sets the request body limit (default 64 KiB); larger
// bodies are refused with 400 InvalidRequest.
func WithMaxBodyBytes(n int64) Option { return func(h *handler) { h.maxBody = n } }

// WithPrefix makes the handler serve only paths that begin with prefix (e.g.
// "/admin/v3/") followed by "kms/...". Without it the handler finds the first
// "kms/" path segment itself, so it works mounted under any prefix, with or
// without http.StripPrefix.
func WithPrefix(prefix string) Option {
	return func(h *handler) {
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if !strings.HasPrefix(prefix, "/") {
			prefix = "/" + prefix
		}
		h.prefix = prefix
	}
}

type handler struct {
	m       *kms.Manager
	auth    Authenticator
	logger  *slog.Logger
	maxBody int64
	prefix  string
	routes  []route
}

// NewHandler returns the KMS admin API as an http.Handler over m. Endpoints
// (relative to wherever it is mounted, e.g. /admin/v3/):
//
//	POST   kms/configure            full kms.Config JSON → {"success","message","status"}
//	POST   kms/reconfigure          partial config (kms.ConfigPatch) → same
//	POST   kms/start                optional {"force": true} restarts → same
//	POST   kms/stop                 → same
//	GET    kms/status               kms.Status (secrets redacted); kms/service-status is an alias
//	GET    kms/config               {"backend","cache_enabled","cache_max_keys","cache_ttl_seconds","default_key_id"}
//	POST   kms/clear-cache          204
//	POST   kms/keys                 {"KeyUsage","Description","Tags"} → {"key_id","key_metadata"}
//	GET    kms/keys?limit=&marker=  {"keys":[{"key_id","description",...}],"truncated","next_marker"}
//	GET    kms/keys/{key_id}        {"key_metadata"}
//	DELETE kms/keys/delete          {"key_id","pending_window_in_days"} → {"key_id","deletion_date","pending_window_in_days","key_metadata"}
//	POST   kms/keys/cancel-deletion {"key_id"} → {"key_id","key_metadata"}
//	POST   kms/keys/{key_id}/enable|disable|rotate → {"key_id","key_metadata"}
//	POST   kms/generate-data-key    {"key_id","key_spec","encryption_context"} → {"key_id","plaintext_key","ciphertext_blob"}
//	POST   kms/decrypt              {"ciphertext_blob","encryption_context"} → {"key_id","plaintext"}
//
// Errors are {"code","message"}: 400 InvalidRequest, 401 and 403
// AccessDenied, 404 NotFound, 405 MethodNotAllowed, 409 Conflict, 500
// InternalError. Every request is authenticated (see WithAuthenticator) and
// must come from an admin Principal.
func NewHandler(m *kms.Manager, opts ...Option) http.Handler {
	h := &handler{m: m, logger: slog.Default(), maxBody: DefaultMaxBodyBytes, routes: routeTable()}
	for _, o := range opts {
		o(h)
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	return h
}

// call is the state of one request.
type call struct {
	h         *handler
	w         http.ResponseWriter
	r         *http.Request
	ctx       context.Context
	params    map[string]string
	principal Principal
	action    string
	keyID     string
	status    int
	reason    string // safe error text for the audit log
	written   bool
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{h: h, w: w, r: r, ctx: r.Context(), action: "unknown"}
	defer c.audit(start)
	defer c.recoverPanic()

	rt, params, allowed := h.route(r)
	if rt != nil {
		c.action = rt.action
		c.params = params
		c.keyID = params["key_id"]
	}
	if !c.authenticate() {
		return
	}
	switch {
	case rt != nil:
		if err := rt.fn(c); err != nil {
			c.fail(err)
		}
	case len(allowed) > 0:
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		c.fail(apiErr(http.StatusMethodNotAllowed, "method not allowed"))
	default:
		c.fail(apiErr(http.StatusNotFound, "no such admin endpoint"))
	}
}

func (c *call) authenticate() bool {
	if c.h.auth == nil {
		c.fail(&apiError{status: http.StatusUnauthorized, msg: "authentication required", err: ErrUnauthenticated, reason: "no authenticator configured"})
		return false
	}
	p, err := c.h.auth.Authenticate(c.r)
	c.principal = p
	switch {
	case err != nil && isForbidden(err):
		c.fail(&apiError{status: http.StatusForbidden, msg: "admin access required", err: err, reason: authReason(err)})
		return false
	case err != nil:
		c.fail(&apiError{status: http.StatusUnauthorized, msg: authReason(err), err: err, reason: authReason(err)})
		return false
	case !p.Admin:
		c.fail(&apiError{status: http.StatusForbidden, msg: "admin access required", reason: "principal is not an admin"})
		return false
	}
	return true
}

// recoverPanic turns a handler bug into a 500 without a stack trace in the
// response; http.ErrAbortHandler keeps its meaning.
func (c *call) recoverPanic() {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler { //nolint:errorlint // sentinel value compared as net/http does
			panic(v)
		}
		c.fail(apiErr(http.StatusInternalServerError, "internal error"))
		c.reason = "panic in handler"
	}
}

// relPath returns the path below the mount point, e.g. "kms/keys/k1".
func (h *handler) relPath(r *http.Request) (string, bool) {
	p := r.URL.EscapedPath()
	if h.prefix != "" {
		if !strings.HasPrefix(p, h.prefix) {
			return "", false
		}
		return p[len(h.prefix):], true
	}
	p = strings.TrimPrefix(p, "/")
	if strings.HasPrefix(p, "kms/") {
		return p, true
	}
	if i := strings.Index(p, "/kms/"); i >= 0 {
		return p[i+1:], true
	}
	return "", false
}

// route finds the endpoint for r. When the path exists under other methods
// only, allowed lists them.
func (h *handler) route(r *http.Request) (rt *route, params map[string]string, allowed []string) {
	rel, ok := h.relPath(r)
	if !ok {
		return nil, nil, nil
	}
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, nil, nil
		}
		segs[i] = u
	}
	for i := range h.routes {
		p, ok := h.routes[i].match(segs)
		if !ok {
			continue
		}
		if h.routes[i].method == r.Method || (r.Method == http.MethodHead && h.routes[i].method == http.MethodGet) {
			return &h.routes[i], p, nil
		}
		if !slices.Contains(allowed, h.routes[i].method) {
			allowed = append(allowed, h.routes[i].method)
		}
	}
	return nil, nil, allowed
}
