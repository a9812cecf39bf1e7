package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/local"
	"github.com/envkms/kms/vault"
)

// BenchmarkBulkRekey: rewrapping the data keys of many objects after a
// rotation, one Rewrap per object ("single") against RewrapBatch in
// chunks of backend.MaxRewrapBatch ("batch"), on the local backend and on
// the shared Vault dev server, in the same run. objects/s counts data keys
// moved to the newest version. Run:
//
//	go test -run '^$' -bench BenchmarkBulkRekey -benchtime 5x -count 3 .
func BenchmarkBulkRekey(b *testing.B) {
	const objects = 1000
	ctx := context.Background()
	type mk func(b *testing.B) backend.Backend
	backends := []struct {
		name string
		open mk
	}{
		{"local", func(b *testing.B) backend.Backend {
			be, err := local.New(ctx, local.Config{Dir: b.TempDir(), MasterKey: []byte("bench master key, test only!!"),
				KDF: &local.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = be.Close() })
			return be
		}},
		{"vault", func(b *testing.B) backend.Backend {
			srv := sharedDevVault(b)
			be, err := vault.New(ctx, vault.Config{Address: srv.Addr, Token: srv.Token, Timeout: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = be.Close() })
			return be
		}},
	}
	for _, bk := range backends {
		for _, mode := range []string{"single", "batch"} {
			b.Run(bk.name+"/"+mode, func(b *testing.B) {
				be := bk.open(b)
				id := "rekey-" + backend.NewKeyID()
				if _, err := be.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id}); err != nil {
					b.Fatal(err)
				}
				items := make([]backend.RewrapItem, objects)
				for i := range items {
					ec := backend.EncryptionContext{"aws:s3:arn": fmt.Sprintf("arn:aws:s3:::bench/object-%06d", i)}
					dk, err := be.GenerateDataKey(ctx, id, ec)
					if err != nil {
						b.Fatal(err)
					}
					items[i] = backend.RewrapItem{Ciphertext: dk.Ciphertext, Context: ec}
				}
				if _, err := be.RotateKey(ctx, id); err != nil {
					b.Fatal(err)
				}
				br := be.(backend.BatchRewrapper)
				b.ResetTimer()
				for b.Loop() {
					if mode == "single" {
						for _, it := range items {
							if _, err := be.Rewrap(ctx, it.Ciphertext, it.Context); err != nil {
								b.Fatal(err)
							}
						}
						continue
					}
					for off := 0; off < len(items); off += backend.MaxRewrapBatch {
						res, err := br.RewrapBatch(ctx, items[off:min(off+backend.MaxRewrapBatch, len(items))])
						if err != nil {
							b.Fatal(err)
						}
						for _, r := range res {
							if r.Err != nil {
								b.Fatal(r.Err)
							}
						}
					}
				}
				b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "objects/s")
			})
		}
	}
}
