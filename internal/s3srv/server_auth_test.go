package s3srv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// A presigned PUT handed to an uploader must not become a CopyObject of
// another object when the holder adds an (unsigned) X-Amz-Copy-Source.
func TestPresignedPutCannotBeTurnedIntoCopy(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: "AKIATESTEXAMPLE", SecretKey: "test-secret-key-0123456789"})
	e.mustStatus(http.StatusOK, "PUT", "/vault", nil, nil)
	e.mustStatus(http.StatusOK, "PUT", "/drop", nil, nil)
	e.mustStatus(http.StatusOK, "PUT", "/vault/secret", []byte("top secret"), nil)

	req, err := http.NewRequest("PUT", e.ts.URL+"/drop/upload", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"X-Amz-Expires": {strconv.Itoa(3600)}}
	req.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: e.cfg.AccessKey, SecretAccessKey: e.cfg.SecretKey}
	signed, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	evil, err := http.NewRequest("PUT", signed, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	evil.Header.Set("X-Amz-Copy-Source", "vault/secret")
	resp, err := e.ts.Client().Do(evil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("presigned PUT with an added X-Amz-Copy-Source: status %d, want 403", resp.StatusCode)
	}
	e.mustStatus(http.StatusNotFound, "HEAD", "/drop/upload", nil, nil)
}

// Admin bodies must be covered by the signature: an admin request signed
// with UNSIGNED-PAYLOAD is refused (a captured one could be replayed with a
// body of the holder's choosing), while S3 uploads may use it.
func TestAdminRequiresSignedPayload(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: "AKIATESTEXAMPLE", SecretKey: "test-secret-key-0123456789"})
	creds := aws.Credentials{AccessKeyID: e.cfg.AccessKey, SecretAccessKey: e.cfg.SecretKey}
	send := func(method, path, body, payloadHash string) int {
		t.Helper()
		req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
		err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
			SignHTTP(context.Background(), creds, req, payloadHash, "s3", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"KeyUsage":"ENCRYPT_DECRYPT","Description":"x"}`
	if code := send("POST", "/admin/v3/kms/keys", body, "UNSIGNED-PAYLOAD"); code != http.StatusUnauthorized {
		t.Fatalf("admin POST with UNSIGNED-PAYLOAD: status %d, want 401", code)
	}
	sum := sha256.Sum256([]byte(body))
	if code := send("POST", "/admin/v3/kms/keys", body, hex.EncodeToString(sum[:])); code != http.StatusOK {
		t.Fatalf("admin POST with a signed payload: status %d, want 200", code)
	}
	if code := send("PUT", "/bucket", "", "UNSIGNED-PAYLOAD"); code != http.StatusOK {
		t.Fatalf("S3 CreateBucket with UNSIGNED-PAYLOAD: status %d, want 200", code)
	}
	if code := send("PUT", "/bucket/obj", "data", "UNSIGNED-PAYLOAD"); code != http.StatusOK {
		t.Fatalf("S3 PUT with UNSIGNED-PAYLOAD: status %d, want 200", code)
	}
}

// An aws-chunked body signed by a hex x-amz-content-sha256 (the hash of the
// encoded bytes) must be refused when another body of the same length is
// sent. The hash check fails only at the body's EOF; the aws-chunked decoder
// used to stop at the final CRLF, and its bufio.Reader kept that error, so
// such a swapped body was stored.
func TestChunkedBodyWithHexHashCannotBeSwapped(t *testing.T) {
	e := newTestEnv(t, Config{AccessKey: "AKIATESTEXAMPLE", SecretKey: "test-secret-key-0123456789"})
	e.mustStatus(http.StatusOK, "PUT", "/bkt", nil, nil)
	creds := aws.Credentials{AccessKeyID: e.cfg.AccessKey, SecretAccessKey: e.cfg.SecretKey}
	signed := unsignedChunked([]byte("the signed payload"), 65536, nil)
	send := func(key string, body []byte) int {
		t.Helper()
		req, err := http.NewRequest("PUT", e.ts.URL+"/bkt/"+key, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(signed)
		ph := hex.EncodeToString(sum[:])
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", "18")
		req.Header.Set("X-Amz-Content-Sha256", ph)
		err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
			SignHTTP(context.Background(), creds, req, ph, "s3", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("swapped", unsignedChunked([]byte("a swapped payload!"), 65536, nil)); code != http.StatusForbidden {
		t.Fatalf("swapped aws-chunked body: status %d, want 403", code)
	}
	e.mustStatus(http.StatusNotFound, "HEAD", "/bkt/swapped", nil, nil)
	if code := send("signed", signed); code != http.StatusOK {
		t.Fatalf("signed aws-chunked body: status %d, want 200", code)
	}
	if _, got := e.mustStatus(http.StatusOK, "GET", "/bkt/signed", nil, nil); string(got) != "the signed payload" {
		t.Fatalf("stored %q", got)
	}
}
