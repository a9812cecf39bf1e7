package local

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/envkms/kms/backend"
)

// Backup bundles: see BACKUP_FORMAT.md.
const (
	bundleFormat        = "envkms-local-backup"
	bundlePayloadFormat = "envkms-local-backup-payload"
	// bundleVersion is written; bundleVersion1 bundles (without
	// tombstones) are still read.
	bundleVersion   = 2
	bundleVersion1  = 1
	bundleIDSize    = 16
	bundleCheckSize = 16
	// maxBundleSize bounds a bundle read by RestorePlan and Restore.
	maxBundleSize = 256 << 20
	// maxTombstoneSize bounds a tombstone file read into a bundle.
	maxTombstoneSize = 4 << 10

	labelBundleKey   = "envkms/local/backup/v1/bundle-key"
	labelBundleCheck = "envkms/local/backup/v1/check"
	labelBundleAAD   = "envkms/local/backup/v1/bundle\x00"
)

var _ backend.Backupper = (*Backend)(nil)

// bundleFile is the outer, unencrypted form of a bundle. Everything but
// Ciphertext is authenticated as the AAD of the payload's encryption.
type bundleFile struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"format_version"`
	BundleID      string    `json:"bundle_id"`
	CreationDate  time.Time `json:"creation_date"`
	KDF           kdfHeader `json:"kdf"`
	Check         []byte    `json:"check"`
	Nonce         []byte    `json:"nonce"`
	Ciphertext    []byte    `json:"ciphertext,omitempty"`
}

// bundlePayload is the encrypted content of a bundle.
type bundlePayload struct {
	Format     string          `json:"format"`
	Protection string          `json:"protection"`
	Header     []byte          `json:"header"`
	Keys       []bundleKeyFile `json:"keys"`
	// Tombstones: since version 2 (required there, absent in version 1).
	Tombstones []bundleTombstone `json:"tombstones"`
}

// bundleTombstone is a tombstone file (<key id>.deleted), byte for byte.
type bundleTombstone struct {
	KeyID string `json:"key_id"`
	File  []byte `json:"file"`
}

type bundleKeyFile struct {
	backend.BackupKey
	File []byte `json:"file"`
}

func (p *bundlePayload) wipe() {
	for i := range p.Keys {
		clear(p.Keys[i].File)
	}
}

func bundleAAD(f bundleFile) ([]byte, error) {
	f.Ciphertext = nil
	c, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append([]byte(labelBundleAAD), c...), nil
}

// bundleKeys derives the bundle's encryption key and check value.
func bundleKeys(secret []byte, kh kdfHeader) (key, check []byte, err error) {
	root := argon2.IDKey(secret, kh.Salt, kh.Time, kh.MemoryKiB, kh.Threads, keySize)
	defer clear(root)
	if key, err = hkdf.Key(sha256.New, root, nil, labelBundleKey, keySize); err != nil {
		return nil, nil, err
	}
	if check, err = hkdf.Key(sha256.New, root, nil, labelBundleCheck, bundleCheckSize); err != nil {
		clear(key)
		return nil, nil, err
	}
	return key, check, nil
}

func checkSecret(op string, secret []byte) error {
	if len(secret) < backend.MinBackupSecretLen {
		return &backend.Error{Op: op, Err: fmt.Errorf("%w: backup secret shorter than %d bytes", backend.ErrInvalidArgument, backend.MinBackupSecretLen)}
	}
	return nil
}

// Backup writes a sealed bundle of the directory header and every key file,
// as they are on disk (see BACKUP_FORMAT.md), to w, with Argon2id
// DefaultKDFParams for the bundle key. The files are read under the
// directory lock (shared), so the bundle is one consistent point in time. A
// key file that does not verify fails the backup (a *FileError naming it):
// a bundle silently missing a key would be worse.
func (b *Backend) Backup(ctx context.Context, w io.Writer, secret []byte) (backend.BackupInfo, error) {
	return b.backup(ctx, w, secret, DefaultKDFParams())
}

func (b *Backend) backup(ctx context.Context, w io.Writer, secret []byte, p KDFParams) (backend.BackupInfo, error) {
	const op = "Backup"
	if err := checkSecret(op, secret); err != nil {
		return backend.BackupInfo{}, err
	}
	if err := p.validate(); err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: KDF: %v", backend.ErrInvalidArgument, err)}
	}
	if err := b.begin(ctx, op, ""); err != nil {
		return backend.BackupInfo{}, err
	}
	defer b.end()

	kh := kdfHeader{Alg: argon2idAlg, Time: p.Time, MemoryKiB: p.MemoryKiB, Threads: p.Threads, Salt: make([]byte, saltSize)}
	randRead(kh.Salt)
	key, check, err := bundleKeys(secret, kh)
	if err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: err}
	}
	defer clear(key)

	payload, err := b.snapshot(ctx)
	if err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: err}
	}
	defer payload.wipe()
	pt, err := json.Marshal(payload)
	if err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: err}
	}
	defer clear(pt)

	id := make([]byte, bundleIDSize)
	randRead(id)
	bf := bundleFile{
		Format: bundleFormat, FormatVersion: bundleVersion, BundleID: hex.EncodeToString(id),
		CreationDate: b.now().UTC(), KDF: kh, Check: check, Nonce: make([]byte, nonceSize),
	}
	randRead(bf.Nonce)
	aad, err := bundleAAD(bf)
	if err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: err}
	}
	aead, err := newGCM(key)
	if err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: err}
	}
	bf.Ciphertext = aead.Seal(nil, bf.Nonce, pt, aad)
	out, err := json.MarshalIndent(bf, "", "  ")
	if err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: err}
	}
	out = append(out, '\n')
	n, err := w.Write(out)
	if err != nil {
		return backend.BackupInfo{}, &backend.Error{Op: op, Err: fmt.Errorf("writing the bundle: %w", err)}
	}
	info := bundleInfo(bf, payload)
	info.Size = int64(n)
	b.log.Info("local: backup written", "bundle_id", info.BundleID, "keys", len(info.Keys), "bytes", n)
	return info, nil
}

func bundleInfo(bf bundleFile, p *bundlePayload) backend.BackupInfo {
	info := backend.BackupInfo{BundleID: bf.BundleID, CreationDate: bf.CreationDate, Format: bf.Format, FormatVersion: bf.FormatVersion, Keys: make([]backend.BackupKey, 0, len(p.Keys))}
	for _, k := range p.Keys {
		info.Keys = append(info.Keys, k.BackupKey)
	}
	return info
}

// snapshot reads the header and every key file under the shared lock.
func (b *Backend) snapshot(ctx context.Context) (*bundlePayload, error) {
	unlock, err := b.lock.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	hdr, err := readLimited(filepath.Join(b.dir, headerName), maxHeaderSize)
	if err != nil {
		return nil, err
	}
	p := &bundlePayload{Format: bundlePayloadFormat, Protection: protectNone, Header: hdr, Keys: []bundleKeyFile{}, Tombstones: []bundleTombstone{}}
	if b.keys != nil {
		p.Protection = protectSealed
	}
	ids, err := b.listIDs()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			p.wipe()
			return nil, err
		}
		data, err := readLimited(b.keyPath(id), maxKeyFileSize)
		if errors.Is(err, os.ErrNotExist) {
			continue // purged meanwhile by a Backend not using the lock for it
		}
		if err != nil {
			p.wipe()
			return nil, err
		}
		k, err := b.bundleKey(b.keyPath(id), id, data)
		if err != nil {
			clear(data)
			p.wipe()
			return nil, err
		}
		p.Keys = append(p.Keys, k)
	}
	gone, err := b.listTombstones()
	if err != nil {
		p.wipe()
		return nil, err
	}
	for _, id := range gone {
		data, err := readLimited(b.tombstonePath(id), maxTombstoneSize)
		if err != nil {
			p.wipe()
			return nil, err
		}
		p.Tombstones = append(p.Tombstones, bundleTombstone{KeyID: id, File: data})
	}
	return p, nil
}

// listTombstones returns the ids of the directory's tombstones, sorted.
func (b *Backend) listTombstones() ([]string, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, &FileError{Path: b.dir, Err: err}
	}
	var ids []string
	for _, de := range entries {
		if id, ok := strings.CutSuffix(de.Name(), tombstoneExt); ok && backend.ValidateKeyID(id) == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// bundleKey verifies a key file (MAC, every version unseals) and lists it.
func (b *Backend) bundleKey(path, id string, data []byte) (bundleKeyFile, error) {
	f, err := b.decodeKeyFile(path, id, data)
	if err != nil {
		return bundleKeyFile{}, err
	}
	defer f.wipe()
	if _, err := b.entryFromFile(path, f); err != nil {
		return bundleKeyFile{}, err
	}
	sum := sha256.Sum256(data)
	return bundleKeyFile{
		BackupKey: backend.BackupKey{KeyID: id, State: f.State, Versions: len(f.Versions), CreationDate: f.CreationDate, SHA256: hex.EncodeToString(sum[:])},
		File:      data,
	}, nil
}

// openBundle reads, authenticates and decrypts a bundle, checking the KDF
// cost against the directory's bound before deriving anything.
func openBundle(ctx context.Context, r io.Reader, secret []byte, maxKDF KDFParams) (bundleFile, *bundlePayload, error) {
	if err := ctx.Err(); err != nil {
		return bundleFile{}, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBundleSize+1))
	if err != nil {
		return bundleFile{}, nil, fmt.Errorf("reading the bundle: %w", err)
	}
	if len(data) > maxBundleSize {
		return bundleFile{}, nil, fmt.Errorf("%w: larger than %d bytes", backend.ErrInvalidBundle, maxBundleSize)
	}
	var bf bundleFile
	if err := decodeStrict(data, &bf); err != nil {
		return bundleFile{}, nil, fmt.Errorf("%w: %v", backend.ErrInvalidBundle, err)
	}
	switch {
	case bf.Format != bundleFormat:
		return bundleFile{}, nil, fmt.Errorf("%w: not a local backup bundle", backend.ErrInvalidBundle)
	case bf.FormatVersion != bundleVersion && bf.FormatVersion != bundleVersion1:
		return bundleFile{}, nil, fmt.Errorf("%w: unsupported format version %d", backend.ErrInvalidBundle, bf.FormatVersion)
	case len(bf.BundleID) != 2*bundleIDSize, bf.CreationDate.IsZero(), bf.KDF.Alg != argon2idAlg, len(bf.KDF.Salt) != saltSize,
		len(bf.Check) != bundleCheckSize, len(bf.Nonce) != nonceSize, len(bf.Ciphertext) < tagSize:
		return bundleFile{}, nil, fmt.Errorf("%w: malformed bundle", backend.ErrInvalidBundle)
	}
	if _, err := hex.DecodeString(bf.BundleID); err != nil {
		return bundleFile{}, nil, fmt.Errorf("%w: malformed bundle id", backend.ErrInvalidBundle)
	}
	p := KDFParams{Time: bf.KDF.Time, MemoryKiB: bf.KDF.MemoryKiB, Threads: bf.KDF.Threads}
	if err := p.validate(); err != nil {
		return bundleFile{}, nil, fmt.Errorf("%w: bad kdf parameters: %v", backend.ErrInvalidBundle, err)
	}
	if err := p.within(maxKDF); err != nil {
		return bundleFile{}, nil, err
	}
	key, check, err := bundleKeys(secret, bf.KDF)
	if err != nil {
		return bundleFile{}, nil, err
	}
	defer clear(key)
	if subtle.ConstantTimeCompare(check, bf.Check) != 1 {
		return bundleFile{}, nil, backend.ErrWrongBackupSecret
	}
	aad, err := bundleAAD(bf)
	if err != nil {
		return bundleFile{}, nil, fmt.Errorf("%w: %v", backend.ErrInvalidBundle, err)
	}
	aead, err := newGCM(key)
	if err != nil {
		return bundleFile{}, nil, err
	}
	pt, err := aead.Open(nil, bf.Nonce, bf.Ciphertext, aad)
	if err != nil {
		return bundleFile{}, nil, fmt.Errorf("%w: authentication failed (altered)", backend.ErrInvalidBundle)
	}
	defer clear(pt)
	var payload bundlePayload
	if err := decodeStrict(pt, &payload); err != nil {
		payload.wipe()
		return bundleFile{}, nil, fmt.Errorf("%w: payload: %v", backend.ErrInvalidBundle, err)
	}
	if payload.Format != bundlePayloadFormat {
		payload.wipe()
		return bundleFile{}, nil, fmt.Errorf("%w: payload: unknown format", backend.ErrInvalidBundle)
	}
	// Version 2 always lists its tombstones (maybe none); version 1 has
	// none to list.
	if (bf.FormatVersion == bundleVersion1) != (payload.Tombstones == nil) {
		payload.wipe()
		return bundleFile{}, nil, fmt.Errorf("%w: payload: tombstones missing or unexpected for format version %d", backend.ErrInvalidBundle, bf.FormatVersion)
	}
	for i, ts := range payload.Tombstones {
		if backend.ValidateKeyID(ts.KeyID) != nil || (i > 0 && payload.Tombstones[i-1].KeyID >= ts.KeyID) || len(ts.File) > maxTombstoneSize {
			payload.wipe()
			return bundleFile{}, nil, fmt.Errorf("%w: payload: tombstone ids invalid or not strictly ascending", backend.ErrInvalidBundle)
		}
	}
	for i, k := range payload.Keys {
		if backend.ValidateKeyID(k.KeyID) != nil || (i > 0 && payload.Keys[i-1].KeyID >= k.KeyID) {
			payload.wipe()
			return bundleFile{}, nil, fmt.Errorf("%w: payload: key ids invalid or not strictly ascending", backend.ErrInvalidBundle)
		}
		if sum := sha256.Sum256(k.File); hex.EncodeToString(sum[:]) != k.SHA256 {
			payload.wipe()
			return bundleFile{}, nil, fmt.Errorf("%w: payload: key %q does not match its digest", backend.ErrInvalidBundle, k.KeyID)
		}
	}
	return bf, &payload, nil
}

// matchDirectory checks that the bundle's key files belong here: same
// protection, same header (salt, KDF parameters and verifier, so the same
// master key), and every file verifies and unseals under this Backend.
func (b *Backend) matchDirectory(p *bundlePayload) error {
	want := protectNone
	if b.keys != nil {
		want = protectSealed
	}
	if p.Protection != want {
		return fmt.Errorf("%w: bundle protection %q, key directory %q", backend.ErrBundleMismatch, p.Protection, want)
	}
	if b.keys != nil {
		path := filepath.Join(b.dir, headerName)
		cur, err := readLimited(path, maxHeaderSize)
		if err != nil {
			return err
		}
		hc, err := parseHeader(path, cur, false)
		if err != nil {
			return err
		}
		hb, err := parseHeader("bundle header", p.Header, false)
		if err != nil {
			return fmt.Errorf("%w: %w", backend.ErrInvalidBundle, err)
		}
		if !sameKDF(*hc.KDF, *hb.KDF) || !bytes.Equal(hc.Verifier, hb.Verifier) {
			return fmt.Errorf("%w: the bundle comes from another key directory (its header differs; see RestoreHeader)", backend.ErrBundleMismatch)
		}
	}
	for _, k := range p.Keys {
		got, err := b.bundleKey(b.keyPath(k.KeyID), k.KeyID, k.File)
		if err != nil {
			return fmt.Errorf("%w: key %q does not verify in this key directory", backend.ErrBundleMismatch, k.KeyID)
		}
		if got.BackupKey != k.BackupKey {
			return fmt.Errorf("%w: payload: key %q does not match its listing", backend.ErrInvalidBundle, k.KeyID)
		}
	}
	return nil
}

func sameKDF(a, b kdfHeader) bool {
	return a.Alg == b.Alg && a.Time == b.Time && a.MemoryKiB == b.MemoryKiB && a.Threads == b.Threads && bytes.Equal(a.Salt, b.Salt)
}

// load opens a bundle for op and checks it belongs here.
func (b *Backend) loadBundle(ctx context.Context, op string, r io.Reader, secret []byte) (bundleFile, *bundlePayload, error) {
	if err := checkSecret(op, secret); err != nil {
		return bundleFile{}, nil, err
	}
	bf, p, err := openBundle(ctx, r, secret, DefaultMaxKDFParams())
	if err != nil {
		return bundleFile{}, nil, &backend.Error{Op: op, Err: err}
	}
	if err := b.matchDirectory(p); err != nil {
		p.wipe()
		return bundleFile{}, nil, &backend.Error{Op: op, Err: err}
	}
	return bf, p, nil
}

// plan compares the bundle with the directory. The caller holds the lock.
func (b *Backend) plan(bf bundleFile, p *bundlePayload) (backend.RestorePlan, error) {
	pl := backend.RestorePlan{Bundle: bundleInfo(bf, p), Add: []string{}, Unchanged: []string{}, Conflicts: []backend.KeyConflict{},
		OnlyInStore: []string{}, Deleted: []string{}, AddTombstones: []string{}}
	ids, err := b.listIDs()
	if err != nil {
		return backend.RestorePlan{}, err
	}
	gone, err := b.listTombstones()
	if err != nil {
		return backend.RestorePlan{}, err
	}
	tombstoned := make(map[string]bool, len(gone)+len(p.Tombstones))
	for _, id := range gone {
		tombstoned[id] = true
	}
	present := make(map[string]bool, len(ids))
	for _, id := range ids {
		present[id] = true
	}
	for _, ts := range p.Tombstones {
		// A tombstone for an id that is a live key here is not restored:
		// that key stays as it is (and is listed as only in the store).
		if !tombstoned[ts.KeyID] && !present[ts.KeyID] {
			pl.AddTombstones = append(pl.AddTombstones, ts.KeyID)
		}
		tombstoned[ts.KeyID] = true
	}
	inBundle := make(map[string]bool, len(p.Keys))
	for _, k := range p.Keys {
		inBundle[k.KeyID] = true
		if tombstoned[k.KeyID] {
			pl.Deleted = append(pl.Deleted, k.KeyID)
			continue
		}
		path := b.keyPath(k.KeyID)
		cur, err := readLimited(path, maxKeyFileSize)
		if errors.Is(err, os.ErrNotExist) {
			pl.Add = append(pl.Add, k.KeyID)
			continue
		}
		if err == nil && bytes.Equal(cur, k.File) {
			clear(cur)
			pl.Unchanged = append(pl.Unchanged, k.KeyID)
			continue
		}
		c := backend.KeyConflict{KeyID: k.KeyID, Bundle: k.BackupKey, Current: backend.BackupKey{KeyID: k.KeyID}}
		if err != nil {
			c.Unreadable = true
		} else if got, err := b.bundleKey(path, k.KeyID, cur); err != nil {
			c.Unreadable = true
		} else {
			c.Current = got.BackupKey
			c.BundleOlder = k.Versions < got.Versions
		}
		clear(cur)
		pl.Conflicts = append(pl.Conflicts, c)
	}
	for _, id := range ids {
		if !inBundle[id] {
			pl.OnlyInStore = append(pl.OnlyInStore, id)
		}
	}
	return pl, nil
}

// RestorePlan opens a bundle and reports, changing nothing, what Restore
// would do now: keys to add, keys unchanged, conflicts (with both sides'
// state and number of versions), keys only in the directory, keys refused
// because their ids are tombstoned (Deleted) and tombstones to add.
func (b *Backend) RestorePlan(ctx context.Context, r io.Reader, secret []byte) (backend.RestorePlan, error) {
	const op = "RestorePlan"
	if err := b.begin(ctx, op, ""); err != nil {
		return backend.RestorePlan{}, err
	}
	defer b.end()
	bf, p, err := b.loadBundle(ctx, op, r, secret)
	if err != nil {
		return backend.RestorePlan{}, err
	}
	defer p.wipe()
	unlock, err := b.lock.lock(ctx, false)
	if err != nil {
		return backend.RestorePlan{}, &backend.Error{Op: op, Err: err}
	}
	defer unlock()
	pl, err := b.plan(bf, p)
	if err != nil {
		return backend.RestorePlan{}, &backend.Error{Op: op, Err: err}
	}
	return pl, nil
}

// Steps of Restore, reported to Config.testHook (see writeAtomic's).
const (
	stepRestoreStaged  = "restore-staged"  // one temp file written, synced, closed
	stepRestoreRenamed = "restore-renamed" // one temp file renamed over its key file
	stepRestoreDirSync = "restore-dirsync" // directory fsynced: durable
)

// Restore restores a bundle after checking opts (the bundle id as the dry
// run showed it, and a conflict policy). Under the directory lock
// (exclusive) it recomputes the plan, then writes every key file it
// restores to a temporary file (fsynced) before renaming any: a failure
// while staging changes nothing. The renames follow one key file at a time,
// so after a crash each key file is the old one or the bundle's, complete
// and verifying; restoring the same bundle again finishes the job. Keys
// only in the directory are left alone. With ConflictSkip existing keys are
// kept, with ConflictReplace the bundle's copy replaces them (even with
// fewer versions), with ConflictFail any conflict aborts with
// backend.ErrRestoreConflict before anything is written. A tombstoned id
// (purged here or in the bundle) is never restored, under any policy
// (ConflictFail refuses the restore); the bundle's tombstones are added.
func (b *Backend) Restore(ctx context.Context, r io.Reader, secret []byte, opts backend.RestoreOptions) (backend.RestoreResult, error) {
	const op = "Restore"
	if !opts.Conflict.Valid() {
		return backend.RestoreResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: conflict policy must be skip, replace or fail", backend.ErrInvalidArgument)}
	}
	if opts.BundleID == "" {
		return backend.RestoreResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: the bundle id must be confirmed", backend.ErrBundleIDMismatch)}
	}
	if err := b.begin(ctx, op, ""); err != nil {
		return backend.RestoreResult{}, err
	}
	defer b.end()
	bf, p, err := b.loadBundle(ctx, op, r, secret)
	if err != nil {
		return backend.RestoreResult{}, err
	}
	defer p.wipe()
	if subtle.ConstantTimeCompare([]byte(opts.BundleID), []byte(bf.BundleID)) != 1 {
		return backend.RestoreResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: confirmation does not match the bundle's id", backend.ErrBundleIDMismatch)}
	}
	unlock, err := b.lock.lock(ctx, true)
	if err != nil {
		return backend.RestoreResult{}, &backend.Error{Op: op, Err: err}
	}
	defer unlock()
	pl, err := b.plan(bf, p)
	if err != nil {
		return backend.RestoreResult{}, &backend.Error{Op: op, Err: err}
	}
	res := backend.RestoreResult{Plan: pl, Added: []string{}, Replaced: []string{}, Skipped: []string{}}
	write := slices.Clone(pl.Add)
	switch opts.Conflict {
	case backend.ConflictFail:
		if len(pl.Conflicts) > 0 {
			return backend.RestoreResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: %d keys differ (first %q)", backend.ErrRestoreConflict, len(pl.Conflicts), pl.Conflicts[0].KeyID)}
		}
		if len(pl.Deleted) > 0 {
			return backend.RestoreResult{}, &backend.Error{Op: op, Err: fmt.Errorf("%w: %d keys of the bundle were purged (first %q)", backend.ErrRestoreConflict, len(pl.Deleted), pl.Deleted[0])}
		}
	case backend.ConflictSkip:
		for _, c := range pl.Conflicts {
			res.Skipped = append(res.Skipped, c.KeyID)
		}
	case backend.ConflictReplace:
		for _, c := range pl.Conflicts {
			write = append(write, c.KeyID)
		}
	}
	files := make(map[string][]byte, len(p.Keys))
	for _, k := range p.Keys {
		files[k.KeyID] = k.File
	}
	tombs := make(map[string][]byte, len(p.Tombstones))
	for _, ts := range p.Tombstones {
		tombs[ts.KeyID] = ts.File
	}
	// Tombstones first, then key files (never of a tombstoned id).
	items := make([]restoreItem, 0, len(pl.AddTombstones)+len(write))
	for _, id := range pl.AddTombstones {
		items = append(items, restoreItem{id: id, path: b.tombstonePath(id), data: tombs[id]})
	}
	for _, id := range write {
		items = append(items, restoreItem{id: id, path: b.keyPath(id), data: files[id]})
	}
	done, err := b.restoreFiles(items)
	for _, id := range done {
		b.forget(id)
	}
	if err != nil {
		return backend.RestoreResult{}, &backend.Error{Op: op, Err: err}
	}
	res.Added = slices.Clone(pl.Add)
	res.Replaced = write[len(pl.Add):]
	res.TombstonesAdded = slices.Clone(pl.AddTombstones)
	b.log.Info("local: backup restored", "bundle_id", bf.BundleID, "policy", string(opts.Conflict),
		"added", len(res.Added), "replaced", len(res.Replaced), "skipped", len(res.Skipped), "only_in_directory", len(pl.OnlyInStore),
		"refused_deleted", len(pl.Deleted), "tombstones_added", len(res.TombstonesAdded))
	return res, nil
}

// restoreItem is one file Restore writes: a key file or a tombstone.
type restoreItem struct {
	id, path string
	data     []byte
}

// restoreFiles stages every file, then renames them into place one by one
// and fsyncs the directory. It returns the ids whose files may have
// changed. A testHook error is a simulated crash: it returns at once,
// leaving temp files behind as a crash would.
func (b *Backend) restoreFiles(items []restoreItem) (touched []string, err error) {
	step := func(name string) error {
		if b.testHook == nil {
			return nil
		}
		return b.testHook(name)
	}
	tmps := make([]string, 0, len(items))
	renamed := 0
	crashed := false
	defer func() {
		if err != nil && !crashed {
			for _, t := range tmps[renamed:] {
				_ = os.Remove(t)
			}
		}
	}()
	for _, it := range items {
		t, err := b.stageFile(it.data)
		if t != "" {
			tmps = append(tmps, t)
		}
		if err != nil {
			return nil, &FileError{Path: it.path, Err: err}
		}
		if err := step(stepRestoreStaged); err != nil {
			crashed = true
			return nil, err
		}
	}
	for i, it := range items {
		touched = append(touched, it.id)
		if err := os.Rename(tmps[i], it.path); err != nil {
			return touched, &FileError{Path: it.path, Err: err}
		}
		renamed++
		if err := step(stepRestoreRenamed); err != nil {
			crashed = true
			return touched, err
		}
	}
	if len(items) == 0 {
		return nil, nil
	}
	if err := syncDir(b.dir); err != nil {
		return touched, &FileError{Path: b.dir, Err: err}
	}
	if err := step(stepRestoreDirSync); err != nil {
		crashed = true
		return touched, err
	}
	return touched, nil
}

// stageFile writes data to a new temp file, fsyncs and closes it.
func (b *Backend) stageFile(data []byte) (string, error) {
	f, err := os.CreateTemp(b.dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return f.Name(), err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return f.Name(), err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return f.Name(), err
	}
	return f.Name(), f.Close()
}

// RestoreHeader prepares an empty directory for a restore on a new host:
// it opens the bundle and writes its directory header to dir (creating dir,
// mode 0700), so that New with the master key the bundle's directory used
// opens it and Restore accepts the bundle. dir must not have a header or
// key files yet. maxKDF bounds the bundle's Argon2id cost (nil:
// DefaultMaxKDFParams()).
func RestoreHeader(ctx context.Context, dir string, r io.Reader, secret []byte, maxKDF *KDFParams) error {
	const op = "RestoreHeader"
	if err := checkSecret(op, secret); err != nil {
		return err
	}
	if !filepath.IsAbs(dir) {
		return &backend.Error{Op: op, Err: fmt.Errorf("%w: dir must be an absolute path", backend.ErrInvalidArgument)}
	}
	max := DefaultMaxKDFParams()
	if maxKDF != nil {
		max = *maxKDF
	}
	_, p, err := openBundle(ctx, r, secret, max)
	if err != nil {
		return &backend.Error{Op: op, Err: err}
	}
	defer p.wipe()
	if _, err := parseHeader("bundle header", p.Header, p.Protection == protectNone); err != nil {
		return &backend.Error{Op: op, Err: fmt.Errorf("%w: %w", backend.ErrInvalidBundle, err)}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &backend.Error{Op: op, Err: &FileError{Path: dir, Err: err}}
	}
	tmp := &Backend{dir: filepath.Clean(dir)}
	ids, err := tmp.listIDs()
	if err != nil {
		return &backend.Error{Op: op, Err: err}
	}
	if len(ids) > 0 {
		return &backend.Error{Op: op, Err: fmt.Errorf("%w: %s already holds key files", backend.ErrInvalidArgument, dir)}
	}
	if err := tmp.writeAtomic(filepath.Join(tmp.dir, headerName), p.Header, true); err != nil {
		if errors.Is(err, os.ErrExist) {
			return &backend.Error{Op: op, Err: fmt.Errorf("%w: %s already has a key directory header", backend.ErrInvalidArgument, dir)}
		}
		return &backend.Error{Op: op, Err: err}
	}
	return nil
}
