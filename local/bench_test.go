package local

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/envkms/kms/backend"
)

var benchEC = backend.EncryptionContext{"bucket": "photos", "object": "2024/01/cat.jpg"}

func benchBackend(b *testing.B) *Backend {
	be := newTestBackend(b)
	mustCreate(b, be, "bench")
	return be
}

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkGenerateDataKey(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		dk, err := be.GenerateDataKey(ctx, "bench", benchEC)
		if err != nil {
			b.Fatal(err)
		}
		dk.Zero()
	}
	reportOps(b)
}

func BenchmarkGenerateDataKeyParallel(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			dk, err := be.GenerateDataKey(ctx, "bench", benchEC)
			if err != nil {
				b.Fatal(err)
			}
			dk.Zero()
		}
	})
	reportOps(b)
}

func BenchmarkDecrypt(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	dk := mustGenerate(b, be, "bench", benchEC)
	b.ReportAllocs()
	for b.Loop() {
		out, err := be.Decrypt(ctx, dk.Ciphertext, benchEC)
		if err != nil {
			b.Fatal(err)
		}
		out.Zero()
	}
	reportOps(b)
}

func BenchmarkDecryptParallel(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	dk := mustGenerate(b, be, "bench", benchEC)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := be.Decrypt(ctx, dk.Ciphertext, benchEC)
			if err != nil {
				b.Fatal(err)
			}
			out.Zero()
		}
	})
	reportOps(b)
}

func BenchmarkRewrap(b *testing.B) {
	be := benchBackend(b)
	ctx := context.Background()
	dk := mustGenerate(b, be, "bench", benchEC)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Rewrap(ctx, dk.Ciphertext, benchEC); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b)
}

// BenchmarkBaselineAESGCM is the floor under GenerateDataKey: 32 random
// bytes, a random nonce and one AES-256-GCM seal of 32 bytes with the same
// associated data, no key lookup or formatting.
func BenchmarkBaselineAESGCM(b *testing.B) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	aead, err := newGCM(key)
	if err != nil {
		b.Fatal(err)
	}
	aad := benchEC.Canonical()
	pt := make([]byte, 32)
	out := make([]byte, 0, nonceSize+32+tagSize)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = rand.Read(pt)
		nonce := out[:nonceSize]
		_, _ = rand.Read(nonce)
		_ = aead.Seal(out[:nonceSize], nonce, pt, aad)
	}
	reportOps(b)
}

// BenchmarkNew is the unlock cost of opening an existing key directory with
// the production Argon2id parameters (DefaultKDFParams()): paid once per New
// (i.e. per Manager Start), never per call.
func BenchmarkNew(b *testing.B) {
	dir := b.TempDir()
	cfg := Config{Dir: dir, MasterKey: testMasterKey()}
	first, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	_ = first.Close()
	b.ReportAllocs()
	for b.Loop() {
		be, err := New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		_ = be.Close()
	}
}

// BenchmarkCreateKey includes the crash-safe write (temp file, two fsyncs,
// rename).
func BenchmarkCreateKey(b *testing.B) {
	be := newTestBackend(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.CreateKey(ctx, backend.CreateKeyRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotateKey rotates keys that hold a few versions (the key file is
// re-read, extended and rewritten crash-safely under the directory lock).
func BenchmarkRotateKey(b *testing.B) {
	be := newTestBackend(b)
	ctx := context.Background()
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = mustCreate(b, be, "").KeyID
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := be.RotateKey(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportOps(b)
}
