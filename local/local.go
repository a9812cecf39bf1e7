package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/envkms/kms/backend"
)

// Config configures a Backend.
type Config struct {
	// Dir is the key directory, an absolute path. New creates it (mode 0700)
	// if missing.
	Dir string
	// MasterKey is the secret (the kms config's master_key) from which the
	// key-sealing key is derived with Argon2id. Required unless
	// InsecurePlaintext. New does not keep or modify it; the caller may wipe
	// it once New returns. Use at least 32 random bytes (a passphrase works,
	// Argon2id slows guessing, but length is what protects it).
	MasterKey []byte
	// InsecurePlaintext stores key material unsealed, for development only.
	// It must match how Dir was created, and MasterKey must be empty.
	InsecurePlaintext bool
	// KDF sets the Argon2id parameters when New creates a key directory;
	// nil means DefaultKDFParams(). An existing directory keeps its own.
	KDF *KDFParams
	// MaxKDF bounds the Argon2id cost New accepts from an existing
	// directory's header (and from KDF); nil means DefaultMaxKDFParams().
	// Beyond it New fails with an error wrapping ErrKDFTooCostly before any
	// key derivation.
	MaxKDF *KDFParams
	// Logger receives operational logs (key ids, never key material); nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock for creation and deletion dates and Purge; nil means
	// time.Now.
	Now func() time.Time

	// testHook, if set, is called after each step of every file write; an
	// error simulates a crash at that step.
	testHook func(step string) error
}

// Backend is a backend.Backend that keeps master keys in a local directory.
// It is safe for concurrent use, and several Backends (in one process or
// several) may share a directory: see the package doc.
type Backend struct {
	dir      string
	log      *slog.Logger
	now      func() time.Time
	testHook func(step string) error

	// life is held shared by every call and exclusively by Close, so Close
	// waits for calls in flight before it wipes keys.
	life   sync.RWMutex
	closed bool
	keys   *unlockKeys // nil in an insecure directory

	mu    sync.RWMutex         // guards cache
	cache map[string]*keyEntry // loaded keys by id

	// stripes serialise writes (and loads) per key id within this Backend;
	// lock serialises them across Backends and processes (see lockName).
	stripes [64]sync.Mutex
	lock    *dirLock
	born    time.Time // origin of clock

	wraps    sync.Map // wrapKey -> *atomic.Uint64: data keys wrapped per key version
	maxWraps uint64   // tests: lowers backend.MaxDataKeysPerVersion
}

var _ backend.Backend = (*Backend)(nil)

// New opens the key directory cfg.Dir, creating it and its header (salt, KDF
// parameters, master-key verifier) on first use, and derives the key-sealing
// key from cfg.MasterKey once (Argon2id; never per call). A master key that
// does not match the directory fails with an error wrapping
// ErrWrongMasterKey; a bad cfg with ErrInvalidConfig; a corrupt header with
// a *FileError wrapping ErrCorruptFile. Corrupt key files do not fail New:
// calls on those keys return a *FileError, other keys keep working.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Backend{
		dir:      filepath.Clean(cfg.Dir),
		log:      cfg.Logger,
		now:      cfg.Now,
		testHook: cfg.testHook,
		cache:    make(map[string]*keyEntry),
		born:     time.Now(),
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return nil, &FileError{Path: b.dir, Err: err}
	}
	fi, err := os.Stat(b.dir)
	if err != nil {
		return nil, &FileError{Path: b.dir, Err: err}
	}
	if !fi.IsDir() {
		return nil, &FileError{Path: b.dir, Err: errors.New("not a directory")}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		b.log.Warn("local: key directory is accessible by group or others; want mode 0700", "dir", b.dir, "mode", fi.Mode().Perm().String())
	}
	lock, err := openDirLock(b.dir)
	if err != nil {
		return nil, err
	}
	keys, err := b.unlock(ctx, &cfg)
	if err != nil {
		_ = lock.close()
		return nil, err
	}
	b.keys = keys
	b.lock = lock
	b.removeStaleTemps()
	return b, nil
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Dir == "":
		return fmt.Errorf("%w: Dir (key_dir) is required", ErrInvalidConfig)
	case !filepath.IsAbs(cfg.Dir):
		return fmt.Errorf("%w: Dir (key_dir) must be an absolute path", ErrInvalidConfig)
	case cfg.InsecurePlaintext && len(cfg.MasterKey) > 0:
		return fmt.Errorf("%w: MasterKey (master_key) set together with InsecurePlaintext", ErrInvalidConfig)
	case !cfg.InsecurePlaintext && len(cfg.MasterKey) == 0:
		return fmt.Errorf("%w: MasterKey (master_key) is required (or InsecurePlaintext for development)", ErrInvalidConfig)
	}
	if cfg.KDF != nil {
		if err := cfg.KDF.validate(); err != nil {
			return fmt.Errorf("%w: KDF: %v", ErrInvalidConfig, err)
		}
		if err := cfg.KDF.within(cfg.maxKDF()); err != nil {
			return fmt.Errorf("%w: KDF: %w", ErrInvalidConfig, err)
		}
	}
	if cfg.MaxKDF != nil {
		if err := cfg.MaxKDF.validate(); err != nil {
			return fmt.Errorf("%w: MaxKDF: %v", ErrInvalidConfig, err)
		}
	}
	return nil
}

