package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/envkms/kms/local"
	"github.com/envkms/kms/stream"
)

// Benchmarks of the Manager on the local backend. Run:
//
//	go test -run '^$' -bench . -benchmem ./kms
//
// Baselines in the same run: the bare local.Backend (Manager overhead), and
// for Decrypt the cache off vs on.

func benchManager(b *testing.B, cache bool) (*Manager, EncryptionContext) {
	b.Helper()
	cfg := localConfig(newKeyDir(b, testMasterKey))
	cfg.EnableCache = new(cache)
	return startLocal(b, cfg), EncryptionContext{"bucket": "bench", "object": "obj"}
}

func BenchmarkGenerateDataKey(b *testing.B) {
	ctx := context.Background()
	b.Run("backend=local/bare", func(b *testing.B) {
		lb, err := local.New(ctx, local.Config{Dir: newKeyDir(b, testMasterKey), MasterKey: []byte(testMasterKey)})
		if err != nil {
			b.Fatal(err)
		}
		defer lb.Close()
		if _, err := lb.CreateKey(ctx, CreateKeyRequest{KeyID: "default"}); err != nil {
			b.Fatal(err)
		}
		ec := EncryptionContext{"bucket": "bench", "object": "obj"}
		b.ReportAllocs()
		for b.Loop() {
			dk, err := lb.GenerateDataKey(ctx, "default", ec)
			if err != nil {
				b.Fatal(err)
			}
			dk.Zero()
		}
	})
	for _, cache := range []bool{false, true} {
		name := map[bool]string{false: "manager/cache=off", true: "manager/cache=on"}[cache]
		b.Run(name, func(b *testing.B) {
			m, ec := benchManager(b, cache)
			b.ReportAllocs()
			for b.Loop() {
				dk, err := m.GenerateDataKey(ctx, "", ec)
				if err != nil {
					b.Fatal(err)
				}
				dk.Zero()
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			m, ec := benchManager(b, cache)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					dk, err := m.GenerateDataKey(ctx, "", ec)
					if err != nil {
						b.Error(err)
						return
					}
					dk.Zero()
				}
			})
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	ctx := context.Background()
	b.Run("backend=local/bare", func(b *testing.B) {
		lb, err := local.New(ctx, local.Config{Dir: newKeyDir(b, testMasterKey), MasterKey: []byte(testMasterKey)})
		if err != nil {
			b.Fatal(err)
		}
		defer lb.Close()
		if _, err := lb.CreateKey(ctx, CreateKeyRequest{KeyID: "default"}); err != nil {
			b.Fatal(err)
		}
		ec := EncryptionContext{"bucket": "bench", "object": "obj"}
		dk, err := lb.GenerateDataKey(ctx, "default", ec)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			got, err := lb.Decrypt(ctx, dk.Ciphertext, ec)
			if err != nil {
				b.Fatal(err)
			}
			got.Zero()
		}
	})
	for _, cache := range []bool{false, true} {
		name := map[bool]string{false: "manager/cache=off", true: "manager/cache=on"}[cache]
		setup := func(b *testing.B) (*Manager, EncryptionContext, []byte) {
			m, ec := benchManager(b, cache)
			dk, err := m.GenerateDataKey(ctx, "", ec)
			if err != nil {
				b.Fatal(err)
			}
			dk.Zero()
			return m, ec, dk.Ciphertext
		}
		b.Run(name, func(b *testing.B) {
			m, ec, ct := setup(b)
			b.ReportAllocs()
			for b.Loop() {
				got, err := m.Decrypt(ctx, ct, ec)
				if err != nil {
					b.Fatal(err)
				}
				got.Zero()
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			m, ec, ct := setup(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					got, err := m.Decrypt(ctx, ct, ec)
					if err != nil {
						b.Error(err)
						return
					}
					got.Zero()
				}
			})
		})
	}
}

// BenchmarkStart measures Start+Stop on an existing key directory created
// with local.DefaultKDFParams: the Argon2id unlock, paid once per Start and
// never per call.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "keys")
	lb, err := local.New(ctx, local.Config{Dir: dir, MasterKey: []byte(testMasterKey)}) // default KDF
	if err != nil {
		b.Fatal(err)
	}
	lb.Close()
	m := NewManager(WithLogger(quietLogger()))
	if err := m.Configure(ctx, localConfig(dir)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if err := m.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptRemote shows what the cache buys against a backend that is
// a network hop away: the fake backend sleeping 50 µs per call stands in for
// a LAN KMS (the real Vault figures are in internal/e2e).
func BenchmarkDecryptRemote(b *testing.B) {
	ctx := context.Background()
	for _, cache := range []bool{false, true} {
		b.Run(map[bool]string{false: "rtt=50us/cache=off", true: "rtt=50us/cache=on"}[cache], func(b *testing.B) {
			w := newFakeWorld()
			cfg := fakeConfig("remote")
			cfg.EnableCache = new(cache)
			m := NewManager(withFakes(w), WithLogger(quietLogger()))
			if err := m.Configure(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			if err := m.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer m.Stop(ctx)
			if _, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: "default"}); err != nil {
				b.Fatal(err)
			}
			ec := EncryptionContext{"bucket": "bench", "object": "obj"}
			dk, err := m.GenerateDataKey(ctx, "", ec)
			if err != nil {
				b.Fatal(err)
			}
			w.delay.Store(int64(50 * time.Microsecond))
			b.ReportAllocs()
			for b.Loop() {
				got, err := m.Decrypt(ctx, dk.Ciphertext, ec)
				if err != nil {
					b.Fatal(err)
				}
				got.Zero()
			}
		})
	}
}

