package sse

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/memory"
)

// slowBackend is backend/memory behind a fixed latency, counting the data-key
// calls that reach it and remembering every data key it hands out.
type slowBackend struct {
	backend.Backend
	latency       time.Duration
	gen, dec      atomic.Int64
	mu            sync.Mutex
	seenPlaintext [][]byte
}

func (s *slowBackend) GenerateDataKey(ctx context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error) {
	s.gen.Add(1)
	time.Sleep(s.latency)
	dk, err := s.Backend.GenerateDataKey(ctx, keyID, ec)
	if err == nil {
		s.mu.Lock()
		s.seenPlaintext = append(s.seenPlaintext, bytes.Clone(dk.Plaintext))
		s.mu.Unlock()
	}
	return dk, err
}

func (s *slowBackend) Decrypt(ctx context.Context, ct []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	s.dec.Add(1)
	time.Sleep(s.latency)
	return s.Backend.Decrypt(ctx, ct, ec)
}

func (s *slowBackend) calls() int64 { return s.gen.Load() + s.dec.Load() }

// newSlowManager starts a kms.Manager (cache on) over backend/memory with
// keys "default" and "app" behind latency.
func newSlowManager(t testing.TB, latency time.Duration) (*kms.Manager, *slowBackend) {
	t.Helper()
	sb := &slowBackend{latency: latency}
	m := kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler)),
		kms.WithBackend("slow-memory", func(ctx context.Context, cfg kms.Config) (kms.Backend, error) {
			b, err := memory.Open(ctx, cfg.BackendOptions.Decode)
			if err != nil {
				return nil, err
			}
			sb.Backend = b
			return sb, nil
		}))
	require.NoError(t, m.Configure(ctx, kms.Config{
		BackendType:     "slow-memory",
		DefaultKeyID:    "default",
		BackendOptions:  kms.BackendOptions(`{"keys": ["default", "app"]}`),
		EnableCache:     new(true),
		MaxCachedKeys:   10000,
		CacheTTLSeconds: 300,
	}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(ctx) })
	return m, sb
}

type storedObject struct {
	bucket, object string
	data, stored   []byte
	meta           map[string]string
}

// TestBucketKeysCountedAtBackend is issue 14's proof: 400 SSE-KMS PUTs with
// a bucket key and 400 SSE-S3 PUTs make a handful of backend calls, and so
// do GETs of all of them after ClearCache; without a bucket key SSE-KMS
// makes one call per object.
func TestBucketKeysCountedAtBackend(t *testing.T) {
	m, sb := newSlowManager(t, time.Millisecond)
	e, err := New(m, WithSegmentSize(testSegment))
	require.NoError(t, err)

	var objs []storedObject
	for i := range 400 {
		for _, req := range []*Request{
			{Kind: KindKMS, KMSKeyID: "app", BucketKeyEnabled: true},
			{Kind: KindS3},
		} {
			o := storedObject{bucket: "photos", object: fmt.Sprintf("%s/%04d", req.Kind, i), data: randBytes(300 + i)}
			o.stored, o.meta = put(t, e, o.bucket, o.object, req, o.data)
			objs = append(objs, o)
		}
	}
	t.Logf("800 PUTs: %d GenerateDataKey, %d Decrypt at the backend", sb.gen.Load(), sb.dec.Load())
	require.LessOrEqual(t, sb.calls(), int64(4))
	require.Equal(t, "true", objs[0].meta[HeaderBucketKeyEnabled])
	require.Empty(t, objs[1].meta[HeaderBucketKeyEnabled], "SSE-S3: no bucket-key header, as S3")

	m.ClearCache()
	before := sb.calls()
	for _, o := range objs {
		got, err := get(e, o.bucket, o.object, o.meta, nil, o.stored)
		require.NoError(t, err)
		require.Equal(t, o.data, got)
	}
	t.Logf("800 GETs after ClearCache: %d backend calls", sb.calls()-before)
	require.LessOrEqual(t, sb.calls()-before, int64(4))
	require.GreaterOrEqual(t, sb.calls()-before, int64(1), "ClearCache must reach bucket keys")

	// Without a bucket key SSE-KMS keeps S3's semantics: a data key each.
	before = sb.gen.Load()
	for i := range 20 {
		_, meta := put(t, e, "photos", fmt.Sprintf("own/%d", i), &Request{Kind: KindKMS, KMSKeyID: "app"}, []byte("x"))
		require.Equal(t, formatVersion3, meta[metaVersion])
		require.Contains(t, meta, metaKMSDataKey)
	}
	require.Equal(t, int64(20), sb.gen.Load()-before)
}

