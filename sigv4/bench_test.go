package sigv4_test

import (
	"bytes"
	"io"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/sigv4"
)

func TestSigV4ConcurrentUse(t *testing.T) {
	v := newVerifier()
	body := []byte(`{"key_id":"k1"}`)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				req := httptest.NewRequest("POST", "http://kms.example/admin/v3/kms/generate-data-key?x=1", bytes.NewReader(body))
				o := defaultSign()
				if j%2 == 1 {
					o.sk = "wrong"
				}
				signReq(t, req, body, o)
				id, err := v.Verify(req)
				if j%2 == 1 {
					require.Error(t, err)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, adminAK, id.AccessKey)
				got, err := io.ReadAll(req.Body)
				require.NoError(t, err)
				require.Equal(t, body, got)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkVerify measures one header-form verification of a signed
// POST with a hex payload hash, body read included.
func BenchmarkVerify(b *testing.B) {
	v := newVerifier()
	body := []byte(`{"key_id":"app-key","key_spec":"AES_256","encryption_context":{"bucket":"b","object":"o"}}`)
	req := httptest.NewRequest("POST", "http://kms.example/admin/v3/kms/generate-data-key", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	signReq(b, req, body, defaultSign())
	hdr := req.Header.Clone()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "http://kms.example/admin/v3/kms/generate-data-key", bytes.NewReader(body))
		r.Header = hdr
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunkedReader decodes a 4 MiB STREAMING-UNSIGNED-PAYLOAD-TRAILER
// body in 64 KiB chunks, as aws-sdk-go-v2 sends it.
func BenchmarkChunkedReader(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 4<<20)
	body := encodeChunked(payload, 64<<10, "x-amz-checksum-crc32:AAAAAA==")
	h := hdr(unsignedTrailer...)
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		cr := sigv4.NewChunkedReader(bytes.NewReader(body), h)
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{cr}, buf); err != nil {
			b.Fatal(err)
		}
	}
}
