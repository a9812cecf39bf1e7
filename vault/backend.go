package vault

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/envkms/kms/backend"
)

// Backend is a backend.Backend whose master keys are Vault transit keys. It
// is safe for concurrent use. Create it with New; Close it when done.
type Backend struct {
	cfg    Config
	client *api.Client
	log    *slog.Logger
	auth   *authenticator
	states *stateCache
	wraps  wrapCounts // data keys wrapped per key version, by this Backend
	closed atomic.Bool
}

var (
	_ backend.Backend = (*Backend)(nil)
)

// New returns a Backend for cfg. It validates cfg and, for AppRole, logs in
// (so a wrong role or secret id fails here); with a token it does not
// contact Vault — call Health for that. Errors wrap backend.ErrInvalidArgument
// (bad Config), backend.ErrAccessDenied or backend.ErrUnavailable, and never
// contain a token or secret id.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("backend", "vault")
	auth, err := newAuthenticator(ctx, client, cfg, log)
	if err != nil {
		return nil, opError("New", "", err)
	}
	return &Backend{cfg: cfg, client: client, log: log, auth: auth, states: newStateCache(), wraps: wrapCounts{m: map[wrapKey]uint64{}}}, nil
}

// newClient builds an api.Client from cfg alone: unlike api.DefaultConfig it
// does not read VAULT_* environment variables, and it does no retries of its
// own (Backend retries idempotent requests itself, within Timeout).
func newClient(cfg Config) (*api.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	tr.TLSHandshakeTimeout = min(10*time.Second, cfg.Timeout)
	tr.MaxIdleConnsPerHost = runtime.GOMAXPROCS(0) + 1
	hc := &http.Client{
		Transport: tr,
		// The api client handles Vault's redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ac := &api.Config{
		Address:    cfg.Address,
		HttpClient: hc,
		// No client-side Timeout: Backend bounds every call with a context
		// deadline instead. (The api client's raw calls cancel their timeout
		// context before the body is read, which kills keep-alive.)
		Timeout:      0,
		MaxRetries:   0,
		MinRetryWait: 100 * time.Millisecond,
		MaxRetryWait: time.Second,
		CloneHeaders: true,
	}
	if err := ac.ConfigureTLS(&api.TLSConfig{
		CACert:     cfg.TLS.CAFile,
		ClientCert: cfg.TLS.ClientCert,
		ClientKey:  cfg.TLS.ClientKey,
		Insecure:   cfg.TLS.SkipVerify,
	}); err != nil {
		return nil, fmt.Errorf("%w: vault TLS: %v", backend.ErrInvalidArgument, err)
	}
	client, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("%w: vault client: %v", backend.ErrInvalidArgument, err)
	}
	// NewClient picks up VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS from
	// the environment; undo that so only cfg counts.
	client.ClearToken()
	client.SetHeaders(http.Header{api.RequestHeaderName: []string{"true"}})
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	}
	return client, nil
}

// Close stops the AppRole renewal goroutine, revokes an AppRole token (best
// effort, bounded by 2s) and makes every later call fail with
// backend.ErrClosed. Static tokens are not revoked. Close is idempotent.
func (b *Backend) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.auth.close()
	return nil
}

// Health reports nil when Vault is reachable, initialised and unsealed (and,
// for AppRole, the token is alive), else an error wrapping
// backend.ErrUnavailable (or ErrAccessDenied).
func (b *Backend) Health(ctx context.Context) error {
	_, err := call(ctx, b, "Health", "", nil, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, b.health(ctx)
	})
	return err
}

func (b *Backend) health(ctx context.Context) error {
	var h *api.HealthResponse
	err := b.do(ctx, http.MethodGet, "sys/health", true, func(ctx context.Context) (err error) {
		h, err = b.client.Sys().HealthWithContext(ctx)
		return err
	})
	switch {
	case err != nil:
		return err
	case h == nil:
		return fmt.Errorf("%w: vault sys/health: empty answer", backend.ErrUnavailable)
	case !h.Initialized:
		return fmt.Errorf("%w: vault is not initialized", backend.ErrUnavailable)
	case h.Sealed:
		return fmt.Errorf("%w: vault is sealed", backend.ErrUnavailable)
	}
	return b.auth.healthErr()
}

