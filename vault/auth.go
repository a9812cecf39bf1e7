package vault

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hashicorp/vault/api"

	"github.com/envkms/kms/backend"
)

// Timing of the AppRole token upkeep.
const (
	minRelogin     = 2 * time.Second  // at most one 403-triggered login per this interval
	loginBackoff   = 1 * time.Second  // first wait after a failed background login
	maxLoginWait   = 30 * time.Second // longest wait between background login attempts
	revokeTimeout  = 2 * time.Second  // Close's best-effort revoke-self of an AppRole token
	renewThreshold = 2.0 / 3.0        // renew when this fraction of the lease has passed
)

// authenticator owns the client's token: it sets it from Config.Token or
// Config.TokenFile, or logs in with AppRole and keeps the token alive in a
// goroutine that Close stops. It never logs or returns a token.
type authenticator struct {
	client  *api.Client
	login   *api.Client // token-less clone used only for AppRole login
	cfg     Config
	log     *slog.Logger
	timeout time.Duration

	mu        sync.Mutex
	gen       uint64 // bumped whenever the token changes
	token     string // current token (for scrubbing error text)
	secretID  string // last secret id used (for scrubbing)
	ttl0      time.Duration
	lease     time.Duration // lease of the current token; 0: does not expire
	refreshed time.Time     // when the lease was last obtained
	renewable bool
	lastLogin time.Time
	lastErr   error // last background failure; nil when healthy

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func newAuthenticator(ctx context.Context, client *api.Client, cfg Config, log *slog.Logger) (*authenticator, error) {
	a := &authenticator{client: client, cfg: cfg, log: log, timeout: cfg.Timeout, kick: make(chan struct{}, 1)}
	switch {
	case cfg.Token != "":
		if err := a.setStatic(cfg.Token); err != nil {
			return nil, err
		}
	case cfg.TokenFile != "":
		tok, err := readSecretFile(cfg.TokenFile, "TokenFile")
		if err != nil {
			return nil, err
		}
		if err := a.setStatic(tok); err != nil {
			return nil, err
		}
	default:
		login, err := client.Clone() // shares the transport; copies headers (namespace)
		if err != nil {
			return nil, fmt.Errorf("%w: vault client: %v", backend.ErrInvalidArgument, err)
		}
		login.ClearToken() // Clone re-reads VAULT_TOKEN from the environment
		a.login = login
		lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		err = a.appRoleLogin(lctx)
		cancel()
		if err != nil {
			return nil, err
		}
		bg, stop := context.WithCancel(context.Background())
		a.cancel, a.done = stop, make(chan struct{})
		go a.run(bg)
	}
	return a, nil
}

func (a *authenticator) setStatic(tok string) error {
	if err := checkToken(tok); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.token = tok
	a.gen++
	a.client.SetToken(tok)
	return nil
}

func checkToken(tok string) error {
	if tok == "" || strings.IndexFunc(tok, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return fmt.Errorf("%w: vault token is empty or has non-printable characters", backend.ErrInvalidArgument)
	}
	return nil
}

// readSecretFile reads a token or secret id from a file, trimming
// surrounding whitespace. Errors name the file but never its content.
func readSecretFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", backend.ErrInvalidArgument, what, err)
	}
	defer clear(b)
	s := string(bytes.TrimSpace(b))
	if s == "" {
		return "", fmt.Errorf("%w: %s %q is empty", backend.ErrInvalidArgument, what, path)
	}
	return s, nil
}

// generation identifies the current token; refresh uses it to avoid two
// callers refreshing for the same rejected token.
func (a *authenticator) generation() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

// secrets returns the values error text must never contain.
func (a *authenticator) secrets() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := []string{a.token, a.secretID, a.cfg.Token}
	if a.cfg.AppRole != nil {
		s = append(s, a.cfg.AppRole.SecretID)
	}
	return s
}

