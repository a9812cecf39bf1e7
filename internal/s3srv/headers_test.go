package s3srv

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
)

// Stored headers are capped as on S3: the request's header section may hold
// 8 KB (user metadata 2 KB of it), so a PUT with a 900 KiB
// Content-Disposition is refused and nothing is stored or echoed.
func TestStoredHeadersAreCapped(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", []byte("x"), nil)
	big := strings.Repeat("d", 900<<10)
	spread := map[string]string{}
	for _, h := range []string{"Content-Type", "Content-Disposition", "Cache-Control", "Content-Language", "Expires"} {
		spread[h] = strings.Repeat("v", 2<<10) // 10 KB in all, each under 8 KB
	}
	for _, c := range []struct {
		name, method, path string
		hdr                map[string]string
	}{
		{"PutObject", http.MethodPut, "/bkt/o", map[string]string{"Content-Disposition": big}},
		{"PutObject, spread", http.MethodPut, "/bkt/o", spread},
		{"CopyObject REPLACE", http.MethodPut, "/bkt/o", map[string]string{"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Metadata-Directive": "REPLACE", "Cache-Control": big}},
		{"CreateMultipartUpload", http.MethodPost, "/bkt/o?uploads", map[string]string{"Content-Type": big}},
	} {
		resp, b := e.do(c.method, c.path, []byte("x"), c.hdr)
		var doc errorDocument
		_ = xml.Unmarshal(b, &doc)
		if resp.StatusCode != http.StatusBadRequest || doc.Code != "RequestHeaderSectionTooLarge" || doc.MaxSizeAllowed != maxHeaderSection {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, b)
		}
		e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/o", nil, nil)
	}

	// Under the cap: stored and echoed.
	ok := strings.Repeat("d", 6<<10)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", []byte("x"), map[string]string{"Content-Disposition": ok})
	if resp, _ := e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/o", nil, nil); resp.Header.Get("Content-Disposition") != ok {
		t.Fatal("Content-Disposition under the cap not stored")
	}
	// User metadata keeps its own 2 KB cap.
	_, b := e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/m", []byte("x"), map[string]string{"X-Amz-Meta-Big": strings.Repeat("m", 2<<10)})
	if !strings.Contains(string(b), "MetadataTooLarge") {
		t.Fatalf("oversized user metadata: %s", b)
	}
}
