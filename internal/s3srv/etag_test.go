package s3srv

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func md5Hex(b []byte) string {
	d := md5.Sum(b)
	return hex.EncodeToString(d[:])
}

func md5B64(b []byte) string {
	d := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(d[:])
}

// etagKinds are the PUT headers of each kind (SSE-C with key).
func etagKinds(key []byte) map[string]map[string]string {
	return map[string]map[string]string{
		"sse-s3":  {"X-Amz-Server-Side-Encryption": "AES256"},
		"sse-kms": {"X-Amz-Server-Side-Encryption": "aws:kms"},
		"sse-c":   ssecHeaders(key),
	}
}

func with(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// answersMD5 reports whether a kind's ETag is the plaintext MD5, as in S3.
func answersMD5(kind string) bool { return kind == "sse-s3" || kind == "none" }

// listETag returns the ETag a ListObjectsV2 of bucket shows for key.
func listETag(t *testing.T, e *testEnv, bucket, key string) string {
	t.Helper()
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/"+bucket+"?list-type=2", nil, nil)
	var res listBucketResultV2
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Contents {
		if o.Key == key {
			return o.ETag
		}
	}
	t.Fatalf("%s not listed", key)
	return ""
}

// requireNoMD5OnDisk checks that no file of the data directory holds one of
// the MD5s in the clear (hex or base64).
func requireNoMD5OnDisk(t *testing.T, dir string, plains ...[]byte) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".data") {
			return nil
		}
		raw, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil
		}
		for _, p := range plains {
			for _, s := range []string{md5Hex(p), md5B64(p)} {
				if bytes.Contains(bytes.ToLower(raw), []byte(strings.ToLower(s))) {
					t.Fatalf("%s holds a plaintext MD5 in the clear", path)
				}
			}
		}
		return nil
	})
}

// TestETagSemantics: PUT, HEAD, GET and listings answer one ETag per
// object: the plaintext MD5 for SSE-S3, an opaque one (not the MD5) for
// SSE-KMS and SSE-C, also without the SSE-C key in listings and after a
// restart; no sidecar holds the MD5.
func TestETagSemantics(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, Config{DataDir: dir})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	key := randBytes(32)
	data := randBytes(300_000)
	etags := map[string]string{}
	for kind, hdr := range etagKinds(key) {
		resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/"+kind, data, hdr)
		etag := resp.Header.Get("ETag")
		if answersMD5(kind) != (etag == `"`+md5Hex(data)+`"`) {
			t.Fatalf("%s: PUT ETag %s, MD5 %s", kind, etag, md5Hex(data))
		}
		if len(etag) != 34 {
			t.Fatalf("%s: ETag %q is not 32 hex digits", kind, etag)
		}
		etags[kind] = etag
	}
	check := func(e *testEnv) {
		for kind, hdr := range etagKinds(key) {
			get := map[string]string{}
			if kind == "sse-c" {
				get = hdr
			}
			h, _ := e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/"+kind, nil, get)
			g, body := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/"+kind, nil, get)
			if !bytes.Equal(body, data) {
				t.Fatalf("%s: GET body", kind)
			}
			for what, got := range map[string]string{"HEAD": h.Header.Get("ETag"), "GET": g.Header.Get("ETag"), "list": listETag(t, e, "bkt", kind)} {
				if got != etags[kind] {
					t.Fatalf("%s: %s ETag %s, PUT said %s", kind, what, got, etags[kind])
				}
			}
		}
	}
	check(e)
	requireNoMD5OnDisk(t, dir, data)
	check(reopen(t, e))
}

// TestETagUnencrypted: with encryption disabled the ETag is the MD5, for
// single and multipart objects.
func TestETagUnencrypted(t *testing.T) {
	e := newTestEnv(t, Config{DisableEncryption: true})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := randBytes(1000)
	resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", data, nil)
	if resp.Header.Get("ETag") != `"`+md5Hex(data)+`"` || listETag(t, e, "bkt", "o") != `"`+md5Hex(data)+`"` {
		t.Fatalf("ETag %s", resp.Header.Get("ETag"))
	}
	p1, p2 := randBytes(minPartSize), randBytes(10)
	etag, _ := multipartUpload(t, e, "/bkt/mp", nil, nil, p1, p2)
	if want := multipartETag(md5Hex(p1), md5Hex(p2)); etag != want {
		t.Fatalf("multipart ETag %s, want %s", etag, want)
	}
}

