package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/internal/s3srv"
	"github.com/envkms/kms/sse"
)

// unbatched is the KMS Manager as sse sees it without RewrapBatch: sse then
// rewraps one data key at a time (batching off).
type unbatched struct{ m *kms.Manager }

func (u unbatched) GenerateDataKey(ctx context.Context, id string, ec backend.EncryptionContext) (backend.DataKey, error) {
	return u.m.GenerateDataKey(ctx, id, ec)
}
func (u unbatched) Decrypt(ctx context.Context, ct []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	return u.m.Decrypt(ctx, ct, ec)
}
func (u unbatched) Rewrap(ctx context.Context, ct []byte, ec backend.EncryptionContext) ([]byte, error) {
	return u.m.Rewrap(ctx, ct, ec)
}
func (u unbatched) CiphertextVersion(ct []byte) (string, int, error) {
	return u.m.CiphertextVersion(ct)
}

var _ sse.Rewrapper = unbatched{}

// BenchmarkRekeyJob: the example server's whole bulk rekey job (walk,
// rewrap each object's data key, rewrite its metadata, checkpoint per page
// of 100, inventory) over 300 SSE-KMS objects after a rotation, on the
// local backend and on the shared Vault dev server, with sse's batching
// through RewrapBatch ("batch") and without it ("single"), in the same
// run. objects/s counts objects rekeyed. Each iteration rotates the key and
// runs one job. Run:
//
//	cd internal/e2e && VAULT_BIN=... go test -run '^$' -bench BenchmarkRekeyJob -benchtime 3x -count 3 .
func BenchmarkRekeyJob(b *testing.B) {
	const objects = 300
	for _, bk := range []string{"local", "vault"} {
		for _, mode := range []string{"single", "batch"} {
			b.Run(bk+"/"+mode, func(b *testing.B) {
				ctx := context.Background()
				var cfg *kms.Config
				def := s3srv.DefaultKeyID
				if bk == "vault" {
					vsrv := sharedDevVault(b)
					c := kms.DefaultConfig()
					c.BackendType = kms.BackendVault
					c.Address = vsrv.Addr
					c.AuthMethod = &kms.AuthMethod{Token: kms.Secret(vsrv.Token)}
					c.KeyPathPrefix = "envkms/rkbench-" + backend.NewKeyID()[:8]
					c.DefaultKeyID = "rkbench-" + backend.NewKeyID()[:8] // transit key names are not prefixed
					def = c.DefaultKeyID
					cfg = &c
				}
				e := startRekeyBenchS3(b, cfg, mode == "batch")
				const bucket = "rekey-bench"
				if _, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
					b.Fatal(err)
				}
				for i := range objects {
					_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("o%04d", i)),
						Body: strings.NewReader("rekey benchmark object"), ServerSideEncryption: types.ServerSideEncryptionAwsKms})
					if err != nil {
						b.Fatal(err)
					}
				}
				rekeyed := 0
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					b.StopTimer()
					if _, err := e.srv.Manager().RotateKey(ctx, def); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					var st vaultRekeyStatus
					// The last job's goroutine may not have ended yet (409).
					for code := e.adminJSON("POST", "kms/rekey", map[string]any{}, &st); code != http.StatusAccepted; code = e.adminJSON("POST", "kms/rekey", map[string]any{}, &st) {
						if code != http.StatusConflict {
							b.Fatalf("start: %d", code)
						}
						time.Sleep(time.Millisecond)
					}
					for {
						st = vaultRekeyStatus{}
						e.adminJSON("GET", "kms/rekey", nil, &st)
						if st.State != "running" {
							break
						}
						time.Sleep(2 * time.Millisecond)
					}
					if st.State != "completed" || st.Rekeyed != objects {
						b.Fatalf("job: %+v", st)
					}
					rekeyed += st.Rekeyed
				}
				b.ReportMetric(float64(rekeyed)/b.Elapsed().Seconds(), "objects/s")
			})
		}
	}
}

// startRekeyBenchS3 starts an s3server on a fresh directory (the local
// backend, or cfg), sse batching rewraps or not.
func startRekeyBenchS3(b *testing.B, cfg *kms.Config, batch bool) *s3Env {
	b.Helper()
	e := startS3Wrapped(b, cfg, func(km sse.KeyManager) sse.KeyManager {
		if batch {
			return km
		}
		return unbatched{km.(*kms.Manager)}
	})
	b.Cleanup(e.stop)
	return e
}
