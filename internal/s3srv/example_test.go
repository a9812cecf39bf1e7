package s3srv_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/envkms/kms/internal/s3srv"
)

// Run the server in-process (anonymous, as in tests) and store an object:
// it is encrypted with SSE-S3 by default.
func Example() {
	dir, err := os.MkdirTemp("", "s3srv-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	srv, err := s3srv.New(ctx, s3srv.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer srv.Close(ctx)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	do := func(method, path, body string) *http.Response {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}
	do(http.MethodPut, "/photos", "").Body.Close()
	do(http.MethodPut, "/photos/cat.txt", "meow").Body.Close()
	resp := do(http.MethodGet, "/photos/cat.txt", "")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body), resp.Header.Get("X-Amz-Server-Side-Encryption"))
	// Output: 200 meow AES256
}
