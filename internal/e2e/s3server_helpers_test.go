package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/internal/s3srv"
	"github.com/envkms/kms/sse"
)

const s3Region = "us-east-1"

// s3Env is one s3server running in-process on a free port, with its data
// directory and an SDK client for it.
type s3Env struct {
	t        testing.TB
	dir      string
	srv      *s3srv.Server
	ts       *httptest.Server
	url      string
	http     *http.Client
	ak, sk   string
	client   *s3.Client
	keys     *keyRecorder // every data key the KMS handed to sse
	logs     *bytes.Buffer
	logsMu   *sync.Mutex
	insecure bool
	checks   aws.RequestChecksumCalculation
}

type s3EnvOpts struct {
	plainHTTP         bool // http:// instead of https://
	anonymous         bool // no credentials
	allowInsecureSSEC bool
	disableEncryption bool
	concurrency       int // s3srv.Config.Concurrency (0: its default)
	// sdkDefaultChecksums makes the client compute CRC32 for every upload,
	// as config.LoadDefaultConfig does (a header over HTTP, an aws-chunked
	// STREAMING-UNSIGNED-PAYLOAD-TRAILER body over HTTPS). Otherwise the
	// client sends checksums only where S3 requires them.
	sdkDefaultChecksums bool
	dir                 string // reuse a data directory
	// meterProvider is s3srv.Config.MeterProvider (nil: none).
	meterProvider metric.MeterProvider
	// wrap, if set, wraps the server's handler (to record requests).
	wrap func(http.Handler) http.Handler
}

// keyRecorder wraps the KMS as sse sees it and remembers every plaintext
// data key, so tests can prove none of them reaches the disk.
type keyRecorder struct {
	inner sse.KeyManager
	mu    sync.Mutex
	keys  [][]byte
}

func (k *keyRecorder) record(dk backend.DataKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys = append(k.keys, bytes.Clone(dk.Plaintext))
}

func (k *keyRecorder) GenerateDataKey(ctx context.Context, id string, ec backend.EncryptionContext) (backend.DataKey, error) {
	dk, err := k.inner.GenerateDataKey(ctx, id, ec)
	if err == nil {
		k.record(dk)
	}
	return dk, err
}

func (k *keyRecorder) Decrypt(ctx context.Context, ct []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	dk, err := k.inner.Decrypt(ctx, ct, ec)
	if err == nil {
		k.record(dk)
	}
	return dk, err
}

func (k *keyRecorder) all() [][]byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([][]byte(nil), k.keys...)
}

