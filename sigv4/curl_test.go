package sigv4_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/sigv4"
)

// Credentials of the requests in testdata/curl-7.88.1 (see its README).
const (
	curlAK = "AKIACURLEXAMPLE"
	curlSK = "curl-secret-key-0123456789abcdefghij"
)

func curlLookup(ak string) (string, bool) {
	if ak != curlAK {
		return "", false
	}
	return curlSK, true
}

// curlRequest reads a request recorded from curl 7.88.1, as a server
// receives it, and a Verifier whose clock is the request's X-Amz-Date.
func curlRequest(t *testing.T, name string, opts ...sigv4.Option) (*http.Request, *sigv4.Verifier) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "curl-7.88.1", name))
	require.NoError(t, err)
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	require.NoError(t, err)
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	require.NoError(t, err)
	return r, sigv4.NewVerifier(curlLookup, append([]sigv4.Option{sigv4.WithClock(func() time.Time { return at })}, opts...)...)
}

// What curl 7.88 sends is verified as S3 verifies it: accepted when it
// signed what S3 signs, refused with SignatureDoesNotMatch where curl's
// canonical request differs from S3's (curl#14370 headers, curl#9717 query).
func TestCurl788Requests(t *testing.T) {
	for _, tc := range []struct {
		file string
		body string // accepted: the body read after Verify
		want string // refused: the reason
	}{
		{file: "get.http"},
		{file: "get-ssec.http", want: "SignedHeaders is not sorted by name"},
		{file: "put-meta.http", want: "SignedHeaders is not sorted by name"},
		{file: "get-unsorted-query.http", want: "signature does not match"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, v := curlRequest(t, tc.file)
			id, err := v.Verify(r)
			if tc.want != "" {
				require.ErrorIs(t, err, sigv4.ErrSignatureMismatch)
				require.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, sigv4.Identity{AccessKey: curlAK, Region: "us-east-1", Service: "s3"}, id)
			got, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			require.Equal(t, tc.body, string(got))
		})
	}
}

// curl 7.88 sends no x-amz-content-sha256 with a body (it signs the body's
// hash): S3 answers such a request 400 InvalidRequest ("Missing required
// header for this request: x-amz-content-sha256"), and so does the Verifier,
// before it reads the body. With WithMaxBufferedBody it reads and hashes the
// body first, and the request is accepted.
func TestCurl788PostWithoutContentSHA256(t *testing.T) {
	r, v := curlRequest(t, "post-json.http")
	body := &countingReader{r: r.Body}
	r.Body = body
	_, err := v.Verify(r)
	require.ErrorIs(t, err, sigv4.ErrMalformedRequest)
	require.Contains(t, err.Error(), "missing x-amz-content-sha256")
	require.Zero(t, body.n.Load(), "the body was read before authentication")

	r, v = curlRequest(t, "post-json.http", sigv4.WithMaxBufferedBody(1<<10, 1<<20))
	id, err := v.Verify(r)
	require.NoError(t, err)
	require.Equal(t, curlAK, id.AccessKey)
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, `{"key_id":"k1"}`, string(got))
}

// The SSE-C vector is a genuine signature over the canonical headers in the
// order curl lists them, which is not the canonical request S3 computes
// (names sorted): so S3 refuses it, and only the order is at fault.
func TestCurl788SSECSignsUnsortedHeaders(t *testing.T) {
	r, v := curlRequest(t, "get-ssec.http")
	authz := r.Header.Get("Authorization")
	signedHeaders := between(authz, "SignedHeaders=", ",")
	signature := authz[strings.Index(authz, "Signature=")+len("Signature="):]
	names := strings.Split(signedHeaders, ";")
	require.Equal(t, []string{"host", "x-amz-date", "x-amz-server-side-encryption-customer-algorithm",
		"x-amz-server-side-encryption-customer-key-md5", "x-amz-server-side-encryption-customer-key"}, names)

	require.Equal(t, signature, sign(r, names), "curl signed its own order")
	sorted := []string{names[0], names[1], names[2], names[4], names[3]}
	require.NotEqual(t, signature, sign(r, sorted), "S3's canonical request differs")

	// The same request signed in S3's order (as the AWS SDK, or curl 8.10+,
	// signs it) is accepted.
	again, err := http.NewRequest("GET", "http://"+r.Host+r.RequestURI, nil)
	require.NoError(t, err)
	for _, n := range names[2:] {
		again.Header.Set(n, r.Header.Get(n))
	}
	at, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	require.NoError(t, v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: curlAK, SecretAccessKey: curlSK}, again, emptyHex, "s3", "us-east-1", at))
	require.Contains(t, again.Header.Get("Authorization"), "SignedHeaders=host;x-amz-date;x-amz-server-side-encryption-customer-algorithm;x-amz-server-side-encryption-customer-key;x-amz-server-side-encryption-customer-key-md5,")
	_, err = v.Verify(again)
	require.NoError(t, err)
}

