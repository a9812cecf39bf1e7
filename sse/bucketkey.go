package sse

// S3 Bucket Keys (design §5). With a bucket key, the KMS is asked for one
// data key per bucket, master key and client context — the bucket key,
// bound to the bucket's ARN — instead of one per object. The bucket key is
// the KEK of sealOEK: every object's OEK is sealed under
// HKDF-SHA256(bucket key, fresh 32-byte salt, kind || bucket || object), the
// same construction as a per-object data key, so the seal is still bound to
// the object's path. Each object records the wrapped bucket key (metadata
// version 2, FORMAT.md), so a GET needs the KMS only when that bucket key is
// not cached.
//
// The Encryptor keeps two caches of package cache (LRU + TTL, values wiped
// when dropped): bucket keys for new objects, by (kind, requested key id,
// KMS context), and unwrapped bucket keys for reads, by (wrapped key, KMS
// context). A bucket key seals at most maxObjects objects and lives at most
// maxAge; then the next PUT asks the KMS for a new one (under the master
// key's newest version). When the KeyManager reports an invalidation
// generation (kms.Manager.CacheGeneration), every entry is tagged with the
// generation read before the KMS call that produced it and is used only
// while it is unchanged.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/cache"
)

// Bucket-key defaults. A bucket key never keys AES-GCM itself: each object
// gets its own seal key by HKDF with a random 256-bit salt, so no nonce
// bound applies to the bucket key directly. The limits bound what one key in
// memory protects and how long a KMS change goes unnoticed by a KeyManager
// that reports no generation:
//
//   - 2^20 objects: 2^12 times below the 2^32-messages AES-GCM random-nonce
//     bound (NIST SP 800-38D) even if every object were sealed under the
//     bucket key directly, where the nonce-collision probability would be
//     about 2^40/2^97 = 2^-57. At 2^20 objects per KMS call the KMS load is
//     negligible for any object rate.
//   - 10 minutes: a rotated, disabled or deleted master key stops being used
//     for new objects within 10 minutes even without a generation report
//     (kms.Manager reports one, so there it takes effect at once), and a
//     leaked in-memory key covers at most 10 minutes of writes. One KMS call
//     per bucket and key every 10 minutes is negligible too.
const (
	DefaultBucketKeyMaxAge     = 10 * time.Minute
	DefaultBucketKeyMaxObjects = 1 << 20
	// DefaultBucketKeyCacheSize is the most bucket keys each cache holds
	// (for writes and for reads).
	DefaultBucketKeyCacheSize = 1024
)

// WithBucketKeyLimits sets how long a bucket key is used and for how many
// objects (new ones sealed under it: PUTs, multipart uploads, Rekey) before
// a new one is made, and how long an unwrapped bucket key stays cached for
// reads. 0 keeps a default (DefaultBucketKeyMaxAge, DefaultBucketKeyMaxObjects);
// negative values make New fail.
func WithBucketKeyLimits(maxAge time.Duration, maxObjects int) Option {
	return func(e *Encryptor) {
		e.bkConfig.maxAge, e.bkConfig.maxObjects = maxAge, maxObjects
	}
}

// WithBucketKeyCacheSize sets the most bucket keys each of the Encryptor's
// two caches holds (default DefaultBucketKeyCacheSize); beyond it the least
// recently used is dropped and wiped.
func WithBucketKeyCacheSize(n int) Option {
	return func(e *Encryptor) { e.bkConfig.cacheSize = n }
}

// WithoutBucketKeys makes every new SSE-S3 and SSE-KMS object get its own
// KMS data key (metadata version 1), as before bucket keys: one KMS call per
// PUT. BucketKeyEnabled is then recorded and echoed only. Objects written
// with a bucket key stay readable.
func WithoutBucketKeys() Option { return func(e *Encryptor) { e.bkConfig.disabled = true } }