// lockedWriter serialises log writes from concurrent handlers.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// startS3 starts an s3server in-process (TLS unless o.plainHTTP) with a
// fresh data directory and credentials (unless o.anonymous).
func startS3(t testing.TB, o s3EnvOpts) *s3Env {
	t.Helper()
	e := &s3Env{t: t, dir: o.dir, logs: &bytes.Buffer{}, logsMu: &sync.Mutex{}, insecure: o.allowInsecureSSEC,
		checks: aws.RequestChecksumCalculationWhenRequired}
	if o.sdkDefaultChecksums {
		e.checks = aws.RequestChecksumCalculationWhenSupported
	}
	if e.dir == "" {
		e.dir = t.TempDir()
	}
	if !o.anonymous {
		e.ak, e.sk = "AK"+strings.ToUpper(randomString(14)), randomString(40)
	}
	log := slog.New(slog.NewTextHandler(lockedWriter{mu: e.logsMu, w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	srv, err := s3srv.New(ctx, s3srv.Config{
		DataDir: e.dir, AccessKey: e.ak, SecretKey: e.sk, Logger: log,
		AllowInsecureSSEC: o.allowInsecureSSEC, DisableEncryption: o.disableEncryption, Concurrency: o.concurrency,
		MeterProvider: o.meterProvider,
		WrapKeyManager: func(km sse.KeyManager) sse.KeyManager {
			e.keys = &keyRecorder{inner: km}
			return e.keys
		},
	})
	require.NoError(t, err)
	e.srv = srv
	var h http.Handler = srv
	if o.wrap != nil {
		h = o.wrap(srv)
	}
	e.ts = httptest.NewUnstartedServer(h)
	if o.plainHTTP {
		e.ts.Start()
	} else {
		e.ts.StartTLS()
	}
	e.url, e.http = e.ts.URL, e.ts.Client()
	t.Cleanup(func() {
		e.ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	e.client = e.newClient(e.ak, e.sk)
	return e
}

// newClient returns an SDK client for the server, path-style, with static
// credentials (anonymous when ak is empty) and no retries.
func (e *s3Env) newClient(ak, sk string) *s3.Client {
	return newS3Client(e.url, e.http, ak, sk, e.checks)
}

func newS3Client(url string, hc *http.Client, ak, sk string, checks aws.RequestChecksumCalculation) *s3.Client {
	var creds aws.CredentialsProvider = aws.AnonymousCredentials{}
	if ak != "" {
		creds = credentials.NewStaticCredentialsProvider(ak, sk, "")
	}
	return s3.New(s3.Options{
		Region:                     s3Region,
		BaseEndpoint:               aws.String(url),
		UsePathStyle:               true,
		Credentials:                creds,
		HTTPClient:                 hc,
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: checks,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})
}

// logText returns what the server logged so far.
func (e *s3Env) logText() string {
	e.logsMu.Lock()
	defer e.logsMu.Unlock()
	return e.logs.String()
}

// signedRequest sends a request signed with the SDK's v4 signer (as awscurl
// does), with the payload hash in x-amz-content-sha256.
func (e *s3Env) signedRequest(method, path string, body []byte, hdr http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	ph := sha256Hex(body)
	req.Header.Set("X-Amz-Content-Sha256", ph)
	if e.ak != "" {
		require.NoError(e.t, signV4(req, aws.Credentials{AccessKeyID: e.ak, SecretAccessKey: e.sk}, ph))
	}
	resp, err := e.http.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp, b
}

// adminJSON calls the admin API with a signed JSON request and decodes the
// response into out (if non-nil). It returns the status.
func (e *s3Env) adminJSON(method, path string, in, out any) int {
	e.t.Helper()
	var body []byte
	if in != nil {
		var err error
		body, err = json.Marshal(in)
		require.NoError(e.t, err)
	}
	hdr := http.Header{}
	if in != nil {
		hdr.Set("Content-Type", "application/json")
	}
	resp, b := e.signedRequest(method, s3srv.AdminPrefix+path, body, hdr)
	if out != nil && len(b) > 0 && resp.StatusCode < 300 {
		require.NoError(e.t, json.Unmarshal(b, out), "admin %s %s: %s", method, path, b)
	}
	return resp.StatusCode
}

// createKMSKey creates a KMS master key through the admin API (POST
// /admin/v3/kms/keys) and returns its id.
func (e *s3Env) createKMSKey(description string) string {
	e.t.Helper()
	var out struct {
		KeyID string `json:"key_id"`
	}
	st := e.adminJSON(http.MethodPost, "kms/keys", map[string]any{"KeyUsage": "ENCRYPT_DECRYPT", "Description": description}, &out)
	require.Equal(e.t, http.StatusOK, st, "create key via admin API")
	require.NotEmpty(e.t, out.KeyID)
	return out.KeyID
}

// ssecKey is an SSE-C customer key in the forms clients send.
type ssecKey struct {
	raw    []byte
	b64    string
	md5b64 string
}

func newSSECKey() ssecKey {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	sum := md5.Sum(raw)
	return ssecKey{raw: raw, b64: base64.StdEncoding.EncodeToString(raw), md5b64: base64.StdEncoding.EncodeToString(sum[:])}
}

// randomPayload returns n random bytes starting with a recognisable marker.
func randomPayload(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	copy(b, "PLAINTEXT-MARKER-"+randomString(16))
	return b
}

// objectFiles returns the sidecar and data file of bucket/key in dir: the
// sidecar is the .json file of the bucket's objects directory that names
// key (whatever the store's naming scheme).
func objectFiles(t testing.TB, dir, bucket, key string) (sidecar, data string) {
	t.Helper()
	objs := filepath.Join(dir, "buckets", bucket, "objects")
	ents, err := os.ReadDir(objs)
	require.NoError(t, err)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(objs, e.Name()))
		require.NoError(t, err)
		var m struct {
			Key      string `json:"key"`
			DataFile string `json:"data_file"`
		}
		require.NoError(t, json.Unmarshal(b, &m))
		if m.Key == key {
			return filepath.Join(objs, e.Name()), filepath.Join(objs, m.DataFile)
		}
	}
	t.Fatalf("no sidecar of %s/%s in %s", bucket, key, objs)
	return "", ""
}

// swapFiles exchanges the contents of two files.
func swapFiles(t testing.TB, a, b string) {
	t.Helper()
	tmp := a + ".swap"
	require.NoError(t, os.Rename(a, tmp))
	require.NoError(t, os.Rename(b, a))
	require.NoError(t, os.Rename(tmp, b))
}

// buildS3Server builds the real command into a temp dir and returns its path.
func buildS3Server(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "s3server")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..", "examples", "s3server") // its own module (the Prometheus exporter)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

var (
	listenRE  = regexp.MustCompile(`s3server: listening" addr=(\S+)`)
	metricsRE = regexp.MustCompile(`s3server: metrics" addr=(\S+)`)
)

// runS3Server starts the binary with args and waits for its listen address.
// It returns the base URL, a function returning what the process logged so
// far, and a function that stops the process (also run at cleanup).
func runS3Server(t testing.TB, bin string, args ...string) (url string, logs func() string, stop func()) {
	t.Helper()
	// A free port for /metrics, so that servers started at once don't clash.
	cmd := exec.Command(bin, append(args, "-metrics-addr", "127.0.0.1:0")...)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	require.NoError(t, cmd.Start())
	var (
		mu     sync.Mutex
		stderr bytes.Buffer
	)
	logs = func() string {
		mu.Lock()
		defer mu.Unlock()
		return stderr.String()
	}
	addrc := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			stderr.WriteString(line + "\n")
			mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	var stopped sync.Once
	stop = func() {
		stopped.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			_ = pw.Close()
			<-scanned
		})
	}
	t.Cleanup(stop)
	select {
	case addr := <-addrc:
		return "http://" + addr, logs, stop
	case <-time.After(60 * time.Second):
		stop()
		t.Fatalf("s3server did not start: %s", logs())
	}
	return "", nil, nil
}

// apiStatus returns the HTTP status of an SDK error (0 if none).
func apiStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// apiErrorCode returns the S3 error code of an SDK error ("" if none).
func apiErrorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// signV4 signs req with the AWS SDK's v4 signer, service "s3".
func signV4(req *http.Request, creds aws.Credentials, payloadHash string) error {
	return v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "s3", s3Region, time.Now())
}

