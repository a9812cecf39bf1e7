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
	authz   Authorizer
	logger  *slog.Logger
	maxBody int64
	prefix  string
	routes  []route
}

// NewHandler returns the KMS admin API as an http.Handler over m. Endpoints
// (relative to wherever it is mounted, e.g. /admin/v3/), with the Action
// each needs (see WithAuthorizer; "per key" ones on KeyResource):
//
//	POST   kms/configure             kms:Configure        full kms.Config JSON → {"success","message","status"}
//	POST   kms/reconfigure           kms:Configure        partial config (kms.ConfigPatch) → same
//	POST   kms/start                 kms:ServiceControl   optional {"force": true} restarts → same
//	POST   kms/stop                  kms:ServiceControl   → same
//	GET    kms/status                kms:ServiceControl   kms.Status (secrets redacted); kms/service-status is an alias
//	GET    kms/config                kms:Configure        {"backend","cache_enabled","cache_max_keys","cache_ttl_seconds","default_key_id"}
//	POST   kms/clear-cache           kms:ClearCache       204
//	POST   kms/keys                  kms:CreateKey        per key; {"KeyUsage","Description","Tags","KeyId","RotationPeriod"} → key answer
//	GET    kms/keys?limit=&marker=   kms:ListKeys         {"keys":[{"key_id","description","enabled","key_state"}],"truncated","next_marker"[,"unreadable_key_ids"]}
//	GET    kms/keys/{key_id}         kms:DescribeKey      per key; {"key_metadata"}
//	DELETE kms/keys/delete           kms:DeleteKey        per key; {"key_id","pending_window_in_days"} → {"success","message","key_id","deletion_date","pending_window_in_days","key_metadata"}
//	POST   kms/keys/cancel-deletion  kms:DeleteKey        per key; {"key_id"} → key answer
//	POST   kms/keys/enable           kms:EnableKey        per key; {"key_id"} → key answer
//	POST   kms/keys/disable          kms:DisableKey       per key; {"key_id"} → key answer
//	POST   kms/keys/rotate           kms:RotateKey        per key; {"key_id"} → key answer
//	POST   kms/keys/destroy-versions kms:DeleteKey        per key; {"key_id","below_version"} → key answer; 409 unless the inventory proves no object needs them (kms.Manager.DestroyKeyVersions)
//	POST   kms/keys/rotation-period  kms:RotateKey        per key; {"key_id","rotation_period"} ("720h", "90d"; "0" off) → key answer
//	POST   kms/keys/update-description kms:UpdateKeyDescription per key; {"key_id","description"} → key answer
//	POST   kms/keys/tag              kms:TagResource      per key; {"key_id","tags":{...}} → key answer
//	POST   kms/keys/untag            kms:UntagResource    per key; {"key_id","tag_keys":[...]} → key answer
//	POST   kms/keys/{key_id}/enable|disable|rotate       aliases of the three above, empty body
//	POST   kms/generate-data-key     kms:GenerateDataKey  per key; {"key_id","key_spec","encryption_context"} → {"key_id","plaintext_key","ciphertext_blob"}
//	POST   kms/decrypt               kms:Decrypt          per key; {"ciphertext_blob","encryption_context","key_id"} → {"key_id","plaintext"}
//	POST   kms/backup                kms:Backup           {"backup_secret"} → {"success","message","backup","bundle"} (see backup.go)
//	GET    kms/backup                kms:Backup           {"backup"}: the last backup's metadata
//	POST   kms/restore/dry-run       kms:Restore          {"bundle","backup_secret"} → {"success","message","plan"}
//	POST   kms/restore               kms:Restore          {"bundle","backup_secret","confirm_bundle_id","conflict_policy"} → {"success","message","result"}
//
// A key answer is RustFS's {"success","message","key_id"} plus
// "key_metadata" (with "rotation_period" when the key has one and
// "rotation_due"). Update-description, tag and untag need a backend that
// implements backend.KeyEditor (local, vault and memory do), rotation-period
// one that implements backend.RotationPolicySetter (local and vault do);
// otherwise they are 400. Listing: limit defaults to 100 and is served as at most 1000
// (truncated, with a next_marker, when more keys follow); a malformed or
// value-less limit is 400; limit=0 is an empty page; next_marker is opaque;
// keys the backend cannot read are listed in unreadable_key_ids, and a
// listing of all keys of which none is readable is a 500.
//
// Errors are {"code","message"}: 400 InvalidRequest, 401 and 403
// AccessDenied, 404 NotFound, 405 MethodNotAllowed, 409 Conflict, 500
// InternalError. Every request is authenticated (see WithAuthenticator);
// without an Authorizer (WithAuthorizer) it must come from an admin
// Principal, with one the Authorizer decides.
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
	action    Action
	op        string
	keyID     string
	resource  string // what action was checked on; "" before authorization
	// authorized is set once the Authorizer allowed the call (or none is
	// configured); writeRaw refuses to write a success before.
	authorized bool
	status     int
	reason     string // safe error text for the audit log
	written    bool
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &call{h: h, w: w, r: r, ctx: r.Context(), action: "unknown", op: "unknown"}
	defer c.audit(start)
	defer c.recoverPanic()

	rt, params, allowed := h.route(r)
	if rt != nil {
		c.action = rt.action
		c.op = rt.op
		c.params = params
		c.keyID = params["key_id"]
	}
	if !c.authenticate() {
		return
	}
	switch {
	case rt != nil:
		var err error
		switch {
		case !rt.perKey:
			err = c.authorize(ResourceAll)
		case c.keyID != "": // the key is in the path
			err = c.authorizeKey(c.keyID)
		}
		if err == nil {
			err = rt.fn(c)
		}
		if err != nil {
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
	case !p.Admin && c.h.authz == nil:
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
