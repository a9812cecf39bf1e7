package cache

import (
	"bytes"
	"container/list"
	"sync"
	"time"
)

// Config bounds a Cache.
type Config struct {
	// MaxEntries is the most entries held; beyond it the least recently used
	// entry is evicted. Must be > 0.
	MaxEntries int
	// TTL is how long an entry lives after it was put (reads do not extend
	// it). Must be > 0.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Stats is a snapshot of a Cache's counters.
type Stats struct {
	Hits      uint64 // Get found a live entry
	Misses    uint64 // Get found nothing (or an expired entry)
	Evictions uint64 // entries dropped because the cache was full
	Expired   uint64 // entries dropped because their TTL passed
	Size      int    // entries held now
}

// Cache is a concurrency-safe LRU + TTL cache whose values are secrets. All
// operations are O(1) (Sweep and Clear: O(entries removed)). Create one with
// New or NewBytes; the zero Cache is not usable.
type Cache[V any] struct {
	maxEntries int
	ttl        time.Duration
	now        func() time.Time
	clone      func(V) V
	zero       func(V)

	mu      sync.Mutex
	entries map[Key]*entry[V]
	lru     list.List // of *entry[V]; front = most recently used
	fifo    list.List // of *entry[V]; front = oldest put = first to expire
	stats   Stats
}

type entry[V any] struct {
	key     Key
	val     V
	expires time.Time
	lruElem *list.Element
	ttlElem *list.Element
}

// New returns a cache. clone copies a value (Put stores clone(v), Get returns
// clone(stored)); zero wipes the cache's own copy when it leaves the cache.
// A nil clone stores and returns values as they are; a nil zero wipes nothing.
// An invalid cfg yields a *ConfigError.
func New[V any](cfg Config, clone func(V) V, zero func(V)) (*Cache[V], error) {
	if cfg.MaxEntries <= 0 {
		return nil, &ConfigError{Field: "MaxEntries", Reason: "must be > 0"}
	}
	if cfg.TTL <= 0 {
		return nil, &ConfigError{Field: "TTL", Reason: "must be > 0"}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if clone == nil {
		clone = func(v V) V { return v }
	}
	if zero == nil {
		zero = func(V) {}
	}
	return &Cache[V]{
		maxEntries: cfg.MaxEntries,
		ttl:        cfg.TTL,
		now:        cfg.Now,
		clone:      clone,
		zero:       zero,
		entries:    make(map[Key]*entry[V]),
	}, nil
}

// NewBytes returns a cache of byte slices: values are copied in and out, and
// the cache's copy is overwritten with zeros when it leaves the cache.
func NewBytes(cfg Config) (*Cache[[]byte], error) {
	return New(cfg, bytes.Clone, func(b []byte) { clear(b) })
}

// Get returns a copy of the live value stored under k and marks it recently
// used. An expired entry is removed (and wiped) and reported as a miss.
func (c *Cache[V]) Get(k Key) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweepLocked(now)
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		c.removeLocked(e)
		c.stats.Expired++
		ok = false
	}
	if !ok {
		c.stats.Misses++
		var zero V
		return zero, false
	}
	c.stats.Hits++
	c.lru.MoveToFront(e.lruElem)
	return c.clone(e.val), true
}

// Put stores a copy of v under k for TTL, replacing (and wiping) any previous
// value, and evicts the least recently used entries beyond MaxEntries.
func (c *Cache[V]) Put(k Key, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweepLocked(now)
	val := c.clone(v)
	if e, ok := c.entries[k]; ok {
		c.zero(e.val)
		e.val = val
		e.expires = now.Add(c.ttl)
		c.lru.MoveToFront(e.lruElem)
		c.fifo.MoveToBack(e.ttlElem)
		return
	}
	e := &entry[V]{key: k, val: val, expires: now.Add(c.ttl)}
	e.lruElem = c.lru.PushFront(e)
	e.ttlElem = c.fifo.PushBack(e)
	c.entries[k] = e
	for len(c.entries) > c.maxEntries {
		c.removeLocked(c.lru.Back().Value.(*entry[V]))
		c.stats.Evictions++
	}
}

// Remove drops (and wipes) the entry under k, reporting whether there was one.
func (c *Cache[V]) Remove(k Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if ok {
		c.removeLocked(e)
	}
	return ok
}

// Clear drops and wipes every entry. Counters other than Size are kept.
func (c *Cache[V]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		c.zero(e.val)
	}
	clear(c.entries)
	c.lru.Init()
	c.fifo.Init()
}

// Sweep drops (and wipes) every expired entry now and returns how many it
// dropped. Other calls sweep as well; call Sweep periodically to bound how
// long an idle cache holds expired secrets.
func (c *Cache[V]) Sweep() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sweepLocked(c.now())
}

// Len returns the number of entries held, expired or not.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Stats returns a snapshot of the counters.
func (c *Cache[V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Size = len(c.entries)
	return s
}

// sweepLocked removes expired entries from the front of the FIFO. Every entry
// has the same TTL, so put order is expiry order.
func (c *Cache[V]) sweepLocked(now time.Time) int {
	n := 0
	for el := c.fifo.Front(); el != nil; el = c.fifo.Front() {
		e := el.Value.(*entry[V])
		if now.Before(e.expires) {
			break
		}
		c.removeLocked(e)
		c.stats.Expired++
		n++
	}
	return n
}

func (c *Cache[V]) removeLocked(e *entry[V]) {
	c.lru.Remove(e.lruElem)
	c.fifo.Remove(e.ttlElem)
	delete(c.entries, e.key)
	c.zero(e.val)
	var zero V
	e.val = zero
}
