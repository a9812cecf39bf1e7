package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/vault"
)

// Benchmarks against the shared dev server (in-memory storage, loopback).
// Baseline: the bare hashicorp/vault/api client making the same transit
// calls the backend makes. Run:
//
//	go test -run '^$' -bench BenchmarkVault -benchtime 3000x -count 5 .

var vaultBenchEC = backend.EncryptionContext{"bucket": "photos", "object": "2024/cat.jpg"}

type vaultBenchEnv struct {
	srv   *vaultServer
	b     *vault.Backend
	bare  *api.Client
	keyID string
	dk    backend.DataKey
}

func newVaultBenchEnv(b *testing.B) *vaultBenchEnv {
	b.Helper()
	srv := sharedDevVault(b)
	ctx := context.Background()
	be, err := vault.New(ctx, vault.Config{Address: srv.Addr, Token: srv.Token, Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = be.Close() })
	id := "bench-" + backend.NewKeyID()
	if _, err := be.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id}); err != nil {
		b.Fatal(err)
	}
	dk, err := be.GenerateDataKey(ctx, id, vaultBenchEC)
	if err != nil {
		b.Fatal(err)
	}
	// The bare client: same address and token, no retries, like the backend.
	cfg := api.DefaultConfig()
	cfg.Address = srv.Addr
	cfg.MaxRetries = 0
	bare, err := api.NewClient(cfg)
	if err != nil {
		b.Fatal(err)
	}
	bare.SetToken(srv.Token)
	return &vaultBenchEnv{srv: srv, b: be, bare: bare, keyID: id, dk: dk}
}

func vaultOpsPerSec(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkVaultGenerateDataKey(b *testing.B) {
	e := newVaultBenchEnv(b)
	ctx := context.Background()
	ad := base64.StdEncoding.EncodeToString(vaultBenchEC.Canonical())
	b.Run("backend", func(b *testing.B) {
		b.SetBytes(backend.DataKeySize)
		b.ReportAllocs()
		for b.Loop() {
			dk, err := e.b.GenerateDataKey(ctx, e.keyID, vaultBenchEC)
			if err != nil {
				b.Fatal(err)
			}
			dk.Zero()
		}
		vaultOpsPerSec(b)
	})
	b.Run("bare-api", func(b *testing.B) {
		b.SetBytes(backend.DataKeySize)
		b.ReportAllocs()
		pt := make([]byte, backend.DataKeySize)
		for b.Loop() {
			_, _ = rand.Read(pt)
			s, err := e.bare.Logical().WriteWithContext(ctx, "transit/encrypt/"+e.keyID, map[string]any{
				"plaintext":       base64.StdEncoding.EncodeToString(pt),
				"associated_data": ad,
			})
			if err != nil || s.Data["ciphertext"] == nil {
				b.Fatal(err)
			}
		}
		vaultOpsPerSec(b)
	})
}

func BenchmarkVaultDecrypt(b *testing.B) {
	e := newVaultBenchEnv(b)
	ctx := context.Background()
	ad := base64.StdEncoding.EncodeToString(vaultBenchEC.Canonical())
	// The transit ciphertext inside the blob "evt1:<id>:vault:v1:...".
	vaultCT := string(e.dk.Ciphertext[len("evt1:")+len(e.keyID)+1:])
	b.Run("backend", func(b *testing.B) {
		b.SetBytes(backend.DataKeySize)
		b.ReportAllocs()
		for b.Loop() {
			dk, err := e.b.Decrypt(ctx, e.dk.Ciphertext, vaultBenchEC)
			if err != nil {
				b.Fatal(err)
			}
			dk.Zero()
		}
		vaultOpsPerSec(b)
	})
	b.Run("bare-api", func(b *testing.B) {
		b.SetBytes(backend.DataKeySize)
		b.ReportAllocs()
		for b.Loop() {
			s, err := e.bare.Logical().WriteWithContext(ctx, "transit/decrypt/"+e.keyID, map[string]any{
				"ciphertext":      vaultCT,
				"associated_data": ad,
			})
			if err != nil {
				b.Fatal(err)
			}
			pt, err := base64.StdEncoding.DecodeString(s.Data["plaintext"].(string))
			if err != nil || len(pt) != backend.DataKeySize {
				b.Fatal("bad plaintext")
			}
		}
		vaultOpsPerSec(b)
	})
}

// BenchmarkVaultManagerDecrypt: repeated Decrypt of one ciphertext through
// a kms.Manager on the vault backend, with and without its data-key cache.
func BenchmarkVaultManagerDecrypt(b *testing.B) {
	e := newVaultBenchEnv(b)
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		name := "uncached"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			m := kms.NewManager(kms.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			cfg := kms.DefaultConfig()
			cfg.BackendType = kms.BackendVault
			cfg.Address = e.srv.Addr
			cfg.AuthMethod = &kms.AuthMethod{Token: kms.Secret(e.srv.Token)}
			cfg.EnableCache = new(cached)
			if err := m.Configure(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			if err := m.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = m.Stop(ctx) }()
			b.SetBytes(backend.DataKeySize)
			b.ReportAllocs()
			for b.Loop() {
				dk, err := m.Decrypt(ctx, e.dk.Ciphertext, vaultBenchEC)
				if err != nil {
					b.Fatal(err)
				}
				dk.Zero()
			}
			vaultOpsPerSec(b)
		})
	}
}