// multipartETag is S3's: the MD5 of the binary part ETags, then -N.
func multipartETag(parts ...string) string {
	h := md5.New()
	for _, p := range parts {
		raw, _ := hex.DecodeString(strings.Trim(p, `"`))
		h.Write(raw)
	}
	return fmt.Sprintf(`"%x-%d"`, h.Sum(nil), len(parts))
}

func initiate(t *testing.T, e *testEnv, path string, hdr map[string]string) string {
	t.Helper()
	_, b := e.mustStatus(http.StatusOK, http.MethodPost, path+"?uploads", nil, hdr)
	var res initiateMultipartUploadResult
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res.UploadID
}

func complete(t *testing.T, e *testEnv, path, id string, etags []string) (*http.Response, string) {
	t.Helper()
	var body strings.Builder
	body.WriteString("<CompleteMultipartUpload>")
	for i, et := range etags {
		fmt.Fprintf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, et)
	}
	body.WriteString("</CompleteMultipartUpload>")
	resp, b := e.mustStatus(http.StatusOK, http.MethodPost, path+"?uploadId="+id, []byte(body.String()), nil)
	var res completeMultipartUploadResult
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return resp, res.ETag
}

// multipartUpload uploads parts 1..n with hdr on the initiate and partHdr
// on every part, checks that uploading part 1 again gives the same ETag,
// and completes. It returns the object's ETag and the parts'.
func multipartUpload(t *testing.T, e *testEnv, path string, hdr, partHdr map[string]string, parts ...[]byte) (string, []string) {
	t.Helper()
	id := initiate(t, e, path, hdr)
	var etags []string
	for i, p := range parts {
		resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, fmt.Sprintf("%s?partNumber=%d&uploadId=%s", path, i+1, id), p, partHdr)
		etags = append(etags, resp.Header.Get("ETag"))
	}
	again, _ := e.mustStatus(http.StatusOK, http.MethodPut, path+"?partNumber=1&uploadId="+id, parts[0], partHdr)
	if again.Header.Get("ETag") != etags[0] {
		t.Fatalf("part 1 uploaded again: ETag %s, first %s", again.Header.Get("ETag"), etags[0])
	}
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, path+"?uploadId="+id, nil, nil)
	var lp listPartsResult
	if err := xml.Unmarshal(b, &lp); err != nil {
		t.Fatal(err)
	}
	for i, p := range lp.Parts {
		if p.ETag != etags[i] {
			t.Fatalf("ListParts part %d ETag %s, UploadPart said %s", p.PartNumber, p.ETag, etags[i])
		}
	}
	_, etag := complete(t, e, path, id, etags)
	return etag, etags
}

