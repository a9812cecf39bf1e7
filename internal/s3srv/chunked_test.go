package s3srv

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// unsignedChunked encodes data as the SDK does for
// STREAMING-UNSIGNED-PAYLOAD-TRAILER.
func unsignedChunked(data []byte, chunk int, trailers map[string]string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(chunk, len(data))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	b.WriteString("0\r\n")
	for k, v := range trailers {
		b.WriteString(k + ":" + v + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func crc32b64(p []byte) string {
	s := crc32.ChecksumIEEE(p)
	return base64.StdEncoding.EncodeToString([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
}

func payloadRequest(t *testing.T, body []byte, hdr map[string]string, contentLength int64) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, "http://x/b/k", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.ContentLength = contentLength
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func readPayload(s *Server, r *http.Request) ([]byte, error) {
	pr, e := s.openPayload(r)
	if e != nil {
		return nil, e
	}
	return io.ReadAll(pr)
}

func TestPayloadUnsignedTrailer(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	data := make([]byte, 200_000)
	_, _ = rand.Read(data)
	good := unsignedChunked(data, 65536, map[string]string{"x-amz-checksum-crc32": crc32b64(data)})
	hdr := map[string]string{
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Content-Sha256":         streamingUnsignedTrailer,
		"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data)),
		"X-Amz-Trailer":                "x-amz-checksum-crc32",
	}
	got, err := readPayload(s, payloadRequest(t, good, hdr, int64(len(good))))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decode: err %v, equal %v", err, bytes.Equal(got, data))
	}

	bad := unsignedChunked(data, 65536, map[string]string{"x-amz-checksum-crc32": crc32b64(data[1:])})
	_, err = readPayload(s, payloadRequest(t, bad, hdr, int64(len(bad))))
	var se *Error
	if !errors.As(err, &se) || se.Code != "BadDigest" {
		t.Fatalf("bad trailer checksum: %v", err)
	}

	noTrailer := unsignedChunked(data, 65536, nil)
	if _, err = readPayload(s, payloadRequest(t, noTrailer, hdr, int64(len(noTrailer)))); err == nil {
		t.Fatal("missing announced trailer accepted")
	}

	short := map[string]string{}
	for k, v := range hdr {
		short[k] = v
	}
	short["X-Amz-Decoded-Content-Length"] = strconv.Itoa(len(data) + 1)
	if _, err = readPayload(s, payloadRequest(t, good, short, int64(len(good)))); !errors.As(err, &se) || se.Code != "IncompleteBody" {
		t.Fatalf("length mismatch: %v", err)
	}
	short["X-Amz-Decoded-Content-Length"] = strconv.Itoa(len(data) - 1)
	if _, err = readPayload(s, payloadRequest(t, good, short, int64(len(good)))); err == nil {
		t.Fatal("longer body than declared accepted")
	}
}

func TestPayloadPlainChecksums(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	data := []byte("hello, world")
	for _, alg := range checksumAlgorithms() {
		h := newChecksum(alg)
		h.Write(data)
		sum := base64.StdEncoding.EncodeToString(h.Sum(nil))
		hdr := map[string]string{"x-amz-checksum-" + alg: sum}
		if got, err := readPayload(s, payloadRequest(t, data, hdr, int64(len(data)))); err != nil || string(got) != string(data) {
			t.Fatalf("%s: %v", alg, err)
		}
		if _, err := readPayload(s, payloadRequest(t, []byte("hello, World"), hdr, int64(len(data)))); err == nil {
			t.Fatalf("%s: mismatch accepted", alg)
		}
	}
	// Content-MD5.
	md5hdr := map[string]string{"Content-Md5": "XrY7u+Ae7tCTyyK7j1rNww=="} // md5("hello world")
	if _, err := readPayload(s, payloadRequest(t, []byte("hello world"), md5hdr, 11)); err != nil {
		t.Fatal(err)
	}
	if _, err := readPayload(s, payloadRequest(t, []byte("hello World"), md5hdr, 11)); err == nil {
		t.Fatal("Content-MD5 mismatch accepted")
	}
	if _, err := readPayload(s, payloadRequest(t, data, map[string]string{"Content-Md5": "nope"}, int64(len(data)))); err == nil {
		t.Fatal("malformed Content-MD5 accepted")
	}
	// No length.
	if _, err := readPayload(s, payloadRequest(t, data, nil, -1)); err == nil {
		t.Fatal("missing Content-Length accepted")
	}
}

func TestCRC64NVME(t *testing.T) {
	h := newChecksum("crc64nvme")
	h.Write([]byte("123456789"))
	if got := hex.EncodeToString(h.Sum(nil)); got != "ae8b14860a799888" {
		t.Fatalf("check value %s", got)
	}
}

func TestChunkedSignatureExtension(t *testing.T) {
	// Anonymous servers decode signed chunks without checking signatures
	// (with credentials, admin.SigV4Verifier decodes and verifies them).
	body := []byte("5;chunk-signature=" + strings.Repeat("ab", 32) + "\r\nhello\r\n0;chunk-signature=" + strings.Repeat("cd", 32) + "\r\n\r\n")
	got, err := io.ReadAll(newChunkedReader(bytes.NewReader(body)))
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := io.ReadAll(newChunkedReader(bytes.NewReader([]byte("5;foo=bar\r\nhello\r\n0\r\n\r\n")))); err == nil {
		t.Fatal("unknown extension accepted")
	}
	if _, err := io.ReadAll(newChunkedReader(bytes.NewReader([]byte("5\r\nhelloXX0\r\n\r\n")))); err == nil {
		t.Fatal("missing CRLF accepted")
	}
	if _, err := io.ReadAll(newChunkedReader(bytes.NewReader([]byte("5\r\nhel")))); err == nil {
		t.Fatal("truncated chunk accepted")
	}
}

func FuzzChunkedReader(f *testing.F) {
	f.Add(unsignedChunked([]byte("hello world"), 4, map[string]string{"x-amz-checksum-crc32": "AAAAAA=="}))
	f.Add([]byte("5;chunk-signature=00\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("ffffffffffffffff\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := newChunkedReader(bytes.NewReader(body))
		n, err := io.Copy(io.Discard, io.LimitReader(c, 1<<20))
		if err == nil && n > int64(len(body)) {
			t.Fatalf("decoded %d bytes from %d", n, len(body))
		}
		if err != nil && !strings.Contains(err.Error(), "aws-chunked") {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}
