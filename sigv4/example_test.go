package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/envkms/kms/sigv4"
)

// Verify a request signed by an AWS SDK (awscurl, the AWS CLI and curl
// --aws-sigv4 sign alike), and read its body to the end before using it:
// a body other than the one signed fails there.
func ExampleVerifier_Verify() {
	secrets := map[string]string{"AKIAEXAMPLE": "example-secret-key"}
	v := sigv4.NewVerifier(func(accessKey string) (string, bool) {
		s, ok := secrets[accessKey]
		return s, ok
	}, sigv4.WithSignedPayload())

	// The client side.
	body := []byte(`{"key_id":"app"}`)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req := httptest.NewRequest("POST", "http://kms.example/kms/generate-data-key", bytes.NewReader(body))
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "example-secret-key"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "execute-api", "us-east-1", time.Now()); err != nil {
		log.Fatal(err)
	}

	// The server side.
	id, err := v.Verify(req)
	if err != nil {
		log.Fatal(err)
	}
	got, err := io.ReadAll(req.Body)
	fmt.Println(id.AccessKey, id.Service, string(got), err)

	// Replayed with another body: the signature still matches the headers,
	// the body fails at its end.
	req.Body = io.NopCloser(strings.NewReader(`{"key_id":"all"}`))
	if _, err := v.Verify(req); err != nil {
		log.Fatal(err)
	}
	_, err = io.ReadAll(req.Body)
	fmt.Println(errors.Is(err, sigv4.ErrPayloadMismatch), err)

	// Unsigned.
	_, err = v.Verify(httptest.NewRequest("GET", "http://kms.example/kms/status", nil))
	var se *sigv4.Error
	fmt.Println(errors.As(err, &se) && se.Err == sigv4.ErrNotSigned, se.Reason)
	// Output:
	// AKIAEXAMPLE execute-api {"key_id":"app"} <nil>
	// true sigv4: payload does not match x-amz-content-sha256
	// true request is not signed
}

// Decode an aws-chunked upload that no Verifier decoded, here the
// STREAMING-UNSIGNED-PAYLOAD-TRAILER body aws-sdk-go-v2 sends over HTTPS,
// and read the checksum it ends with.
func ExampleNewChunkedReader() {
	h := http.Header{}
	h.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	h.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	h.Set("X-Amz-Decoded-Content-Length", "11")
	body := "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"

	cr := sigv4.NewChunkedReader(strings.NewReader(body), h)
	payload, err := io.ReadAll(cr)
	fmt.Printf("%q %v %s\n", payload, err, cr.Trailer().Get("X-Amz-Checksum-Crc32"))

	// Anything after the final CRLF is refused.
	_, err = io.ReadAll(sigv4.NewChunkedReader(strings.NewReader(body+"more"), h))
	fmt.Println(err)
	// Output:
	// "hello world" <nil> DUoRhQ==
	// sigv4: data after the final chunk
}