// TestMultipartETagsAndHeaders: part ETags (MD5 for SSE-S3, opaque for
// SSE-KMS and SSE-C), the same for a part uploaded again, S3's multipart
// formula, and the SSE headers of UploadPart and CompleteMultipartUpload as
// S3 returns them.
func TestMultipartETagsAndHeaders(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	key := randBytes(32)
	p1, p2 := randBytes(minPartSize), randBytes(1000)
	for kind, hdr := range etagKinds(key) {
		t.Run(kind, func(t *testing.T) {
			path := "/bkt/mp-" + kind
			var partHdr map[string]string
			if kind == "sse-c" {
				partHdr = hdr
			}
			id := initiate(t, e, path, hdr)
			up, _ := e.mustStatus(http.StatusOK, http.MethodPut, path+"?partNumber=1&uploadId="+id, p1, partHdr)
			h := up.Header
			switch kind {
			case "sse-s3":
				if h.Get("X-Amz-Server-Side-Encryption") != "AES256" || h.Get("ETag") != `"`+md5Hex(p1)+`"` {
					t.Fatalf("UploadPart headers %v", h)
				}
			case "sse-kms":
				if h.Get("X-Amz-Server-Side-Encryption") != "aws:kms" || h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") == "" ||
					h.Get("X-Amz-Server-Side-Encryption-Context") != "" || h.Get("ETag") == `"`+md5Hex(p1)+`"` {
					t.Fatalf("UploadPart headers %v", h)
				}
			case "sse-c":
				if h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "AES256" ||
					h.Get("X-Amz-Server-Side-Encryption-Customer-Key-Md5") != hdr["X-Amz-Server-Side-Encryption-Customer-Key-Md5"] ||
					h.Get("ETag") == `"`+md5Hex(p1)+`"` {
					t.Fatalf("UploadPart headers %v", h)
				}
			}
			// SSE-KMS (and SSE-S3) headers on UploadPart: 400, as S3.
			e.mustStatus(http.StatusBadRequest, http.MethodPut, path+"?partNumber=2&uploadId="+id, p2,
				with(partHdr, map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"}))
			// A wrong Content-MD5 on a part: BadDigest, nothing stored.
			_, b := e.mustStatus(http.StatusBadRequest, http.MethodPut, path+"?partNumber=2&uploadId="+id, p2,
				with(partHdr, map[string]string{"Content-Md5": md5B64(p1)}))
			if !strings.Contains(string(b), "BadDigest") {
				t.Fatalf("want BadDigest: %s", b)
			}
			p2resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, path+"?partNumber=2&uploadId="+id, p2,
				with(partHdr, map[string]string{"Content-Md5": md5B64(p2)}))
			etags := []string{up.Header.Get("ETag"), p2resp.Header.Get("ETag")}
			resp, etag := complete(t, e, path, id, etags)
			if etag != multipartETag(etags...) {
				t.Fatalf("Complete ETag %s, want %s", etag, multipartETag(etags...))
			}
			ch := resp.Header
			if ch.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" || ch.Get("X-Amz-Server-Side-Encryption-Context") != "" {
				t.Fatalf("Complete headers %v", ch)
			}
			switch kind {
			case "sse-s3":
				if ch.Get("X-Amz-Server-Side-Encryption") != "AES256" {
					t.Fatalf("Complete headers %v", ch)
				}
			case "sse-kms":
				if ch.Get("X-Amz-Server-Side-Encryption") != "aws:kms" || ch.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") == "" {
					t.Fatalf("Complete headers %v", ch)
				}
			}
			get := map[string]string{}
			if kind == "sse-c" {
				get = hdr
			}
			g, body := e.mustStatus(http.StatusOK, http.MethodGet, path, nil, get)
			if !bytes.Equal(body, append(bytes.Clone(p1), p2...)) || g.Header.Get("ETag") != etag || listETag(t, e, "bkt", path[5:]) != etag {
				t.Fatalf("GET ETag %s, Complete said %s", g.Header.Get("ETag"), etag)
			}
		})
	}
	requireNoMD5OnDisk(t, e.cfg.DataDir, p1, p2)
}

// TestContentMD5BadDigest: a PUT whose Content-MD5 does not match the
// plaintext is BadDigest 400 and leaves no object; a malformed one is
// InvalidDigest; a matching one is stored.
func TestContentMD5BadDigest(t *testing.T) {
	for _, cfg := range []Config{{}, {DisableEncryption: true}} {
		e := newTestEnv(t, cfg)
		e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
		data := randBytes(100_000)
		_, b := e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/o", data, map[string]string{"Content-Md5": md5B64(data[1:])})
		if !strings.Contains(string(b), "<Code>BadDigest</Code>") || strings.Contains(string(b), md5B64(data)) || strings.Contains(string(b), md5Hex(data)) {
			t.Fatalf("want BadDigest without digests: %s", b)
		}
		e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/o", nil, nil)
		_, b = e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/o", data, map[string]string{"Content-Md5": "bm9wZQ=="})
		if !strings.Contains(string(b), "InvalidDigest") {
			t.Fatalf("want InvalidDigest: %s", b)
		}
		resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", data, map[string]string{"Content-Md5": md5B64(data)})
		if !cfg.DisableEncryption && strings.Contains(e.logs.String(), md5Hex(data)) {
			t.Fatal("an MD5 in the logs")
		}
		_ = resp
	}
}

