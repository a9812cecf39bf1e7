package s3srv

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// On-disk layout under the data directory (specified in FORMAT.md, pinned by
// testdata/datadir-v1):
//
//	DIR/s3server.lock                   held (flock) by the running server; names its pid
//	DIR/.kms/master.key                 local-backend master secret (0600; example only)
//	DIR/.kms/keys/                      local-backend key files
//	DIR/tmp/                            temp files and directories, renamed into place when complete
//	DIR/buckets/NAME/bucket.json        creation date, default encryption
//	DIR/buckets/NAME/objects/S.json     object sidecar (S from the key: see sidecarName)
//	DIR/buckets/NAME/objects/H-R.data   object bytes as stored (H = hex SHA-256 of the key, R random per write)
//	DIR/buckets/NAME/uploads/ID/        multipart upload: upload.json, part-N.json, part-N-R.data
//
// A write lands in DIR/tmp first and becomes visible with one rename of its
// sidecar, so readers see the old or the new object, never a mix. Sidecars are
// not trusted for authenticity: the sse metadata in them is bound to
// bucket/key, so a sidecar or data file moved to another name fails to decrypt.
//
// Durability: a write is acknowledged only once it survives a power cut.
// Every file is fsynced before it is renamed into place, and the directory
// it is renamed into is fsynced before the next step depends on it; a new
// directory (a bucket, an upload) is assembled under DIR/tmp and renamed
// into place, then its parent is fsynced. An object's data file is durable
// under its final name before the sidecar that names it is renamed, so a
// crash leaves the old object or the new one, never a sidecar without its
// data. A crash can leave an unreferenced data file (never visible: reads and
// listings go through sidecars); DIR/tmp is emptied at start.

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
	Versioning string            `json:"versioning,omitempty"` // "Suspended" once PutBucketVersioning said so; "" never versioned
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
	// PartSizes are the plaintext sizes of a multipart object's parts, in
	// order (GetObject's partNumber). Objects completed before this field
	// existed have none.
	PartSizes []int64 `json:"part_sizes,omitempty"`
	// Tags is the object's tag set (absent: none).
	Tags map[string]string `json:"tags,omitempty"`
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
	Tags      map[string]string `json:"tags,omitempty"` // x-amz-tagging, applied at completion
}

// partMeta is part-N.json.
type partMeta struct {
	PartNumber   int       `json:"part_number"`
	DataFile     string    `json:"data_file"`
	Size         int64     `json:"size"`
	StoredSize   int64     `json:"stored_size"`
	ETag         string    `json:"etag"` // unencrypted parts only; see partETag
	LastModified time.Time `json:"last_modified"`
	// SSE is the part's metadata from sse (EncryptPart): its ETag entries.
	SSE map[string]string `json:"sse,omitempty"`
}

// store keeps buckets and objects as files. It is safe for concurrent use
// within one process; the data directory's lock keeps other processes out.
type store struct {
	root string

	bucketsMu sync.RWMutex     // Lock: create/delete bucket; RLock: everything inside a bucket
	objLocks  [64]sync.RWMutex // striped by bucket/key: commit (Lock) vs open (RLock)
	uploadMu  [16]sync.Mutex   // striped by upload id: part commits vs complete/abort

	// hook, if set, is called after each step of a write (see the step
	// constants) with the path concerned. An error simulates a crash right
	// there: the write stops and leaves everything as it is. For tests.
	hook atomic.Pointer[func(step, path string) error]
	// sidecarReads counts object sidecars read (for tests of listing cost).
	sidecarReads atomic.Int64
}

// Steps of the store's writes, reported to store.hook.
const (
	stepFileSynced = "file-synced" // a temp file is complete, fsynced and closed (path: the temp file)
	stepRenamed    = "renamed"     // a rename is done, not yet durable (path: the new name)
	stepDirSynced  = "dir-synced"  // a directory is fsynced: what was renamed into it is durable (path: the directory)
	stepRemoved    = "removed"     // a file or directory is removed, not yet durable (path: the removed name)
)

// crashError is a hook's error: the simulated crash skips every cleanup.
type crashError struct{ err error }

func (e *crashError) Error() string { return "simulated crash: " + e.err.Error() }
func (e *crashError) Unwrap() error { return e.err }

func isCrash(err error) bool {
	var ce *crashError
	return errors.As(err, &ce)
}

// step reports a completed step to the hook.
func (s *store) step(name, path string) error {
	hook := s.hook.Load()
	if hook == nil {
		return nil
	}
	if err := (*hook)(name, path); err != nil {
		return &crashError{err: err}
	}
	return nil
}

// newStore opens the store under root (which exists and is locked by the
// caller): it creates tmp and buckets if needed, empties tmp (leftovers of
// interrupted writes; no other server can be writing there) and moves
// sidecars of the earlier layout to their current names.
func newStore(root string) (*store, error) {
	for _, d := range []string{filepath.Join(root, "tmp"), filepath.Join(root, "buckets")} {
		if err := mkdirAllDurable(d); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
		}
	}
	st := &store{root: root}
	// Leftovers of interrupted writes: temp files, and the directories of
	// bucket and upload creations and removals.
	ents, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
	}
	for _, e := range ents {
		_ = os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
	}
	if err := st.migrateSidecars(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDataDir, err)
	}
	return st, nil
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
func (s *store) tmpDir() string { return filepath.Join(s.root, "tmp") }

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
	return os.CreateTemp(s.tmpDir(), "w-*")
}

// tempDir creates a directory in DIR/tmp, to be filled and renamed into
// place with renameDurable.
func (s *store) tempDir(kind string) (string, error) {
	return os.MkdirTemp(s.tmpDir(), kind+"-*")
}

func discardTemp(f *os.File) {
	if f == nil {
		return
	}
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// finishTemp fsyncs and closes a filled temp file.
func (s *store) finishTemp(f *os.File) error {
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return s.step(stepFileSynced, f.Name())
}

// syncDir fsyncs dir, making the renames into it and removals from it
// durable.
func (s *store) syncDir(dir string) error {
	if err := syncDir(dir); err != nil {
		return err
	}
	return s.step(stepDirSynced, dir)
}

// renameDurable renames src (a complete, fsynced file or directory) to dst
// and fsyncs dst's directory: once it returns nil, dst survives a power cut.
func (s *store) renameDurable(src, dst string) error {
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	if err := s.step(stepRenamed, dst); err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(dst))
}

// removeDurable removes path (a file) and fsyncs its directory.
func (s *store) removeDurable(path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	if err := s.step(stepRemoved, path); err != nil {
		return err
	}
	return s.syncDir(filepath.Dir(path))
}

// removeDirDurable takes the directory dir out of its parent durably (one
// rename into DIR/tmp, so no half-removed directory is ever visible) and
// then deletes it.
func (s *store) removeDirDurable(dir, kind string) error {
	gone := filepath.Join(s.tmpDir(), kind+"-"+randHex(8))
	if err := os.Rename(dir, gone); err != nil {
		return err
	}
	if err := s.step(stepRemoved, dir); err != nil {
		return err
	}
	if err := s.syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	return os.RemoveAll(gone)
}

// writeJSONAtomic writes v to path via a temp file, fsync and rename, and
// fsyncs path's directory: durable when it returns nil.
func (s *store) writeJSONAtomic(path string, v any) (err error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := s.tempFile()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && !isCrash(err) {
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := s.finishTemp(f); err != nil {
		return err
	}
	return s.renameDurable(f.Name(), path)
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

// ---- buckets ----

// ---- objects ----

// ---- multipart uploads ----