// InvalidationReporter is an optional interface of a KeyManager (*kms.Manager
// has it): CacheGeneration changes whenever cached keys must not be used any
// more (cache cleared, key disabled, deletion scheduled, key rotated,
// restart). The Encryptor then drops every bucket key it holds before using
// or caching one, so those calls take effect on bucket keys at once. Without
// it, bucket keys live until their age or object limit.
type InvalidationReporter interface {
	CacheGeneration() uint64
}

// BucketKeyStats counts the Encryptor's bucket-key work.
type BucketKeyStats struct {
	Generated uint64 // bucket keys asked from the KMS (GenerateDataKey)
	Reused    uint64 // objects sealed under a cached bucket key
	Unwrapped uint64 // bucket keys unwrapped by the KMS for reads (Decrypt)
	ReadHits  uint64 // reads served by a cached bucket key
	Dropped   uint64 // times an invalidation generation change dropped every bucket key
}

// BucketKeyStats returns the counters since New.
func (e *Encryptor) BucketKeyStats() BucketKeyStats {
	b := e.bk
	return BucketKeyStats{Generated: b.generated.Load(), Reused: b.reused.Load(),
		Unwrapped: b.unwrapped.Load(), ReadHits: b.readHits.Load(), Dropped: b.dropped.Load()}
}

// ClearBucketKeys drops and wipes every cached bucket key.
func (e *Encryptor) ClearBucketKeys() { e.bk.clear() }

type bucketKeyConfig struct {
	maxAge     time.Duration
	maxObjects int
	cacheSize  int
	disabled   bool
}

// writeKey is a bucket key for new objects. The cache stores its own copy
// and hands out copies (key), which their user clears.
type writeKey struct {
	key     []byte
	wrapped []byte // the KMS ciphertext; never changed once made
	keyID   string
	gen     uint64
	uses    *atomic.Int64 // shared by the copies
}

func (k writeKey) String() string { return "sse.writeKey{[REDACTED]}" }

// readKey is an unwrapped bucket key for reads.
type readKey struct {
	key   []byte
	keyID string
	gen   uint64
}

func (k readKey) String() string { return "sse.readKey{[REDACTED]}" }

type bucketKeys struct {
	disabled   bool
	maxObjects int64
	gen        InvalidationReporter // nil: none
	seen       atomic.Uint64        // the generation the caches hold entries of

	write *cache.Cache[writeKey]
	read  *cache.Cache[readKey]

	mu    sync.Mutex
	calls map[cache.Key]*bkCall // bucket keys being generated

	generated, reused, unwrapped, readHits, dropped atomic.Uint64
	inst                                            *sseInstruments // set by New
}

// bkCall is a GenerateDataKey in flight for one write slot: other PUTs for
// the same slot wait for it instead of calling the KMS too.
type bkCall struct {
	done chan struct{}
	err  error
}

func (b *bucketKeys) String() string { return "sse.bucketKeys{[REDACTED]}" }

func newBucketKeys(km KeyManager, c bucketKeyConfig) (*bucketKeys, error) {
	if c.maxAge < 0 || c.maxObjects < 0 || c.cacheSize < 0 {
		return nil, errInvalidArgument("bucket key limits must not be negative")
	}
	if c.maxAge == 0 {
		c.maxAge = DefaultBucketKeyMaxAge
	}
	if c.maxObjects == 0 {
		c.maxObjects = DefaultBucketKeyMaxObjects
	}
	if c.cacheSize == 0 {
		c.cacheSize = DefaultBucketKeyCacheSize
	}
	cfg := cache.Config{MaxEntries: c.cacheSize, TTL: c.maxAge}
	w, err := cache.New(cfg, func(k writeKey) writeKey {
		k.key = append([]byte(nil), k.key...)
		return k
	}, func(k writeKey) { clear(k.key) })
	if err != nil {
		return nil, errInvalidArgument(fmt.Sprintf("bucket key cache: %v", err))
	}
	r, err := cache.New(cfg, func(k readKey) readKey {
		k.key = append([]byte(nil), k.key...)
		return k
	}, func(k readKey) { clear(k.key) })
	if err != nil {
		return nil, errInvalidArgument(fmt.Sprintf("bucket key cache: %v", err))
	}
	b := &bucketKeys{disabled: c.disabled, maxObjects: int64(c.maxObjects), write: w, read: r, calls: map[cache.Key]*bkCall{}}
	if g, ok := km.(InvalidationReporter); ok {
		b.gen = g
		b.seen.Store(g.CacheGeneration())
	}
	return b, nil
}