// TestUploadPartCopy: a range of a source of every kind becomes a part of
// an upload of every kind (SSE-C source keys from the copy-source headers),
// with the part's ETag and the destination's SSE headers, and bad ranges
// and keys get S3's errors.
func TestUploadPartCopy(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	srcKey, dstKey := randBytes(32), randBytes(32)
	data := randBytes(minPartSize + 3000)
	for kind, hdr := range etagKinds(srcKey) {
		e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src-"+kind, data, hdr)
	}
	copySourceKey := func(kind string) map[string]string {
		if kind != "sse-c" {
			return nil
		}
		out := map[string]string{}
		for k, v := range ssecHeaders(srcKey) {
			out[strings.Replace(k, "X-Amz-", "X-Amz-Copy-Source-", 1)] = v
		}
		return out
	}
	for srcKind := range etagKinds(srcKey) {
		for dstKind, dstHdr := range etagKinds(dstKey) {
			t.Run(srcKind+"->"+dstKind, func(t *testing.T) {
				path := "/bkt/dst-" + srcKind + "-" + dstKind
				var partHdr map[string]string
				if dstKind == "sse-c" {
					partHdr = dstHdr
				}
				id := initiate(t, e, path, dstHdr)
				base := with(partHdr, copySourceKey(srcKind))
				base["X-Amz-Copy-Source"] = "/bkt/src-" + srcKind
				// Part 1: the whole source; part 2: a range.
				r1, b1 := e.mustStatus(http.StatusOK, http.MethodPut, path+"?partNumber=1&uploadId="+id, nil, base)
				r2, b2 := e.mustStatus(http.StatusOK, http.MethodPut, path+"?partNumber=2&uploadId="+id, nil,
					with(base, map[string]string{"X-Amz-Copy-Source-Range": "bytes=100-2099"}))
				var etags []string
				for i, b := range [][]byte{b1, b2} {
					var res copyPartResult
					if err := xml.Unmarshal(b, &res); err != nil || res.LastModified == "" {
						t.Fatalf("CopyPartResult %s: %v", b, err)
					}
					want := []string{md5Hex(data), md5Hex(data[100:2100])}[i]
					if answersMD5(dstKind) != (res.ETag == `"`+want+`"`) {
						t.Fatalf("part %d ETag %s, MD5 %s", i+1, res.ETag, want)
					}
					etags = append(etags, res.ETag)
				}
				// The same range again: the same part ETag.
				_, b3 := e.mustStatus(http.StatusOK, http.MethodPut, path+"?partNumber=2&uploadId="+id, nil,
					with(base, map[string]string{"X-Amz-Copy-Source-Range": "bytes=100-2099"}))
				var again copyPartResult
				if err := xml.Unmarshal(b3, &again); err != nil || again.ETag != etags[1] {
					t.Fatalf("copied range again: %s, first %s", b3, etags[1])
				}
				switch dstKind {
				case "sse-s3":
					if r1.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
						t.Fatalf("headers %v", r1.Header)
					}
				case "sse-kms":
					if r2.Header.Get("X-Amz-Server-Side-Encryption") != "aws:kms" || r2.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") == "" {
						t.Fatalf("headers %v", r2.Header)
					}
				case "sse-c":
					if r1.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key-Md5") != dstHdr["X-Amz-Server-Side-Encryption-Customer-Key-Md5"] {
						t.Fatalf("headers %v", r1.Header)
					}
				}
				_, etag := complete(t, e, path, id, etags)
				if etag != multipartETag(etags...) {
					t.Fatalf("Complete ETag %s", etag)
				}
				get := map[string]string{}
				if dstKind == "sse-c" {
					get = dstHdr
				}
				_, body := e.mustStatus(http.StatusOK, http.MethodGet, path, nil, get)
				if !bytes.Equal(body, append(bytes.Clone(data), data[100:2100]...)) {
					t.Fatal("copied object differs")
				}
			})
		}
	}

	// Errors.
	id := initiate(t, e, "/bkt/err", nil)
	part := "/bkt/err?partNumber=1&uploadId=" + id
	src := map[string]string{"X-Amz-Copy-Source": "/bkt/src-sse-s3"}
	for rng, code := range map[string]string{
		"bytes=abc":                          "InvalidArgument",
		"0-10":                               "InvalidArgument",
		"bytes=10-5":                         "InvalidArgument",
		"bytes=0-":                           "InvalidArgument",
		"bytes=0-1,3-4":                      "InvalidArgument",
		fmt.Sprintf("bytes=0-%d", len(data)): "InvalidArgument", // one past the end
	} {
		_, b := e.mustStatus(http.StatusBadRequest, http.MethodPut, part, nil, with(src, map[string]string{"X-Amz-Copy-Source-Range": rng}))
		if !strings.Contains(string(b), "<Code>"+code+"</Code>") {
			t.Fatalf("range %q: %s", rng, b)
		}
	}
	e.mustStatus(http.StatusOK, http.MethodPut, part, nil, with(src, map[string]string{"X-Amz-Copy-Source-Range": fmt.Sprintf("bytes=%d-%d", len(data)-1, len(data)-1)}))
	sseC := map[string]string{"X-Amz-Copy-Source": "/bkt/src-sse-c"}
	_, b := e.mustStatus(http.StatusBadRequest, http.MethodPut, part, nil, sseC)
	if !strings.Contains(string(b), "InvalidRequest") {
		t.Fatalf("SSE-C source without key: %s", b)
	}
	wrong := map[string]string{}
	for k, v := range ssecHeaders(randBytes(32)) {
		wrong[strings.Replace(k, "X-Amz-", "X-Amz-Copy-Source-", 1)] = v
	}
	e.mustStatus(http.StatusForbidden, http.MethodPut, part, nil, with(sseC, wrong))
	e.mustStatus(http.StatusNotFound, http.MethodPut, part, nil, map[string]string{"X-Amz-Copy-Source": "/bkt/missing"})
	e.mustStatus(http.StatusNotFound, http.MethodPut, "/bkt/err?partNumber=1&uploadId=nope", nil, src)
	e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/err?partNumber=0&uploadId="+id, nil, src)
	requireNoMD5OnDisk(t, e.cfg.DataDir, data, data[100:2100])
}

