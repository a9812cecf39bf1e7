package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/internal/s3srv"
	"github.com/envkms/kms/sse"
)

// gatedManager is the KMS Manager as sse sees it, with every optional
// interface (it embeds *kms.Manager), whose RewrapBatch blocks from the
// gate-th call on until its context ends: a server stuck mid-job, to be
// stopped as a kill would stop it.
type gatedManager struct {
	*kms.Manager
	gate    int64 // 0: never block
	calls   atomic.Int64
	blocked chan struct{}
	once    sync.Once
}

func (g *gatedManager) RewrapBatch(ctx context.Context, items []backend.RewrapItem) ([]backend.RewrapResult, error) {
	if n := g.calls.Add(1); g.gate > 0 && n >= g.gate {
		g.once.Do(func() { close(g.blocked) })
		<-ctx.Done()
		return nil, fmt.Errorf("%w: %w", backend.ErrUnavailable, ctx.Err())
	}
	return g.Manager.RewrapBatch(ctx, items)
}

// startVaultS3 starts an s3server on dir whose KMS is cfg (a Vault), with
// RewrapBatch gated at gate (0: not).
func startVaultS3(t *testing.T, dir string, cfg kms.Config, ak, sk string, gate int64) (*s3Env, *gatedManager) {
	t.Helper()
	g := &gatedManager{gate: gate, blocked: make(chan struct{})}
	e := startS3On(t, dir, &cfg, ak, sk, func(km sse.KeyManager) sse.KeyManager {
		g.Manager = km.(*kms.Manager)
		return g
	})
	return e, g
}

// startS3Wrapped starts an s3server on a fresh directory with fresh
// credentials, whose KMS is cfg (nil: the local backend) as wrap wraps it.
func startS3Wrapped(t testing.TB, cfg *kms.Config, wrap func(sse.KeyManager) sse.KeyManager) *s3Env {
	t.Helper()
	return startS3On(t, t.TempDir(), cfg, "AK"+strings.ToUpper(randomString(14)), randomString(40), wrap)
}

