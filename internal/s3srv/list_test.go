package s3srv

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type listResult struct {
	IsTruncated           bool
	KeyCount              int
	NextContinuationToken string
	Contents              []struct {
		Key  string
		Size int64
		ETag string
	}
	CommonPrefixes []struct{ Prefix string }
}

func (e *testEnv) list(bucket string, q url.Values) listResult {
	e.t.Helper()
	q.Set("list-type", "2")
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/"+bucket+"?"+q.Encode(), nil, nil)
	var res listResult
	if err := xml.Unmarshal(b, &res); err != nil {
		e.t.Fatal(err)
	}
	return res
}

// putEmpty stores an empty object directly through the store (fast; the
// listing does not care how objects were written).
func putEmpty(t *testing.T, st *store, bucket, key string, headers map[string]string) {
	t.Helper()
	f, err := st.tempFile()
	if err != nil {
		t.Fatal(err)
	}
	om := objectMeta{ETag: "d41d8cd98f00b204e9800998ecf8427e", LastModified: time.Now().UTC(), Headers: headers}
	if err := st.commitObject(bucket, key, f, om); err != nil {
		t.Fatal(err)
	}
}

// ListObjectsV2 with max-keys=1 on a big bucket reads one sidecar, not
// every sidecar of the bucket.
func TestListingReadsOnlyThePage(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	const n = 300
	for i := range n {
		putEmpty(t, e.srv.store, "bkt", fmt.Sprintf("dir%d/obj-%04d", i%3, i), nil)
	}
	for _, c := range []struct {
		q          url.Values
		maxSidecar int64
		keys       int
	}{
		{url.Values{"max-keys": {"1"}}, 1, 1},
		{url.Values{"max-keys": {"1"}, "prefix": {"dir1/"}}, 1, 1},
		{url.Values{"max-keys": {"10"}, "start-after": {"dir2/obj-0100"}}, 10, 10},
		{url.Values{"delimiter": {"/"}}, 0, 0}, // three common prefixes only
	} {
		before := e.srv.store.sidecarReads.Load()
		res := e.list("bkt", c.q)
		reads := e.srv.store.sidecarReads.Load() - before
		if reads > c.maxSidecar {
			t.Errorf("%v: read %d sidecars for a page of %d on a bucket of %d", c.q, reads, len(res.Contents), n)
		}
		if len(res.Contents) != c.keys {
			t.Errorf("%v: %d keys, want %d", c.q, len(res.Contents), c.keys)
		}
	}
}

// The memory of a listing depends on the page, not on the bucket: a
// max-keys=1 listing allocates about as much on a bucket of 400 objects as on
// one of 50, even with sidecars of several KB. (Measured over HTTP, so it
// holds for any store layout.)
func TestListingMemoryDependsOnPage(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation measurement")
	}
	hdr := map[string]string{"Content-Disposition": strings.Repeat("d", 6000), "Content-Type": "text/plain"}
	allocs := func(n int) uint64 {
		e := newTestEnv(t, Config{})
		e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
		for i := range n {
			e.mustStatus(http.StatusOK, http.MethodPut, fmt.Sprintf("/bkt/obj-%04d", i), nil, hdr)
		}
		e.list("bkt", url.Values{"max-keys": {"1"}}) // warm up
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		const rounds = 10
		for range rounds {
			e.list("bkt", url.Values{"max-keys": {"1"}})
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / rounds
	}
	small, big := allocs(50), allocs(400)
	t.Logf("bytes allocated per max-keys=1 listing: %d (50 objects), %d (400 objects)", small, big)
	if big > small+512<<10 {
		t.Fatalf("a max-keys=1 listing allocates %d bytes on 400 objects, %d on 50: it grows with the bucket", big, small)
	}
}

