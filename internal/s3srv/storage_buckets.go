package s3srv

// Buckets on disk: create, inspect, set default encryption, delete, list.

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// createBucket assembles the bucket directory (objects/, uploads/,
// bucket.json) under DIR/tmp and renames it into place: the bucket exists
// complete or not at all, and durably once this returns nil.
func (s *store) createBucket(bucket string, now time.Time) (err error) {
	s.bucketsMu.Lock()
	defer s.bucketsMu.Unlock()
	dir := s.bucketDir(bucket)
	switch _, err := s.bucketInfo(bucket); {
	case err == nil:
		return errStoreBucketExists
	case !errors.Is(err, errStoreNoBucket):
		return err
	}
	// A directory without bucket.json is no bucket: the remains of a
	// creation the first layout interrupted. Out of the way with it.
	if _, err := os.Lstat(dir); err == nil {
		if err := s.removeDirDurable(dir, "rmbucket"); err != nil {
			return err
		}
	}
	tmp, err := s.tempDir("mkbucket")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && !isCrash(err) {
			_ = os.RemoveAll(tmp)
		}
	}()
	for _, d := range []string{"objects", "uploads"} {
		if err := os.Mkdir(filepath.Join(tmp, d), dirPerm); err != nil {
			return err
		}
	}
	// Durable inside tmp (the fsync of tmp covers objects/ and uploads/ too)
	// before the directory is renamed into place.
	if err := s.writeJSONAtomic(filepath.Join(tmp, "bucket.json"), bucketMeta{Version: sidecarVersion, Created: now.UTC()}); err != nil {
		return err
	}
	return s.renameDurable(tmp, dir)
}

func (s *store) bucketInfo(bucket string) (bucketMeta, error) {
	var bm bucketMeta
	err := readJSON(filepath.Join(s.bucketDir(bucket), "bucket.json"), &bm)
	if errors.Is(err, fs.ErrNotExist) {
		return bm, errStoreNoBucket
	}
	return bm, err
}

// updateBucket changes a bucket's record under the buckets lock and writes
// it back atomically (PutBucketEncryption, PutBucketVersioning).
func (s *store) updateBucket(bucket string, change func(*bucketMeta)) error {
	s.bucketsMu.Lock()
	defer s.bucketsMu.Unlock()
	bm, err := s.bucketInfo(bucket)
	if err != nil {
		return err
	}
	change(&bm)
	return s.writeJSONAtomic(filepath.Join(s.bucketDir(bucket), "bucket.json"), bm)
}

func (s *store) deleteBucket(bucket string) error {
	s.bucketsMu.Lock()
	defer s.bucketsMu.Unlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return err
	}
	if full, err := dirHasSidecar(s.objectsDir(bucket)); err != nil || full {
		if err == nil {
			err = errStoreNotEmpty
		}
		return err
	}
	// Pending multipart uploads do not keep a bucket: they go with it
	// (aborted), in the same rename that removes the bucket. Part commits
	// hold bucketsMu for reading, so none is in progress.
	return s.removeDirDurable(s.bucketDir(bucket), "rmbucket")
}

// dirHasSidecar reports whether dir holds a sidecar (of an object or a part),
// reading the directory in batches so a big one is not loaded whole.
func dirHasSidecar(dir string) (bool, error) {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer d.Close()
	found := false
	err = eachDirEntry(d, func(e fs.DirEntry) (bool, error) {
		found = strings.HasSuffix(e.Name(), ".json")
		return !found, nil
	})
	return found, err
}

// eachDirEntry calls fn with every entry of the open directory d, reading it
// listDirBatch entries at a time so a big directory is never loaded whole,
// until fn returns false or an error.
func eachDirEntry(d *os.File, fn func(fs.DirEntry) (more bool, err error)) error {
	for {
		ents, rerr := d.ReadDir(listDirBatch)
		for _, e := range ents {
			if more, err := fn(e); err != nil || !more {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || (rerr == nil && len(ents) == 0) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

type bucketEntry struct {
	Name    string
	Created time.Time
}

func (s *store) listBuckets() ([]bucketEntry, error) {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	ents, err := os.ReadDir(filepath.Join(s.root, "buckets"))
	if err != nil {
		return nil, err
	}
	var out []bucketEntry
	for _, e := range ents {
		if !e.IsDir() || validBucketName(e.Name()) != nil {
			continue
		}
		bm, err := s.bucketInfo(e.Name())
		if err != nil {
			continue
		}
		out = append(out, bucketEntry{Name: e.Name(), Created: bm.Created})
	}
	return out, nil
}
