// Package memory is a backend.Backend that holds its master keys in process
// memory only: for tests and development, never for data that must outlive
// the process.
//
// Keys vanish when the Backend is closed or the process exits, and every
// data key they wrapped becomes undecryptable by anything: nothing is
// persisted, exported or recoverable. Two Backends never share keys (a
// ciphertext made by one yields backend.ErrKeyNotFound, or
// backend.ErrInvalidCiphertext for a key of the same id, on another).
//
// The package is also an example of a backend written outside the core
// library: it uses only package backend, implements the whole
// backend.Backend contract and passes backend/backendtest.Run
// (see conformance_test.go).
//
// # Use with a kms.Manager
//
// This package cannot import the root package kms (kms imports backend),
// so a Manager registers it through kms.WithBackend with a small factory:
//
//	m := kms.NewManager(kms.WithBackend("memory", func(ctx context.Context, cfg kms.Config) (kms.Backend, error) { return memory.New() }))
//
// and a config with "backend_type": "memory". To take settings from the
// config's backend_options, let [Open] decode them with
// cfg.BackendOptions.Decode (unknown fields are rejected):
//
//	kms.WithBackend("memory", func(ctx context.Context, cfg kms.Config) (kms.Backend, error) {
//		return memory.Open(ctx, cfg.BackendOptions.Decode) // e.g. {"keys": ["app"]}
//	})
//
// The Manager calls the factory each time it opens a backend and closes the
// Backend it retires, so a hot swap that reopens the backend (for example
// after backend_options changed) starts from an empty one: its keys, and the
// data keys they wrapped, are gone. List the keys a service needs in
// backend_options (or use kms.WithDefaultKeyCreation) so a fresh Backend
// has them, and do not keep data encrypted under it.
//
// # Keys and data keys
//
// Each key version is 32 bytes of AES-256 key material from crypto/rand.
// GenerateDataKey returns 32 random bytes sealed with AES-256-GCM under the
// key's newest version. The associated data is the ciphertext header
// followed by the encryption context's canonical form
// (backend.EncryptionContext.Canonical). Context strings must be valid
// UTF-8 (else backend.ErrInvalidArgument), since the canonical JSON form
// would not tell invalid ones apart. The ciphertext names its key and
// version, so Decrypt needs nothing else:
//
//	0x01 | len(key id) | key id | uint32 version (big-endian) | 12-byte nonce | 48-byte sealed key
//
// The first byte is the format version. AES-GCM cannot tell a wrong
// encryption context from a damaged ciphertext: Decrypt reports both as
// backend.ErrInvalidCiphertext. [Backend.CiphertextVersion] reads the key id
// and version without decrypting.
//
// # Lifecycle
//
// States behave as in AWS KMS and the other backends of this module:
// a Disabled key decrypts but wraps nothing new (GenerateDataKey and Rewrap
// fail with backend.ErrKeyDisabled); ScheduleKeyDeletion makes a key
// PendingDeletion, refusing Decrypt too (backend.ErrKeyPendingDeletion);
// CancelKeyDeletion leaves it Disabled, to be enabled on purpose with
// EnableKey. Key material is destroyed only by [Backend.Purge], for keys
// whose deletion date has passed ([WithClock] sets the clock), or by
// [Backend.Close], which zeroes all of it; calls after Close fail with
// backend.ErrClosed.
//
// Errors are *backend.Error values wrapping the sentinels of package
// backend. No error, and no String or fmt output of a Backend, a DataKey or
// key metadata, contains key material.
//
// A Backend is safe for concurrent use; state changes apply at once to
// every call.
package memory
