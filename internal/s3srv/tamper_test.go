package s3srv

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// forgeUnencrypted does what someone who can write the data directory can
// do to an object: delete the sse block from its sidecar and replace its data
// file with bytes of their choosing. keep, if set, keeps these SSE entries
// (public ones, which say nothing the server can check).
func forgeUnencrypted(t *testing.T, dir, bucket, key string, forged []byte, keep map[string]string) {
	t.Helper()
	sidecar, data := objectPaths(t, dir, bucket, key)
	b, err := os.ReadFile(sidecar)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "sse")
	if keep != nil {
		m["sse"] = keep
	}
	sum := md5.Sum(forged)
	m["size"], m["stored_size"], m["etag"] = len(forged), len(forged), hex.EncodeToString(sum[:])
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sidecar, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, forged, 0o600); err != nil {
		t.Fatal(err)
	}
}

// With encryption on, every object the server stored has sse metadata, so
// one without is a forgery: GET, HEAD and CopyObject refuse it with 500 and
// never return (or copy) its bytes.
func TestStrippedSSEMetadataIsRefused(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	forged := []byte("forged bytes, served as if the server had stored them")
	for _, c := range []struct {
		name string
		hdr  map[string]string
		keep map[string]string
	}{
		{"SSE-S3", nil, nil},
		{"SSE-C", ssecHeaders(randBytes(32)), nil},
		{"public SSE headers kept", nil, map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "obj-" + c.name
			e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/"+key, []byte("the real object"), c.hdr)
			forgeUnencrypted(t, e.cfg.DataDir, "bkt", key, forged, c.keep)

			resp, b := e.do(http.MethodGet, "/bkt/"+key, nil, nil)
			if resp.StatusCode != http.StatusInternalServerError || bytes.Contains(b, forged) {
				t.Fatalf("GET of an object stripped of its sse metadata: %d %q", resp.StatusCode, b)
			}
			e.mustStatus(http.StatusInternalServerError, http.MethodHead, "/bkt/"+key, nil, nil)
			e.mustStatus(http.StatusInternalServerError, http.MethodGet, "/bkt/"+key, nil, map[string]string{"Range": "bytes=0-5"})
			e.mustStatus(http.StatusInternalServerError, http.MethodPut, "/bkt/copy-"+key, nil, map[string]string{"X-Amz-Copy-Source": "/bkt/" + key})
			e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/copy-"+key, nil, nil)
			e.mustStatus(http.StatusInternalServerError, http.MethodPut, "/bkt/"+key, nil, map[string]string{"X-Amz-Copy-Source": "/bkt/" + key, "X-Amz-Metadata-Directive": "REPLACE"})
			// Deleting it still works.
			e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/"+key, nil, nil)
		})
	}
}

// The same for a multipart upload whose upload.json lost its sse metadata:
// its parts would be stored, and the object completed, in plaintext.
func TestStrippedUploadSSEMetadataIsRefused(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	_, b := e.mustStatus(http.StatusOK, http.MethodPost, "/bkt/mp?uploads", nil, nil)
	var init initiateMultipartUploadResult
	if err := xml.Unmarshal(b, &init); err != nil {
		t.Fatal(err)
	}
	resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/mp?partNumber=1&uploadId="+init.UploadID, []byte("part one"), nil)
	etag := resp.Header.Get("ETag")

	path := filepath.Join(e.cfg.DataDir, "buckets", "bkt", "uploads", init.UploadID, "upload.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "sse")
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustStatus(http.StatusInternalServerError, http.MethodPut, "/bkt/mp?partNumber=2&uploadId="+init.UploadID, []byte("part two"), nil)
	complete := `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>` + etag + `</ETag></Part></CompleteMultipartUpload>`
	e.mustStatus(http.StatusInternalServerError, http.MethodPost, "/bkt/mp?uploadId="+init.UploadID, []byte(complete), nil)
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/mp", nil, nil)
}
