package kms

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/cache"
)

// runtime is what a Running Manager serves with: an effective Config, a
// backend and a data-key cache. It is immutable once published; a hot swap
// publishes a new one.
//
// refs counts the Manager's own reference (1 while the runtime is current)
// plus one per call in flight. A call takes a reference only while refs is
// non-zero, so once retire has dropped the Manager's reference and the last
// call has returned, refs stays 0 and the runtime releases its backend and
// cache exactly once.
type runtime struct {
	attrs   [numOps]metric.MeasurementOption // metric attributes per operation
	cfg     Config
	timeout time.Duration
	be      *sharedBackend
	cache   *sharedCache // nil when the cache is disabled

	refs    atomic.Int64
	drained chan struct{} // closed after the runtime released everything
}

// sharedBackend is a backend used by one or more runtimes (a Reconfigure
// that leaves the backend's fields alone reuses it, so the local backend's
// Argon2id unlock or a Vault login happen once per Start, not per swap). It is
// closed when the last runtime using it drains.
type sharedBackend struct {
	backend.Backend
	breaker  *breaker
	users    atomic.Int32
	closed   chan struct{}
	closeErr error // set before closed is closed
}

func newSharedBackend(b backend.Backend, br *breaker) *sharedBackend {
	s := &sharedBackend{Backend: b, breaker: br, closed: make(chan struct{})}
	s.users.Store(1)
	return s
}

func (s *sharedBackend) release() {
	if s.users.Add(-1) == 0 {
		s.closeErr = s.Close()
		close(s.closed)
	}
}

// cachedKey is a cache entry: an unwrapped data key and its master key id.
type cachedKey struct {
	keyID     string
	plaintext []byte
}

func cloneCachedKey(v cachedKey) cachedKey {
	return cachedKey{keyID: v.keyID, plaintext: bytes.Clone(v.plaintext)}
}

func zeroCachedKey(v cachedKey) { clear(v.plaintext) }

// sharedCache is a data-key cache used by one or more runtimes, with a
// sweeper that wipes expired keys even when no call arrives. It is cleared
// (every key wiped) when the last runtime using it drains.
type sharedCache struct {
	*cache.Cache[cachedKey]
	maxKeys, ttlSeconds int
	users               atomic.Int32
	stop                chan struct{}

	// gen counts invalidations (ClearCache, DisableKey,
	// ScheduleKeyDeletion). A call reads it before asking the backend and
	// caches the answer only if no invalidation happened meanwhile, so a
	// call in flight can't put back a key an invalidation just dropped.
	// inval is held shared by those inserts and exclusively by
	// invalidations, which makes the check and the insert one step.
	inval sync.RWMutex
	gen   atomic.Uint64

	retired *atomic.Uint64 // the Manager's count of evictions of retired caches
}

// generation is read before a backend call whose answer will be cached.
func (s *sharedCache) generation() uint64 { return s.gen.Load() }

// putIf caches v unless an invalidation happened since generation g.
func (s *sharedCache) putIf(g uint64, k cache.Key, v cachedKey) {
	s.inval.RLock()
	defer s.inval.RUnlock()
	if s.gen.Load() == g {
		s.Put(k, v)
	}
}

// invalidate drops every cached key; once it returns, no call that started
// before can cache anything.
func (s *sharedCache) invalidate() {
	s.inval.Lock()
	defer s.inval.Unlock()
	s.gen.Add(1)
	s.Clear()
}

func newSharedCache(maxKeys, ttlSeconds int) (*sharedCache, error) {
	ttl := time.Duration(ttlSeconds) * time.Second
	c, err := cache.New(cache.Config{MaxEntries: maxKeys, TTL: ttl}, cloneCachedKey, zeroCachedKey)
	if err != nil {
		return nil, err
	}
	s := &sharedCache{Cache: c, maxKeys: maxKeys, ttlSeconds: ttlSeconds, stop: make(chan struct{})}
	s.users.Store(1)
	go s.sweep(min(ttl, time.Minute))
	return s, nil
}

