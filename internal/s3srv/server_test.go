package s3srv

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	t    *testing.T
	srv  *Server
	ts   *httptest.Server
	cfg  Config
	logs *syncBuffer
}

func newTestEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close(context.Background())
	})
	return &testEnv{t: t, srv: srv, ts: ts, cfg: cfg, logs: logs}
}

// do sends a request, signed when the server has credentials.
func (e *testEnv) do(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if e.cfg.AccessKey != "" {
		ph := req.Header.Get("X-Amz-Content-Sha256")
		if ph == "" {
			sum := sha256.Sum256(body)
			ph = hex.EncodeToString(sum[:])
			req.Header.Set("X-Amz-Content-Sha256", ph)
		}
		creds := aws.Credentials{AccessKeyID: e.cfg.AccessKey, SecretAccessKey: e.cfg.SecretKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, ph, "s3", "us-east-1", time.Now()); err != nil {
			e.t.Fatal(err)
		}
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (e *testEnv) mustStatus(want int, method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	resp, b := e.do(method, path, body, hdr)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	return resp, b
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func ssecHeaders(key []byte) map[string]string {
	sum := md5.Sum(key)
	return map[string]string{
		"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
		"X-Amz-Server-Side-Encryption-Customer-Key":       base64.StdEncoding.EncodeToString(key),
		"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   base64.StdEncoding.EncodeToString(sum[:]),
	}
}

func TestRoundTripAndErrors(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := randBytes(2<<20 + 5)
	resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/dir/obj", data, nil)
	if resp.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Fatalf("default encryption header: %v", resp.Header)
	}
	_, got := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/dir/obj", nil, nil)
	if !bytes.Equal(got, data) {
		t.Fatal("round trip")
	}
	resp, got = e.mustStatus(http.StatusPartialContent, http.MethodGet, "/bkt/dir/obj", nil, map[string]string{"Range": "bytes=-10"})
	if !bytes.Equal(got, data[len(data)-10:]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", len(data)-10, len(data)-1, len(data)) {
		t.Fatalf("suffix range: %q", resp.Header.Get("Content-Range"))
	}
	resp, b := e.mustStatus(http.StatusRequestedRangeNotSatisfiable, http.MethodGet, "/bkt/dir/obj", nil, map[string]string{"Range": "bytes=99999999-"})
	if resp.Header.Get("Content-Range") != "bytes */"+strconv.Itoa(len(data)) {
		t.Fatalf("416 Content-Range %q", resp.Header.Get("Content-Range"))
	}
	var doc errorDocument
	if err := xml.Unmarshal(b, &doc); err != nil || doc.Code != "InvalidRange" || doc.Resource != "/bkt/dir/obj" || doc.RequestID == "" || doc.Message == "" {
		t.Fatalf("error document %+v (%v): %s", doc, err, b)
	}
	if resp.Header.Get("X-Amz-Request-Id") != doc.RequestID {
		t.Fatal("request id header and body differ")
	}
	e.mustStatus(http.StatusNotFound, http.MethodGet, "/bkt/missing", nil, nil)
	e.mustStatus(http.StatusNotFound, http.MethodGet, "/nobucket/x", nil, nil)
	e.mustStatus(http.StatusBadRequest, http.MethodPut, "/Bad_Bucket", nil, nil)
	e.mustStatus(http.StatusBadRequest, http.MethodPut, "/admin", nil, nil)
	e.mustStatus(http.StatusNotImplemented, http.MethodGet, "/bkt/dir/obj?torrent", nil, nil)
	e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/x", []byte("x"), map[string]string{"X-Amz-Server-Side-Encryption": "DES"})
	e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/x", []byte("x"), map[string]string{"Content-Md5": base64.StdEncoding.EncodeToString(make([]byte, 16))})
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/x", nil, nil)
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/dir/obj", nil, nil)
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt", nil, nil)
}

func TestAWSChunkedUpload(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := randBytes(300_000)
	hdr := map[string]string{
		"Content-Encoding":             "aws-chunked,gzip",
		"X-Amz-Content-Sha256":         streamingUnsignedTrailer,
		"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data)),
		"X-Amz-Trailer":                "x-amz-checksum-crc32",
	}
	good := unsignedChunked(data, 65536, map[string]string{"x-amz-checksum-crc32": crc32b64(data)})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/ok", good, hdr)
	resp, got := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/ok", nil, map[string]string{"Accept-Encoding": "identity"})
	if !bytes.Equal(got, data) {
		t.Fatal("aws-chunked round trip")
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("stored Content-Encoding %q, want gzip", ce)
	}
	bad := unsignedChunked(data, 65536, map[string]string{"x-amz-checksum-crc32": crc32b64(data[:10])})
	_, b := e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/bad", bad, hdr)
	if !strings.Contains(string(b), "BadDigest") {
		t.Fatalf("want BadDigest: %s", b)
	}
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/bad", nil, nil)
}

// TestSignedStreamingUpload sends STREAMING-AWS4-HMAC-SHA256-PAYLOAD with
// chunk signatures from the SDK's stream signer; a tampered chunk is
// refused and nothing is stored.
func TestSignedStreamingUpload(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: "AKSTREAM", SecretKey: "stream-secret"})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := randBytes(200_000)
	send := func(key string, tamper bool) int {
		req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/bkt/"+key, nil)
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Content-Sha256", streamingSigned)
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
		now := time.Now().UTC()
		creds := aws.Credentials{AccessKeyID: e.cfg.AccessKey, SecretAccessKey: e.cfg.SecretKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, streamingSigned, "s3", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		auth := req.Header.Get("Authorization")
		seed, _ := hex.DecodeString(auth[strings.Index(auth, "Signature=")+len("Signature="):])
		ss := v4.NewStreamSigner(creds, "s3", "us-east-1", seed)
		var body bytes.Buffer
		rest := data
		for {
			n := min(65536, len(rest))
			sig, _ := ss.GetSignature(context.Background(), nil, rest[:n], now)
			chunk := bytes.Clone(rest[:n])
			if tamper && n > 0 && len(rest) < len(data) {
				chunk[0] ^= 1
			}
			fmt.Fprintf(&body, "%x;chunk-signature=%x\r\n", n, sig)
			body.Write(chunk)
			body.WriteString("\r\n")
			if n == 0 {
				break
			}
			rest = rest[n:]
		}
		req.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
		req.ContentLength = int64(body.Len())
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send("good", false); st != http.StatusOK {
		t.Fatalf("signed streaming upload: %d", st)
	}
	_, got := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/good", nil, nil)
	if !bytes.Equal(got, data) {
		t.Fatal("signed streaming round trip")
	}
	if st := send("bad", true); st != http.StatusForbidden {
		t.Fatalf("tampered chunk: %d, want 403", st)
	}
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/bad", nil, nil)
}

func TestEncryptionDisabled(t *testing.T) {
	e := newTestEnv(t, Config{DisableEncryption: true})
	if !strings.Contains(e.logs.String(), "ENCRYPTION DISABLED") {
		t.Fatal("no warning for disabled encryption")
	}
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := []byte("stored as is")
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", data, nil)
	_, got := e.mustStatus(http.StatusPartialContent, http.MethodGet, "/bkt/o", nil, map[string]string{"Range": "bytes=7-"})
	if string(got) != "as is" {
		t.Fatalf("got %q", got)
	}
	e.mustStatus(http.StatusNotImplemented, http.MethodPut, "/bkt/o2", data, map[string]string{"X-Amz-Server-Side-Encryption": "AES256"})
	e.mustStatus(http.StatusNotImplemented, http.MethodPut, "/bkt/o3", data, ssecHeaders(randBytes(32)))
}

// TestTamperMidObject: a segment that fails authentication after the
// response started aborts the connection; the client never sees a clean,
// shorter body.
func TestTamperMidObject(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := randBytes(3 << 20)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", data, nil)
	_, df := objectPaths(t, e.cfg.DataDir, "bkt", "o")
	stored, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	stored[len(stored)-(1<<20)] ^= 1 // inside the last full segment
	if err := os.WriteFile(df, stored, 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := e.ts.Client().Get(e.ts.URL + "/bkt/o")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first segments authenticate, so the response starts...
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// ...and then breaks off instead of ending cleanly.
	got, rerr := io.ReadAll(resp.Body)
	if rerr == nil {
		t.Fatalf("tampered object served as a clean %d-byte body", len(got))
	}
	if !bytes.Equal(got, data[:len(got)]) {
		t.Fatal("bytes served before the abort differ from the plaintext")
	}
	if !strings.Contains(e.logs.String(), "aborting the connection") {
		t.Fatal("abort not logged")
	}
	// A range inside the bad segment is a clean error.
	e.mustStatus(http.StatusInternalServerError, http.MethodGet, "/bkt/o", nil, map[string]string{"Range": "bytes=-100"})
}

func objectPaths(t *testing.T, dir, bucket, key string) (sidecar, data string) {
	t.Helper()
	objs := filepath.Join(dir, "buckets", bucket, "objects")
	sidecar = filepath.Join(objs, sidecarName(key))
	var om objectMeta
	if err := readJSON(sidecar, &om); err != nil {
		t.Fatal(err)
	}
	return sidecar, filepath.Join(objs, om.DataFile)
}

// TestConcurrentOverwrite: readers racing writers of one key always get one
// complete version, never an error or a mix.
func TestConcurrentOverwrite(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	versions := [][]byte{bytes.Repeat([]byte("A"), 300_000), bytes.Repeat([]byte("B"), 200_000), bytes.Repeat([]byte("C"), 100_000)}
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/hot", versions[0], nil)
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				resp, b := e.do(http.MethodPut, "/bkt/hot", versions[(w+i)%3], nil)
				if resp.StatusCode != http.StatusOK {
					errc <- fmt.Errorf("put %d: %s", resp.StatusCode, b)
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 8 {
				resp, b := e.do(http.MethodGet, "/bkt/hot", nil, nil)
				if resp.StatusCode != http.StatusOK {
					errc <- fmt.Errorf("get %d: %s", resp.StatusCode, b)
					continue
				}
				ok := false
				for _, v := range versions {
					ok = ok || bytes.Equal(v, b)
				}
				if !ok {
					errc <- fmt.Errorf("get returned a mix of versions (%d bytes)", len(b))
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// TestNoSecretsInResponsesOrLogs: SSE-C keys and the secret key never appear
// in a response or log line, whatever goes wrong.
func TestNoSecretsInResponsesOrLogs(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: "AKLEAK", SecretKey: "leak-check-secret-key"})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	key, wrong := randBytes(32), randBytes(32)
	data := randBytes(1000)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", data, ssecHeaders(key))
	var out bytes.Buffer
	record := func(resp *http.Response, b []byte) {
		for k, vs := range resp.Header {
			fmt.Fprintln(&out, k, vs)
		}
		out.Write(b)
	}
	record(e.do(http.MethodGet, "/bkt/o", nil, ssecHeaders(wrong)))
	record(e.do(http.MethodHead, "/bkt/o", nil, ssecHeaders(wrong)))
	record(e.do(http.MethodGet, "/bkt/o", nil, nil))
	badMD5 := ssecHeaders(key)
	badMD5["X-Amz-Server-Side-Encryption-Customer-Key-Md5"] = ssecHeaders(wrong)["X-Amz-Server-Side-Encryption-Customer-Key-Md5"]
	record(e.do(http.MethodGet, "/bkt/o", nil, badMD5))
	record(e.do(http.MethodPut, "/bkt/o2", data, ssecHeaders(key[:31])))
	record(e.do(http.MethodGet, "/bkt/o", nil, ssecHeaders(key)))
	all := out.String() + e.logs.String()
	for _, k := range [][]byte{key, wrong} {
		for _, form := range []string{string(k), base64.StdEncoding.EncodeToString(k), hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k[:31])} {
			if strings.Contains(all, form) {
				t.Fatal("customer key in a response or log")
			}
		}
	}
	if strings.Contains(all, "leak-check-secret-key") {
		t.Fatal("secret key in a response or log")
	}
	if strings.Contains(strings.ToLower(all), "x-envkms-internal") {
		t.Fatal("internal metadata in a response or log")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{{}, {DataDir: t.TempDir(), AccessKey: "only"}, {DataDir: t.TempDir(), SecretKey: "only"}} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
