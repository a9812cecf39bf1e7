// Package kms is the entry point of the library: a Manager that owns a
// master-key backend (a local key directory or HashiCorp Vault transit), a
// data-key cache and their lifecycle (configure, start, stop, hot swap,
// status), and self-describing envelope files (NewEncryptWriter and
// NewDecryptReader).
//
// # Lifecycle
//
// NewManager returns a Manager in state NotConfigured. Configure validates a
// Config (a *ConfigError lists every bad field) and moves to Configured
// without touching the backend; Start opens the backend, runs a health probe
// (a wrong master key or an unreachable Vault puts the Manager in state
// Error, with the reason in Status) and moves to Running; Stop returns to
// Configured. Reconfigure merges a ConfigPatch; on a running Manager it is a
// hot swap: the new backend is opened and probed first, then swapped in
// atomically while calls in flight finish on the old one; if the new one
// fails, the old one keeps serving. Calls while not Running return
// ErrNotRunning.
//
// # Configuration
//
// Config has the JSON field names of the admin API's configure request; the
// same JSON can be read from a file with LoadConfig and overlaid with
// environment variables with ConfigFromEnv (see its table). Fields absent
// from JSON take the defaults of DefaultConfig:
//
//	enable_cache       true
//	max_cached_keys    1000   (1..10,000,000 when the cache is enabled)
//	cache_ttl_seconds  300    (1..604,800 when the cache is enabled)
//	timeout_seconds    30     (0 = the default; at most 3600; bounds a call, retries included)
//	retry_attempts     3      (0 = no retries; at most 10)
//	mount_path         "transit", kv_mount "secret", key_path_prefix "envkms/keys" (vault)
//
// An explicit 0 for max_cached_keys or cache_ttl_seconds with the cache
// enabled is an error, as is any negative number. Secrets (master_key,
// auth_method.token, auth_method.approle.secret_id) are of type Secret and
// never print or marshal; prefer their _file variants.
//
// # Data keys and the cache
//
// GenerateDataKey returns a fresh 32-byte data key and its ciphertext under
// a master key, bound to an EncryptionContext; Decrypt unwraps it given the
// same context. With enable_cache, unwrapped keys are kept (and wiped on
// eviction, expiry, ClearCache, ScheduleKeyDeletion and Stop) in an LRU+TTL
// cache addressed by a SHA-256 of ciphertext and context. Stats reports
// calls, errors and the cache hit ratio. Logs (log/slog, WithLogger) name
// operations and key ids, never key material or credentials.
//
// # Envelope format
//
// NewEncryptWriter writes a header, then a stream (package stream) under a
// fresh data key with the header as associated data:
//
//	"EKMS" | version 1 | key id length (1 byte) | key id |
//	wrapped data key length (2 bytes, big-endian, 1..4096) | wrapped data key |
//	SHA-256 of the canonical encryption context (32 bytes)
//
// NewDecryptReader needs only a running Manager with the same master keys
// and the same encryption context.
package kms
