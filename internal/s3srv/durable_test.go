package s3srv

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// stepRec is one step a store write reported.
type stepRec struct{ step, path string }

// recordSteps records every step of the store's writes from now on.
func recordSteps(st *store) func() []stepRec {
	var (
		mu    sync.Mutex
		steps []stepRec
	)
	hook := func(step, path string) error {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, stepRec{step, path})
		return nil
	}
	st.hook.Store(&hook)
	return func() []stepRec {
		mu.Lock()
		defer mu.Unlock()
		st.hook.Store(nil)
		return append([]stepRec(nil), steps...)
	}
}

// checkDurable checks a write's steps: every rename and removal is followed
// by an fsync of its directory before the next rename and before the write
// returns, and every temp file is fsynced before it is renamed.
func checkDurable(t *testing.T, what string, steps []stepRec) {
	t.Helper()
	var pending []string // directories with a rename or removal not yet fsynced
	synced := map[string]bool{}
	for _, s := range steps {
		switch s.step {
		case stepFileSynced:
			synced[s.path] = true
		case stepRenamed, stepRemoved:
			if len(pending) > 0 {
				t.Fatalf("%s: %s %s while %v is not fsynced: %v", what, s.step, s.path, pending, steps)
			}
			pending = append(pending, filepath.Dir(s.path))
		case stepDirSynced:
			pending = slicesDelete(pending, s.path)
		}
	}
	if len(pending) > 0 {
		t.Fatalf("%s: returned with %v not fsynced: %v", what, pending, steps)
	}
}

