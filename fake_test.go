package kms

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/envkms/kms/backend"
)

// fakeStore stands in for a key directory: master keys shared by every
// fakeBackend opened on it.
type fakeStore struct {
	secret string
	mu     sync.Mutex
	keys   map[string]*fakeKey
}

type fakeKey struct {
	md       backend.KeyMetadata
	versions [][]byte // AES-256 keys, index = version-1
}

// fakeWorld maps key dirs to stores and records every backend opened, with
// fault injection for the tests.
type fakeWorld struct {
	mu     sync.Mutex
	stores map[string]*fakeStore
	opened []*fakeBackend

	healthErr   atomic.Pointer[error] // returned by Health of new backends
	failNext    atomic.Int32          // next calls fail with ErrUnavailable
	delay       atomic.Int64          // ns each data-key call sleeps
	backendOps  atomic.Int64          // backend calls made
	afterClose  atomic.Int64          // calls that hit a closed backend
	openFailure atomic.Pointer[error]

	afterDecrypt atomic.Pointer[func()] // runs when a Decrypt has succeeded, before it returns

	issuedMu sync.Mutex
	issued   [][]byte // plaintext slices handed out by GenerateDataKey and Decrypt
}

func (w *fakeWorld) issue(pt []byte) []byte {
	w.issuedMu.Lock()
	defer w.issuedMu.Unlock()
	w.issued = append(w.issued, pt)
	return pt
}

func newFakeWorld() *fakeWorld { return &fakeWorld{stores: map[string]*fakeStore{}} }

func withFakes(w *fakeWorld) Option {
	return func(m *Manager) { m.newBackend = w.open }
}

func (w *fakeWorld) open(_ context.Context, cfg Config, _ *slog.Logger) (backend.Backend, error) {
	if e := w.openFailure.Load(); e != nil {
		return nil, *e
	}
	secret := cfg.MasterKey.Reveal()
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.stores[cfg.KeyDir]
	if !ok {
		s = &fakeStore{secret: secret, keys: map[string]*fakeKey{}}
		w.stores[cfg.KeyDir] = s
	}
	if s.secret != secret {
		return nil, &backend.Error{Op: "open", Err: fmt.Errorf("%w: wrong master key", backend.ErrAccessDenied)}
	}
	b := &fakeBackend{w: w, s: s}
	w.opened = append(w.opened, b)
	return b, nil
}

type fakeBackend struct {
	w      *fakeWorld
	s      *fakeStore
	closed atomic.Bool
}

func (b *fakeBackend) enter(ctx context.Context, op string) error {
	b.w.backendOps.Add(1)
	if b.closed.Load() {
		b.w.afterClose.Add(1)
		return &backend.Error{Op: op, Err: backend.ErrClosed}
	}
	if n := b.w.failNext.Load(); n > 0 && b.w.failNext.CompareAndSwap(n, n-1) {
		return &backend.Error{Op: op, Err: backend.ErrUnavailable}
	}
	return ctx.Err()
}

func (b *fakeBackend) slow(ctx context.Context) error {
	if d := time.Duration(b.w.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return &backend.Error{Op: "slow", Err: fmt.Errorf("%w: %w", backend.ErrUnavailable, ctx.Err())}
		}
	}
	return nil
}

func (b *fakeBackend) CreateKey(ctx context.Context, req backend.CreateKeyRequest) (backend.KeyMetadata, error) {
	if err := b.enter(ctx, "CreateKey"); err != nil {
		return backend.KeyMetadata{}, err
	}
	id := req.KeyID
	if id == "" {
		id = backend.NewKeyID()
	}
	if err := backend.ValidateKeyID(id); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: "CreateKey", Err: err}
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if _, ok := b.s.keys[id]; ok {
		return backend.KeyMetadata{}, &backend.Error{Op: "CreateKey", KeyID: id, Err: backend.ErrKeyExists}
	}
	k := &fakeKey{md: backend.KeyMetadata{KeyID: id, Description: req.Description, State: backend.KeyStateEnabled, CreationDate: time.Now(), Version: 1}}
	k.versions = append(k.versions, randBytes(32))
	b.s.keys[id] = k
	return k.md, nil
}

func (b *fakeBackend) key(op, id string) (*fakeKey, error) {
	k, ok := b.s.keys[id]
	if !ok {
		return nil, &backend.Error{Op: op, KeyID: id, Err: backend.ErrKeyNotFound}
	}
	return k, nil
}

