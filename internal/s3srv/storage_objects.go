package s3srv

// Objects on disk: a data file plus a JSON sidecar made visible by one rename.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// openObject returns an object's sidecar and its open data file.
func (s *store) openObject(bucket, key string) (objectMeta, *os.File, error) {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	l := s.objLock(bucket, key)
	l.RLock()
	defer l.RUnlock()
	om, err := s.readObjectMeta(bucket, key)
	if err != nil {
		return om, nil, err
	}
	f, err := os.Open(filepath.Join(s.objectsDir(bucket), om.DataFile))
	if errors.Is(err, fs.ErrNotExist) {
		return om, nil, fmt.Errorf("%w: data file missing", errStoreCorrupt)
	}
	if err != nil {
		return om, nil, err
	}
	return om, f, nil
}

// readObjectMeta reads a sidecar; callers hold the locks.
func (s *store) readObjectMeta(bucket, key string) (objectMeta, error) {
	var om objectMeta
	if _, err := s.bucketInfo(bucket); err != nil {
		return om, err
	}
	err := readJSON(filepath.Join(s.objectsDir(bucket), keyHash(key)+".json"), &om)
	if errors.Is(err, fs.ErrNotExist) {
		return om, errStoreNoObject
	}
	if err != nil {
		return om, err
	}
	if om.Version != sidecarVersion || !dataFileRE.MatchString(om.DataFile) || om.Size < 0 || om.StoredSize < 0 {
		return om, fmt.Errorf("%w: sidecar of %q", errStoreCorrupt, key)
	}
	return om, nil
}

// commitObject makes the filled temp file data the content of bucket/key
// with sidecar om (DataFile is filled in here). The previous version's data
// file is removed. When it returns nil the new object survives a power cut.
func (s *store) commitObject(bucket, key string, data *os.File, om objectMeta) (err error) {
	discard := data.Name()
	defer func() {
		if err != nil && !isCrash(err) && discard != "" {
			_ = os.Remove(discard)
		}
	}()
	if err := s.finishTemp(data); err != nil {
		return err
	}
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return err
	}
	h := keyHash(key)
	om.Version = sidecarVersion
	om.Key = key
	om.DataFile = h + "-" + randHex(8) + ".data"
	dir := s.objectsDir(bucket)
	// The data file is durable under its final name before a sidecar
	// names it.
	dataPath := filepath.Join(dir, om.DataFile)
	if err := os.Rename(data.Name(), dataPath); err != nil {
		return err
	}
	discard = dataPath
	if err := s.step(stepRenamed, dataPath); err != nil {
		return err
	}
	if err := s.syncDir(dir); err != nil {
		return err
	}
	l := s.objLock(bucket, key)
	l.Lock()
	defer l.Unlock()
	old, oldErr := s.readObjectMeta(bucket, key)
	// The commit point: the sidecar's rename.
	if err := s.writeJSONAtomic(filepath.Join(dir, keyHash(key)+".json"), om); err != nil {
		return err
	}
	discard = ""
	if oldErr == nil && old.DataFile != om.DataFile {
		// No fsync: should the removal be lost, the old file is merely
		// unreferenced.
		_ = os.Remove(filepath.Join(dir, old.DataFile))
	}
	return nil
}

// updateObjectMeta rewrites the sidecar of bucket/key with fn's result,
// provided the object still has the data file the caller read (so a
// concurrent overwrite is not clobbered).
func (s *store) updateObjectMeta(bucket, key, dataFile string, fn func(*objectMeta)) error {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	l := s.objLock(bucket, key)
	l.Lock()
	defer l.Unlock()
	om, err := s.readObjectMeta(bucket, key)
	if err != nil {
		return err
	}
	if om.DataFile != dataFile {
		return errStoreConflict
	}
	fn(&om)
	om.DataFile = dataFile
	om.Key = key
	om.Version = sidecarVersion
	return s.writeJSONAtomic(filepath.Join(s.objectsDir(bucket), keyHash(key)+".json"), om)
}

func (s *store) deleteObject(bucket, key string) error {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	l := s.objLock(bucket, key)
	l.Lock()
	defer l.Unlock()
	om, err := s.readObjectMeta(bucket, key)
	if errors.Is(err, errStoreNoObject) {
		return nil // S3 answers 204 for a missing key
	}
	if err != nil && !errors.Is(err, errStoreCorrupt) {
		return err
	}
	dir := s.objectsDir(bucket)
	// The sidecar's removal is durable before the data file goes, so a
	// crash never leaves a sidecar without its data.
	if err := s.removeDurable(filepath.Join(dir, keyHash(key)+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if om.DataFile != "" && dataFileRE.MatchString(om.DataFile) {
		_ = os.Remove(filepath.Join(dir, om.DataFile))
	}
	return nil
}

// listObjects returns the sidecars of bucket whose keys start with prefix,
// sorted by key.
func (s *store) listObjects(bucket, prefix string) ([]objectMeta, error) {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return nil, err
	}
	dir := s.objectsDir(bucket)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []objectMeta
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		var om objectMeta
		if err := readJSON(filepath.Join(dir, name), &om); err != nil {
			continue // removed meanwhile, or corrupt: not listed
		}
		if strings.HasPrefix(om.Key, prefix) {
			out = append(out, om)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