func slicesDelete(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func stepIndex(steps []stepRec, step, pathSuffix string) int {
	for i, s := range steps {
		if s.step == step && strings.HasSuffix(s.path, pathSuffix) {
			return i
		}
	}
	return -1
}

// Every acknowledged write is durable: the data file is fsynced and renamed,
// its directory fsynced, then the sidecar renamed and the directory fsynced
// again; new directories (buckets, uploads) are fsynced into their parent.
func TestWritesAreDurable(t *testing.T) {
	e := newTestEnv(t, Config{})
	st := e.srv.store
	objs := filepath.Join(e.cfg.DataDir, "buckets", "bkt", "objects")

	done := recordSteps(st)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	steps := done()
	checkDurable(t, "CreateBucket", steps)
	if stepIndex(steps, stepRenamed, filepath.Join("buckets", "bkt")) < 0 {
		t.Fatalf("CreateBucket: no rename of the bucket directory into place: %v", steps)
	}

	done = recordSteps(st)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/obj", []byte("v1"), nil)
	steps = done()
	checkDurable(t, "PutObject", steps)
	data, side := stepIndex(steps, stepRenamed, ".data"), stepIndex(steps, stepRenamed, ".json")
	if data < 0 || side < 0 || data > side {
		t.Fatalf("PutObject: the data file must be renamed (and fsynced) before the sidecar: %v", steps)
	}
	if last := steps[len(steps)-1]; last.step != stepDirSynced || last.path != objs {
		t.Fatalf("PutObject: last step %v, want the fsync of %s", last, objs)
	}

	for _, c := range []struct {
		what, method, path string
		body               []byte
		hdr                map[string]string
		status             int
	}{
		{"overwrite", http.MethodPut, "/bkt/obj", []byte("v2"), nil, http.StatusOK},
		{"copy", http.MethodPut, "/bkt/copy", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/obj"}, http.StatusOK},
		{"copy in place", http.MethodPut, "/bkt/obj", nil, map[string]string{"X-Amz-Copy-Source": "/bkt/obj", "X-Amz-Metadata-Directive": "REPLACE"}, http.StatusOK},
		{"bucket encryption", http.MethodPut, "/bkt?encryption", []byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`), nil, http.StatusOK},
		{"delete", http.MethodDelete, "/bkt/copy", nil, nil, http.StatusNoContent},
	} {
		done = recordSteps(st)
		e.mustStatus(c.status, c.method, c.path, c.body, c.hdr)
		steps = done()
		if len(steps) == 0 {
			t.Fatalf("%s: no steps", c.what)
		}
		checkDurable(t, c.what, steps)
	}

	// Multipart: create, part, complete, and abort.
	done = recordSteps(st)
	_, b := e.mustStatus(http.StatusOK, http.MethodPost, "/bkt/mp?uploads", nil, nil)
	steps = done()
	checkDurable(t, "CreateMultipartUpload", steps)
	var init initiateMultipartUploadResult
	if err := xml.Unmarshal(b, &init); err != nil {
		t.Fatal(err)
	}
	done = recordSteps(st)
	resp, _ := e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/mp?partNumber=1&uploadId="+init.UploadID, []byte("part one"), nil)
	checkDurable(t, "UploadPart", done())
	complete := `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>` + resp.Header.Get("ETag") + `</ETag></Part></CompleteMultipartUpload>`
	done = recordSteps(st)
	e.mustStatus(http.StatusOK, http.MethodPost, "/bkt/mp?uploadId="+init.UploadID, []byte(complete), nil)
	checkDurable(t, "CompleteMultipartUpload", done())
	_, b = e.mustStatus(http.StatusOK, http.MethodPost, "/bkt/mp2?uploads", nil, nil)
	if err := xml.Unmarshal(b, &init); err != nil {
		t.Fatal(err)
	}
	done = recordSteps(st)
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/mp2?uploadId="+init.UploadID, nil, nil)
	checkDurable(t, "AbortMultipartUpload", done())

	for _, k := range []string{"obj", "mp"} {
		e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/"+k, nil, nil)
	}
	done = recordSteps(st)
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt", nil, nil)
	checkDurable(t, "DeleteBucket", done())
}

var errSimulatedCrash = errors.New("simulated crash")

// crashAtStep makes the n-th step (from 0) of the store's writes fail.
func crashAtStep(st *store, n int) {
	var (
		mu sync.Mutex
		i  int
	)
	hook := func(string, string) error {
		mu.Lock()
		defer mu.Unlock()
		i++
		if i-1 == n {
			return errSimulatedCrash
		}
		return nil
	}
	st.hook.Store(&hook)
}

// reopen closes e's server and starts a fresh one on the same directory,
// as after a restart.
func reopen(t *testing.T, e *testEnv) *testEnv {
	t.Helper()
	e.ts.Close()
	if err := e.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close(context.Background())
	})
	return &testEnv{t: t, srv: srv, ts: ts, cfg: cfg, logs: e.logs}
}

// listKeys returns the keys ListObjectsV2 shows.
func listKeys(t *testing.T, e *testEnv, bucket string) []string {
	t.Helper()
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/"+bucket+"?list-type=2", nil, nil)
	var res struct {
		Contents []struct{ Key string }
	}
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range res.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

// A PUT that crashes at any step leaves the old object or the new one, whole:
// never a sidecar without its data (a crash after the data file's rename and
// before the sidecar's leaves the old object), never an error on GET, and
// the leftovers disturb no later write.
func TestCrashDuringPut(t *testing.T) {
	v1, v2 := bytes.Repeat([]byte("1"), 70_000), bytes.Repeat([]byte("2"), 90_000)
	// A dry run to learn the steps of an overwrite.
	dry := newTestEnv(t, Config{})
	dry.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	dry.mustStatus(http.StatusOK, http.MethodPut, "/bkt/obj", v1, nil)
	done := recordSteps(dry.srv.store)
	dry.mustStatus(http.StatusOK, http.MethodPut, "/bkt/obj", v2, nil)
	steps := done()
	commit := stepIndex(steps, stepRenamed, ".json")
	if commit < 0 {
		t.Fatalf("no sidecar rename in %v", steps)
	}
	for n, s := range steps {
		for _, overwrite := range []bool{true, false} {
			name := s.step + "@" + filepath.Base(s.path)
			if overwrite {
				name = "overwrite/" + name
			} else {
				name = "new/" + name
			}
			t.Run(name, func(t *testing.T) {
				e := newTestEnv(t, Config{})
				e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
				if overwrite {
					e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/obj", v1, nil)
				}
				crashAtStep(e.srv.store, n)
				e.mustStatus(http.StatusInternalServerError, http.MethodPut, "/bkt/obj", v2, nil)
				e = reopen(t, e)

				var want []byte
				switch {
				case n >= commit:
					want = v2
				case overwrite:
					want = v1
				}
				resp, got := e.do(http.MethodGet, "/bkt/obj", nil, nil)
				switch {
				case want == nil && resp.StatusCode != http.StatusNotFound:
					t.Fatalf("crash at step %d (%v) before the commit: GET %d, want 404", n, s, resp.StatusCode)
				case want != nil && (resp.StatusCode != http.StatusOK || !bytes.Equal(got, want)):
					t.Fatalf("crash at step %d (%v): GET %d (%d bytes), want %d bytes of version %c", n, s, resp.StatusCode, len(got), len(want), want[0])
				}
				keys := listKeys(t, e, "bkt")
				if (want == nil && len(keys) != 0) || (want != nil && (len(keys) != 1 || keys[0] != "obj")) {
					t.Fatalf("listing after the crash: %v", keys)
				}
				// DIR/tmp was emptied at start.
				if ents, _ := os.ReadDir(filepath.Join(e.cfg.DataDir, "tmp")); len(ents) != 0 {
					t.Fatalf("DIR/tmp not emptied: %v", ents)
				}
				e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/obj", []byte("v3"), nil)
				if _, got := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/obj", nil, nil); string(got) != "v3" {
					t.Fatalf("write after the crash: %q", got)
				}
			})
		}
	}
}

// A CreateBucket that crashes at any step leaves no bucket or a complete one:
// never a directory that blocks creating the bucket but is not one.
func TestCrashDuringCreateBucket(t *testing.T) {
	dry := newTestEnv(t, Config{})
	done := recordSteps(dry.srv.store)
	dry.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	steps := done()
	commit := stepIndex(steps, stepRenamed, filepath.Join("buckets", "bkt"))
	for n, s := range steps {
		t.Run(s.step+"@"+filepath.Base(s.path), func(t *testing.T) {
			e := newTestEnv(t, Config{})
			crashAtStep(e.srv.store, n)
			e.mustStatus(http.StatusInternalServerError, http.MethodPut, "/bkt", nil, nil)
			e = reopen(t, e)
			want := http.StatusNotFound
			if n >= commit {
				want = http.StatusOK
			}
			e.mustStatus(want, http.MethodHead, "/bkt", nil, nil)
			if want == http.StatusNotFound {
				e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
			}
			e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", []byte("x"), nil)
		})
	}
}

// The remains of a bucket creation that the first layout's store could
// interrupt (a bucket directory without bucket.json) are not a bucket and
// do not block creating it.
func TestCreateBucketOverRemains(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "buckets", "bkt", "objects"), 0o700); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, Config{DataDir: dir})
	e.mustStatus(http.StatusNotFound, http.MethodHead, "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", []byte("x"), nil)
}

// Start-up empties DIR/tmp entirely, directories included (the remains of an
// interrupted bucket or upload removal), not only the temp files.
func TestStartEmptiesTmpDirectories(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"tmp/rmbucket-0123456789abcdef/objects/x.json", "tmp/w-123"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("left over"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newTestEnv(t, Config{DataDir: dir})
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("DIR/tmp after start: %v", ents)
	}
}