// BenchmarkVaultOverhead alternates one call through the backend and the
// same transit call through the bare api client in every iteration, so both
// see the same machine load, and reports the backend's overhead in percent.
func BenchmarkVaultOverhead(b *testing.B) {
	e := newVaultBenchEnv(b)
	ctx := context.Background()
	ad := base64.StdEncoding.EncodeToString(vaultBenchEC.Canonical())
	vaultCT := string(e.dk.Ciphertext[len("evt1:")+len(e.keyID)+1:])
	pt := make([]byte, backend.DataKeySize)
	for _, tc := range []struct {
		name    string
		backend func() error
		bare    func() error
	}{
		{"GenerateDataKey", func() error {
			dk, err := e.b.GenerateDataKey(ctx, e.keyID, vaultBenchEC)
			dk.Zero()
			return err
		}, func() error {
			_, _ = rand.Read(pt)
			_, err := e.bare.Logical().WriteWithContext(ctx, "transit/encrypt/"+e.keyID, map[string]any{
				"plaintext": base64.StdEncoding.EncodeToString(pt), "associated_data": ad})
			return err
		}},
		{"Decrypt", func() error {
			dk, err := e.b.Decrypt(ctx, e.dk.Ciphertext, vaultBenchEC)
			dk.Zero()
			return err
		}, func() error {
			s, err := e.bare.Logical().WriteWithContext(ctx, "transit/decrypt/"+e.keyID, map[string]any{
				"ciphertext": vaultCT, "associated_data": ad})
			if err == nil {
				_, err = base64.StdEncoding.DecodeString(s.Data["plaintext"].(string))
			}
			return err
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var tb, tr time.Duration
			i := 0
			for b.Loop() {
				// Alternate which goes first, so neither always gets a warm
				// connection or cache line.
				first, second, t1, t2 := tc.backend, tc.bare, &tb, &tr
				if i%2 == 1 {
					first, second, t1, t2 = tc.bare, tc.backend, &tr, &tb
				}
				i++
				start := time.Now()
				if err := first(); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := second(); err != nil {
					b.Fatal(err)
				}
				*t1 += mid.Sub(start)
				*t2 += time.Since(mid)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tb.Nanoseconds())/n, "backend-ns/op")
			b.ReportMetric(float64(tr.Nanoseconds())/n, "bare-ns/op")
			b.ReportMetric(100*(float64(tb)-float64(tr))/float64(tr), "overhead-%")
		})
	}
}
