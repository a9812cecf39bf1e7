package s3srv

import (
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func contentMD5(b []byte) string {
	sum := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var doc errorDocument
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not an error document: %s", b)
	}
	return doc.Code
}

func (e *testEnv) mustCode(status int, code, method, path string, body []byte, hdr map[string]string) {
	e.t.Helper()
	_, b := e.mustStatus(status, method, path, body, hdr)
	if method != http.MethodHead {
		if got := errCode(e.t, b); got != code {
			e.t.Fatalf("%s %s: code %s, want %s", method, path, got, code)
		}
	}
}

type deleteResultDoc struct {
	Deleted []struct{ Key, VersionId string }
	Error   []struct{ Key, VersionId, Code, Message string }
}

func TestDeleteObjects(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.putKeys("bkt", []string{"a", "b", "c", "d"})
	del := func(quiet bool, objs ...string) []byte {
		var sb strings.Builder
		sb.WriteString(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
		if quiet {
			sb.WriteString("<Quiet>true</Quiet>")
		}
		for _, o := range objs {
			sb.WriteString("<Object>" + o + "</Object>")
		}
		sb.WriteString("</Delete>")
		return []byte(sb.String())
	}
	body := del(false, "<Key>a</Key>", "<Key>b</Key><VersionId>null</VersionId>", "<Key>c</Key><VersionId>3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY</VersionId>", "<Key>missing</Key>")
	// Content-MD5 (or a checksum) is required, as S3 requires it.
	e.mustCode(http.StatusBadRequest, "InvalidRequest", http.MethodPost, "/bkt?delete", body, nil)
	e.mustCode(http.StatusBadRequest, "BadDigest", http.MethodPost, "/bkt?delete", body, map[string]string{"Content-Md5": contentMD5([]byte("x"))})
	_, b := e.mustStatus(http.StatusOK, http.MethodPost, "/bkt?delete", body, map[string]string{"Content-Md5": contentMD5(body)})
	var res deleteResultDoc
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 3 || res.Deleted[0].Key != "a" || res.Deleted[1].VersionId != "null" || res.Deleted[2].Key != "missing" ||
		len(res.Error) != 1 || res.Error[0].Key != "c" || res.Error[0].Code != "NoSuchVersion" {
		t.Fatalf("result: %s", b)
	}
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/a", nil, nil)
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/b", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/c", nil, nil)

	// Quiet: only errors; a checksum header serves as well as Content-MD5.
	body = del(true, "<Key>c</Key>", "<Key></Key>")
	_, b = e.mustStatus(http.StatusOK, http.MethodPost, "/bkt?delete", body, map[string]string{"X-Amz-Checksum-Sha256": sha256B64(body)})
	res = deleteResultDoc{}
	if err := xml.Unmarshal(b, &res); err != nil || len(res.Deleted) != 0 || len(res.Error) != 1 || res.Error[0].Code != "InvalidArgument" {
		t.Fatalf("quiet: %s", b)
	}
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/c", nil, nil)

	// Bad bodies.
	many := make([]string, 1001)
	for i := range many {
		many[i] = "<Key>k" + strconv.Itoa(i) + "</Key>"
	}
	for _, bad := range [][]byte{del(false, many...), del(false), []byte("<Delete><Object>"), []byte("<Delete><Quiet>maybe</Quiet><Object><Key>d</Key></Object></Delete>")} {
		e.mustCode(http.StatusBadRequest, "MalformedXML", http.MethodPost, "/bkt?delete", bad, map[string]string{"Content-Md5": contentMD5(bad)})
	}
	e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/d", nil, nil)
	body = del(false, "<Key>d</Key>")
	e.mustCode(http.StatusNotFound, "NoSuchBucket", http.MethodPost, "/nobkt?delete", body, map[string]string{"Content-Md5": contentMD5(body)})

	// DeleteObject with versionId.
	e.mustCode(http.StatusNotFound, "NoSuchVersion", http.MethodDelete, "/bkt/d?versionId=abc", nil, nil)
	e.mustCode(http.StatusBadRequest, "InvalidArgument", http.MethodDelete, "/bkt/d?versionId=", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/d?versionId=null", nil, nil)
	e.mustCode(http.StatusNotFound, "NoSuchVersion", http.MethodGet, "/bkt/d?versionId=abc", nil, nil)
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/d?versionId=null", nil, nil)
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/d", nil, nil)
}

func sha256B64(b []byte) string {
	h := newChecksum("sha256")
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestDeleteBucketAbortsUploads(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	_, b := e.mustStatus(http.StatusOK, http.MethodPost, "/bkt/big?uploads", nil, nil)
	var init struct{ UploadId string }
	if err := xml.Unmarshal(b, &init); err != nil {
		t.Fatal(err)
	}
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/big?partNumber=1&uploadId="+init.UploadId, []byte("part"), nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/obj", []byte("x"), nil)
	e.mustCode(http.StatusConflict, "BucketNotEmpty", http.MethodDelete, "/bkt", nil, nil)
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/obj", nil, nil)
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt", nil, nil)
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	e.mustCode(http.StatusNotFound, "NoSuchUpload", http.MethodPut, "/bkt/big?partNumber=2&uploadId="+init.UploadId, []byte("part"), nil)
}

// uploadMultipart stores key from parts and returns the whole object.
func (e *testEnv) uploadMultipart(bucket, key string, hdr map[string]string, parts ...[]byte) []byte {
	e.t.Helper()
	_, b := e.mustStatus(http.StatusOK, http.MethodPost, "/"+bucket+"/"+key+"?uploads", nil, hdr)
	var init struct{ UploadId string }
	if err := xml.Unmarshal(b, &init); err != nil {
		e.t.Fatal(err)
	}
	var whole []byte
	complete := "<CompleteMultipartUpload>"
	for i, p := range parts {
		resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, fmt.Sprintf("/%s/%s?partNumber=%d&uploadId=%s", bucket, key, i+1, init.UploadId), p, nil)
		complete += fmt.Sprintf("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, resp.Header.Get("ETag"))
		whole = append(whole, p...)
	}
	complete += "</CompleteMultipartUpload>"
	e.mustStatus(http.StatusOK, http.MethodPost, "/"+bucket+"/"+key+"?uploadId="+init.UploadId, []byte(complete), nil)
	return whole
}

func TestGetPartNumber(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	p1, p2, p3 := randBytes(minPartSize), randBytes(minPartSize+7), randBytes(1000)
	whole := e.uploadMultipart("bkt", "mp", nil, p1, p2, p3)
	total := len(whole)
	for n, p := range [][]byte{p1, p2, p3} {
		start := 0
		for _, q := range [][]byte{p1, p2, p3}[:n] {
			start += len(q)
		}
		wantRange := fmt.Sprintf("bytes %d-%d/%d", start, start+len(p)-1, total)
		resp, got := e.mustStatus(http.StatusPartialContent, http.MethodGet, "/bkt/mp?partNumber="+strconv.Itoa(n+1), nil, nil)
		if !bytes.Equal(got, p) || resp.Header.Get("Content-Range") != wantRange || resp.Header.Get("X-Amz-Mp-Parts-Count") != "3" {
			t.Fatalf("part %d: %d bytes, %q, count %q", n+1, len(got), resp.Header.Get("Content-Range"), resp.Header.Get("X-Amz-Mp-Parts-Count"))
		}
		resp, _ = e.mustStatus(http.StatusPartialContent, http.MethodHead, "/bkt/mp?partNumber="+strconv.Itoa(n+1), nil, nil)
		if resp.Header.Get("Content-Length") != strconv.Itoa(len(p)) || resp.Header.Get("X-Amz-Mp-Parts-Count") != "3" {
			t.Fatalf("HEAD part %d: %v", n+1, resp.Header)
		}
	}
	// Without partNumber: the whole object, and no parts count (as S3).
	resp, got := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/mp", nil, nil)
	if !bytes.Equal(got, whole) || resp.Header.Get("X-Amz-Mp-Parts-Count") != "" {
		t.Fatal("whole object")
	}
	resp, _ = e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/mp", nil, nil)
	if resp.Header.Get("X-Amz-Mp-Parts-Count") != "" {
		t.Fatal("parts count on a plain HEAD")
	}
	e.mustCode(http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber", http.MethodGet, "/bkt/mp?partNumber=4", nil, nil)
	e.mustStatus(http.StatusRequestedRangeNotSatisfiable, http.MethodHead, "/bkt/mp?partNumber=4", nil, nil)
	for _, bad := range []string{"0", "-1", "x", "10001", ""} {
		e.mustCode(http.StatusBadRequest, "InvalidArgument", http.MethodGet, "/bkt/mp?partNumber="+bad, nil, nil)
	}
	e.mustCode(http.StatusBadRequest, "InvalidRequest", http.MethodGet, "/bkt/mp?partNumber=1", nil, map[string]string{"Range": "bytes=0-1"})

	// A single-part object is its own part 1.
	data := randBytes(3000)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/single", data, nil)
	resp, got = e.mustStatus(http.StatusPartialContent, http.MethodGet, "/bkt/single?partNumber=1", nil, nil)
	if !bytes.Equal(got, data) || resp.Header.Get("Content-Range") != "bytes 0-2999/3000" || resp.Header.Get("X-Amz-Mp-Parts-Count") != "" {
		t.Fatalf("single part: %v", resp.Header)
	}
	e.mustCode(http.StatusRequestedRangeNotSatisfiable, "InvalidPartNumber", http.MethodGet, "/bkt/single?partNumber=2", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/empty", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/empty?partNumber=1", nil, nil)

	// An object completed before part sizes were recorded: refused, not wrong.
	if err := e.srv.store.updateObjectMeta("bkt", "mp", mustStat(t, e, "bkt", "mp").DataFile, func(m *objectMeta) { m.PartSizes = nil }); err != nil {
		t.Fatal(err)
	}
	e.mustCode(http.StatusNotImplemented, "NotImplemented", http.MethodGet, "/bkt/mp?partNumber=1", nil, nil)
}

func mustStat(t *testing.T, e *testEnv, bucket, key string) objectMeta {
	t.Helper()
	om, err := e.srv.store.statObject(bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return om
}

func TestConditionalGet(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	data := randBytes(1000)
	put, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", data, nil)
	etag := put.Header.Get("ETag")
	head, _ := e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/o", nil, nil)
	lm, err := http.ParseTime(head.Header.Get("Last-Modified"))
	if err != nil {
		t.Fatal(err)
	}
	date := func(d time.Duration) string { return lm.Add(d).UTC().Format(http.TimeFormat) }
	for _, c := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"if-match", map[string]string{"If-Match": etag}, 200},
		{"if-match unquoted in list", map[string]string{"If-Match": `"x", ` + strings.Trim(etag, `"`)}, 200},
		{"if-match star", map[string]string{"If-Match": "*"}, 200},
		{"if-match wrong", map[string]string{"If-Match": `"0123"`}, 412},
		{"if-none-match", map[string]string{"If-None-Match": etag}, 304},
		{"if-none-match star", map[string]string{"If-None-Match": "*"}, 304},
		{"if-none-match other", map[string]string{"If-None-Match": `"0123"`}, 200},
		{"if-modified-since later", map[string]string{"If-Modified-Since": date(time.Hour)}, 304},
		{"if-modified-since same second", map[string]string{"If-Modified-Since": date(0)}, 304},
		{"if-modified-since earlier", map[string]string{"If-Modified-Since": date(-time.Hour)}, 200},
		{"if-modified-since garbage", map[string]string{"If-Modified-Since": "yesterday"}, 200},
		{"if-unmodified-since earlier", map[string]string{"If-Unmodified-Since": date(-time.Hour)}, 412},
		{"if-unmodified-since later", map[string]string{"If-Unmodified-Since": date(time.Hour)}, 200},
		// S3's precedence: a true If-Match wins over a false If-Unmodified-Since,
		// and If-None-Match makes If-Modified-Since irrelevant.
		{"if-match true, unmodified-since false", map[string]string{"If-Match": etag, "If-Unmodified-Since": date(-time.Hour)}, 200},
		{"if-none-match false, modified-since true", map[string]string{"If-None-Match": etag, "If-Modified-Since": date(-time.Hour)}, 304},
		{"if-none-match true, modified-since false", map[string]string{"If-None-Match": `"0123"`, "If-Modified-Since": date(time.Hour)}, 200},
		{"412 before 304", map[string]string{"If-Match": `"0123"`, "If-None-Match": etag}, 412},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp, b := e.do(method, "/bkt/o", nil, c.hdr)
			if resp.StatusCode != c.want {
				t.Fatalf("%s %s: %d, want %d", method, c.name, resp.StatusCode, c.want)
			}
			switch c.want {
			case 200:
				if method == http.MethodGet && !bytes.Equal(b, data) {
					t.Fatalf("%s: body", c.name)
				}
			case 304:
				if len(b) != 0 || resp.Header.Get("ETag") != etag || resp.Header.Get("Last-Modified") == "" {
					t.Fatalf("%s: 304 with body %q or without validators %v", c.name, b, resp.Header)
				}
			case 412:
				if method == http.MethodGet && errCode(t, b) != "PreconditionFailed" {
					t.Fatalf("%s: %s", c.name, b)
				}
			}
		}
	}
	e.mustStatus(http.StatusNotFound, http.MethodGet, "/bkt/missing", nil, map[string]string{"If-None-Match": "*"})

	// An SSE-C object answers no precondition without its key.
	key := randBytes(32)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/c", data, ssecHeaders(key))
	e.mustStatus(http.StatusBadRequest, http.MethodGet, "/bkt/c", nil, map[string]string{"If-None-Match": "*"})
	e.mustStatus(http.StatusBadRequest, http.MethodHead, "/bkt/c", nil, map[string]string{"If-Match": `"0123"`})
	hdr := ssecHeaders(key)
	hdr["If-None-Match"] = "*"
	e.mustStatus(http.StatusNotModified, http.MethodGet, "/bkt/c", nil, hdr)
	e.mustStatus(http.StatusNotModified, http.MethodHead, "/bkt/c", nil, hdr)
}

