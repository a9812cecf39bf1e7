package s3srv

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServeHTTP sends arbitrary methods, paths, queries, SSE, copy, range,
// conditional and tagging headers and bodies to a live server: it must
// answer every one with a status, never panic, and never reveal internal
// metadata.
func FuzzServeHTTP(f *testing.F) {
	srv, err := New(context.Background(), Config{DataDir: f.TempDir(), AllowInsecureSSEC: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close(context.Background()) })
	seed := func(method, target string) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader("seed data")))
	}
	seed(http.MethodPut, "/fuzz")
	seed(http.MethodPut, "/fuzz/obj")

	f.Add("GET", "/fuzz/obj", "", "bytes=-5", "", "", []byte(nil))
	f.Add("PUT", "/fuzz/new", "", "", "AES256", "", []byte("x"))
	f.Add("PUT", "/fuzz/copy", "", "", "aws:kms", "/fuzz/obj", []byte(nil))
	f.Add("POST", "/fuzz/mp", "uploads", "", "", "", []byte(nil))
	f.Add("POST", "/fuzz/mp", "uploadId=00000000000000000000000000000000", "", "", "", []byte("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"))
	f.Add("PUT", "/fuzz", "encryption", "", "", "", []byte("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"))
	f.Add("GET", "/fuzz", "list-type=2&max-keys=1&continuation-token=eDp5", "", "", "", []byte(nil))
	f.Add("PUT", "/fuzz/chunked", "", "", "", "", []byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add("GET", "/fuzz", "marker=a&delimiter=/&max-keys=1&encoding-type=url", "", "", "", []byte(nil))
	f.Add("GET", "/fuzz", "versions&key-marker=obj&version-id-marker=null", "", "", "", []byte(nil))
	f.Add("PUT", "/fuzz", "versioning", "", "", "", []byte("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"))
	f.Add("GET", "/fuzz", "uploads&prefix=m&delimiter=/&key-marker=mp&upload-id-marker=00000000000000000000000000000000&max-uploads=1&encoding-type=url", "", "", "", []byte(nil))
	f.Add("POST", "/fuzz", "delete", "", "", "", []byte("<Delete><Quiet>true</Quiet><Object><Key>obj</Key><VersionId>null</VersionId></Object></Delete>"))
	f.Add("PUT", "/fuzz/obj", "tagging", "", "", "", []byte("<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"))
	f.Add("PUT", "/fuzz/tagged", "", "", "a=1&b=2", "", []byte("x"))
	f.Add("GET", "/fuzz/obj", "partNumber=1", "", "", "", []byte(nil))
	f.Add("GET", "/fuzz/obj", "", "if:*", "", "", []byte(nil))
	f.Add("PUT", "/fuzz/copy", "", "if:Mon, 02 Jan 2006 15:04:05 GMT", "", "/fuzz/obj", []byte(nil))
	f.Add("GET", "/fuzz", "lifecycle", "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, query, rng, sseHdr, copySrc string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, AdminPrefix) {
			return
		}
		req, err := http.NewRequest(method, "http://fuzz"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.RawQuery = query
		req.RequestURI = req.URL.RequestURI()
		if cond, ok := strings.CutPrefix(rng, "if:"); ok {
			for _, h := range []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
				"X-Amz-Copy-Source-If-Match", "X-Amz-Copy-Source-If-None-Match", "X-Amz-Copy-Source-If-Modified-Since"} {
				req.Header.Set(h, cond)
			}
		} else if rng != "" {
			req.Header.Set("Range", rng)
		}
		if strings.HasSuffix(path, "tagged") {
			req.Header.Set("X-Amz-Tagging", sseHdr)
			req.Header.Set("X-Amz-Tagging-Directive", sseHdr)
		}
		if sseHdr != "" {
			req.Header.Set("X-Amz-Server-Side-Encryption", sseHdr)
			req.Header.Set("X-Amz-Server-Side-Encryption-Context", sseHdr)
			req.Header.Set("X-Amz-Server-Side-Encryption-Customer-Key", sseHdr)
		}
		if copySrc != "" {
			req.Header.Set("X-Amz-Copy-Source", copySrc)
		}
		if strings.HasSuffix(path, "chunked") {
			req.Header.Set("Content-Encoding", "aws-chunked")
			req.Header.Set("X-Amz-Decoded-Content-Length", "5")
		}
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil && p != http.ErrAbortHandler {
					t.Fatalf("panic: %v", p)
				}
			}()
			srv.ServeHTTP(rec, req)
		}()
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		for k := range rec.Header() {
			if strings.Contains(strings.ToLower(k), "envkms-internal") {
				t.Fatalf("internal header %s in response", k)
			}
		}
		_, _ = io.Copy(io.Discard, rec.Body)
	})
}
