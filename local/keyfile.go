package local

import (
	"crypto/cipher"
	"crypto/hmac"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/envkms/kms/backend"
)

// Key files: <key id>.json, one JSON object per key.
const (
	keyFileExt     = ".json"
	keyFormat      = "envkms-local-key"
	formatVersion  = 1
	maxKeyFileSize = 16 << 20
	// maxVersions bounds rotations per key (and so the file size).
	maxVersions  = 50_000
	usageEncrypt = backend.KeyUsageEncryptDecrypt
)

// keyFile is the on-disk form of a key. In a sealed directory each version
// holds Sealed (its key material under the directory's sealing key, bound to
// key id and version) and the file carries MAC, an HMAC over its canonical
// encoding, so metadata can't be edited either. In an insecure directory each
// version holds Plaintext and there is no MAC.
type keyFile struct {
	Format        string            `json:"format"`
	FormatVersion int               `json:"format_version"`
	KeyID         string            `json:"key_id"`
	Description   string            `json:"description,omitempty"`
	KeyUsage      string            `json:"key_usage"`
	State         backend.KeyState  `json:"state"`
	CreationDate  time.Time         `json:"creation_date"`
	DeletionDate  *time.Time        `json:"deletion_date,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	// RotationPeriod in seconds, 0 (omitted) for none. Files without it
	// read as before; a reader older than this field refuses files with it.
	RotationPeriod int64        `json:"rotation_period_seconds,omitempty"`
	Versions       []keyVersion `json:"versions"`
	MAC            []byte       `json:"mac,omitempty"`
}

type keyVersion struct {
	Version      int       `json:"version"`
	CreationDate time.Time `json:"creation_date"`
	// Destroyed: DestroyKeyVersions removed this version's material (the
	// entry stays, so versions keep their numbers). Omitted when false.
	Destroyed bool   `json:"destroyed,omitempty"`
	Sealed    []byte `json:"sealed,omitempty"`
	Plaintext []byte `json:"plaintext_key,omitempty"`
}

// wipe clears plaintext key material held in f (insecure mode only).
func (f *keyFile) wipe() {
	for i := range f.Versions {
		clear(f.Versions[i].Plaintext)
	}
}

// keyEntry is a loaded key: its metadata and one AEAD per version (index
// version-1). Entries are immutable; updates replace them.
type keyEntry struct {
	md    backend.KeyMetadata
	aeads []cipher.AEAD
	file  os.FileInfo // the key file this entry was loaded from or written as

	versionCreated time.Time // creation date of the current version

	// checked is when (Backend.clock) file was last found current.
	checked atomic.Int64
}

// current reports whether fi is still the file e came from. Every write
// renames a new file over the old one, so a change by any Backend (in any
// process) changes the inode, and the size or modification time with it.
func (e *keyEntry) current(fi os.FileInfo) bool {
	return e.file != nil && os.SameFile(e.file, fi) && e.file.Size() == fi.Size() && e.file.ModTime().Equal(fi.ModTime())
}

// metadata returns a copy of e's metadata the caller may modify.
func (e *keyEntry) metadata() backend.KeyMetadata {
	return cloneMetadata(e.md)
}

func cloneMetadata(md backend.KeyMetadata) backend.KeyMetadata {
	if md.DeletionDate != nil {
		d := *md.DeletionDate
		md.DeletionDate = &d
	}
	if md.Tags != nil {
		tags := make(map[string]string, len(md.Tags))
		for k, v := range md.Tags {
			tags[k] = v
		}
		md.Tags = tags
	}
	return md
}

func (b *Backend) keyPath(id string) string { return filepath.Join(b.dir, id+keyFileExt) }

// keyIDFromName returns the key id a directory entry name holds, if any.
// Names starting with a dot (header, temp files) and names that aren't
// <valid key id>.json are not key files.
func keyIDFromName(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, keyFileExt)
	if !ok || backend.ValidateKeyID(id) != nil {
		return "", false
	}
	return id, true
}

// canonical is the encoding the MAC covers: compact JSON of f with MAC unset.
func canonical(f keyFile) ([]byte, error) {
	f.MAC = nil
	return json.Marshal(f)
}

// encodeKeyFile serialises f (computing its MAC in a sealed directory).
func (b *Backend) encodeKeyFile(f keyFile) ([]byte, error) {
	f.MAC = nil
	if b.keys != nil {
		c, err := canonical(f)
		if err != nil {
			return nil, err
		}
		f.MAC = fileMAC(b.keys.mac, c)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// readKeyFile reads and fully verifies the key file of id: format, MAC,
// structure. It returns a *FileError naming the file for anything wrong, and
// an error wrapping fs.ErrNotExist if there is no such file.
func (b *Backend) readKeyFile(id string) (*keyFile, error) {
	f, _, err := b.readKeyFileStat(id)
	return f, err
}

// readKeyFileStat is readKeyFile that also returns the FileInfo of the bytes
// it read, which identifies this version of the file (see keyEntry.current).
func (b *Backend) readKeyFileStat(id string) (*keyFile, os.FileInfo, error) {
	path := b.keyPath(id)
	data, fi, err := readLimitedStat(path, maxKeyFileSize)
	if err != nil {
		return nil, nil, err
	}
	f, err := b.decodeKeyFile(path, id, data)
	return f, fi, err
}

func (b *Backend) decodeKeyFile(path, id string, data []byte) (*keyFile, error) {
	var f keyFile
	if err := decodeStrict(data, &f); err != nil {
		f.wipe()
		return nil, corrupt(path, "%v", err)
	}
	if err := b.checkKeyFile(path, id, &f); err != nil {
		f.wipe()
		return nil, err
	}
	return &f, nil
}

func (b *Backend) checkKeyFile(path, id string, f *keyFile) error {
	if f.Format != keyFormat {
		return corrupt(path, "not a key file")
	}
	if f.FormatVersion != formatVersion {
		return corrupt(path, "unsupported format version %d", f.FormatVersion)
	}
	if f.KeyID != id {
		return corrupt(path, "key id does not match the file name")
	}
	if b.keys != nil {
		c, err := canonical(*f)
		if err != nil || !hmac.Equal(f.MAC, fileMAC(b.keys.mac, c)) {
			return corrupt(path, "authentication failed (altered, or from another key directory)")
		}
	} else if f.MAC != nil {
		return corrupt(path, "sealed key file in an unsealed (insecure) key directory")
	}
	if f.KeyUsage != usageEncrypt {
		return corrupt(path, "unsupported key usage")
	}
	if f.CreationDate.IsZero() {
		return corrupt(path, "missing creation date")
	}
	switch f.State {
	case backend.KeyStateEnabled, backend.KeyStateDisabled:
		if f.DeletionDate != nil {
			return corrupt(path, "deletion date on a key not pending deletion")
		}
	case backend.KeyStatePendingDeletion:
		if f.DeletionDate == nil {
			return corrupt(path, "pending deletion without a deletion date")
		}
	default:
		return corrupt(path, "unknown state")
	}
	if err := checkRotationPeriod(f.RotationPeriod); err != nil {
		return corrupt(path, "%v", err)
	}
	if len(f.Versions) == 0 || len(f.Versions) > maxVersions {
		return corrupt(path, "bad number of key versions")
	}
	for i, v := range f.Versions {
		if v.Version != i+1 {
			return corrupt(path, "key versions out of order")
		}
		if v.Destroyed {
			// Only a prefix of old versions, never the newest.
			if v.Sealed != nil || v.Plaintext != nil || i == len(f.Versions)-1 || (i > 0 && !f.Versions[i-1].Destroyed) {
				return corrupt(path, "key version %d: a destroyed version must be an old one without material, after destroyed ones only", v.Version)
			}
			continue
		}
		if b.keys != nil && (len(v.Sealed) != sealedKeySize || v.Plaintext != nil) {
			return corrupt(path, "key version %d is not sealed", v.Version)
		}
		if b.keys == nil && (len(v.Plaintext) != keySize || v.Sealed != nil) {
			return corrupt(path, "key version %d: want a plaintext key in an unsealed (insecure) key directory", v.Version)
		}
	}
	return nil
}

// entryFromFile unseals every key version of f into an AEAD.
func (b *Backend) entryFromFile(path string, f *keyFile) (*keyEntry, error) {
	e := &keyEntry{
		md: backend.KeyMetadata{
			KeyID:        f.KeyID,
			Description:  f.Description,
			State:        f.State,
			KeyUsage:     f.KeyUsage,
			CreationDate: f.CreationDate,
			DeletionDate: f.DeletionDate,
			Version:      len(f.Versions),
			Tags:         f.Tags,

			RotationPeriod: time.Duration(f.RotationPeriod) * time.Second,
		},
		aeads: make([]cipher.AEAD, len(f.Versions)),
	}
	if n := len(f.Versions); n > 0 {
		e.versionCreated = f.Versions[n-1].CreationDate
	}
	e.md = cloneMetadata(e.md)
	for i, v := range f.Versions {
		if v.Destroyed {
			continue // e.aeads[i] stays nil
		}
		material := v.Plaintext
		if b.keys != nil {
			var err error
			material, err = open(b.keys.seal, v.Sealed, materialAAD(f.KeyID, v.Version))
			if err != nil {
				return nil, corrupt(path, "key version %d does not unseal", v.Version)
			}
		}
		aead, err := newGCM(material)
		if b.keys != nil {
			clear(material)
		}
		if err != nil {
			return nil, corrupt(path, "key version %d: %v", v.Version, err)
		}
		e.aeads[i] = aead
	}
	return e, nil
}

// newVersion returns version n with fresh random key material, sealed (or
// in plaintext in an insecure directory).
func (b *Backend) newVersion(keyID string, n int) keyVersion {
	material := make([]byte, keySize)
	randRead(material)
	v := keyVersion{Version: n, CreationDate: b.now().UTC()}
	if b.keys == nil {
		v.Plaintext = material
		return v
	}
	v.Sealed = seal(b.keys.seal, material, materialAAD(keyID, n))
	clear(material)
	return v
}