func (cfg *Config) maxKDF() KDFParams {
	if cfg.MaxKDF != nil {
		return *cfg.MaxKDF
	}
	return DefaultMaxKDFParams()
}

// Dir returns the key directory.
func (b *Backend) Dir() string { return b.dir }

// begin starts a call: it fails once the backend is closed or ctx is done.
// On success the caller must call b.end.
func (b *Backend) begin(ctx context.Context, op, keyID string) error {
	if err := ctx.Err(); err != nil {
		return &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	b.life.RLock()
	if b.closed {
		b.life.RUnlock()
		return &backend.Error{Op: op, KeyID: keyID, Err: backend.ErrClosed}
	}
	return nil
}

func (b *Backend) end() { b.life.RUnlock() }

// Close wipes the key-sealing keys and drops every loaded key, after calls in
// flight have finished. Calls after Close fail with backend.ErrClosed; Close
// is idempotent. (Go's AES implementation offers no way to wipe an expanded
// key schedule; raw key bytes are wiped as soon as a cipher is built, and
// Close drops the ciphers.)
func (b *Backend) Close() error {
	b.life.Lock()
	defer b.life.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.keys.wipe()
	_ = b.lock.close()
	b.mu.Lock()
	clear(b.cache)
	b.mu.Unlock()
	return nil
}

// Health reports whether the key directory is reachable.
func (b *Backend) Health(ctx context.Context) error {
	if err := b.begin(ctx, "Health", ""); err != nil {
		return err
	}
	defer b.end()
	if _, err := os.Stat(filepath.Join(b.dir, headerName)); err != nil {
		return &backend.Error{Op: "Health", Err: fmt.Errorf("%w: %w", backend.ErrUnavailable, &FileError{Path: filepath.Join(b.dir, headerName), Err: err})}
	}
	return nil
}

func (b *Backend) stripe(id string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &b.stripes[h.Sum32()%uint32(len(b.stripes))]
}

// revalidateAfter is how long a loaded key is served before the Backend
// checks (one lstat) that its file has not changed under it. Since every
// update re-reads the file under the directory lock and only ever adds
// versions, a cached key's versions are always on disk; what another Backend
// changes (state, a new version, a purge) takes effect here within this
// time. It matches the vault backend's stateTTL.
const revalidateAfter = time.Second

// clock is a monotonic reading for keyEntry.checked.
func (b *Backend) clock() int64 { return int64(time.Since(b.born)) }

// entry returns the loaded key id, loading it from disk on first use and
// again when, revalidated, the key file is no longer the one the entry came
// from (an update by another Backend or process). Errors: an error wrapping
// fs.ErrNotExist (no such key), a *FileError, or ctx's error.
func (b *Backend) entry(ctx context.Context, id string) (*keyEntry, error) {
	b.mu.RLock()
	e := b.cache[id]
	b.mu.RUnlock()
	if e != nil {
		now := b.clock()
		if now-e.checked.Load() < int64(revalidateAfter) {
			return e, nil
		}
		fi, err := os.Lstat(b.keyPath(id))
		switch {
		case err == nil && e.current(fi):
			e.checked.Store(now)
			return e, nil
		case errors.Is(err, fs.ErrNotExist):
			b.forget(id)
			return nil, &FileError{Path: b.keyPath(id), Err: err}
		}
	}
	return b.reload(ctx, id, e)
}

// reload loads id from disk under the directory lock (shared), unless the
// cached entry already differs from stale and is current (someone else
// reloaded it meanwhile).
func (b *Backend) reload(ctx context.Context, id string, stale *keyEntry) (*keyEntry, error) {
	l := b.stripe(id)
	l.Lock()
	defer l.Unlock()
	b.mu.RLock()
	e := b.cache[id]
	b.mu.RUnlock()
	if e != nil && e != stale {
		if fi, err := os.Lstat(b.keyPath(id)); err == nil && e.current(fi) {
			return e, nil
		}
	}
	unlock, err := b.lock.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	f, fi, err := b.readKeyFileStat(id)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			b.forget(id)
		}
		return nil, err
	}
	defer f.wipe()
	if e, err = b.entryFromFile(b.keyPath(id), f); err != nil {
		return nil, err
	}
	e.file = fi
	b.install(id, e)
	return e, nil
}

func (b *Backend) install(id string, e *keyEntry) {
	e.checked.Store(b.clock())
	b.mu.Lock()
	b.cache[id] = e
	b.mu.Unlock()
}

func (b *Backend) forget(id string) {
	b.mu.Lock()
	delete(b.cache, id)
	b.mu.Unlock()
}

// keyErr maps a load error to a backend error for op.
func keyErr(op, id string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &backend.Error{Op: op, KeyID: id, Err: backend.ErrKeyNotFound}
	}
	return &backend.Error{Op: op, KeyID: id, Err: err}
}

func randRead(p []byte) { _, _ = rand.Read(p) } // crypto/rand.Read never fails (Go 1.24+)