func TestCopySourceConditions(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	put, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", []byte("source"), nil)
	etag := put.Header.Get("ETag")
	lm := mustStat(t, e, "bkt", "src").LastModified
	date := func(d time.Duration) string { return lm.Add(d).UTC().Format(http.TimeFormat) }
	for _, c := range []struct {
		hdr  map[string]string
		want int
	}{
		{map[string]string{"X-Amz-Copy-Source-If-Match": etag}, 200},
		{map[string]string{"X-Amz-Copy-Source-If-Match": `"0123"`}, 412},
		{map[string]string{"X-Amz-Copy-Source-If-None-Match": etag}, 412},
		{map[string]string{"X-Amz-Copy-Source-If-None-Match": `"0123"`}, 200},
		{map[string]string{"X-Amz-Copy-Source-If-Modified-Since": date(time.Hour)}, 412},
		{map[string]string{"X-Amz-Copy-Source-If-Modified-Since": date(-time.Hour)}, 200},
		{map[string]string{"X-Amz-Copy-Source-If-Unmodified-Since": date(-time.Hour)}, 412},
		{map[string]string{"X-Amz-Copy-Source-If-Match": etag, "X-Amz-Copy-Source-If-Unmodified-Since": date(-time.Hour)}, 200},
		{map[string]string{"X-Amz-Copy-Source-If-None-Match": etag, "X-Amz-Copy-Source-If-Modified-Since": date(-time.Hour)}, 412},
	} {
		c.hdr["X-Amz-Copy-Source"] = "/bkt/src"
		e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/dst", nil, nil)
		resp, b := e.do(http.MethodPut, "/bkt/dst", nil, c.hdr)
		if resp.StatusCode != c.want {
			t.Fatalf("%v: %d, want %d: %s", c.hdr, resp.StatusCode, c.want, b)
		}
		if c.want == 412 {
			if errCode(t, b) != "PreconditionFailed" {
				t.Fatalf("%v: %s", c.hdr, b)
			}
			// Nothing was written.
			e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/dst", nil, nil)
		}
	}
}

