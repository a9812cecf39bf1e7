package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/sse"
)

// BenchmarkVaultBucketKeys: 4 KiB SSE-KMS and SSE-S3 PUTs and GETs through
// sse.Encryptor over a kms.Manager on the vault backend (the shared dev
// server, loopback), bucket keys on (sse.New's default; SSE-KMS requests ask
// for BucketKeyEnabled) against off (sse.WithoutBucketKeys), in one run.
// kms-calls/1000ops counts the Vault calls the Manager made (its Stats:
// GenerateDataKey calls plus Decrypt cache misses) per 1,000 operations.
//
//   - PUT: one object after another into one bucket, starting without a
//     cached bucket key.
//   - GET: the same object again and again (bucket key or data key cached).
//   - GET-cold-1000: 1,000 different objects, every cache cleared first
//     (Manager.ClearCache, which also drops the Encryptor's bucket keys);
//     run it with -benchtime 1000x for exactly one cold pass.
//
// Skipped without VAULT_BIN, like the other Vault benchmarks on a machine
// without Vault:
//
//	cd internal/e2e && VAULT_BIN=$HOME/.cache/envkms/vault-v1.19.0 \
//	  go test -run '^$' -bench BenchmarkVaultBucketKeys -benchtime 1000x -count 5 .
func BenchmarkVaultBucketKeys(b *testing.B) {
	if os.Getenv("VAULT_BIN") == "" {
		b.Skip("VAULT_BIN unset: skipping the Vault bucket-key benchmarks")
	}
	srv := sharedDevVault(b)
	ctx := context.Background()
	m := kms.NewManager(kms.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), kms.WithDefaultKeyCreation())
	cfg := kms.DefaultConfig()
	cfg.BackendType = kms.BackendVault
	cfg.Address = srv.Addr
	cfg.AuthMethod = &kms.AuthMethod{Token: kms.Secret(srv.Token)}
	cfg.DefaultKeyID = "bkbench-default-" + backend.NewKeyID()
	if err := m.Configure(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Stop(ctx) })
	kmsKey, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: "bkbench-" + backend.NewKeyID()})
	if err != nil {
		b.Fatal(err)
	}
	on, err := sse.New(m)
	if err != nil {
		b.Fatal(err)
	}
	off, err := sse.New(m, sse.WithoutBucketKeys())
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	_, _ = rand.Read(data)
	kmsCalls := func() uint64 {
		st := m.Stats()
		return st.Operations["GenerateDataKey"] + st.CacheMisses
	}
	put := func(e *sse.Encryptor, req *sse.Request, object string, dst *bytes.Buffer) (map[string]string, error) {
		dst.Reset()
		w, err := e.EncryptObject(ctx, "bench-bucket", object, req, dst)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return w.Metadata(), nil
	}
	get := func(e *sse.Encryptor, object string, o storedObject) error {
		r, err := e.DecryptObject(ctx, "bench-bucket", object, o.meta, nil, bytes.NewReader(o.data), int64(len(o.data)))
		if err != nil {
			return err
		}
		defer r.Close()
		n, err := io.Copy(io.Discard, r.Range(0, r.Size()))
		if err == nil && n != int64(len(data)) {
			err = fmt.Errorf("read %d bytes", n)
		}
		return err
	}
	report := func(b *testing.B, calls0 uint64) {
		vaultOpsPerSec(b)
		b.ReportMetric(float64(kmsCalls()-calls0)*1000/float64(b.N), "kms-calls/1000ops")
	}
	for _, kind := range []struct {
		name string
		req  *sse.Request
	}{
		{"sse-kms", &sse.Request{Kind: sse.KindKMS, KMSKeyID: kmsKey.KeyID, BucketKeyEnabled: true}},
		{"sse-s3", &sse.Request{Kind: sse.KindS3}},
	} {
		for _, mode := range []struct {
			name string
			e    *sse.Encryptor
		}{{"bucket-key-on", on}, {"bucket-key-off", off}} {
			prefix := kind.name + "/" + mode.name + "/"
			var buf bytes.Buffer
			b.Run(prefix+"PUT", func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				// Start without a bucket key, so each run counts making one.
				mode.e.ClearBucketKeys()
				calls0 := kmsCalls()
				benchLoop(b, func() error {
					_, err := put(mode.e, kind.req, "put-object", &buf)
					return err
				})
				report(b, calls0)
			})
			meta, err := put(mode.e, kind.req, "get-object", &buf)
			if err != nil {
				b.Fatal(err)
			}
			one := storedObject{data: bytes.Clone(buf.Bytes()), meta: meta}
			b.Run(prefix+"GET", func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				calls0 := kmsCalls()
				benchLoop(b, func() error { return get(mode.e, "get-object", one) })
				report(b, calls0)
			})
			const cold = 1000
			objs := make([]storedObject, cold)
			for i := range objs {
				meta, err := put(mode.e, kind.req, fmt.Sprint("cold-", i), &buf)
				if err != nil {
					b.Fatal(err)
				}
				objs[i] = storedObject{data: bytes.Clone(buf.Bytes()), meta: meta}
			}
			b.Run(prefix+"GET-cold-1000", func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				i := 0
				m.ClearCache()
				calls0 := kmsCalls()
				benchLoop(b, func() error {
					if i == cold {
						// Another pass: cold again (cleared in the timer,
						// a few microseconds per 1,000 GETs).
						i = 0
						m.ClearCache()
					}
					err := get(mode.e, fmt.Sprint("cold-", i), objs[i])
					i++
					return err
				})
				report(b, calls0)
			})
		}
	}
}