func (s *sharedCache) sweep(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

func (s *sharedCache) release() {
	if s.users.Add(-1) == 0 {
		close(s.stop)
		if s.retired != nil {
			s.retired.Add(s.Stats().Evictions)
		}
		s.Clear()
	}
}

// tryRef takes a reference unless the runtime has been retired and drained.
func (rt *runtime) tryRef() bool {
	for {
		n := rt.refs.Load()
		if n == 0 {
			return false
		}
		if rt.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one releases the backend and cache.
func (rt *runtime) release() {
	if rt.refs.Add(-1) == 0 {
		if rt.cache != nil {
			rt.cache.release()
		}
		rt.be.release()
		close(rt.drained)
	}
}

// retire drops the Manager's reference: the runtime drains once the calls
// in flight on it have returned.
func (rt *runtime) retire() { rt.release() }

// acquire returns the current runtime with a reference taken, or
// ErrNotRunning. Callers must release it.
func (m *Manager) acquire() (*runtime, error) {
	for {
		rt := m.rt.Load()
		if rt == nil {
			return nil, ErrNotRunning
		}
		if rt.tryRef() {
			if m.rt.Load() == rt {
				return rt, nil
			}
			// Swapped out between the two loads: serve on the new one.
			rt.release()
		}
	}
}

// newRuntime builds a runtime for cfg. With prev (a hot swap), it reuses
// prev's backend when cfg leaves the backend's settings unchanged, and prev's
// cache when it also leaves the cache settings unchanged; otherwise it opens
// a new backend and health-checks it before returning. On error nothing is
// left open.
func (m *Manager) newRuntime(ctx context.Context, cfg Config, prev *runtime) (*runtime, error) {
	rt := &runtime{cfg: cfg, timeout: cfg.timeout(), drained: make(chan struct{}), attrs: opAttrs(cfg.BackendType)}
	rt.refs.Store(1)
	m.stats.invalidations.Add(1) // CacheGeneration: keys of another runtime are not this one's
	if prev != nil && sameBackend(prev.cfg, cfg) {
		prev.be.users.Add(1)
		rt.be = prev.be
	} else {
		octx, cancel := context.WithTimeout(ctx, rt.timeout) // e.g. an AppRole login
		b, err := m.openBackend(octx, cfg)
		cancel()
		if err != nil {
			return nil, err
		}
		rt.be = newSharedBackend(b, newBreaker(m.breakerFailures, m.breakerCoolDown))
		if _, err := invoke(ctx, m, rt, opHealth, "", func(ctx context.Context, b backend.Backend) (struct{}, error) {
			return struct{}{}, b.Health(ctx)
		}); err != nil {
			rt.be.release()
			return nil, err
		}
		if m.ensureKey && cfg.DefaultKeyID != "" {
			if err := m.ensureDefaultKey(ctx, rt); err != nil {
				rt.be.release()
				return nil, err
			}
		}
	}
	if cfg.cacheEnabled() {
		if prev != nil && prev.be == rt.be && prev.cache != nil &&
			prev.cache.maxKeys == cfg.MaxCachedKeys && prev.cache.ttlSeconds == cfg.CacheTTLSeconds {
			prev.cache.users.Add(1)
			rt.cache = prev.cache
		} else {
			c, err := newSharedCache(cfg.MaxCachedKeys, cfg.CacheTTLSeconds)
			if c != nil {
				c.retired = &m.stats.retiredEvictions
			}
			if err != nil { // unreachable after Validate
				rt.be.release()
				return nil, err
			}
			rt.cache = c
		}
	}
	return rt, nil
}

// sameBackend reports whether a and b configure the same backend, so a
// runtime for b may reuse a's. Cache, default key and retry settings are
// the Manager's business; the timeout is passed to the vault backend.
func sameBackend(a, b Config) bool {
	return reflect.DeepEqual(a.backendPart(), b.backendPart())
}

// backendPart is c without the fields the backend doesn't see.
func (c Config) backendPart() Config {
	p := c.clone()
	p.DefaultKeyID = ""
	p.EnableCache, p.MaxCachedKeys, p.CacheTTLSeconds = nil, 0, 0
	p.RetryAttempts = 0
	p.TimeoutSeconds = 0
	if p.BackendType == BackendVault {
		p.TimeoutSeconds = c.effectiveTimeoutSeconds()
	}
	return p
}

// ensureDefaultKey creates the default key when the backend lacks it
// (WithDefaultKeyCreation). Another Manager creating it first is fine.
func (m *Manager) ensureDefaultKey(ctx context.Context, rt *runtime) error {
	id := rt.cfg.DefaultKeyID
	_, err := invoke(ctx, m, rt, opDescribeKey, id, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
		return b.DescribeKey(ctx, id)
	})
	if !errors.Is(err, backend.ErrKeyNotFound) {
		return err
	}
	_, err = invoke(ctx, m, rt, opCreateKey, id, func(ctx context.Context, b backend.Backend) (KeyMetadata, error) {
		return b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id, Description: "default key, created at start"})
	})
	if errors.Is(err, backend.ErrKeyExists) {
		return nil
	}
	if err == nil {
		m.logger.Info("kms: created the default key", "key_id", id)
	}
	return err
}