func (b *fakeBackend) DescribeKey(ctx context.Context, id string) (backend.KeyMetadata, error) {
	if err := b.enter(ctx, "DescribeKey"); err != nil {
		return backend.KeyMetadata{}, err
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	k, err := b.key("DescribeKey", id)
	if err != nil {
		return backend.KeyMetadata{}, err
	}
	return k.md, nil
}

func (b *fakeBackend) ListKeys(ctx context.Context, req backend.ListKeysRequest) (backend.ListKeysResult, error) {
	if err := b.enter(ctx, "ListKeys"); err != nil {
		return backend.ListKeysResult{}, err
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	var r backend.ListKeysResult
	for _, k := range b.s.keys {
		if k.md.KeyID > req.Marker {
			r.Keys = append(r.Keys, k.md)
		}
	}
	sort.Slice(r.Keys, func(i, j int) bool { return r.Keys[i].KeyID < r.Keys[j].KeyID })
	return r, nil
}

func (b *fakeBackend) setState(ctx context.Context, op, id string, st backend.KeyState) (backend.KeyMetadata, error) {
	if err := b.enter(ctx, op); err != nil {
		return backend.KeyMetadata{}, err
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	k, err := b.key(op, id)
	if err != nil {
		return backend.KeyMetadata{}, err
	}
	k.md.State = st
	return k.md, nil
}

func (b *fakeBackend) EnableKey(ctx context.Context, id string) error {
	_, err := b.setState(ctx, "EnableKey", id, backend.KeyStateEnabled)
	return err
}

func (b *fakeBackend) DisableKey(ctx context.Context, id string) error {
	_, err := b.setState(ctx, "DisableKey", id, backend.KeyStateDisabled)
	return err
}

func (b *fakeBackend) ScheduleKeyDeletion(ctx context.Context, id string, days int) (backend.KeyMetadata, error) {
	if err := backend.ValidatePendingDays(days); err != nil {
		return backend.KeyMetadata{}, &backend.Error{Op: "ScheduleKeyDeletion", KeyID: id, Err: err}
	}
	return b.setState(ctx, "ScheduleKeyDeletion", id, backend.KeyStatePendingDeletion)
}

func (b *fakeBackend) CancelKeyDeletion(ctx context.Context, id string) (backend.KeyMetadata, error) {
	return b.setState(ctx, "CancelKeyDeletion", id, backend.KeyStateDisabled)
}

func (b *fakeBackend) RotateKey(ctx context.Context, id string) (backend.KeyMetadata, error) {
	if err := b.enter(ctx, "RotateKey"); err != nil {
		return backend.KeyMetadata{}, err
	}
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	k, err := b.key("RotateKey", id)
	if err != nil {
		return backend.KeyMetadata{}, err
	}
	k.versions = append(k.versions, randBytes(32))
	k.md.Version = len(k.versions)
	return k.md, nil
}

// Ciphertext: idLen(1) || id || version(4) || nonce(12) || GCM(dataKey).
func (b *fakeBackend) GenerateDataKey(ctx context.Context, id string, ec backend.EncryptionContext) (backend.DataKey, error) {
	if err := b.enter(ctx, "GenerateDataKey"); err != nil {
		return backend.DataKey{}, err
	}
	if err := b.slow(ctx); err != nil {
		return backend.DataKey{}, err
	}
	b.s.mu.Lock()
	k, err := b.key("GenerateDataKey", id)
	if err != nil {
		b.s.mu.Unlock()
		return backend.DataKey{}, err
	}
	if k.md.State != backend.KeyStateEnabled {
		b.s.mu.Unlock()
		return backend.DataKey{}, &backend.Error{Op: "GenerateDataKey", KeyID: id, Err: backend.ErrKeyDisabled}
	}
	ver := len(k.versions)
	mk := k.versions[ver-1]
	b.s.mu.Unlock()
	pt := randBytes(32)
	ct := []byte{byte(len(id))}
	ct = append(ct, id...)
	ct = binary.BigEndian.AppendUint32(ct, uint32(ver))
	nonce := randBytes(12)
	ct = append(ct, nonce...)
	ct = gcm(mk).Seal(ct, nonce, pt, ec.Canonical())
	return backend.DataKey{KeyID: id, Plaintext: b.w.issue(pt), Ciphertext: ct}, nil
}

func (b *fakeBackend) Decrypt(ctx context.Context, ct []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	if err := b.enter(ctx, "Decrypt"); err != nil {
		return backend.DataKey{}, err
	}
	if err := b.slow(ctx); err != nil {
		return backend.DataKey{}, err
	}
	bad := &backend.Error{Op: "Decrypt", Err: backend.ErrInvalidCiphertext}
	if len(ct) < 1 || len(ct) < 1+int(ct[0])+4+12+16 {
		return backend.DataKey{}, bad
	}
	id := string(ct[1 : 1+ct[0]])
	rest := ct[1+ct[0]:]
	ver := int(binary.BigEndian.Uint32(rest))
	b.s.mu.Lock()
	k, err := b.key("Decrypt", id)
	if err != nil {
		b.s.mu.Unlock()
		return backend.DataKey{}, err
	}
	if ver < 1 || ver > len(k.versions) {
		b.s.mu.Unlock()
		return backend.DataKey{}, bad
	}
	if k.md.State == backend.KeyStatePendingDeletion {
		b.s.mu.Unlock()
		return backend.DataKey{}, &backend.Error{Op: "Decrypt", KeyID: id, Err: backend.ErrKeyPendingDeletion}
	}
	mk := k.versions[ver-1]
	b.s.mu.Unlock()
	pt, err := gcm(mk).Open(nil, rest[4:16], rest[16:], ec.Canonical())
	if err != nil {
		return backend.DataKey{}, bad
	}
	if h := b.w.afterDecrypt.Load(); h != nil {
		(*h)()
	}
	return backend.DataKey{KeyID: id, Plaintext: b.w.issue(pt), Ciphertext: bytes.Clone(ct)}, nil
}

func (b *fakeBackend) Rewrap(ctx context.Context, ct []byte, ec backend.EncryptionContext) ([]byte, error) {
	dk, err := b.Decrypt(ctx, ct, ec)
	if err != nil {
		return nil, err
	}
	defer dk.Zero()
	nk, err := b.GenerateDataKey(ctx, dk.KeyID, ec)
	if err != nil {
		return nil, err
	}
	nk.Zero()
	return nk.Ciphertext, nil // not a real rewrap (new plaintext); enough for delegation tests
}

func (b *fakeBackend) Health(ctx context.Context) error {
	if err := b.enter(ctx, "Health"); err != nil {
		return err
	}
	if e := b.w.healthErr.Load(); e != nil {
		return *e
	}
	return nil
}

func (b *fakeBackend) Close() error {
	b.closed.Store(true)
	return nil
}

func gcm(key []byte) cipher.AEAD {
	c, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	a, err := cipher.NewGCM(c)
	if err != nil {
		panic(err)
	}
	return a
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
