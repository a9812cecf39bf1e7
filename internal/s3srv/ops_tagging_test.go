package s3srv

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

type taggingDoc struct {
	TagSet struct {
		Tag []struct{ Key, Value string }
	}
}

func (e *testEnv) tags(path string) string {
	e.t.Helper()
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, path+"?tagging", nil, nil)
	var doc taggingDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		e.t.Fatal(err)
	}
	var parts []string
	for _, t := range doc.TagSet.Tag {
		parts = append(parts, t.Key+"="+t.Value)
	}
	return strings.Join(parts, "&")
}

func taggingBody(pairs ...string) []byte {
	var sb strings.Builder
	sb.WriteString(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>`)
	for i := 0; i+1 < len(pairs); i += 2 {
		sb.WriteString("<Tag><Key>" + pairs[i] + "</Key><Value>" + pairs[i+1] + "</Value></Tag>")
	}
	sb.WriteString("</TagSet></Tagging>")
	return []byte(sb.String())
}

func TestObjectTagging(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", []byte("x"), map[string]string{"X-Amz-Tagging": "b=2&a=1&empty="})
	if got := e.tags("/bkt/o"); got != "a=1&b=2&empty=" {
		t.Fatalf("tags %q", got)
	}
	resp, _ := e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/o", nil, nil)
	if resp.Header.Get("X-Amz-Tagging-Count") != "3" {
		t.Fatalf("tagging count %q", resp.Header.Get("X-Amz-Tagging-Count"))
	}
	lm := mustStat(t, e, "bkt", "o").LastModified

	// PutObjectTagging replaces the set (Content-MD5 optional, checked if sent).
	body := taggingBody("project", "envkms", "Key With Space", "a+b=c:d/e@f.g_h-i")
	e.mustCode(http.StatusBadRequest, "BadDigest", http.MethodPut, "/bkt/o?tagging", body, map[string]string{"Content-Md5": contentMD5([]byte("x"))})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o?tagging", body, map[string]string{"Content-Md5": contentMD5(body)})
	if got := e.tags("/bkt/o"); got != "Key With Space=a+b=c:d/e@f.g_h-i&project=envkms" {
		t.Fatalf("tags %q", got)
	}
	if mustStat(t, e, "bkt", "o").LastModified != lm {
		t.Fatal("tagging changed Last-Modified")
	}
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/o?tagging", nil, nil)
	if got := e.tags("/bkt/o"); got != "" {
		t.Fatalf("after delete: %q", got)
	}
	resp, _ = e.mustStatus(http.StatusOK, http.MethodHead, "/bkt/o", nil, nil)
	if resp.Header.Get("X-Amz-Tagging-Count") != "" {
		t.Fatal("tagging count without tags")
	}

	// S3's limits.
	eleven := make([]string, 0, 22)
	for i := range 11 {
		eleven = append(eleven, "k"+strconv.Itoa(i), "v")
	}
	for name, b := range map[string][]byte{
		"11 tags":     taggingBody(eleven...),
		"long key":    taggingBody(strings.Repeat("k", 129), "v"),
		"long value":  taggingBody("k", strings.Repeat("v", 257)),
		"dup key":     taggingBody("k", "1", "k", "2"),
		"empty key":   taggingBody("", "v"),
		"aws: prefix": taggingBody("aws:x", "v"),
		"bad char":    taggingBody("k", "v;"),
	} {
		_, rb := e.mustStatus(http.StatusBadRequest, http.MethodPut, "/bkt/o?tagging", b, nil)
		if errCode(t, rb) != "InvalidTag" {
			t.Fatalf("%s: %s", name, rb)
		}
	}
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o?tagging", taggingBody(strings.Repeat("é", 128), strings.Repeat("ü", 256)), nil)
	e.mustCode(http.StatusBadRequest, "MalformedXML", http.MethodPut, "/bkt/o?tagging", []byte("<Tagging><TagSet>"), nil)
	e.mustCode(http.StatusBadRequest, "InvalidTag", http.MethodPut, "/bkt/o2", []byte("x"), map[string]string{"X-Amz-Tagging": "a=1&a=2"})
	e.mustCode(http.StatusBadRequest, "InvalidArgument", http.MethodPut, "/bkt/o2", []byte("x"), map[string]string{"X-Amz-Tagging": "a=%zz"})
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt/o2", nil, nil) // nothing stored
	e.mustCode(http.StatusNotFound, "NoSuchKey", http.MethodGet, "/bkt/missing?tagging", nil, nil)
	e.mustCode(http.StatusNotFound, "NoSuchKey", http.MethodPut, "/bkt/missing?tagging", taggingBody("k", "v"), nil)
	e.mustCode(http.StatusNotFound, "NoSuchVersion", http.MethodGet, "/bkt/o?tagging&versionId=1", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/o?tagging&versionId=null", nil, nil)

	// Copies: COPY (the default) keeps the source's tags, REPLACE takes x-amz-tagging.
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", []byte("src"), map[string]string{"X-Amz-Tagging": "from=src"})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/c1", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Tagging": "ignored=1"})
	if got := e.tags("/bkt/c1"); got != "from=src" {
		t.Fatalf("COPY: %q", got)
	}
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/c2", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Tagging-Directive": "REPLACE", "X-Amz-Tagging": "new=" + url.QueryEscape("a b")})
	if got := e.tags("/bkt/c2"); got != "new=a b" {
		t.Fatalf("REPLACE: %q", got)
	}
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/c3", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Tagging-Directive": "REPLACE"})
	if got := e.tags("/bkt/c3"); got != "" {
		t.Fatalf("REPLACE without tags: %q", got)
	}
	e.mustCode(http.StatusBadRequest, "InvalidArgument", http.MethodPut, "/bkt/c4", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Tagging-Directive": "MERGE"})
	// In place, with new metadata: the tags follow the directive too.
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/src", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/src", "X-Amz-Metadata-Directive": "REPLACE", "X-Amz-Tagging-Directive": "REPLACE", "X-Amz-Tagging": "in=place"})
	if got := e.tags("/bkt/src"); got != "in=place" {
		t.Fatalf("in place: %q", got)
	}

	// CreateMultipartUpload's x-amz-tagging applies at completion.
	e.uploadMultipart("bkt", "mp", map[string]string{"X-Amz-Tagging": "mp=yes"}, []byte("one part"))
	if got := e.tags("/bkt/mp"); got != "mp=yes" {
		t.Fatalf("multipart: %q", got)
	}
	e.mustCode(http.StatusBadRequest, "InvalidTag", http.MethodPost, "/bkt/mp2?uploads", nil, map[string]string{"X-Amz-Tagging": "aws:x=1"})
}
