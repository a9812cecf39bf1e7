package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// headersFromText parses "Name: value" lines.
func headersFromText(s string) http.Header {
	h := http.Header{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ":")
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return h
}

// metaFromText parses "name=value" lines.
func metaFromText(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

func checkTypedError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var se *Error
	if !errors.As(err, &se) || se.Code == "" || se.HTTPStatus < 400 || se.HTTPStatus > 599 || se.Message == "" {
		t.Fatalf("untyped or incomplete error: %#v", err)
	}
}

func FuzzParseHeaders(f *testing.F) {
	raw := bytes.Repeat([]byte{7}, 32)
	var b strings.Builder
	for k, v := range ssecHeaders(raw) {
		b.WriteString(k + ": " + v[0] + "\n")
	}
	f.Add(b.String(), true)
	f.Add("X-Amz-Server-Side-Encryption: aws:kms\nX-Amz-Server-Side-Encryption-Aws-Kms-Key-Id: k1\nX-Amz-Server-Side-Encryption-Context: eyJhIjoiYiJ9", false)
	f.Add("X-Amz-Server-Side-Encryption: AES256", true)
	f.Fuzz(func(t *testing.T, text string, tls bool) {
		h := headersFromText(text)
		req, err := ParsePut(h, tls)
		checkTypedError(t, err)
		if err == nil {
			if (req.Kind == KindC) != (req.CustomerKey != nil) {
				t.Fatalf("inconsistent request %+v", req)
			}
			if req.Kind == KindC && req.CustomerKey.KeyMD5() != h.Get(HeaderCustomerKeyMD5) {
				t.Fatal("accepted a key whose MD5 does not match")
			}
			if err := req.validate(); err != nil {
				t.Fatalf("ParsePut returned an invalid request: %v", err)
			}
			if err == nil && req.CustomerKey != nil && !tls {
				t.Fatal("SSE-C accepted without TLS")
			}
		}
		if err != nil && h.Get(HeaderCustomerKey) != "" && len(h.Get(HeaderCustomerKey)) > 3 &&
			strings.Contains(err.Error(), h.Get(HeaderCustomerKey)) {
			t.Fatal("error echoes the customer key")
		}
		k, err := ParseGet(h, tls)
		checkTypedError(t, err)
		if err == nil && k != nil && !tls {
			t.Fatal("SSE-C accepted without TLS")
		}
		_, err = ParseCopySource(h, tls, AllowInsecureSSEC(true))
		checkTypedError(t, err)
	})
}

func FuzzDecodeMetadata(f *testing.F) {
	e, _ := newTestEncryptor(f)
	key := bytes.Repeat([]byte{9}, 32)
	ck, _ := NewCustomerKey(key)
	for _, req := range requests(ck) {
		stored, meta := put(f, e, "b", "o", req, []byte("hello, world"))
		var b strings.Builder
		for k, v := range meta {
			b.WriteString(k + "=" + v + "\n")
		}
		f.Add(b.String(), stored)
	}
	f.Fuzz(func(t *testing.T, text string, stored []byte) {
		meta := metaFromText(text)
		m, err := decodeMeta(meta)
		checkTypedError(t, err)
		if err == nil && m != nil {
			// What decodes re-encodes to the same internal entries.
			out := map[string]string{}
			m.encode(out)
			m2, err := decodeMeta(out)
			if err != nil || m2.kind != m.kind || len(m2.parts) != len(m.parts) {
				t.Fatalf("re-encode: %v", err)
			}
		}
		_ = KindOf(meta)
		_ = ResponseHeaders(meta, ck)
		_, err = DecryptedSize(meta, int64(len(stored)))
		checkTypedError(t, err)
		_, err = EncryptedSize(meta, int64(len(stored)))
		checkTypedError(t, err)
		_, err = e.Head(ctx, "b", "o", meta, ck)
		checkTypedError(t, err)
		if etag, err := e.ETag(ctx, "b", "o", meta); err == nil && !validETag(etag) {
			t.Fatalf("ETag %q is not an S3 ETag", etag)
		} else {
			checkTypedError(t, err)
		}
		_ = OperationHeaders(OpCompleteMultipartUpload, meta, ck)
		for _, k := range []*CustomerKey{nil, ck} {
			r, err := e.DecryptObject(ctx, "b", "o", meta, k, bytes.NewReader(stored), int64(len(stored)))
			checkTypedError(t, err)
			if err == nil {
				p := make([]byte, 64)
				_, err := r.ReadAt(p, 0)
				if err != nil && err != io.EOF {
					checkTypedError(t, err)
				}
				r.Close()
			}
		}
	})
}