// Paging through every combination of prefix, delimiter and page size gives
// exactly the entries of a full sorted listing, once each and in order,
// long keys (whose sidecar names hold only their beginning) included.
func TestListingPagesAreExact(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	long := strings.Repeat("L", 100)
	keys := []string{"a", "a/b", "a/c/d", "a/c/e", "ab", "b/", "b/x", "c", "é/1", "é/2", "z\x7f",
		long + "/1", long + "/2", long + "2", long + strings.Repeat("x", 200), long + strings.Repeat("w", 300),
		long[:90] + "a", long[:90] + strings.Repeat("b", 40), strings.Repeat("k", maxInlineKey), strings.Repeat("k", maxInlineKey+1)}
	for _, k := range keys {
		putEmpty(t, e.srv.store, "bkt", k, nil)
	}
	slices.Sort(keys)
	want := func(prefix, delim string) []string {
		var out []string
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			v := k
			if delim != "" {
				if i := strings.Index(k[len(prefix):], delim); i >= 0 {
					v = "P:" + k[:len(prefix)+i+len(delim)]
				}
			}
			if len(out) == 0 || out[len(out)-1] != v {
				out = append(out, v)
			}
		}
		return out
	}
	for _, prefix := range []string{"", "a", "a/", long[:50], long, long[:90] + "b", "nothing"} {
		for _, delim := range []string{"", "/", "c", "LL"} {
			for _, page := range []int{1, 2, 3, 1000} {
				var got []string
				token := ""
				for range 100 {
					q := url.Values{"prefix": {prefix}, "delimiter": {delim}, "max-keys": {strconv.Itoa(page)}}
					if token != "" {
						q.Set("continuation-token", token)
					}
					res := e.list("bkt", q)
					var entries []string
					for _, c := range res.Contents {
						entries = append(entries, c.Key)
					}
					for _, p := range res.CommonPrefixes {
						entries = append(entries, "P:"+p.Prefix)
					}
					if res.KeyCount != len(entries) || len(entries) > page {
						t.Fatalf("prefix %q delim %q page %d: KeyCount %d, %d entries", prefix, delim, page, res.KeyCount, len(entries))
					}
					// Keys and prefixes of one page interleave in order.
					slices.SortFunc(entries, func(a, b string) int {
						return strings.Compare(strings.TrimPrefix(a, "P:"), strings.TrimPrefix(b, "P:"))
					})
					got = append(got, entries...)
					if !res.IsTruncated {
						break
					}
					token = res.NextContinuationToken
				}
				if w := want(prefix, delim); !slices.Equal(got, w) {
					t.Fatalf("prefix %q delim %q page %d:\n got %q\nwant %q", prefix, delim, page, got, w)
				}
			}
		}
	}
}

// Sidecars of the first layout (named by the key's SHA-256) are renamed at
// start: the objects stay readable and listed.
func TestSidecarLayoutMigration(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, Config{DataDir: dir})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/old/key", []byte("from the first layout"), nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/both", []byte("newer"), nil)
	objs := filepath.Join(dir, "buckets", "bkt", "objects")
	// As the first layout named them.
	if err := os.Rename(filepath.Join(objs, sidecarName("old/key")), filepath.Join(objs, keyHash("old/key")+".json")); err != nil {
		t.Fatal(err)
	}
	// An interrupted migration: the old name remains beside the new one.
	b, err := os.ReadFile(filepath.Join(objs, sidecarName("both")))
	if err != nil {
		t.Fatal(err)
	}
	var stale objectMeta
	_ = json.Unmarshal(b, &stale)
	stale.DataFile = keyHash("both") + "-0000000000000000.data"
	b, _ = json.Marshal(stale)
	if err := os.WriteFile(filepath.Join(objs, keyHash("both")+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	e.ts.Close()
	_ = e.srv.Close(context.Background())

	e = newTestEnv(t, Config{DataDir: dir})
	if _, got := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/old/key", nil, nil); string(got) != "from the first layout" {
		t.Fatalf("migrated object: %q", got)
	}
	if _, got := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/both", nil, nil); string(got) != "newer" {
		t.Fatalf("object with both names: %q", got)
	}
	if res := e.list("bkt", url.Values{}); len(res.Contents) != 2 {
		t.Fatalf("listing after migration: %+v", res)
	}
	ents, _ := os.ReadDir(objs)
	for _, en := range ents {
		if hashSidecarRE.MatchString(en.Name()) {
			t.Fatalf("first-layout sidecar %s left", en.Name())
		}
	}
}