// TestBucketKeyInvalidation: DisableKey, ScheduleKeyDeletion, ClearCache
// and RotateKey take effect on cached bucket keys when they return.
func TestBucketKeyInvalidation(t *testing.T) {
	m, sb := newSlowManager(t, 0)
	e, err := New(m, WithSegmentSize(testSegment))
	require.NoError(t, err)
	bk := &Request{Kind: KindKMS, KMSKeyID: "app", BucketKeyEnabled: true}
	stored, meta := put(t, e, "b", "o", bk, []byte("one"))
	_, _ = put(t, e, "b", "o2", bk, []byte("two"))
	require.Equal(t, int64(1), sb.gen.Load())

	// Rotation: the next bucket key is made under the new version.
	v1, _, err := sb.Backend.(*memory.Backend).CiphertextVersion(mustWrapped(t, meta))
	require.NoError(t, err)
	_, err = m.RotateKey(ctx, "app")
	require.NoError(t, err)
	_, meta2 := put(t, e, "b", "o3", bk, []byte("three"))
	_, v2, err := sb.Backend.(*memory.Backend).CiphertextVersion(mustWrapped(t, meta2))
	require.NoError(t, err)
	_, ver1, _ := sb.Backend.(*memory.Backend).CiphertextVersion(mustWrapped(t, meta))
	require.Greater(t, v2, ver1, "key %s", v1)

	// ClearCache: the next GET asks the backend.
	m.ClearCache()
	dec := sb.dec.Load()
	got, err := get(e, "b", "o", meta, nil, stored)
	require.NoError(t, err)
	require.Equal(t, "one", string(got))
	require.Equal(t, dec+1, sb.dec.Load())

	// DisableKey: no new object under the cached bucket key.
	require.NoError(t, m.DisableKey(ctx, "app"))
	_, err = e.EncryptObject(ctx, "b", "o4", bk, &bytes.Buffer{})
	requireSSEError(t, err, "KMS.DisabledException", 400, ErrKMSKeyDisabled)
	got, err = get(e, "b", "o", meta, nil, stored) // reads go on, as AWS KMS
	require.NoError(t, err)
	require.Equal(t, "one", string(got))

	// ScheduleKeyDeletion: not even reads from the cached bucket key.
	_, err = m.ScheduleKeyDeletion(ctx, "app", 7)
	require.NoError(t, err)
	_, err = get(e, "b", "o", meta, nil, stored)
	requireSSEError(t, err, "KMS.KMSInvalidStateException", 400, ErrKMSKeyInvalidState)

	// Stop: SSE-S3 PUTs fail rather than go on from memory.
	_, _ = put(t, e, "b", "s3", &Request{Kind: KindS3}, []byte("x"))
	require.NoError(t, m.Stop(ctx))
	_, err = e.EncryptObject(ctx, "b", "s3-2", &Request{Kind: KindS3}, &bytes.Buffer{})
	requireSSEError(t, err, "ServiceUnavailable", 503, ErrKMS)
}

func mustWrapped(t *testing.T, meta map[string]string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(meta[metaKMSBucketKey])
	require.NoError(t, err)
	require.NotEmpty(t, b)
	return b
}

