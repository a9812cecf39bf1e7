package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/envkms/kms/backend"
)

// maxVersions bounds the versions of one key (RotateKey refuses more), as
// in package local.
const maxVersions = 50_000

// Backend is an in-memory backend.Backend. It is safe for concurrent use.
// Its keys live only in this value: they are gone after Close or when the
// process exits. The zero value is not usable; call New.
type Backend struct {
	now func() time.Time

	// mu guards everything below. Calls that only read (DescribeKey,
	// ListKeys, GenerateDataKey, Decrypt, Rewrap, Health) hold it shared,
	// calls that change keys and Close hold it exclusively, so Close waits
	// for calls in flight before it wipes key material.
	mu     sync.RWMutex
	closed bool
	keys   map[string]*key
	ids    []string            // the keys of keys, sorted, for ListKeys
	purged map[string]struct{} // tombstones: ids Purge destroyed, never re-created
}

// key is one master key: its metadata and its versions, oldest first.
type key struct {
	md       backend.KeyMetadata // Version is kept equal to len(versions)
	versions [][]byte            // AES-256 key material; versions[v-1] is version v
}

// metadata returns a copy of k's metadata that shares nothing with k.
func (k *key) metadata() backend.KeyMetadata {
	md := k.md
	md.Version = len(k.versions)
	if len(k.md.Tags) > 0 {
		md.Tags = make(map[string]string, len(k.md.Tags))
		for t, v := range k.md.Tags {
			md.Tags[t] = v
		}
	} else {
		md.Tags = nil
	}
	if k.md.DeletionDate != nil {
		d := *k.md.DeletionDate
		md.DeletionDate = &d
	}
	return md
}

// wipe zeroes k's key material and drops it.
func (k *key) wipe() {
	for _, m := range k.versions {
		clear(m)
	}
	clear(k.versions)
	k.versions = nil
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ fmt.Formatter   = (*Backend)(nil)
)

// Option configures New.
type Option func(*settings)

type settings struct {
	now  func() time.Time
	keys []string
}

// WithClock sets the clock used for creation and deletion dates and by
// Purge; nil (the default) means time.Now. Tests use it to reach a deletion
// date without waiting a week.
func WithClock(now func() time.Time) Option {
	return func(s *settings) { s.now = now }
}

// WithKeys makes New create a key (Enabled, one version, no description or
// tags) for each id, so a Manager whose default_key_id names one of them
// starts ready. Invalid or repeated ids make New fail with
// backend.ErrInvalidArgument.
func WithKeys(ids ...string) Option {
	return func(s *settings) { s.keys = append(s.keys, ids...) }
}

// New returns an empty in-memory backend, or one holding the keys of
// WithKeys. Errors are *backend.Error values wrapping
// backend.ErrInvalidArgument.
func New(opts ...Option) (*Backend, error) {
	var s settings
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	b := &Backend{now: s.now, keys: make(map[string]*key)}
	if b.now == nil {
		b.now = time.Now
	}
	for _, id := range s.keys {
		if err := backend.ValidateKeyID(id); err != nil {
			b.wipe()
			return nil, &backend.Error{Op: "New", Err: err}
		}
		if b.keys[id] != nil {
			b.wipe()
			return nil, &backend.Error{Op: "New", KeyID: id, Err: fmt.Errorf("%w: key id listed twice", backend.ErrInvalidArgument)}
		}
		b.add(id, backend.CreateKeyRequest{KeyID: id})
	}
	return b, nil
}

// Options are the memory backend's settings as a kms config's
// backend_options may give them (JSON), decoded by [Open].
type Options struct {
	// Keys lists key ids to create at once (see WithKeys).
	Keys []string `json:"keys,omitempty"`
}

