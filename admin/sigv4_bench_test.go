package admin_test

import (
	"bytes"
	"io"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
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
				p, err := v.Authenticate(req)
				if j%2 == 1 {
					require.Error(t, err)
					continue
				}
				require.NoError(t, err)
				require.True(t, p.Admin)
				got, err := io.ReadAll(req.Body)
				require.NoError(t, err)
				require.Equal(t, body, got)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSigV4Verify measures one header-form verification of a signed
// POST with a hex payload hash, body read included.
func BenchmarkSigV4Verify(b *testing.B) {
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
		if _, err := v.Authenticate(r); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			b.Fatal(err)
		}
	}
}
