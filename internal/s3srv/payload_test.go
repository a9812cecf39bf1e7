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
	"testing"
)

// x-amz-content-sha256 values announcing an aws-chunked body.
const (
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
)

// unsignedChunked encodes data as the SDK does for
// STREAMING-UNSIGNED-PAYLOAD-TRAILER. (The decoder's own tests are in
// package sigv4.)
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
	if _, err = readPayload(s, payloadRequest(t, noTrailer, hdr, int64(len(noTrailer)))); toS3Error(err).Code != "IncompleteBody" {
		t.Fatalf("missing announced trailer: %v", err)
	}

	short := map[string]string{}
	for k, v := range hdr {
		short[k] = v
	}
	short["X-Amz-Decoded-Content-Length"] = strconv.Itoa(len(data) + 1)
	if _, err = readPayload(s, payloadRequest(t, good, short, int64(len(good)))); toS3Error(err).Code != "IncompleteBody" {
		t.Fatalf("length mismatch: %v", err)
	}
	short["X-Amz-Decoded-Content-Length"] = strconv.Itoa(len(data) - 1)
	if _, err = readPayload(s, payloadRequest(t, good, short, int64(len(good)))); err == nil {
		t.Fatal("longer body than declared accepted")
	}

	// Bytes after the final chunk are refused.
	extra := append(append([]byte(nil), good...), "0\r\n\r\n"...)
	if _, err = readPayload(s, payloadRequest(t, extra, hdr, int64(len(extra)))); toS3Error(err).Code != "IncompleteBody" {
		t.Fatalf("data after the final chunk: %v", err)
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
	// Content-MD5: validated here, compared with the plaintext by sse in its
	// one MD5 pass (writeStored; TestContentMD5BadDigest).
	md5hdr := map[string]string{"Content-Md5": "XrY7u+Ae7tCTyyK7j1rNww=="} // md5("hello world")
	if _, err := readPayload(s, payloadRequest(t, []byte("hello world"), md5hdr, 11)); err != nil {
		t.Fatal(err)
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