// refresh is called after Vault answered 403 to a request made with token
// generation gen. It reports whether a new token is in place so the request
// is worth repeating: another caller already replaced the token, the token
// file changed, or an AppRole login succeeded.
func (a *authenticator) refresh(ctx context.Context, gen uint64) bool {
	if a.generation() != gen {
		return true
	}
	switch {
	case a.cfg.TokenFile != "":
		tok, err := readSecretFile(a.cfg.TokenFile, "TokenFile")
		if err != nil || checkToken(tok) != nil {
			return false
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.gen != gen {
			return true
		}
		if tok == a.token {
			return false
		}
		a.token = tok
		a.gen++
		a.client.SetToken(tok)
		a.log.Info("vault: token file changed; using the new token")
		return true
	case a.login != nil:
		a.mu.Lock()
		recent := time.Since(a.lastLogin) < minRelogin
		a.mu.Unlock()
		if recent {
			return false
		}
		if err := a.appRoleLogin(ctx); err != nil {
			a.log.Warn("vault: AppRole login after a 403 failed", "error", err)
			return false
		}
		a.nudge()
		return true
	}
	return false
}

func (a *authenticator) nudge() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// appRoleLogin logs in and installs the new token.
func (a *authenticator) appRoleLogin(ctx context.Context) error {
	ar := a.cfg.AppRole
	secretID := ar.SecretID
	if ar.SecretIDFile != "" {
		var err error
		if secretID, err = readSecretFile(ar.SecretIDFile, "AppRole.SecretIDFile"); err != nil {
			return err
		}
	}
	a.mu.Lock()
	a.secretID = secretID
	a.lastLogin = time.Now()
	a.mu.Unlock()

	path := "auth/" + ar.MountPath + "/login"
	s, err := a.login.Logical().WriteWithContext(ctx, path, map[string]any{"role_id": ar.RoleID, "secret_id": secretID})
	if err != nil {
		return classify("PUT", path, err, a.secrets()...)
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return fmt.Errorf("%w: vault %s returned no token", backend.ErrAccessDenied, path)
	}
	if err := checkToken(s.Auth.ClientToken); err != nil {
		return fmt.Errorf("%w: vault %s returned a malformed token", backend.ErrAccessDenied, path)
	}
	lease := time.Duration(s.Auth.LeaseDuration) * time.Second
	a.mu.Lock()
	a.token = s.Auth.ClientToken
	a.gen++
	a.client.SetToken(a.token)
	a.ttl0, a.lease, a.refreshed, a.renewable = lease, lease, time.Now(), s.Auth.Renewable
	a.lastErr = nil
	a.mu.Unlock()
	a.log.Debug("vault: AppRole login", "ttl", lease, "renewable", s.Auth.Renewable)
	return nil
}

// renew extends the current token with renew-self.
func (a *authenticator) renew(ctx context.Context) error {
	a.mu.Lock()
	inc := int(a.ttl0 / time.Second)
	a.mu.Unlock()
	s, err := a.client.Auth().Token().RenewSelfWithContext(ctx, inc)
	if err != nil {
		return classify("PUT", "auth/token/renew-self", err, a.secrets()...)
	}
	if s == nil || s.Auth == nil {
		return fmt.Errorf("%w: vault renew-self returned no auth", backend.ErrUnavailable)
	}
	lease := time.Duration(s.Auth.LeaseDuration) * time.Second
	a.mu.Lock()
	a.lease, a.refreshed, a.renewable = lease, time.Now(), s.Auth.Renewable
	a.lastErr = nil
	a.mu.Unlock()
	a.log.Debug("vault: token renewed", "ttl", lease)
	return nil
}

// nextWake returns how long the upkeep goroutine sleeps.
func (a *authenticator) nextWake(failures int) time.Duration {
	if failures > 0 {
		d := loginBackoff << min(failures-1, 5)
		return min(d, maxLoginWait)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lease <= 0 {
		return maxLoginWait * 1000 // a non-expiring token: sleep until kicked or closed
	}
	at := a.refreshed.Add(time.Duration(float64(a.lease) * renewThreshold))
	return max(time.Until(at), 0)
}

// run keeps an AppRole token alive: it renews at 2/3 of the lease and logs in
// again when renewal fails or Vault stops extending the lease (max TTL).
func (a *authenticator) run(ctx context.Context) {
	defer close(a.done)
	failures := 0
	t := time.NewTimer(a.nextWake(0))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
			failures = 0
		case <-t.C:
			if err := a.upkeep(ctx); err != nil {
				failures++
				a.mu.Lock()
				a.lastErr = err
				a.mu.Unlock()
				a.log.Warn("vault: keeping the AppRole token alive failed; will retry", "error", err, "failures", failures)
			} else {
				failures = 0
			}
		}
		t.Reset(a.nextWake(failures))
	}
}

func (a *authenticator) upkeep(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	a.mu.Lock()
	renewable, lease, ttl0 := a.renewable, a.lease, a.ttl0
	a.mu.Unlock()
	if renewable && lease > 0 {
		err := a.renew(ctx)
		if err == nil {
			a.mu.Lock()
			lease = a.lease
			a.mu.Unlock()
			if lease >= ttl0/2 {
				return nil
			}
			// The lease was capped by the token's max TTL: a fresh login
			// gives a full TTL before this one runs out.
			a.log.Debug("vault: token near its max TTL; logging in again")
		} else if ctx.Err() != nil {
			return err
		} else {
			a.log.Info("vault: token renewal failed; logging in again", "error", err)
		}
	}
	return a.appRoleLogin(ctx)
}

// healthErr reports a background failure whose token has since expired.
func (a *authenticator) healthErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastErr == nil || a.lease <= 0 || time.Since(a.refreshed) < a.lease {
		return nil
	}
	return a.lastErr
}

// close stops the upkeep goroutine and revokes an AppRole token (best
// effort; static tokens belong to the operator and are left alone).
func (a *authenticator) close() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	ctx, cancel := context.WithTimeout(context.Background(), min(revokeTimeout, a.timeout))
	defer cancel()
	if err := a.client.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		a.log.Debug("vault: revoking the AppRole token on close failed", "error", classify("PUT", "auth/token/revoke-self", err, a.secrets()...))
	}
	a.mu.Lock()
	a.token = ""
	a.gen++
	a.mu.Unlock()
	a.client.ClearToken()
}