// TestBucketKeyLimits: a bucket key seals at most maxObjects objects and
// lives at most maxAge; slots are per bucket, kind, key and context.
func TestBucketKeyLimits(t *testing.T) {
	e, km := newTestEncryptor(t, WithBucketKeyLimits(time.Hour, 3))
	for i := range 7 {
		put(t, e, "b", fmt.Sprint(i), &Request{Kind: KindS3}, []byte("x"))
	}
	require.Equal(t, 3, km.gen) // 3 + 3 + 1
	require.Equal(t, uint64(4), e.BucketKeyStats().Reused)

	e, km = newTestEncryptor(t, WithBucketKeyLimits(30*time.Millisecond, 0))
	put(t, e, "b", "1", &Request{Kind: KindS3}, []byte("x"))
	put(t, e, "b", "2", &Request{Kind: KindS3}, []byte("x"))
	require.Equal(t, 1, km.gen)
	time.Sleep(60 * time.Millisecond)
	put(t, e, "b", "3", &Request{Kind: KindS3}, []byte("x"))
	require.Equal(t, 2, km.gen)

	// Separate slots: another bucket, kind, key or client context.
	for _, p := range []struct {
		bucket string
		req    *Request
	}{
		{"other", &Request{Kind: KindS3}},
		{"b", &Request{Kind: KindKMS, BucketKeyEnabled: true}},
		{"b", &Request{Kind: KindKMS, KMSKeyID: "other", BucketKeyEnabled: true}},
		{"b", &Request{Kind: KindKMS, KMSKeyID: "other", BucketKeyEnabled: true, KMSContext: map[string]string{"a": "b"}}},
	} {
		before := km.gen
		put(t, e, p.bucket, "x", p.req, []byte("x"))
		put(t, e, p.bucket, "y", p.req, []byte("x"))
		require.Equal(t, before+1, km.gen, "%s %+v", p.bucket, p.req)
	}

	_, err := New(newFakeKMS(), WithBucketKeyLimits(-1, 0))
	requireSSEError(t, err, "InvalidArgument", 400, ErrInvalidArgument)

	// WithoutBucketKeys: version 1, one data key per object.
	e, km = newTestEncryptor(t, WithoutBucketKeys())
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindS3}, []byte("x"))
	put(t, e, "b", "o2", &Request{Kind: KindS3}, []byte("x"))
	require.Equal(t, 2, km.gen)
	require.Equal(t, formatVersion3, meta[metaVersion])
	got, err := get(e, "b", "o", meta, nil, stored)
	require.NoError(t, err)
	require.Equal(t, "x", string(got))
}

// TestBucketKeyConcurrentPuts: concurrent PUTs for one slot share one KMS
// call.
func TestBucketKeyConcurrentPuts(t *testing.T) {
	m, sb := newSlowManager(t, 5*time.Millisecond)
	e, err := New(m, WithSegmentSize(testSegment))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			stored, meta := put(t, e, "b", fmt.Sprint(i), &Request{Kind: KindS3}, []byte("data"))
			got, err := get(e, "b", fmt.Sprint(i), meta, nil, stored)
			if err != nil || string(got) != "data" {
				t.Errorf("object %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(1), sb.gen.Load())
	require.Equal(t, int64(0), sb.dec.Load())
}

// TestBucketKeyTamper: a bucket-key object moved to another name or bucket,
// or with altered entries, fails; no key shows in errors or printing.
func TestBucketKeyTamper(t *testing.T) {
	m, sb := newSlowManager(t, 0)
	e, err := New(m, WithSegmentSize(testSegment))
	require.NoError(t, err)
	data := randBytes(700)
	req := &Request{Kind: KindKMS, KMSKeyID: "app", BucketKeyEnabled: true, KMSContext: map[string]string{"t": "1"}}
	stored, meta := put(t, e, "b", "o", req, data)
	s3stored, s3meta := put(t, e, "b", "s", &Request{Kind: KindS3}, data)
	// The other bucket has its own bucket key, cached.
	put(t, e, "b2", "o", req, data)

	var errs []error
	check := func(name string, err error, sentinel error) {
		t.Helper()
		require.ErrorIs(t, err, sentinel, name)
		errs = append(errs, err)
	}
	for _, cached := range []bool{true, false} {
		if !cached {
			m.ClearCache()
		}
		for _, o := range []struct {
			stored []byte
			meta   map[string]string
			object string
		}{{stored, meta, "o"}, {s3stored, s3meta, "s"}} {
			_, err := get(e, "b", o.object+".renamed", o.meta, nil, o.stored)
			check("renamed", err, ErrTampered)
			_, err = get(e, "b2", o.object, o.meta, nil, o.stored)
			check("other bucket", err, ErrTampered)
			_, err = get(e, "b2", "o", o.meta, nil, o.stored)
			check("other bucket, other name", err, ErrTampered)

			w := mustWrapped(t, o.meta)
			for _, i := range []int{0, len(w) / 2, len(w) - 1} {
				bad := maps.Clone(o.meta)
				w2 := bytes.Clone(w)
				w2[i] ^= 1
				bad[metaKMSBucketKey] = base64.StdEncoding.EncodeToString(w2)
				_, err = get(e, "b", o.object, bad, nil, o.stored)
				require.Error(t, err)
				errs = append(errs, err)
			}
			edits := map[string]struct {
				edit func(map[string]string)
				want error
			}{
				"key id": {func(m map[string]string) {
					m[metaKMSKeyID] = map[string]string{"app": "default", "default": "app"}[m[metaKMSKeyID]]
				}, ErrTampered},
				"as a data key (v3)": {func(m map[string]string) { m[metaVersion] = "3" }, ErrCorruptMetadata},
				"as a v3 data key": {func(m map[string]string) {
					m[metaVersion] = "3"
					m[metaKMSDataKey] = m[metaKMSBucketKey]
					delete(m, metaKMSBucketKey)
				}, ErrTampered},
				"both keys":          {func(m map[string]string) { m[metaKMSDataKey] = m[metaKMSBucketKey] }, ErrCorruptMetadata},
				"no wrapped key":     {func(m map[string]string) { delete(m, metaKMSBucketKey) }, ErrCorruptMetadata},
				"SSE-C kind":         {func(m map[string]string) { m[metaKind] = kindNameC }, ErrCorruptMetadata},
				"sealed key flipped": {func(m map[string]string) { m[metaSealedKey] = flipB64(m[metaSealedKey]) }, ErrTampered},
			}
			for name, ed := range edits {
				bad := maps.Clone(o.meta)
				ed.edit(bad)
				_, err := get(e, "b", o.object, bad, nil, o.stored)
				check(name, err, ed.want)
			}
			if o.object == "o" {
				bad := maps.Clone(o.meta)
				bad[metaKMSContext] = encodeContext(map[string]string{"t": "2"})
				_, err = get(e, "b", "o", bad, nil, o.stored)
				check("context", err, ErrTampered)
				bad = maps.Clone(o.meta)
				delete(bad, metaBucketKey)
				_, err = get(e, "b", "o", bad, nil, o.stored)
				check("no bucket-key entry", err, ErrCorruptMetadata)
			}
		}
	}

	// No key material in errors or in printing the Encryptor.
	var text strings.Builder
	for _, err := range errs {
		fmt.Fprintf(&text, "%v %+v %#v %s\n", err, err, err, err)
	}
	fmt.Fprintf(&text, "%v %+v %#v %s %v", e, e, e, e.bk, e.BucketKeyStats())
	sb.mu.Lock()
	keys := sb.seenPlaintext
	sb.mu.Unlock()
	require.NotEmpty(t, keys)
	for _, k := range keys {
		for _, enc := range []string{string(k), hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)),
			base64.StdEncoding.EncodeToString(k), fmt.Sprint(k), fmt.Sprintf("%#v", k)} {
			require.NotContains(t, text.String(), enc)
		}
	}
}