// BenchmarkEnvelope compares the envelope writer and reader with the bare
// stream on the same bytes (same key size, segment size and a header-sized
// associated data); the envelope adds one GenerateDataKey or Decrypt through
// the Manager (cache on, the default) and a header of ~130 bytes.
func BenchmarkEnvelope(b *testing.B) {
	ctx := context.Background()
	m, ec := benchManager(b, true)
	for _, size := range []int{1 << 20, 16 << 20} {
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		aad := make([]byte, 128)

		var sbuf, ebuf bytes.Buffer
		sw, err := stream.NewEncryptWriter(&sbuf, key, aad)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = sw.Write(plain)
		if err := sw.Close(); err != nil {
			b.Fatal(err)
		}
		ew, err := NewEncryptWriter(ctx, m, &ebuf, "", ec)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = ew.Write(plain)
		if err := ew.Close(); err != nil {
			b.Fatal(err)
		}
		streamCT, envCT := sbuf.Bytes(), ebuf.Bytes()
		sz := fmt.Sprintf("%dMiB", size>>20)

		b.Run("encrypt/stream/"+sz, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				w, err := stream.NewEncryptWriter(io.Discard, key, aad)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = w.Write(plain)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("encrypt/envelope/"+sz, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				w, err := NewEncryptWriter(ctx, m, io.Discard, "", ec)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = w.Write(plain)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decrypt/stream/"+sz, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				r, err := stream.NewDecryptReader(bytes.NewReader(streamCT), key, aad)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decrypt/envelope/"+sz, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewDecryptReader(ctx, m, bytes.NewReader(envCT), ec)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEnvelopeVsStream times the envelope and the bare stream on the
// same bytes in alternation within one loop (paired, so the load of a shared
// machine affects both alike) and reports the envelope's throughput as a
// fraction of the stream's ("x-of-stream"; target >= 0.97).
func BenchmarkEnvelopeVsStream(b *testing.B) {
	ctx := context.Background()
	m, ec := benchManager(b, true)
	const size = 16 << 20
	plain := make([]byte, size)
	_, _ = rand.Read(plain)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	aad := make([]byte, 128)
	var sbuf, ebuf bytes.Buffer
	encStream := func(dst io.Writer) {
		w, err := stream.NewEncryptWriter(dst, key, aad)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(plain)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	encEnvelope := func(dst io.Writer) {
		w, err := NewEncryptWriter(ctx, m, dst, "", ec)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(plain)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	encEnvelope(&ebuf)
	// Give the bare stream the same memory alignment as the envelope's
	// payload (which follows the header): prefix it with header-many bytes.
	hlen := envelopeHeaderLen(b, ebuf.Bytes())
	sbuf.Write(make([]byte, hlen))
	encStream(&sbuf)
	decStream := func() {
		r, err := stream.NewDecryptReader(bytes.NewReader(sbuf.Bytes()[hlen:]), key, aad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
	decEnvelope := func() {
		r, err := NewDecryptReader(ctx, m, bytes.NewReader(ebuf.Bytes()), ec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name             string
		stream, envelope func()
	}{
		{"encrypt/16MiB", func() { encStream(io.Discard) }, func() { encEnvelope(io.Discard) }},
		{"decrypt/16MiB", decStream, decEnvelope},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(2 * size)
			var ts, te time.Duration
			for i := 0; b.Loop(); i++ {
				// Alternate which goes first, so neither always runs warm.
				first, second := tc.stream, tc.envelope
				if i%2 == 1 {
					first, second = second, first
				}
				t0 := time.Now()
				first()
				t1 := time.Now()
				second()
				t2 := time.Now()
				if i%2 == 0 {
					ts, te = ts+t1.Sub(t0), te+t2.Sub(t1)
				} else {
					te, ts = te+t1.Sub(t0), ts+t2.Sub(t1)
				}
			}
			b.ReportMetric(float64(ts)/float64(te), "x-of-stream")
		})
	}
}
