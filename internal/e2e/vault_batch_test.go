package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/vault"
)

// countingProxy forwards to Vault and counts transit requests by path
// prefix ("decrypt", "encrypt").
type countingProxy struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingProxy) count(what string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[what]
}

func newCountingProxy(t *testing.T, addr string) (*countingProxy, string) {
	t.Helper()
	u, err := url.Parse(addr)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	c := &countingProxy{n: map[string]int{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, what := range []string{"decrypt", "encrypt"} {
			if strings.HasPrefix(r.URL.Path, "/v1/transit/"+what+"/") {
				c.mu.Lock()
				c.n[what]++
				c.mu.Unlock()
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return c, ts.URL
}

// RewrapBatch against real Vault: one batched transit/decrypt and one
// batched transit/encrypt per key (batch_input with associated_data per
// item), bad items failing alone, the rest under the newest version and
// still bound to their contexts; a key whose every item fails falls back to
// one by one.
func TestVaultRewrapBatchRoundTrips(t *testing.T) {
	srv := sharedDevVault(t)
	proxy, addr := newCountingProxy(t, srv.Addr)
	ctx := vaultTestCtx(t, 2*time.Minute)
	b, err := vault.New(ctx, vault.Config{Address: addr, Token: srv.Token, Timeout: 30 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ids := []string{"batch-a-" + backend.NewKeyID(), "batch-b-" + backend.NewKeyID()}
	for _, id := range ids {
		_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
		require.NoError(t, err)
	}
	const n = 40
	items := make([]backend.RewrapItem, n)
	plain := make([][]byte, n)
	for i := range items {
		ec := backend.EncryptionContext{"aws:s3:arn": fmt.Sprintf("arn:aws:s3:::b/o%d", i)}
		dk, err := b.GenerateDataKey(ctx, ids[i%2], ec)
		require.NoError(t, err)
		items[i] = backend.RewrapItem{Ciphertext: dk.Ciphertext, Context: ec}
		plain[i] = dk.Plaintext
	}
	for _, id := range ids {
		_, err := b.RotateKey(ctx, id)
		require.NoError(t, err)
	}
	items[3].Context = backend.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::b/other"}
	items[8].Ciphertext = []byte("not a blob")
	dec0, enc0 := proxy.count("decrypt"), proxy.count("encrypt")
	res, err := b.RewrapBatch(ctx, items)
	require.NoError(t, err)
	require.Len(t, res, n)
	require.Equal(t, 2, proxy.count("decrypt")-dec0, "one batched decrypt per key")
	require.Equal(t, 2, proxy.count("encrypt")-enc0, "one batched encrypt per key")
	for i, r := range res {
		if i == 3 || i == 8 {
			require.ErrorIs(t, r.Err, backend.ErrInvalidCiphertext, "item %d", i)
			continue
		}
		require.NoError(t, r.Err, "item %d", i)
		id, v, err := b.CiphertextVersion(r.Ciphertext)
		require.NoError(t, err)
		require.Equal(t, ids[i%2], id)
		require.Equal(t, 2, v)
		dk, err := b.Decrypt(ctx, r.Ciphertext, items[i].Context)
		require.NoError(t, err)
		require.Equal(t, plain[i], dk.Plaintext)
	}

	// Every item of a key failing: Vault answers 400; each still gets its
	// own error, the other key's items are rewrapped.
	bad := []backend.RewrapItem{
		{Ciphertext: items[0].Ciphertext, Context: backend.EncryptionContext{"x": "1"}},
		{Ciphertext: items[2].Ciphertext, Context: nil},
		items[1],
	}
	res, err = b.RewrapBatch(ctx, bad)
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, backend.ErrInvalidCiphertext)
	require.ErrorIs(t, res[1].Err, backend.ErrInvalidCiphertext)
	require.NoError(t, res[2].Err)

	// A disabled key's items fail with ErrKeyDisabled, as Rewrap's.
	require.NoError(t, b.DisableKey(ctx, ids[1]))
	res, err = b.RewrapBatch(ctx, items[:2])
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, backend.ErrKeyDisabled)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = b.RewrapBatch(cctx, items[:2])
	require.Error(t, err)
}
