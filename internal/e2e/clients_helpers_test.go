package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The S3 clients under test are Debian's packages (scripts/install-clients.sh
// installs them), run from /usr/bin: another aws-cli earlier on PATH (pip,
// pyenv) is not the one under test.
const clientBinDir = "/usr/bin"

// clientCommandTimeout bounds one client command (a 40 MiB transfer on a
// loaded machine takes seconds, not minutes).
const clientCommandTimeout = 3 * time.Minute

// integrityComplaint matches what the clients print when a checksum they
// verify does not match, sometimes with exit status 0 (s3cmd warns and
// carries on): rclone "corrupted on transfer: md5 hash differ", s3cmd
// "MD5 Sums don't match!" and "MD5 signatures do not match".
var integrityComplaint = regexp.MustCompile(`(?i)md5|checksum|corrupt|hash differ`)

// requestLog records every request the server answered: method, URI and
// status, so a failed client command can be explained by the request the
// server refused.
type requestLog struct {
	mu      sync.Mutex
	entries []loggedRequest
}

type loggedRequest struct {
	method, uri, reqID, etag string
	status                   int
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		uri := r.URL.RequestURI()
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.entries = append(l.entries, loggedRequest{method: r.Method, uri: uri, reqID: w.Header().Get("X-Amz-Request-Id"),
			etag: w.Header().Get("ETag"), status: sw.status})
	})
}

// since returns the requests recorded after the first n.
func (l *requestLog) since(n int) []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedRequest(nil), l.entries[n:]...)
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// statusWriter remembers the status a handler wrote. Unwrap keeps
// http.ResponseController (deadlines, flushes) working through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// clientHarness runs Debian's aws-cli, rclone and s3cmd as subprocesses
// against one in-process s3server over TLS. Each client gets its own HOME
// and config files and an environment built from scratch (nothing of the
// test's own, such as AWS_CA_BUNDLE, leaks in); the only setting that is not
// the client's default is the test server's CA certificate.
type clientHarness struct {
	e      *s3Env
	reqs   *requestLog
	dir    string
	caFile string
	// kmsKey is an SSE-KMS master key created through the admin API.
	kmsKey string
	// ssec is the SSE-C customer key: 32 printable bytes, since rclone takes
	// the raw key. Clients read it from ssecFile or their config file, never
	// from the command line, so it appears in no logged command.
	ssec     ssecKey
	ssecFile string
	// secrets are redacted from everything the harness logs.
	secrets []string
}

// newClientHarness starts the server (TLS, default settings) and writes the
// CA certificate, the SSE-C key file and each client's configuration.
func newClientHarness(t *testing.T) *clientHarness {
	t.Helper()
	if testing.Short() {
		t.Skip("drives external S3 clients")
	}
	h := &clientHarness{reqs: &requestLog{}, dir: t.TempDir()}
	h.e = startS3(t, s3EnvOpts{wrap: h.reqs.wrap})
	h.caFile = filepath.Join(h.dir, "ca.pem")
	writeFile(t, h.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.e.ts.Certificate().Raw}))
	h.kmsKey = h.e.createKMSKey("e2e clients SSE-KMS key")
	h.ssec = printableSSECKey()
	h.ssecFile = filepath.Join(h.dir, "ssec.key")
	writeFile(t, h.ssecFile, h.ssec.raw)
	h.secrets = []string{h.e.sk, string(h.ssec.raw), h.ssec.b64}
	for _, d := range []string{"home-aws", "home-rclone", "home-s3cmd", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(h.dir, d), 0o700))
	}
	u, err := url.Parse(h.e.url)
	require.NoError(t, err)
	// rclone: provider Other (what the issue names; it lists with
	// ListObjects V1), the same with the SSE-C key, and provider Minio (it
	// lists with ListObjectsV2, URL-encoded). Provider AWS would be the
	// other V2 lister, but rclone 1.60 forces virtual-hosted buckets for it
	// (BUCKET.127.0.0.1 needs DNS), whatever force_path_style says.
	remote := func(name, provider, extra string) string {
		return fmt.Sprintf("[%s]\ntype = s3\nprovider = %s\nenv_auth = false\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = %s\n%s\n",
			name, provider, h.e.ak, h.e.sk, h.e.url, s3Region, extra)
	}
	writeFile(t, h.rcloneConfig(), []byte(remote("s3", "Other", "")+
		remote("s3ssec", "Other", "sse_customer_algorithm = AES256\nsse_customer_key = "+string(h.ssec.raw)+"\n")+
		remote("minio", "Minio", "")))
	// s3cmd: path style (host_bucket without %(bucket)s), HTTPS, SigV4.
	writeFile(t, h.s3cmdConfig(), []byte(fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = True\nbucket_location = %s\n",
		h.e.ak, h.e.sk, u.Host, u.Host, s3Region)))
	t.Cleanup(func() {
		logs := h.e.logText()
		for _, s := range h.secrets {
			if strings.Contains(logs, s) {
				t.Errorf("the server logged a secret")
			}
		}
	})
	return h
}

