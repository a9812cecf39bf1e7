package sse

import (
	"bytes"
	"log/slog"
	"net/http"
	"testing"

	"github.com/envkms/kms"
	"github.com/stretchr/testify/require"
)

var _ KeyManager = (*kms.Manager)(nil)

// newManager starts a real kms.Manager on the local backend in a temp dir
// with keys "default" and "app".
func newManager(t testing.TB) *kms.Manager {
	t.Helper()
	m := kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler)))
	err := m.Configure(ctx, kms.Config{
		BackendType:     kms.BackendLocal,
		KeyDir:          t.TempDir(),
		MasterKey:       kms.Secret("correct horse battery staple, test only"),
		DefaultKeyID:    "default",
		EnableCache:     new(true),
		MaxCachedKeys:   100,
		CacheTTLSeconds: 60,
	})
	require.NoError(t, err)
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(ctx) })
	for _, id := range []string{"default", "app"} {
		_, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: id})
		require.NoError(t, err)
	}
	return m
}

// TestWithKMSManager runs the KMS-backed kinds against the real Manager:
// round trip, multipart, unknown and disabled keys, rotation by Rekey.
func TestWithKMSManager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local-backend Manager")
	}
	m := newManager(t)
	e, err := New(m, WithSegmentSize(testSegment))
	require.NoError(t, err)
	data := randBytes(1500)
	for _, req := range []*Request{{Kind: KindS3}, {Kind: KindKMS, KMSKeyID: "app", KMSContext: map[string]string{"tenant": "t1"}}} {
		stored, meta := put(t, e, "b", "o", req, data)
		got, err := get(e, "b", "o", meta, nil, stored)
		require.NoError(t, err)
		require.Equal(t, data, got)
		h := ResponseHeaders(meta, nil)
		require.Equal(t, string(req.Kind), h.Get(HeaderSSE))
		if req.Kind == KindKMS {
			require.Equal(t, "app", h.Get(HeaderKMSKeyID))
		}
		// Moved to another path: the data key's context names the object.
		_, err = get(e, "b", "elsewhere", meta, nil, stored)
		requireSSEError(t, err, "InternalError", http.StatusInternalServerError, ErrTampered)

		// Master key rotation, then a fresh data key under the new version.
		_, err = m.RotateKey(ctx, "app")
		require.NoError(t, err)
		nm, err := e.Rekey(ctx, "b", "o", meta, nil, req)
		require.NoError(t, err)
		// (SSE-S3 seals under a bucket key: the rotation's generation
		// change makes a new one.)
		require.NotEqual(t, meta[metaKMSDataKey]+meta[metaKMSBucketKey], nm[metaKMSDataKey]+nm[metaKMSBucketKey])
		got, err = get(e, "b", "o", nm, nil, stored)
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
	plain, stored, meta := multipartObject(t, e, "b", "mp", &Request{Kind: KindKMS, KMSKeyID: "app"}, nil, []int{700, 700, 3})
	got, err := get(e, "b", "mp", meta, nil, stored)
	require.NoError(t, err)
	require.Equal(t, plain, got)

	_, err = e.EncryptObject(ctx, "b", "o", &Request{Kind: KindKMS, KMSKeyID: "nope"}, &bytes.Buffer{})
	requireSSEError(t, err, "KMS.NotFoundException", http.StatusBadRequest, ErrKMSKeyNotFound)
	require.NoError(t, m.DisableKey(ctx, "app"))
	_, err = e.EncryptObject(ctx, "b", "o", &Request{Kind: KindKMS, KMSKeyID: "app"}, &bytes.Buffer{})
	requireSSEError(t, err, "KMS.DisabledException", http.StatusBadRequest, ErrKMSKeyDisabled)
	// Existing objects still decrypt under a disabled key (as AWS KMS).
	got, err = get(e, "b", "mp", meta, nil, stored)
	require.NoError(t, err)
	require.Equal(t, plain, got)

	require.NoError(t, m.Stop(ctx))
	_, err = e.EncryptObject(ctx, "b", "o", &Request{Kind: KindS3}, &bytes.Buffer{})
	requireSSEError(t, err, "ServiceUnavailable", http.StatusServiceUnavailable, ErrKMS)
}