func (b *bucketKeys) clear() {
	b.write.Clear()
	b.read.Clear()
}

// generation returns the KeyManager's generation, first dropping every
// cached key if it changed since the caches were filled. Entries put later
// with an older tag are refused by current.
func (b *bucketKeys) generation() uint64 {
	if b.gen == nil {
		return 0
	}
	g := b.gen.CacheGeneration()
	if old := b.seen.Load(); old != g && b.seen.CompareAndSwap(old, g) {
		b.dropped.Add(1)
		if b.inst != nil && b.inst.invalidations != nil {
			b.inst.invalidations.Add(context.Background(), 1)
		}
		b.clear()
	}
	// Expired keys are wiped on the way, without a sweeper goroutine.
	b.write.Sweep()
	b.read.Sweep()
	return g
}

// current reports whether an entry tagged g may be used now.
func (b *bucketKeys) current(g uint64) bool {
	return b.gen == nil || b.gen.CacheGeneration() == g
}

// bucketARN is the S3 ARN of a bucket, the aws:s3:arn context value of its
// bucket keys (as S3 does).
func bucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

// bucketKeyContext is the encryption context of a bucket key: the bucket ARN
// plus the client's context (SSE-KMS).
func bucketKeyContext(bucket string, client map[string]string) backend.EncryptionContext {
	ec := make(backend.EncryptionContext, len(client)+1)
	maps.Copy(ec, client)
	ec[contextKeyARN] = bucketARN(bucket)
	return ec
}

// useBucketKey reports whether a new object of req gets its key sealed under
// a bucket key: SSE-S3 always, SSE-KMS when asked.
func (e *Encryptor) useBucketKey(req *Request) bool {
	if e.bk.disabled {
		return false
	}
	return req.Kind == KindS3 || req.Kind == KindKMS && req.BucketKeyEnabled
}

// writeSlot addresses the bucket key of new objects of one kind, requested
// key id and KMS context (which names the bucket).
func writeSlot(kind, keyID string, canonicalContext []byte) cache.Key {
	return sha256.Sum256(bindingLabel("envkms/sse/v2/bucket-key-slot", kind, keyID, string(canonicalContext)))
}

// sealBucketKey seals oek under the bucket key for m's kind, keyID and the
// client's context, filling m's key entries.
func (e *Encryptor) sealBucketKey(ctx context.Context, bucket, object string, m *objectMeta, keyID string, client map[string]string, oek []byte) error {
	ec := bucketKeyContext(bucket, client)
	k, err := e.bk.acquire(ctx, e.km, m.kind, writeSlot(kindName(m.kind), keyID, ec.Canonical()), keyID, ec)
	if err != nil {
		return err
	}
	defer clear(k.key)
	sealed, err := sealOEK(k.key, oek, kindName(m.kind), bucket, object)
	if err != nil {
		return errTampered(err) // unreachable: HKDF and AES accept 32-byte keys
	}
	m.viaBucketKey = true
	m.kmsKeyID = k.keyID
	m.wrappedKey = append([]byte(nil), k.wrapped...)
	m.sealed = sealed
	return nil
}

