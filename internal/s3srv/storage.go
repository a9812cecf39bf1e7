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

// ---- objects ----

// ---- multipart uploads ----