// Open is the body of a factory for kms.WithBackend: it decodes the
// Manager's backend_options into [Options] with decode (pass
// cfg.BackendOptions.Decode, which rejects unknown fields and reports
// problems as a *kms.ConfigError, returned unchanged) and calls New with
// the keys they list. Further opts apply after them. See the package
// documentation for the registration.
func Open(ctx context.Context, decode func(v any) error, opts ...Option) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, &backend.Error{Op: "Open", Err: err}
	}
	var o Options
	if decode != nil {
		if err := decode(&o); err != nil {
			return nil, err
		}
	}
	return New(append([]Option{WithKeys(o.Keys...)}, opts...)...)
}

// add creates key id from req with one fresh version and returns it. The
// caller holds mu exclusively (or owns b) and has checked that id is valid
// and free.
func (b *Backend) add(id string, req backend.CreateKeyRequest) *key {
	k := &key{
		md: backend.KeyMetadata{
			KeyID:        id,
			Description:  req.Description,
			State:        backend.KeyStateEnabled,
			KeyUsage:     backend.KeyUsageEncryptDecrypt,
			CreationDate: b.now().UTC(),

			RotationPeriod: req.RotationPeriod,
		},
		versions: [][]byte{newMaterial()},
	}
	if len(req.Tags) > 0 {
		k.md.Tags = make(map[string]string, len(req.Tags))
		for t, v := range req.Tags {
			k.md.Tags[t] = v
		}
	}
	b.keys[id] = k
	i, _ := slices.BinarySearch(b.ids, id)
	b.ids = slices.Insert(b.ids, i, id)
	return k
}

// remove destroys key id: it wipes the key material and forgets the key.
// The caller holds mu exclusively.
func (b *Backend) remove(id string) {
	if k := b.keys[id]; k != nil {
		k.wipe()
		delete(b.keys, id)
	}
	if i, ok := slices.BinarySearch(b.ids, id); ok {
		b.ids = slices.Delete(b.ids, i, i+1)
	}
}

// rlock starts a call that only reads: it fails if ctx is done or b is
// closed, and otherwise returns holding mu shared (release with
// b.mu.RUnlock).
func (b *Backend) rlock(ctx context.Context, op, keyID string) error {
	if err := ctx.Err(); err != nil {
		return &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return &backend.Error{Op: op, KeyID: keyID, Err: backend.ErrClosed}
	}
	return nil
}

// lock is like rlock but returns holding mu exclusively (release with
// b.mu.Unlock).
func (b *Backend) lock(ctx context.Context, op, keyID string) error {
	if err := ctx.Err(); err != nil {
		return &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return &backend.Error{Op: op, KeyID: keyID, Err: backend.ErrClosed}
	}
	return nil
}

// Close zeroes all key material and forgets every key, after calls in
// flight have finished. Later calls fail with backend.ErrClosed; data keys
// wrapped by b can no longer be unwrapped by anything. Close is idempotent
// and always returns nil.
//
// (Each call builds its AES-GCM cipher from the raw key bytes and drops it
// when it returns; Go offers no way to wipe such an expanded key schedule,
// but none outlives its call.)
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	b.wipe()
	return nil
}

// wipe zeroes and drops every key. The caller holds mu exclusively (or
// owns b).
func (b *Backend) wipe() {
	for _, k := range b.keys {
		k.wipe()
	}
	clear(b.keys)
	b.ids = nil
}

// Health reports nil, or an error wrapping backend.ErrClosed after Close.
func (b *Backend) Health(ctx context.Context) error {
	if err := b.rlock(ctx, "Health", ""); err != nil {
		return err
	}
	b.mu.RUnlock()
	return nil
}

// String describes b by its number of keys; it never shows key material.
func (b *Backend) String() string {
	if b == nil {
		return "memory.Backend(nil)"
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return "memory.Backend{closed}"
	}
	return fmt.Sprintf("memory.Backend{keys: %d}", len(b.keys))
}

// GoString is like String, so %#v shows no internals either.
func (b *Backend) GoString() string { return b.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %x, %s, ...)
// prints the String form.
func (b *Backend) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, b.String()) }