func (h *clientHarness) rcloneConfig() string { return filepath.Join(h.dir, "rclone.conf") }
func (h *clientHarness) s3cmdConfig() string  { return filepath.Join(h.dir, "s3cfg") }

// printableSSECKey returns an SSE-C key of 32 alphanumeric bytes.
func printableSSECKey() ssecKey {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	for i := range raw {
		raw[i] = alphabet[int(raw[i])%len(alphabet)]
	}
	sum := md5.Sum(raw)
	return ssecKey{raw: raw, b64: base64.StdEncoding.EncodeToString(raw), md5b64: base64.StdEncoding.EncodeToString(sum[:])}
}

// command returns the client's command line and environment: the binary,
// its config and the CA certificate, then args.
func (h *clientHarness) command(ctx context.Context, t *testing.T, client string, args ...string) *exec.Cmd {
	t.Helper()
	env := []string{
		"PATH=" + clientBinDir + ":/bin",
		"HOME=" + filepath.Join(h.dir, "home-"+client),
		"TMPDIR=" + filepath.Join(h.dir, "tmp"),
		"LANG=C.UTF-8",
	}
	switch client {
	case "aws":
		args = append(args, "--endpoint-url", h.e.url, "--ca-bundle", h.caFile)
		env = append(env,
			"AWS_ACCESS_KEY_ID="+h.e.ak, "AWS_SECRET_ACCESS_KEY="+h.e.sk, "AWS_DEFAULT_REGION="+s3Region,
			"AWS_CONFIG_FILE="+filepath.Join(h.dir, "home-aws", "config"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(h.dir, "home-aws", "credentials"),
			"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
	case "rclone":
		// No AWS_CA_BUNDLE: rclone 1.60 refuses it next to --ca-cert.
		args = append(args, "--config", h.rcloneConfig(), "--ca-cert", h.caFile)
	case "s3cmd":
		args = append([]string{"-c", h.s3cmdConfig(), "--ca-certs=" + h.caFile}, args...)
	default:
		t.Fatalf("unknown client %q", client)
	}
	bin := filepath.Join(clientBinDir, client)
	if _, err := os.Stat(bin); err != nil {
		// A missing client fails the suite: CI installs it.
		t.Fatalf("S3 client %s not installed (bash scripts/install-clients.sh): %v", bin, err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = h.dir
	return cmd
}

// clientResult is what one client command did.
type clientResult struct {
	cmdline        string
	stdout, stderr string
	err            error
	reqs           []loggedRequest
	serverLog      string // what the server logged meanwhile
}

// run runs a client command and collects its output and the requests the
// server answered meanwhile.
func (h *clientHarness) run(t *testing.T, client string, args ...string) clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientCommandTimeout)
	defer cancel()
	cmd := h.command(ctx, t, client, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	n, logStart := h.reqs.len(), len(h.e.logText())
	err := cmd.Run()
	return clientResult{
		cmdline: client + " " + strings.Join(args, " "),
		stdout:  stdout.String(), stderr: stderr.String(), err: err,
		reqs: h.reqs.since(n), serverLog: h.e.logText()[logStart:],
	}
}

// ok runs a client command that must succeed, with exit status 0 and no
// integrity complaint on stderr, and returns what it did. Otherwise it
// reports the command and fails t.
func (h *clientHarness) ok(t *testing.T, client string, args ...string) clientResult {
	t.Helper()
	r := h.run(t, client, args...)
	switch {
	case r.err != nil:
		h.report(t, r, r.err.Error())
		t.FailNow()
	case integrityComplaint.MatchString(r.stderr):
		h.report(t, r, "integrity complaint on stderr")
		t.FailNow()
	}
	return r
}

// fails runs a client command that must fail and returns what it did.
func (h *clientHarness) fails(t *testing.T, client string, args ...string) clientResult {
	t.Helper()
	r := h.run(t, client, args...)
	if r.err == nil {
		h.report(t, r, "succeeded, want an error")
		t.FailNow()
	}
	var ee *exec.ExitError
	if !errors.As(r.err, &ee) {
		h.report(t, r, r.err.Error())
		t.FailNow()
	}
	return r
}

// report logs a command that did not do what the test expects: its output,
// the requests the server refused during it (method, URI, status) and the
// server's log lines about them. Secrets are redacted.
func (h *clientHarness) report(t *testing.T, r clientResult, why string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\nstdout:\n%s\nstderr:\n%s\n", r.cmdline, why, tail(r.stdout, 4000), tail(r.stderr, 4000))
	refused := 0
	for _, q := range r.reqs {
		if q.status >= 300 {
			refused++
		}
		// All of a short exchange (an integrity complaint is about a 200
		// and its ETag), else the refused requests.
		if q.status >= 300 || len(r.reqs) <= 20 {
			fmt.Fprintf(&b, "server answered %d to %s %s (request id %s, ETag %s)\n", q.status, q.method, q.uri, q.reqID, q.etag)
		}
	}
	fmt.Fprintf(&b, "%d requests, %d answered >= 300\n", len(r.reqs), refused)
	for _, line := range strings.Split(r.serverLog, "\n") {
		if strings.Contains(line, "request refused") || strings.Contains(line, "request failed") || strings.Contains(line, "level=ERROR") {
			fmt.Fprintf(&b, "server log: %s\n", line)
		}
	}
	t.Errorf("%s", h.redact(b.String()))
}

// requireRequest fails t (reporting r) unless the server answered some
// request of r with this method, a URI containing uriPart, and status.
func (h *clientHarness) requireRequest(t *testing.T, r clientResult, method, uriPart string, status int) {
	t.Helper()
	for _, q := range r.reqs {
		if q.method == method && strings.Contains(q.uri, uriPart) && q.status == status {
			return
		}
	}
	h.report(t, r, fmt.Sprintf("no %s %s answered %d", method, uriPart, status))
	var b strings.Builder
	for _, q := range r.reqs {
		fmt.Fprintf(&b, "%s %s -> %d\n", q.method, q.uri, q.status)
	}
	t.Logf("requests:\n%s", h.redact(b.String()))
	t.FailNow()
}

// redact replaces every secret of the harness in s.
func (h *clientHarness) redact(s string) string {
	for _, sec := range h.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// randomFile writes n random bytes to path and returns their SHA-256.
func randomFile(t testing.TB, path string, n int) string {
	t.Helper()
	b := randomPayload(n)
	writeFile(t, path, b)
	return sha256Hex(b)
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	hs := sha256.New()
	_, err = io.Copy(hs, f)
	require.NoError(t, err)
	return hex.EncodeToString(hs.Sum(nil))
}

// treeSHA256 returns the SHA-256 of every file under dir, by slash path
// relative to dir.
func treeSHA256(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fileSHA256(t, p)
		return nil
	}))
	return out
}

// writeTree creates small random files under dir (paths relative, slash
// separated) and returns their SHA-256 by path.
func writeTree(t testing.TB, dir string, sizes map[string]int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, n := range sizes {
		out[p] = randomFile(t, filepath.Join(dir, filepath.FromSlash(p)), n)
	}
	return out
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}