// User metadata names go out in lower case, exactly as S3 sends them (a
// recorder shows the header map's keys as written; a client would
// canonicalise them on reading).
func TestUserMetadataLowerCase(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", []byte("x"), map[string]string{"X-Amz-Meta-Foo-Bar": "Baz", "x-amz-meta-lower": "v"})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, "/bkt/o", nil)
		req.TLS = &tls.ConnectionState{HandshakeComplete: true}
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", method, rec.Code)
		}
		h := map[string][]string(rec.Header()) // as written, not canonicalised
		if v := h["x-amz-meta-foo-bar"]; len(v) != 1 || v[0] != "Baz" || h["x-amz-meta-lower"] == nil {
			t.Fatalf("%s: headers %v", method, h)
		}
		if _, canon := h["X-Amz-Meta-Foo-Bar"]; canon {
			t.Fatalf("%s: canonical name sent too", method)
		}
	}
}

// TestCopySourceSSECKeyBeforeConditions: the copy-source conditions of an
// SSE-C source are evaluated only once its key is right, as in S3, so a
// wrong key is 403 and a missing one 400 whatever the conditions say, on
// CopyObject and UploadPartCopy alike.
func TestCopySourceSSECKeyBeforeConditions(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	key, wrong := randBytes(32), randBytes(32)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", []byte("source"), ssecHeaders(key))
	srcKey := func(k []byte) map[string]string {
		h := map[string]string{}
		for name, v := range ssecHeaders(k) {
			h[strings.Replace(name, "X-Amz-", "X-Amz-Copy-Source-", 1)] = v
		}
		return h
	}
	_, b := e.mustStatus(http.StatusOK, http.MethodPost, "/bkt/dst?uploads", nil, nil)
	var init struct{ UploadId string }
	if err := xml.Unmarshal(b, &init); err != nil {
		t.Fatal(err)
	}
	uploadID := init.UploadId
	for _, target := range []string{"/bkt/dst", "/bkt/dst?partNumber=1&uploadId=" + uploadID} {
		for _, c := range []struct {
			name string
			key  []byte
			want int
		}{{"wrong key", wrong, http.StatusForbidden}, {"no key", nil, http.StatusBadRequest}, {"right key", key, http.StatusPreconditionFailed}} {
			hdr := map[string]string{"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Copy-Source-If-Match": `"0123"`}
			if c.key != nil {
				for k, v := range srcKey(c.key) {
					hdr[k] = v
				}
			}
			resp, b := e.do(http.MethodPut, target, nil, hdr)
			if resp.StatusCode != c.want {
				t.Fatalf("%s %s: %d, want %d: %s", target, c.name, resp.StatusCode, c.want, b)
			}
		}
	}
}
