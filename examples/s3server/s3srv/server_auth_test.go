package s3srv

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
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