// call is the preamble and epilogue every Backend operation shares. It
// refuses check (an argument error found before any I/O, or nil), then a
// closed Backend or a done ctx; runs fn with ctx bounded by Config.Timeout;
// and wraps any error in a *backend.Error for op and keyID (an error that is
// already a *backend.Error, naming another key, is kept). On error the
// result is T's zero value.
func call[T any](ctx context.Context, b *Backend, op, keyID string, check error, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if check != nil {
		return zero, opError(op, keyID, check)
	}
	if b.closed.Load() {
		return zero, opError(op, keyID, backend.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return zero, opError(op, keyID, fmt.Errorf("%w: %w", backend.ErrUnavailable, err))
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	v, err := fn(ctx)
	if err != nil {
		return zero, opError(op, keyID, err)
	}
	return v, nil
}

// callKey is call for an operation on the key keyID supplied by the caller:
// an invalid id is refused first, in a *backend.Error without KeyID (KeyID
// only ever holds a valid id).
func callKey[T any](ctx context.Context, b *Backend, op, keyID string, check error, fn func(context.Context) (T, error)) (T, error) {
	if err := backend.ValidateKeyID(keyID); err != nil {
		var zero T
		return zero, opError(op, "", err)
	}
	return call(ctx, b, op, keyID, check, fn)
}

// do runs one Vault request. fn performs it; its error is classified. A
// request denied with 403 is repeated once if the credentials could be
// refreshed (token file changed, AppRole re-login). Idempotent requests are
// retried up to RetryAttempts times on transport errors and 5xx, with
// jittered exponential backoff, never beyond ctx's deadline.
func (b *Backend) do(ctx context.Context, method, path string, idempotent bool, fn func(context.Context) error) error {
	retries := 0
	if idempotent {
		retries = b.cfg.RetryAttempts
	}
	refreshed := false
	for attempt := 0; ; {
		gen := b.auth.generation()
		err := fn(ctx)
		if err == nil {
			return nil
		}
		err = classify(method, path, err, b.auth.secrets()...)
		if errors.Is(err, backend.ErrAccessDenied) && !refreshed && ctx.Err() == nil {
			refreshed = true
			if b.auth.refresh(ctx, gen) {
				continue
			}
			return err
		}
		if attempt >= retries || !retryable(err) || ctx.Err() != nil {
			return err
		}
		attempt++
		d := backoff(attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		b.log.Debug("vault: retrying", "method", method, "path", path, "attempt", attempt, "error", err)
	}
}

// backoff returns the wait before retry n (1-based): 50ms doubling, capped
// at 1s, with ±50% jitter.
func backoff(n int) time.Duration {
	d := min(50*time.Millisecond<<min(n-1, 5), time.Second)
	return d/2 + rand.N(d)
}

// read GETs path; (nil, nil) when Vault answers 404 without data.
func (b *Backend) read(ctx context.Context, path string) (*api.Secret, error) {
	var s *api.Secret
	err := b.do(ctx, http.MethodGet, path, true, func(ctx context.Context) (err error) {
		s, err = b.client.Logical().ReadWithContext(ctx, path)
		return err
	})
	return s, err
}

// list LISTs path; (nil, nil) when there is nothing.
func (b *Backend) list(ctx context.Context, path string) (*api.Secret, error) {
	var s *api.Secret
	err := b.do(ctx, "LIST", path, true, func(ctx context.Context) (err error) {
		s, err = b.client.Logical().ListWithContext(ctx, path)
		return err
	})
	return s, err
}

// write PUTs data to path. Only idempotent writes are retried.
func (b *Backend) write(ctx context.Context, path string, data map[string]any, idempotent bool) (*api.Secret, error) {
	var s *api.Secret
	err := b.do(ctx, http.MethodPut, path, idempotent, func(ctx context.Context) (err error) {
		s, err = b.client.Logical().WriteWithContext(ctx, path, data)
		return err
	})
	return s, err
}

// del DELETEs path (idempotent).
func (b *Backend) del(ctx context.Context, path string) error {
	return b.do(ctx, http.MethodDelete, path, true, func(ctx context.Context) error {
		_, err := b.client.Logical().DeleteWithContext(ctx, path)
		return err
	})
}

// writeRaw PUTs body (JSON we own, so the caller can zero it) to path and
// decodes the answer's JSON into out. It is for transit encrypt/decrypt,
// which change no state and so are retried.
func (b *Backend) writeRaw(ctx context.Context, path string, body []byte, out any) error {
	return b.do(ctx, http.MethodPut, path, true, func(ctx context.Context) error {
		resp, err := b.client.Logical().WriteRawWithContext(ctx, path, body)
		if resp != nil {
			defer resp.Body.Close()
		}
		if err != nil {
			return err
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out)
		// Drain what the decoder left (a newline), so the connection is
		// reused rather than closed.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		if err != nil {
			return &malformedError{path: path}
		}
		return nil
	})
}

// maxResponse bounds the transit answers writeRaw reads.
const maxResponse = 1 << 20

// malformedError is a 2xx answer whose body we could not parse.
type malformedError struct{ path string }

func (e *malformedError) Error() string { return "vault /v1/" + e.path + ": malformed response" }
