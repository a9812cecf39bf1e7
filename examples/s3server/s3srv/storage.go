package s3srv

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// On-disk layout under the data directory:
//
//	DIR/.kms/master.key                 local-backend master secret (0600; example only)
//	DIR/.kms/keys/                      local-backend key files
//	DIR/tmp/                            temp files, renamed into place when complete
//	DIR/buckets/NAME/bucket.json        creation date, default encryption
//	DIR/buckets/NAME/objects/H.json     object sidecar (H = hex SHA-256 of the key)
//	DIR/buckets/NAME/objects/H-R.data   object bytes as stored (R random per write)
//	DIR/buckets/NAME/uploads/ID/        multipart upload: upload.json, part-N.json, part-N-R.data
//
// A write lands in DIR/tmp first and becomes visible with one rename of its
// sidecar, so readers see the old or the new object, never a mix. Sidecars are
// not trusted for authenticity: the sse metadata in them is bound to
// bucket/key, so a sidecar or data file moved to another name fails to decrypt.

const (
	sidecarVersion = 1
	dirPerm        = 0o700
	filePerm       = 0o600
)

var (
	dataFileRE = regexp.MustCompile(`^[0-9a-f]{64}-[0-9a-f]{16}\.data$`)
	partFileRE = regexp.MustCompile(`^part-[0-9]{5}-[0-9a-f]{16}\.data$`)
	uploadIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// store errors, mapped to S3 errors by the handlers.
var (
	errStoreNoBucket     = errors.New("no such bucket")
	errStoreBucketExists = errors.New("bucket exists")
	errStoreNotEmpty     = errors.New("bucket not empty")
	errStoreNoObject     = errors.New("no such object")
	errStoreNoUpload     = errors.New("no such upload")
	errStoreCorrupt      = errors.New("corrupt metadata")
	errStoreConflict     = errors.New("object changed concurrently")
)

// bucketMeta is bucket.json.
type bucketMeta struct {
	Version    int               `json:"version"`
	Created    time.Time         `json:"created"`
	Encryption *bucketEncryption `json:"encryption,omitempty"`
}

// bucketEncryption is a bucket's default encryption.
type bucketEncryption struct {
	Algorithm        string `json:"algorithm"` // "AES256" or "aws:kms"
	KMSKeyID         string `json:"kms_key_id,omitempty"`
	BucketKeyEnabled bool   `json:"bucket_key_enabled,omitempty"`
}

// objectMeta is an object's sidecar.
type objectMeta struct {
	Version      int               `json:"version"`
	Key          string            `json:"key"`
	DataFile     string            `json:"data_file"`
	Size         int64             `json:"size"`        // as the client sees it
	StoredSize   int64             `json:"stored_size"` // bytes in DataFile
	ETag         string            `json:"etag"`        // without quotes
	LastModified time.Time         `json:"last_modified"`
	Headers      map[string]string `json:"headers,omitempty"`   // Content-Type etc., canonical names
	UserMeta     map[string]string `json:"user_meta,omitempty"` // x-amz-meta-*, canonical names
	SSE          map[string]string `json:"sse,omitempty"`       // metadata from package sse
	PartsCount   int               `json:"parts_count,omitempty"`
}

// uploadMeta is a multipart upload's upload.json.
type uploadMeta struct {
	Version   int               `json:"version"`
	Key       string            `json:"key"`
	UploadID  string            `json:"upload_id"`
	Initiated time.Time         `json:"initiated"`
	Headers   map[string]string `json:"headers,omitempty"`
	UserMeta  map[string]string `json:"user_meta,omitempty"`
	SSE       map[string]string `json:"sse,omitempty"`
}

// partMeta is part-N.json.
type partMeta struct {
	PartNumber   int       `json:"part_number"`
	DataFile     string    `json:"data_file"`
	Size         int64     `json:"size"`
	StoredSize   int64     `json:"stored_size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
}

// store keeps buckets and objects as files. It is safe for concurrent use
// within one process.
type store struct {
	root string

	bucketsMu sync.RWMutex     // Lock: create/delete bucket; RLock: everything inside a bucket
	objLocks  [64]sync.RWMutex // striped by bucket/key: commit (Lock) vs open (RLock)
	uploadMu  [16]sync.Mutex   // striped by upload id: part commits vs complete/abort
}

func newStore(root string) (*store, error) {
	for _, d := range []string{root, filepath.Join(root, "tmp"), filepath.Join(root, "buckets")} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
		}
	}
	// Leftovers of interrupted writes.
	if ents, err := os.ReadDir(filepath.Join(root, "tmp")); err == nil {
		for _, e := range ents {
			_ = os.Remove(filepath.Join(root, "tmp", e.Name()))
		}
	}
	return &store{root: root}, nil
}

func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *store) bucketDir(bucket string) string { return filepath.Join(s.root, "buckets", bucket) }
func (s *store) objectsDir(bucket string) string {
	return filepath.Join(s.bucketDir(bucket), "objects")
}
func (s *store) uploadDir(bucket, id string) string {
	return filepath.Join(s.bucketDir(bucket), "uploads", id)
}

func (s *store) objLock(bucket, key string) *sync.RWMutex {
	h := sha256.Sum256([]byte(bucket + "/" + key))
	return &s.objLocks[int(h[0])%len(s.objLocks)]
}

func (s *store) upLock(id string) *sync.Mutex {
	h := sha256.Sum256([]byte(id))
	return &s.uploadMu[int(h[0])%len(s.uploadMu)]
}

// tempFile creates a file in DIR/tmp that the caller fills and then hands to
// a commit function (which renames it) or removes with discardTemp.
func (s *store) tempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(s.root, "tmp"), "w-*")
}

func discardTemp(f *os.File) {
	if f == nil {
		return
	}
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// writeJSONAtomic writes v to path via a temp file and rename.
func (s *store) writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := s.tempFile()
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		discardTemp(f)
		return err
	}
	if err := f.Sync(); err != nil {
		discardTemp(f)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s: %v", errStoreCorrupt, filepath.Base(path), err)
	}
	return nil
}

// finishTemp syncs and closes a filled temp file.
func finishTemp(f *os.File) error {
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// ---- buckets ----

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

// ---- objects ----

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
// file is removed.
func (s *store) commitObject(bucket, key string, data *os.File, om objectMeta) error {
	if err := finishTemp(data); err != nil {
		_ = os.Remove(data.Name())
		return err
	}
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		_ = os.Remove(data.Name())
		return err
	}
	h := keyHash(key)
	om.Version = sidecarVersion
	om.Key = key
	om.DataFile = h + "-" + randHex(8) + ".data"
	dir := s.objectsDir(bucket)
	if err := os.Rename(data.Name(), filepath.Join(dir, om.DataFile)); err != nil {
		_ = os.Remove(data.Name())
		return err
	}
	l := s.objLock(bucket, key)
	l.Lock()
	defer l.Unlock()
	old, oldErr := s.readObjectMeta(bucket, key)
	if err := s.writeJSONAtomic(filepath.Join(dir, h+".json"), om); err != nil {
		_ = os.Remove(filepath.Join(dir, om.DataFile))
		return err
	}
	if oldErr == nil && old.DataFile != om.DataFile {
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
	if err := os.Remove(filepath.Join(dir, keyHash(key)+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
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

// ---- multipart uploads ----

func (s *store) createUpload(bucket string, um uploadMeta) (string, error) {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return "", err
	}
	id := randHex(16)
	dir := s.uploadDir(bucket, id)
	if err := os.Mkdir(dir, dirPerm); err != nil {
		return "", err
	}
	um.Version = sidecarVersion
	um.UploadID = id
	if err := s.writeJSONAtomic(filepath.Join(dir, "upload.json"), um); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return id, nil
}

// getUpload returns an upload's metadata; it must belong to key.
func (s *store) getUpload(bucket, key, id string) (uploadMeta, error) {
	var um uploadMeta
	if !uploadIDRE.MatchString(id) {
		return um, errStoreNoUpload
	}
	if _, err := s.bucketInfo(bucket); err != nil {
		return um, err
	}
	err := readJSON(filepath.Join(s.uploadDir(bucket, id), "upload.json"), &um)
	if errors.Is(err, fs.ErrNotExist) {
		return um, errStoreNoUpload
	}
	if err != nil {
		return um, err
	}
	if um.Key != key || um.UploadID != id {
		return um, errStoreNoUpload
	}
	return um, nil
}

func partJSON(n int) string { return fmt.Sprintf("part-%05d.json", n) }

// commitPart stores the filled temp file as part pm.PartNumber of upload id,
// replacing an earlier upload of the same part number.
func (s *store) commitPart(bucket, key, id string, data *os.File, pm partMeta) error {
	if err := finishTemp(data); err != nil {
		_ = os.Remove(data.Name())
		return err
	}
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	l := s.upLock(id)
	l.Lock()
	defer l.Unlock()
	if _, err := s.getUpload(bucket, key, id); err != nil {
		_ = os.Remove(data.Name())
		return err
	}
	dir := s.uploadDir(bucket, id)
	pm.DataFile = fmt.Sprintf("part-%05d-%s.data", pm.PartNumber, randHex(8))
	if err := os.Rename(data.Name(), filepath.Join(dir, pm.DataFile)); err != nil {
		_ = os.Remove(data.Name())
		return err
	}
	var old partMeta
	oldErr := readJSON(filepath.Join(dir, partJSON(pm.PartNumber)), &old)
	if err := s.writeJSONAtomic(filepath.Join(dir, partJSON(pm.PartNumber)), pm); err != nil {
		_ = os.Remove(filepath.Join(dir, pm.DataFile))
		return err
	}
	if oldErr == nil && partFileRE.MatchString(old.DataFile) && old.DataFile != pm.DataFile {
		_ = os.Remove(filepath.Join(dir, old.DataFile))
	}
	return nil
}

// listParts returns the parts of an upload sorted by part number.
func (s *store) listParts(bucket, key, id string) ([]partMeta, error) {
	if _, err := s.getUpload(bucket, key, id); err != nil {
		return nil, err
	}
	dir := s.uploadDir(bucket, id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []partMeta
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "part-") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var pm partMeta
		if err := readJSON(filepath.Join(dir, e.Name()), &pm); err != nil {
			continue
		}
		if !partFileRE.MatchString(pm.DataFile) || e.Name() != partJSON(pm.PartNumber) {
			return nil, fmt.Errorf("%w: part sidecar %s", errStoreCorrupt, e.Name())
		}
		out = append(out, pm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PartNumber < out[j].PartNumber })
	return out, nil
}

// completeUpload concatenates the chosen parts (in order) into the object's
// data file, commits it with sidecar om and removes the upload.
func (s *store) completeUpload(bucket, key, id string, parts []partMeta, om objectMeta) error {
	l := s.upLock(id)
	l.Lock()
	defer l.Unlock()
	if _, err := s.getUpload(bucket, key, id); err != nil {
		return err
	}
	dir := s.uploadDir(bucket, id)
	out, err := s.tempFile()
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := appendFile(out, filepath.Join(dir, p.DataFile), p.StoredSize); err != nil {
			discardTemp(out)
			return err
		}
	}
	if err := s.commitObject(bucket, key, out, om); err != nil {
		return err
	}
	return s.removeUploadDir(bucket, id)
}

func appendFile(dst *os.File, src string, want int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(dst, f)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%w: part file has %d bytes, sidecar says %d", errStoreCorrupt, n, want)
	}
	return nil
}

func (s *store) abortUpload(bucket, key, id string) error {
	l := s.upLock(id)
	l.Lock()
	defer l.Unlock()
	if _, err := s.getUpload(bucket, key, id); err != nil {
		return err
	}
	return s.removeUploadDir(bucket, id)
}

func (s *store) removeUploadDir(bucket, id string) error {
	gone := filepath.Join(s.root, "tmp", "rmupload-"+randHex(8))
	if err := os.Rename(s.uploadDir(bucket, id), gone); err != nil {
		return err
	}
	return os.RemoveAll(gone)
}