// sign computes a header-form SigV4 signature of r (no query, empty body)
// with the canonical headers in the order given, by the specification.
func sign(r *http.Request, names []string) string {
	var canon strings.Builder
	canon.WriteString(r.Method + "\n" + r.URL.EscapedPath() + "\n" + r.URL.RawQuery + "\n")
	for _, n := range names {
		v := r.Header.Get(n)
		if n == "host" {
			v = r.Host
		}
		canon.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	canon.WriteString("\n" + strings.Join(names, ";") + "\n" + emptyHex)
	amzDate := r.Header.Get("X-Amz-Date")
	scope := amzDate[:8] + "/us-east-1/s3/aws4_request"
	sum := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + curlSK)
	for _, part := range []string{amzDate[:8], "us-east-1", "s3", "aws4_request", toSign} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(part))
		key = m.Sum(nil)
	}
	return hex.EncodeToString(key)
}

func between(s, from, to string) string {
	s = s[strings.Index(s, from)+len(from):]
	return s[:strings.Index(s, to)]
}

// With a curl on the machine, the SSE-C GET it sends now is accepted when
// that curl sorts by name (8.10+) and refused as S3 refuses it otherwise.
func TestCurlOnThisMachine(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl on PATH")
	}
	v := sigv4.NewVerifier(curlLookup)
	result := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.Verify(r)
		result <- err
	}))
	defer srv.Close()
	out, err := exec.Command(curl, "-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", curlAK+":"+curlSK,
		"-H", "x-amz-server-side-encryption-customer-algorithm: AES256",
		"-H", "x-amz-server-side-encryption-customer-key: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"-H", "x-amz-server-side-encryption-customer-key-MD5: hRasmdxgYDKV3nvbahU1MA==",
		srv.URL+"/bucket/secret.txt").CombinedOutput()
	if err != nil {
		t.Skipf("curl --aws-sigv4 failed (older than 7.75?): %v: %s", err, out)
	}
	verr := <-result
	version, _ := exec.Command(curl, "--version").Output()
	t.Logf("%s: %v", bytes.SplitN(version, []byte("\n"), 2)[0], verr)
	if verr != nil {
		require.ErrorIs(t, verr, sigv4.ErrSignatureMismatch)
		require.Contains(t, verr.Error(), "SignedHeaders is not sorted by name")
	}
}

// With a curl on the machine: a POST with a body and no
// x-amz-content-sha256 is refused before its body is read; given the body's
// hash with -H, curl signs that header and the request is accepted (curl
// 7.88 consults a given x-amz-content-sha256; newer curls send
// UNSIGNED-PAYLOAD for s3 unless one is given).
func TestCurlOnThisMachinePostBody(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl on PATH")
	}
	type result struct {
		err  error
		read int64
		body string
	}
	results := make(chan result, 1)
	v := sigv4.NewVerifier(curlLookup)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := &countingReader{r: r.Body}
		r.Body = cr
		_, err := v.Verify(r)
		res := result{err: err, read: cr.n.Load()}
		if err == nil {
			b, rerr := io.ReadAll(r.Body)
			res.body, res.err = string(b), rerr
		}
		results <- res
	}))
	defer srv.Close()
	body := `{"key_id":"k1"}`
	run := func(extra ...string) (result, bool) {
		args := append([]string{"-sS", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", curlAK + ":" + curlSK,
			"-H", "Content-Type: application/json", "-d", body}, extra...)
		out, err := exec.Command(curl, append(args, srv.URL+"/admin/v3/kms/generate-data-key")...).CombinedOutput()
		if err != nil {
			t.Logf("curl --aws-sigv4 failed (older than 7.75?): %v: %s", err, out)
			return result{}, false
		}
		return <-results, true
	}
	version, _ := exec.Command(curl, "--version").Output()
	t.Logf("%s", bytes.SplitN(version, []byte("\n"), 2)[0])

	res, ok := run()
	if !ok {
		t.Skip("curl cannot sign")
	}
	if res.err != nil {
		// No header (curl before UNSIGNED-PAYLOAD for s3): refused unread.
		require.ErrorIs(t, res.err, sigv4.ErrMalformedRequest)
		require.Contains(t, res.err.Error(), "missing x-amz-content-sha256")
		require.Zero(t, res.read)
	} else {
		// A newer curl sent UNSIGNED-PAYLOAD.
		require.Equal(t, body, res.body)
	}

	sum := sha256.Sum256([]byte(body))
	res, ok = run("-H", "x-amz-content-sha256: "+hex.EncodeToString(sum[:]))
	require.True(t, ok)
	require.NoError(t, res.err)
	require.Equal(t, body, res.body)
}