// TestS3ServerBinary builds the real command and drives it through its
// command line: credentials, -allow-insecure-ssec over plain HTTP, and a
// restart on the same data directory (the generated master key persists).
func TestS3ServerBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the s3server binary")
	}
	bin := buildS3Server(t)
	dir := t.TempDir()
	ak, sk := "AKBINARYTEST", randomString(40)
	args := []string{"-addr", "127.0.0.1:0", "-data", dir, "-access-key", ak, "-secret-key", sk, "-allow-insecure-ssec"}
	url, logs, stop := runS3Server(t, bin, args...)
	ctx := context.Background()
	c := newS3Client(url, http.DefaultClient, ak, sk, aws.RequestChecksumCalculationWhenSupported)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bin")})
	require.NoError(t, err)
	k := newSSECKey()
	data := randomPayload(300_000)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bin"), Key: aws.String("ssec"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.b64), SSECustomerKeyMD5: aws.String(k.md5b64)})
	require.NoError(t, err)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bin"), Key: aws.String("sses3"), Body: bytes.NewReader(data)})
	require.NoError(t, err)
	// Unsigned requests are refused.
	_, err = newS3Client(url, http.DefaultClient, "", "", aws.RequestChecksumCalculationWhenSupported).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.Equal(t, http.StatusForbidden, apiStatus(err))

	fi, err := os.Stat(filepath.Join(dir, ".kms", "master.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// The KMS Manager's metrics scrape in Prometheus text format.
	m := metricsRE.FindStringSubmatch(logs())
	require.NotNil(t, m, "no metrics address logged: %s", logs())
	resp, err := http.Get("http://" + m[1] + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `envkms_kms_operations_total{`)
	require.Contains(t, string(body), `operation="GenerateDataKey"`)
	require.Contains(t, string(body), `envkms_kms_backend_duration_seconds_bucket{`)
	require.NotContains(t, string(body), sk)

	// A second server on the same -data refuses to start, and leaves the
	// first one's writes in progress (DIR/tmp) alone.
	inflight := filepath.Join(dir, "tmp", "w-inflight")
	require.NoError(t, os.WriteFile(inflight, []byte("in progress"), 0o600))
	second := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", dir, "-access-key", ak, "-secret-key", sk)
	done := make(chan struct{})
	var out []byte
	go func() { out, err = second.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = second.Process.Kill()
		<-done
		t.Fatalf("a second server on the same -data did not exit: %s", out)
	}
	require.Error(t, err, "a second server on the same -data started: %s", out)
	require.Contains(t, string(out), "data directory is in use by another server")
	b, rerr := os.ReadFile(inflight)
	require.NoError(t, rerr, "the refused server touched DIR/tmp")
	require.Equal(t, "in progress", string(b))
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bin"), Key: aws.String("sses3")})
	require.NoError(t, err, "the first server still serves")
	stop()
	require.NotContains(t, logs(), sk, "secret key logged")

	// Restart on the same directory: the objects still decrypt.
	url, _, _ = runS3Server(t, bin, args...)
	c = newS3Client(url, http.DefaultClient, ak, sk, aws.RequestChecksumCalculationWhenSupported)
	for _, key := range []string{"ssec", "sses3"} {
		in := &s3.GetObjectInput{Bucket: aws.String("bin"), Key: aws.String(key)}
		if key == "ssec" {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.b64), aws.String(k.md5b64)
		}
		out, err := c.GetObject(ctx, in)
		require.NoError(t, err, key)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), key)
	}

	// Without credentials the server warns at start.
	_, logs2, stop2 := runS3Server(t, bin, "-addr", "127.0.0.1:0", "-data", t.TempDir())
	stop2()
	require.Contains(t, logs2(), "level=WARN")
	require.Contains(t, logs2(), "NO CREDENTIALS")
}
