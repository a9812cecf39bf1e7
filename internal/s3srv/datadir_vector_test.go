package s3srv

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The data directory vector: testdata/datadir-v1 is a data directory (see
// FORMAT.md) written by this server, with its local key directory, holding
// objects of every kind. Every later version of the server must serve it
// unchanged: the same bytes, ETags, user metadata and tags. Regenerate only
// when adding objects, never to make a failing test pass:
//
//	ENVKMS_UPDATE_VECTORS=1 go test -run TestDataDirVector ./internal/s3srv
const datadirVector = "testdata/datadir-v1"

// vectorCustomerKey is the SSE-C key of the vector's SSE-C object (a test
// value, not a secret).
var vectorCustomerKey = []byte("envkms datadir vector SSE-C key!")

type vectorObject struct {
	Key      string            `json:"key"`
	Headers  map[string]string `json:"headers,omitempty"` // sent on PUT (and SSE-C on GET)
	Body     string            `json:"body"`
	ETag     string            `json:"etag"` // as answered, quoted
	UserMeta string            `json:"x_amz_meta_color,omitempty"`
	Tags     int               `json:"tag_count,omitempty"`
}

func vectorObjects() []vectorObject {
	ssec := ssecHeaders(vectorCustomerKey)
	return []vectorObject{
		{Key: "plain-default.txt", Body: "SSE-S3 by default", Headers: map[string]string{"X-Amz-Meta-Color": "blue", "X-Amz-Tagging": "a=1&b=2"}, UserMeta: "blue", Tags: 2},
		{Key: "sse-s3.txt", Body: "explicit SSE-S3", Headers: map[string]string{"X-Amz-Server-Side-Encryption": "AES256"}},
		{Key: "sse-kms.txt", Body: "SSE-KMS under the default key", Headers: map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"}},
		{Key: "dir/sse-c.txt", Body: "SSE-C with a customer key", Headers: ssec},
	}
}

func TestDataDirVector(t *testing.T) {
	if os.Getenv("ENVKMS_UPDATE_VECTORS") == "1" {
		writeDataDirVector(t)
	}
	raw, err := os.ReadFile(filepath.Join(datadirVector, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []vectorObject
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyTree(t, filepath.Join(datadirVector, "data"), dir)
	e := newTestEnv(t, Config{DataDir: dir})
	for _, o := range want {
		hdr := map[string]string{}
		if _, ok := o.Headers[sseCKeyHeader]; ok {
			hdr = ssecHeaders(vectorCustomerKey)
		}
		resp, body := e.mustStatus(200, "GET", "/vec/"+o.Key, nil, hdr)
		if string(body) != o.Body {
			t.Fatalf("%s: body %q, want %q", o.Key, body, o.Body)
		}
		if got := resp.Header.Get("ETag"); got != o.ETag {
			t.Fatalf("%s: ETag %s, want %s", o.Key, got, o.ETag)
		}
		if got := resp.Header.Get("X-Amz-Meta-Color"); got != o.UserMeta {
			t.Fatalf("%s: x-amz-meta-color %q, want %q", o.Key, got, o.UserMeta)
		}
		if o.Tags > 0 && resp.Header.Get("X-Amz-Tagging-Count") == "" {
			t.Fatalf("%s: no x-amz-tagging-count", o.Key)
		}
		if o.Key == "plain-default.txt" || o.Key == "sse-s3.txt" {
			sum := md5.Sum([]byte(o.Body))
			if o.ETag != `"`+hex.EncodeToString(sum[:])+`"` {
				t.Fatalf("%s: SSE-S3 ETag %s is not the MD5", o.Key, o.ETag)
			}
		}
	}
	_, list := e.mustStatus(200, "GET", "/vec?list-type=2", nil, nil)
	for _, o := range want {
		if !strings.Contains(string(list), o.ETag) && !strings.Contains(string(list), strings.ReplaceAll(o.ETag, `"`, "&#34;")) {
			t.Fatalf("listing lacks %s's ETag: %s", o.Key, list)
		}
	}
}

const sseCKeyHeader = "X-Amz-Server-Side-Encryption-Customer-Key"

func writeDataDirVector(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	e := newTestEnv(t, Config{DataDir: dir})
	e.mustStatus(200, "PUT", "/vec", nil, nil)
	var out []vectorObject
	for _, o := range vectorObjects() {
		resp, _ := e.mustStatus(200, "PUT", "/vec/"+o.Key, []byte(o.Body), o.Headers)
		o.ETag = resp.Header.Get("ETag")
		if _, ok := o.Headers[sseCKeyHeader]; ok {
			o.Headers = map[string]string{sseCKeyHeader: "(vectorCustomerKey)"}
		}
		out = append(out, o)
	}
	if err := e.srv.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(datadirVector); err != nil {
		t.Fatal(err)
	}
	copyTree(t, dir, filepath.Join(datadirVector, "data"))
	_ = os.Remove(filepath.Join(datadirVector, "data", "s3server.lock"))
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(filepath.Join(datadirVector, "expected.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the regular files and directories under src to dst, with
// the modes the server wants (0700 directories, 0600 files).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
