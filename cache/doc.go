// Package cache is a size- and time-bounded (LRU + TTL) in-memory cache for
// secrets such as unwrapped data keys.
//
// Entries are addressed by a [Key], a SHA-256 digest the caller derives from
// non-secret inputs with [KeyFor] (for data keys: the wrapped ciphertext and
// the canonical encryption context), never from plaintext.
//
// The cache owns its copy of every value: [Cache.Put] stores a copy made with
// the clone function, [Cache.Get] returns a fresh copy, and the cache's own
// copy is wiped with the zero function as soon as it leaves the cache, whether
// it is evicted (least recently used beyond MaxEntries), expires (TTL after it
// was put), is removed, overwritten or cleared. Expired entries are dropped
// lazily: every call sweeps the entries whose TTL has passed, in O(1)
// amortised time, and [Cache.Sweep] does the same on demand (e.g. from a
// ticker) so an idle cache does not keep expired secrets in memory.
//
// [NewBytes] builds a cache for []byte values (copied with bytes.Clone,
// wiped with clear). The package is independent of the rest of the module.
package cache