// startS3On starts an s3server (TLS) on dir; stop it with stop.
func startS3On(t testing.TB, dir string, cfg *kms.Config, ak, sk string, wrap func(sse.KeyManager) sse.KeyManager) *s3Env {
	t.Helper()
	e := &s3Env{t: t, dir: dir, ak: ak, sk: sk, logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}, checks: aws.RequestChecksumCalculationWhenRequired}
	log := slog.New(slog.NewTextHandler(lockedWriter{mu: e.logsMu, w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := s3srv.New(context.Background(), s3srv.Config{
		DataDir: dir, AccessKey: ak, SecretKey: sk, Logger: log, KMS: cfg, WrapKeyManager: wrap,
	})
	require.NoError(t, err)
	e.srv = srv
	e.ts = httptest.NewTLSServer(srv)
	e.url, e.http = e.ts.URL, e.ts.Client()
	e.client = e.newClient(ak, sk)
	return e
}

func (e *s3Env) stop() {
	e.ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(e.t, e.srv.Close(ctx))
}

type vaultRekeyStatus struct {
	State       string         `json:"state"`
	Scanned     int            `json:"scanned"`
	Rekeyed     int            `json:"rekeyed"`
	Failed      int            `json:"failed"`
	Resumes     int            `json:"resumes"`
	KeyVersions map[string]int `json:"key_versions"`
	Inventory   map[string]map[string]struct {
		Count int `json:"count"`
	} `json:"inventory"`
}

// TestVaultRekeyJobKillAndResume: the s3server's bulk rekey job on the real
// Vault backend (transit batch_input) stopped mid-job, its checkpoint left
// "running", resumes when the server restarts on the same data directory
// and completes; every object stays readable before, during and after.
// Then the completed inventory lets an admin destroy version 1 on Vault
// (transit trim), and every object still reads; destroying below 3 after
// another rotation is refused. A rotation period set over the signed admin
// API is transit's auto_rotate_period.
func TestVaultRekeyJobKillAndResume(t *testing.T) {
	vsrv := sharedDevVault(t)
	ctx := vaultTestCtx(t, 3*time.Minute)
	cfg := kms.DefaultConfig()
	cfg.BackendType = kms.BackendVault
	cfg.Address = vsrv.Addr
	cfg.AuthMethod = &kms.AuthMethod{Token: kms.Secret(vsrv.Token)}
	cfg.KeyPathPrefix = "envkms/rekeykill-" + backend.NewKeyID()[:8]
	cfg.DefaultKeyID = "rk-default-" + backend.NewKeyID()[:8]
	dir := t.TempDir()
	ak, sk := "AK"+strings.ToUpper(randomString(14)), randomString(40)

	e, _ := startVaultS3(t, dir, cfg, ak, sk, 0)
	const bucket, n = "rekey-vault", 230 // three pages of 100
	_, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	body := func(i int) string { return fmt.Sprintf("object %d under vault", i) }
	for i := range n {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("o%03d", i)), Body: strings.NewReader(body(i))}
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
		if i%2 == 1 {
			in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		}
		_, err := e.client.PutObject(ctx, in)
		require.NoError(t, err)
	}
	readAll := func(e *s3Env) {
		t.Helper()
		for i := range n {
			out, err := e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("o%03d", i))})
			require.NoError(t, err, "o%03d", i)
			b, err := io.ReadAll(out.Body)
			out.Body.Close()
			require.NoError(t, err)
			require.Equal(t, body(i), string(b))
		}
	}
	md, err := e.srv.Manager().RotateKey(ctx, cfg.DefaultKeyID)
	require.NoError(t, err)
	require.Equal(t, 2, md.Version)
	e.stop()

	// Run the job on a server whose second batch never returns, then stop
	// that server: the job is killed after its first page.
	e, g := startVaultS3(t, dir, cfg, ak, sk, 2)
	var st vaultRekeyStatus
	require.Equal(t, http.StatusAccepted, e.adminJSON("POST", "kms/rekey", map[string]any{}, &st))
	select {
	case <-g.blocked:
	case <-ctx.Done():
		t.Fatal("the rekey job never reached its second batch")
	}
	readAll(e) // mid-job: some objects under version 2, the rest under 1
	e.stop()
	raw, err := os.ReadFile(filepath.Join(dir, "kms-rekey.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &st))
	require.Equal(t, "running", st.State)
	require.Equal(t, 100, st.Rekeyed)
	require.Less(t, st.Scanned, n)

	// Restart: the job resumes from its checkpoint and completes.
	e, _ = startVaultS3(t, dir, cfg, ak, sk, 0)
	t.Cleanup(e.stop)
	readAll(e)
	deadline := time.Now().Add(time.Minute)
	for {
		st = vaultRekeyStatus{}
		require.Equal(t, http.StatusOK, e.adminJSON("GET", "kms/rekey", nil, &st))
		if st.State != "running" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, "completed", st.State, "%+v", st)
	require.Equal(t, 1, st.Resumes)
	require.Equal(t, n, st.Rekeyed)
	require.Zero(t, st.Failed)
	require.Equal(t, n, st.Inventory[cfg.DefaultKeyID]["2"].Count)
	require.Zero(t, st.Inventory[cfg.DefaultKeyID]["1"].Count)
	require.Equal(t, 2, st.KeyVersions[cfg.DefaultKeyID])
	readAll(e)

	// The inventory proves version 1 unused: destroy it on Vault.
	var out map[string]any
	require.Equal(t, http.StatusOK, e.adminJSON("POST", "kms/keys/destroy-versions", map[string]any{"key_id": cfg.DefaultKeyID, "below_version": 2}, &out))
	tk, err := vsrv.rootClient(t).Logical().Read("transit/keys/" + cfg.DefaultKeyID)
	require.NoError(t, err)
	require.Equal(t, json.Number("2"), tk.Data["min_available_version"])
	e.srv.Manager().ClearCache()
	readAll(e)
	_, err = e.srv.Manager().RotateKey(ctx, cfg.DefaultKeyID)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, e.adminJSON("POST", "kms/keys/destroy-versions", map[string]any{"key_id": cfg.DefaultKeyID, "below_version": 3}, nil))
	readAll(e)
	// The rotation policy over the signed admin API lands in transit.
	var km struct {
		KeyMetadata struct {
			RotationPeriod string `json:"rotation_period"`
			RotationDue    bool   `json:"rotation_due"`
		} `json:"key_metadata"`
	}
	require.Equal(t, http.StatusOK, e.adminJSON("POST", "kms/keys/rotation-period", map[string]any{"key_id": cfg.DefaultKeyID, "rotation_period": "30d"}, &km))
	require.Equal(t, "720h0m0s", km.KeyMetadata.RotationPeriod)
	require.Equal(t, http.StatusOK, e.adminJSON("GET", "kms/keys/"+cfg.DefaultKeyID, nil, &km))
	require.Equal(t, "720h0m0s", km.KeyMetadata.RotationPeriod)
	require.False(t, km.KeyMetadata.RotationDue)
	tk, err = vsrv.rootClient(t).Logical().Read("transit/keys/" + cfg.DefaultKeyID)
	require.NoError(t, err)
	require.Equal(t, json.Number("2592000"), tk.Data["auto_rotate_period"])
	require.Equal(t, http.StatusBadRequest, e.adminJSON("POST", "kms/keys/rotation-period", map[string]any{"key_id": cfg.DefaultKeyID, "rotation_period": "5m"}, nil))

	// The dev server's root token is the word "root": look for the
	// admin's secret key and the token as a header value instead.
	require.NotContains(t, e.logText(), sk)
	require.NotContains(t, e.logText(), `token="`+vsrv.Token)
}
