package kms

import "sync/atomic"

// counters are the Manager's lock-free operation counters.
type counters struct {
	ops, errs              [numOps]atomic.Uint64
	cacheHits, cacheMisses atomic.Uint64
	invalidations          atomic.Uint64 // CacheGeneration
	retiredEvictions       atomic.Uint64 // evictions of caches no runtime uses any more
}

// Stats returns a snapshot of the counters: calls and failed calls per
// operation (operations never called are omitted), data-key cache hits and
// misses of Decrypt since NewManager (they survive hot swaps and ClearCache),
// the hit ratio, and the number of keys cached now.
func (m *Manager) Stats() Stats {
	s := Stats{Operations: map[string]uint64{}, Errors: map[string]uint64{}}
	for o := range numOps {
		if n := m.stats.ops[o].Load(); n > 0 {
			s.Operations[o.String()] = n
		}
		if n := m.stats.errs[o].Load(); n > 0 {
			s.Errors[o.String()] = n
		}
	}
	s.CacheHits = m.stats.cacheHits.Load()
	s.CacheMisses = m.stats.cacheMisses.Load()
	if total := s.CacheHits + s.CacheMisses; total > 0 {
		s.CacheHitRatio = float64(s.CacheHits) / float64(total)
	}
	if rt := m.rt.Load(); rt != nil && rt.cache != nil {
		s.CacheSize = rt.cache.Len()
	}
	return s
}

// ClearCache drops and wipes every cached data key. It is a no-op while not
// Running or with the cache disabled.
func (m *Manager) ClearCache() {
	if rt := m.rt.Load(); rt != nil && rt.cache != nil {
		rt.cache.invalidate()
		m.logger.Info("kms: data-key cache cleared")
	}
	m.stats.invalidations.Add(1)
}
