package s3srv

// Objects on disk: a data file plus a JSON sidecar made visible by one rename.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Sidecar names carry the object key, so a listing learns the keys from the
// directory alone and reads only the sidecars of the entries it returns:
//
//	k<hex of the key>.json                          keys of up to maxInlineKey bytes
//	l<hex of the first longKeyPrefix bytes>-H.json  longer keys (H = keyHash): the
//	                                                listing reads these to learn the key
//
// Hex keeps the names within 255 bytes and free of any character a file
// system could refuse or fold.
const (
	maxInlineKey  = 124 // 1 + 248 + len(".json") = 254 bytes
	longKeyPrefix = 90  // 1 + 180 + 1 + 64 + len(".json") = 251 bytes
)

var (
	inlineSidecarRE = regexp.MustCompile(`^k(?:[0-9a-f]{2})+\.json$`)
	longSidecarRE   = regexp.MustCompile(`^l[0-9a-f]{180}-[0-9a-f]{64}\.json$`)
	// Sidecars of the first layout, named by keyHash alone.
	hashSidecarRE = regexp.MustCompile(`^[0-9a-f]{64}\.json$`)
)

// sidecarName is the file name of key's sidecar.
func sidecarName(key string) string {
	if len(key) <= maxInlineKey {
		return "k" + hex.EncodeToString([]byte(key)) + ".json"
	}
	return "l" + hex.EncodeToString([]byte(key[:longKeyPrefix])) + "-" + keyHash(key) + ".json"
}

// parseSidecarName returns what a sidecar name tells about its key: the key
// itself (complete), or, for a long key, its first longKeyPrefix bytes.
func parseSidecarName(name string) (key string, complete, ok bool) {
	switch {
	case inlineSidecarRE.MatchString(name):
		b, err := hex.DecodeString(name[1 : len(name)-len(".json")])
		if err != nil || len(b) > maxInlineKey {
			return "", false, false
		}
		return string(b), true, true
	case longSidecarRE.MatchString(name):
		b, err := hex.DecodeString(name[1 : 1+2*longKeyPrefix])
		if err != nil {
			return "", false, false
		}
		return string(b), false, true
	}
	return "", false, false
}

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
	if _, err := s.bucketInfo(bucket); err != nil {
		return objectMeta{}, err
	}
	return s.readSidecar(bucket, sidecarName(key), key)
}

// readSidecar reads and checks the sidecar name of bucket; key, if not
// empty, is the key it must belong to.
func (s *store) readSidecar(bucket, name, key string) (objectMeta, error) {
	var om objectMeta
	s.sidecarReads.Add(1)
	err := readJSON(filepath.Join(s.objectsDir(bucket), name), &om)
	if errors.Is(err, fs.ErrNotExist) {
		return om, errStoreNoObject
	}
	if err != nil {
		return om, err
	}
	if om.Version != sidecarVersion || !dataFileRE.MatchString(om.DataFile) || om.Size < 0 || om.StoredSize < 0 ||
		(key != "" && om.Key != key) || sidecarName(om.Key) != name || !strings.HasPrefix(om.DataFile, keyHash(om.Key)+"-") {
		return om, fmt.Errorf("%w: sidecar %s", errStoreCorrupt, name)
	}
	return om, nil
}