// acquire returns a copy of the bucket key of slot (the caller clears
// key), counting one object against it, and makes a new one when there is
// none, or it is used up, expired or stale.
func (b *bucketKeys) acquire(ctx context.Context, km KeyManager, kind Kind, slot cache.Key, keyID string, ec backend.EncryptionContext) (writeKey, error) {
	for {
		g := b.generation()
		if k, ok := b.write.Get(slot); ok {
			if k.gen == g && b.current(k.gen) && k.uses.Add(1) <= b.maxObjects {
				b.reused.Add(1)
				b.inst.add(b.inst.uses, kind, opPut)
				return k, nil
			}
			clear(k.key)
		}
		b.mu.Lock()
		if c, ok := b.calls[slot]; ok {
			b.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return writeKey{}, errKMS(ctx.Err())
			}
			if c.err != nil && !isContextErr(c.err) {
				return writeKey{}, c.err
			}
			continue // use the new key, or try ourselves
		}
		c := &bkCall{done: make(chan struct{})}
		b.calls[slot] = c
		b.mu.Unlock()

		b.inst.add(b.inst.bkCalls, kind, opPut)
		k, err := b.generate(ctx, km, slot, keyID, ec, g)
		b.mu.Lock()
		delete(b.calls, slot)
		b.mu.Unlock()
		c.err = err
		close(c.done)
		return k, err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// generate asks the KMS for a new bucket key and caches it, tagged with g
// (read before the call), for writes and for reads.
func (b *bucketKeys) generate(ctx context.Context, km KeyManager, slot cache.Key, keyID string, ec backend.EncryptionContext, g uint64) (writeKey, error) {
	dk, err := km.GenerateDataKey(ctx, keyID, ec)
	if err != nil {
		return writeKey{}, errKMS(err)
	}
	defer dk.Zero()
	if len(dk.Plaintext) != backend.DataKeySize || len(dk.Ciphertext) == 0 || backend.ValidateKeyID(dk.KeyID) != nil {
		return writeKey{}, errKMS(fmt.Errorf("KMS returned a malformed data key"))
	}
	b.generated.Add(1)
	k := writeKey{key: append([]byte(nil), dk.Plaintext...), wrapped: append([]byte(nil), dk.Ciphertext...),
		keyID: dk.KeyID, gen: g, uses: new(atomic.Int64)}
	k.uses.Store(1)
	if b.current(g) {
		b.write.Put(slot, k) // stores a copy
		b.read.Put(cache.KeyFor(k.wrapped, ec.Canonical()), readKey{key: k.key, keyID: k.keyID, gen: g})
	}
	return k, nil
}

// openBucketKey returns the object key of an object sealed under a bucket
// key, unwrapping the bucket key with the KMS unless it is cached.
func (e *Encryptor) openBucketKey(ctx context.Context, bucket, object string, m *objectMeta) ([]byte, error) {
	b := e.bk
	ec := bucketKeyContext(bucket, m.kmsContext)
	rk := cache.KeyFor(m.wrappedKey, ec.Canonical())
	g := b.generation()
	k, ok := b.read.Get(rk)
	if ok && (k.gen != g || !b.current(k.gen)) {
		clear(k.key)
		ok = false
	}
	if ok {
		b.readHits.Add(1)
		e.inst.add(e.inst.uses, m.kind, opGet)
	} else {
		e.inst.add(e.inst.bkCalls, m.kind, opGet)
		dk, err := e.km.Decrypt(ctx, m.wrappedKey, ec)
		if err != nil {
			return nil, errKMS(err)
		}
		if len(dk.Plaintext) != backend.DataKeySize {
			dk.Zero()
			return nil, errKMS(fmt.Errorf("KMS returned a malformed data key"))
		}
		b.unwrapped.Add(1)
		k = readKey{key: append([]byte(nil), dk.Plaintext...), keyID: dk.KeyID, gen: g}
		dk.Zero()
		if b.current(g) {
			b.read.Put(rk, k)
		}
	}
	defer clear(k.key)
	// As for a per-object data key: the key id entry must name the key that
	// wraps the bucket key.
	if k.keyID != "" && k.keyID != m.kmsKeyID {
		return nil, errTampered(errKeyIDMismatch)
	}
	oek, err := openOEK(k.key, m.sealed, kindName(m.kind), bucket, object)
	if err != nil {
		return nil, errTampered(err)
	}
	return oek, nil
}
