package s3srv

// Buckets on disk: create, inspect, set default encryption, delete, list.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func (s *store) createBucket(bucket string, now time.Time) error {
	s.bucketsMu.Lock()
	defer s.bucketsMu.Unlock()
	dir := s.bucketDir(bucket)
	if err := os.Mkdir(dir, dirPerm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errStoreBucketExists
		}
		return err
	}
	for _, d := range []string{"objects", "uploads"} {
		if err := os.Mkdir(filepath.Join(dir, d), dirPerm); err != nil {
			_ = os.RemoveAll(dir)
			return err
		}
	}
	if err := s.writeJSONAtomic(filepath.Join(dir, "bucket.json"), bucketMeta{Version: sidecarVersion, Created: now.UTC()}); err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	return nil
}

func (s *store) bucketInfo(bucket string) (bucketMeta, error) {
	var bm bucketMeta
	err := readJSON(filepath.Join(s.bucketDir(bucket), "bucket.json"), &bm)
	if errors.Is(err, fs.ErrNotExist) {
		return bm, errStoreNoBucket
	}
	return bm, err
}

func (s *store) setBucketEncryption(bucket string, enc *bucketEncryption) error {
	s.bucketsMu.Lock()
	defer s.bucketsMu.Unlock()
	bm, err := s.bucketInfo(bucket)
	if err != nil {
		return err
	}
	bm.Encryption = enc
	return s.writeJSONAtomic(filepath.Join(s.bucketDir(bucket), "bucket.json"), bm)
}

func (s *store) deleteBucket(bucket string) error {
	s.bucketsMu.Lock()
	defer s.bucketsMu.Unlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return err
	}
	for _, d := range []string{"objects", "uploads"} {
		ents, err := os.ReadDir(filepath.Join(s.bucketDir(bucket), d))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, e := range ents {
			if d == "uploads" || strings.HasSuffix(e.Name(), ".json") {
				return errStoreNotEmpty
			}
		}
	}
	// Rename first so a half-removed bucket is never visible.
	gone := filepath.Join(s.root, "tmp", "rmbucket-"+randHex(8))
	if err := os.Rename(s.bucketDir(bucket), gone); err != nil {
		return err
	}
	return os.RemoveAll(gone)
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