// placeData moves the staged data file to dir/name and makes the move
// durable, so the data file is durable under its final name before a
// sidecar names it. It returns where the file is now, for the caller to
// remove should a later step fail: the staged name if the rename failed.
func (s *store) placeData(data *os.File, dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.Rename(data.Name(), p); err != nil {
		return data.Name(), err
	}
	if err := s.step(stepRenamed, p); err != nil {
		return p, err
	}
	return p, s.syncDir(dir)
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
	if discard, err = s.placeData(data, dir, om.DataFile); err != nil {
		return err
	}
	l := s.objLock(bucket, key)
	l.Lock()
	defer l.Unlock()
	old, oldErr := s.readObjectMeta(bucket, key)
	// The commit point: the sidecar's rename.
	if err := s.writeJSONAtomic(filepath.Join(dir, sidecarName(key)), om); err != nil {
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
	return s.writeJSONAtomic(filepath.Join(s.objectsDir(bucket), sidecarName(key)), om)
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
	if err := s.removeDurable(filepath.Join(dir, sidecarName(key))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if om.DataFile != "" && dataFileRE.MatchString(om.DataFile) && strings.HasPrefix(om.DataFile, keyHash(key)+"-") {
		_ = os.Remove(filepath.Join(dir, om.DataFile))
	}
	return nil
}

// listQuery selects one page of ListObjectsV2.
type listQuery struct {
	prefix, delimiter string
	after             string // only entries after this (start-after or continuation token)
	afterIsPrefix     bool   // after is a common prefix already returned: skip every key under it
	maxKeys           int
}

// listEntry is one entry of a listing: an object (with its sidecar) or a
// common prefix.
type listEntry struct {
	value    string // key or common prefix
	isPrefix bool
	sidecar  string     // object: the sidecar's file name
	meta     objectMeta // object: filled in once the page is chosen
}

// entryOf returns the entry key contributes to the listing q, if any.
func (q *listQuery) entryOf(key string) (string, bool, bool) {
	if !strings.HasPrefix(key, q.prefix) || key <= q.after || (q.afterIsPrefix && strings.HasPrefix(key, q.after)) {
		return "", false, false
	}
	if q.delimiter != "" {
		if i := strings.Index(key[len(q.prefix):], q.delimiter); i >= 0 {
			return key[:len(q.prefix)+i+len(q.delimiter)], true, true
		}
	}
	return key, false, true
}

// pageSelector keeps the smallest limit distinct entries offered to it, in
// the order of cmp (entries cmp finds equal are one: a common prefix seen
// again): the memory of a listing is O(limit), whatever the bucket's size.
// ListObjects and ListMultipartUploads select their pages with it.
type pageSelector[T any] struct {
	limit int
	cmp   func(a, b T) int
	sel   []T
}

func (p *pageSelector[T]) full() bool { return len(p.sel) == p.limit }

// admits reports whether e, or an entry not before it, could still be
// selected.
func (p *pageSelector[T]) admits(e T) bool { return !p.full() || p.cmp(e, p.sel[len(p.sel)-1]) < 0 }

func (p *pageSelector[T]) offer(e T) {
	i, found := slices.BinarySearchFunc(p.sel, e, p.cmp)
	if found || i >= p.limit {
		return // seen before, or beyond the page
	}
	if p.full() {
		p.sel = p.sel[:len(p.sel)-1]
	}
	p.sel = slices.Insert(p.sel, i, e)
}

// compareEntries orders listing entries by key or common prefix.
func compareEntries(a, b listEntry) int { return strings.Compare(a.value, b.value) }

// listDirBatch is how many directory entries a listing reads at a time.
const listDirBatch = 512

// listPage is one page of a listing.
type listPage struct {
	entries   []listEntry
	truncated bool      // more entries follow
	last      listEntry // the last entry of the page, where the next one starts (even if it was not listed)
}

// listObjects returns the first q.maxKeys entries of the listing q of bucket
// (objects with their sidecars, and common prefixes), in order, and whether
// more entries follow. It reads the directory in batches and keeps only the
// best q.maxKeys+1 candidates, learning keys from sidecar names; it reads
// the sidecars of the objects it returns and of long keys that could make
// the page. Objects whose sidecar is unreadable or inconsistent are not
// listed.
func (s *store) listObjects(bucket string, q listQuery) (listPage, error) {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return listPage{}, err
	}
	d, err := os.Open(s.objectsDir(bucket))
	if err != nil {
		return listPage{}, err
	}
	defer d.Close()
	p := &pageSelector[listEntry]{limit: q.maxKeys + 1, cmp: compareEntries}
	err = eachDirEntry(d, func(de fs.DirEntry) (bool, error) {
		name := de.Name()
		key, complete, ok := parseSidecarName(name)
		if !ok {
			return true, nil
		}
		if !complete {
			// A long key: key holds its first longKeyPrefix bytes.
			if !strings.HasPrefix(key, q.prefix) && !strings.HasPrefix(q.prefix, key) {
				return true, nil
			}
			low := key // no entry of this key sorts before low
			if cp, isPrefix, ok := q.entryOf(key); ok && isPrefix {
				low = cp
			}
			if !p.admits(listEntry{value: low}) {
				return true, nil
			}
			om, err := s.readSidecar(bucket, name, "")
			if err != nil {
				return true, nil
			}
			key = om.Key
		}
		if v, isPrefix, ok := q.entryOf(key); ok && p.admits(listEntry{value: v}) {
			e := listEntry{value: v, isPrefix: isPrefix}
			if !isPrefix {
				e.sidecar = name
			}
			p.offer(e)
		}
		return true, nil
	})
	if err != nil {
		return listPage{}, err
	}
	res := listPage{truncated: len(p.sel) > q.maxKeys}
	page := p.sel[:min(len(p.sel), q.maxKeys)]
	if len(page) > 0 {
		res.last = page[len(page)-1]
	}
	out := page[:0]
	for _, e := range page {
		if !e.isPrefix {
			om, err := s.readSidecar(bucket, e.sidecar, e.value)
			if err != nil {
				continue // removed meanwhile, or corrupt: not listed
			}
			e.meta = om
		}
		out = append(out, e)
	}
	res.entries = out
	return res, nil
}

// migrateSidecars renames the sidecars of the first layout (keyHash.json) in
// every bucket to sidecarName. It runs at start, under the data directory's
// lock; a crash in the middle is finished by the next start.
func (s *store) migrateSidecars() error {
	buckets, err := os.ReadDir(filepath.Join(s.root, "buckets"))
	if err != nil {
		return err
	}
	for _, b := range buckets {
		if !b.IsDir() || validBucketName(b.Name()) != nil {
			continue
		}
		dir := s.objectsDir(b.Name())
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range ents {
			if !hashSidecarRE.MatchString(e.Name()) {
				continue
			}
			old := filepath.Join(dir, e.Name())
			var om objectMeta
			if err := readJSON(old, &om); err != nil || keyHash(om.Key)+".json" != e.Name() {
				continue // not a sidecar of this server: left alone
			}
			dst := filepath.Join(dir, sidecarName(om.Key))
			if _, err := os.Lstat(dst); err == nil {
				// Written after an interrupted migration: the newer one.
				if err := s.removeDurable(old); err != nil {
					return err
				}
				continue
			}
			if err := s.renameDurable(old, dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// statObject returns an object's sidecar.
func (s *store) statObject(bucket, key string) (objectMeta, error) {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	l := s.objLock(bucket, key)
	l.RLock()
	defer l.RUnlock()
	return s.readObjectMeta(bucket, key)
}