func flipB64(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s)
	b[len(b)/2] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

// TestBucketKeyMultipartAndRekey: uploads seal their key under the bucket
// key; Rekey moves objects between per-object and bucket keys.
func TestBucketKeyMultipartAndRekey(t *testing.T) {
	e, km := newTestEncryptor(t)
	req := &Request{Kind: KindKMS, KMSKeyID: "other", BucketKeyEnabled: true}
	plain, stored, meta := multipartObject(t, e, "b", "mp", req, nil, []int{300, 300, 7})
	require.Equal(t, formatVersion4, meta[metaVersion])
	got, err := get(e, "b", "mp", meta, nil, stored)
	require.NoError(t, err)
	require.Equal(t, plain, got)
	require.Equal(t, 1, km.gen)
	require.Equal(t, 0, km.dec, "parts and the GET use the cached bucket key")

	for _, r := range []*Request{{Kind: KindKMS, KMSKeyID: "other"}, {Kind: KindS3}, {Kind: KindC, CustomerKey: testKey(t)}, req} {
		nm, err := e.Rekey(ctx, "b", "mp", meta, nil, r)
		require.NoError(t, err)
		got, err := get(e, "b", "mp", nm, r.CustomerKey, stored)
		require.NoError(t, err)
		require.Equal(t, plain, got)
	}
	nm, err := e.Rekey(ctx, "b", "mp", meta, nil, &Request{Kind: KindKMS, KMSKeyID: "other"})
	require.NoError(t, err)
	require.Equal(t, formatVersion3, nm[metaVersion])
	back, err := e.Rekey(ctx, "b", "mp", nm, nil, req)
	require.NoError(t, err)
	require.Equal(t, formatVersion4, back[metaVersion])
	got, err = get(e, "b", "mp", back, nil, stored)
	require.NoError(t, err)
	require.Equal(t, plain, got)
}