// TestCopyObjectETag: CopyObject answers the destination's ETag (the MD5
// for SSE-S3) and the destination's SSE headers; an in-place copy that
// changes the kind answers the new kind's ETag.
func TestCopyObjectETag(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	key := randBytes(32)
	data := randBytes(5000)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", data, etagKinds(key)["sse-kms"])
	resp, b := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/dst", nil, map[string]string{
		"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Server-Side-Encryption": "AES256"})
	var res copyObjectResult
	if err := xml.Unmarshal(b, &res); err != nil || res.ETag != `"`+md5Hex(data)+`"` || resp.Header.Get("X-Amz-Server-Side-Encryption") != "AES256" {
		t.Fatalf("copy to SSE-S3: %s %v", b, resp.Header)
	}
	// In place SSE-KMS -> SSE-S3: the MD5; back to SSE-KMS: opaque again.
	_, b = e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", nil, map[string]string{
		"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Server-Side-Encryption": "AES256"})
	if !strings.Contains(string(b), md5Hex(data)) {
		t.Fatalf("in-place to SSE-S3: %s", b)
	}
	h, _ := e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/src", nil, nil)
	if h.Header.Get("ETag") != `"`+md5Hex(data)+`"` {
		t.Fatalf("HEAD after in-place copy: %s", h.Header.Get("ETag"))
	}
	_, b = e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", nil, map[string]string{
		"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Server-Side-Encryption": "aws:kms"})
	if strings.Contains(string(b), md5Hex(data)) {
		t.Fatalf("in-place to SSE-KMS answers the MD5: %s", b)
	}
	// To SSE-C: the destination key's MD5 comes back.
	resp, _ = e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/c", nil, with(ssecHeaders(key), map[string]string{"X-Amz-Copy-Source": "/bkt/src"}))
	if resp.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key-Md5") != ssecHeaders(key)["X-Amz-Server-Side-Encryption-Customer-Key-Md5"] {
		t.Fatalf("copy to SSE-C headers %v", resp.Header)
	}
	requireNoMD5OnDisk(t, e.cfg.DataDir, data)
}
