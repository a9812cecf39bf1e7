package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/envkms/kms/internal/jsondup"
)

// headerName is the key directory header: format, KDF parameters, salt and
// the master-key verifier. It starts with a dot, which no key id can.
const headerName = ".keydir.json"

const (
	headerFormat    = "envkms-local-keydir"
	protectSealed   = "argon2id+aes-256-gcm"
	protectNone     = "none"
	argon2idAlg     = "argon2id"
	saltSize        = 32
	maxHeaderSize   = 64 << 10
	maxKDFMemoryKiB = 4 << 20 // 4 GiB
	maxKDFTime      = 100
)

// KDFParams are the Argon2id parameters that turn the master key into the
// key-sealing key. They are chosen when a key directory is created and stored
// in its header; opening an existing directory uses the stored ones.
type KDFParams struct {
	Time      uint32 // passes, 1..100
	MemoryKiB uint32 // memory in KiB, 8*Threads..4 GiB
	Threads   uint8  // parallelism, >= 1
}

// DefaultKDFParams returns RFC 9106's second recommended Argon2id
// parameters (t=3, 64 MiB, p=4), which New uses when Config.KDF is nil:
// about 70 ms on one 2-core server, paid once per New. It is a function, not
// a variable, so no code can change the default for the whole process.
func DefaultKDFParams() KDFParams {
	return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}
}

// DefaultMaxKDFParams returns the most costly Argon2id parameters New
// accepts from a directory header (or Config.KDF) when Config.MaxKDF is nil:
// 10 passes, 256 MiB, 16 threads, a few seconds at worst on a small server.
// A header is read before the master key can be checked, so whoever can
// write the directory (or point key_dir at one) chooses this cost; the bound
// keeps it to that. Operators who really want more set Config.MaxKDF.
func DefaultMaxKDFParams() KDFParams {
	return KDFParams{Time: 10, MemoryKiB: 256 << 10, Threads: 16}
}

// within reports why p exceeds max, if it does.
func (p KDFParams) within(max KDFParams) error {
	switch {
	case p.Time > max.Time:
		return fmt.Errorf("%w: %d passes, at most %d allowed", ErrKDFTooCostly, p.Time, max.Time)
	case p.MemoryKiB > max.MemoryKiB:
		return fmt.Errorf("%w: %d KiB of memory, at most %d allowed", ErrKDFTooCostly, p.MemoryKiB, max.MemoryKiB)
	case p.Threads > max.Threads:
		return fmt.Errorf("%w: %d threads, at most %d allowed", ErrKDFTooCostly, p.Threads, max.Threads)
	}
	return nil
}

func (p KDFParams) validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("threads must be >= 1")
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("time must be 1..%d", maxKDFTime)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("memory must be 8*threads..%d KiB", maxKDFMemoryKiB)
	}
	return nil
}

type kdfHeader struct {
	Alg       string `json:"alg"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

type dirHeader struct {
	Format        string     `json:"format"`
	FormatVersion int        `json:"format_version"`
	Protection    string     `json:"protection"`
	CreationDate  time.Time  `json:"creation_date"`
	KDF           *kdfHeader `json:"kdf,omitempty"`
	Verifier      []byte     `json:"verifier,omitempty"`
}

// unlock opens the key directory's header, creating it (and the salt) on
// first use, and returns the derived keys (nil in insecure mode).
func (b *Backend) unlock(ctx context.Context, cfg *Config) (*unlockKeys, error) {
	path := filepath.Join(b.dir, headerName)
	data, err := readLimited(path, maxHeaderSize)
	if errors.Is(err, fs.ErrNotExist) {
		if err := b.refuseHeaderlessKeys(path); err != nil {
			return nil, err
		}
		keys, fresh, err := b.newHeader(ctx, cfg)
		if err != nil {
			return nil, err
		}
		err = b.writeAtomic(path, fresh, true)
		if err == nil {
			b.log.Info("local: created key directory", "dir", b.dir, "insecure_plaintext", cfg.InsecurePlaintext)
			return keys, nil
		}
		keys.wipe()
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// Another opener created the header first: use theirs.
		if data, err = readLimited(path, maxHeaderSize); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return openHeader(ctx, path, data, cfg)
}

// refuseHeaderlessKeys stops New from creating a fresh header (a new salt)
// in a directory that already holds key files: they could never be opened.
func (b *Backend) refuseHeaderlessKeys(path string) error {
	ids, err := b.listIDs()
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return corrupt(path, "missing, but the directory holds %d key files", len(ids))
	}
	return nil
}

func (b *Backend) newHeader(ctx context.Context, cfg *Config) (*unlockKeys, []byte, error) {
	h := dirHeader{Format: headerFormat, FormatVersion: formatVersion, CreationDate: b.now().UTC()}
	var keys *unlockKeys
	if cfg.InsecurePlaintext {
		h.Protection = protectNone
	} else {
		p := DefaultKDFParams()
		if cfg.KDF != nil {
			p = *cfg.KDF
		}
		kh := kdfHeader{Alg: argon2idAlg, Time: p.Time, MemoryKiB: p.MemoryKiB, Threads: p.Threads, Salt: make([]byte, saltSize)}
		_, _ = rand.Read(kh.Salt)
		var err error
		if keys, err = deriveKeysCtx(ctx, cfg.MasterKey, kh); err != nil {
			return nil, nil, err
		}
		h.Protection = protectSealed
		h.KDF = &kh
		h.Verifier = seal(keys.seal, []byte(verifierPlaintext), verifierAAD(kh))
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		keys.wipe()
		return nil, nil, err
	}
	return keys, append(data, '\n'), nil
}

// parseHeader validates a header's structure and its protection against
// cfg. It derives nothing, so it is cheap on any input.
func parseHeader(path string, data []byte, insecure bool) (*dirHeader, error) {
	var h dirHeader
	if err := decodeStrict(data, &h); err != nil {
		return nil, corrupt(path, "%v", err)
	}
	if h.Format != headerFormat {
		return nil, corrupt(path, "not a key directory header")
	}
	if h.FormatVersion != formatVersion {
		return nil, corrupt(path, "unsupported format version %d", h.FormatVersion)
	}
	switch h.Protection {
	case protectNone:
		if h.KDF != nil || h.Verifier != nil {
			return nil, corrupt(path, "unexpected kdf in an unsealed directory")
		}
		if !insecure {
			return nil, &FileError{Path: path, Err: fmt.Errorf("%w: directory holds plaintext keys; set InsecurePlaintext to open it", ErrProtectionMismatch)}
		}
		return &h, nil
	case protectSealed:
		if insecure {
			return nil, &FileError{Path: path, Err: fmt.Errorf("%w: directory is sealed with a master key; unset InsecurePlaintext", ErrProtectionMismatch)}
		}
	default:
		return nil, corrupt(path, "unknown protection %q", h.Protection)
	}
	kh := h.KDF
	if kh == nil || kh.Alg != argon2idAlg || len(kh.Salt) != saltSize {
		return nil, corrupt(path, "bad kdf parameters")
	}
	if err := (KDFParams{Time: kh.Time, MemoryKiB: kh.MemoryKiB, Threads: kh.Threads}).validate(); err != nil {
		return nil, corrupt(path, "bad kdf parameters: %v", err)
	}
	if len(h.Verifier) != nonceSize+len(verifierPlaintext)+tagSize {
		return nil, corrupt(path, "bad verifier")
	}
	return &h, nil
}

// openHeader parses the header and unlocks it with cfg.MasterKey.
func openHeader(ctx context.Context, path string, data []byte, cfg *Config) (*unlockKeys, error) {
	h, err := parseHeader(path, data, cfg.InsecurePlaintext)
	if err != nil || h.Protection == protectNone {
		return nil, err
	}
	p := KDFParams{Time: h.KDF.Time, MemoryKiB: h.KDF.MemoryKiB, Threads: h.KDF.Threads}
	if err := p.within(cfg.maxKDF()); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	keys, err := deriveKeysCtx(ctx, cfg.MasterKey, *h.KDF)
	if err != nil {
		return nil, err
	}
	pt, err := open(keys.seal, h.Verifier, verifierAAD(*h.KDF))
	if err != nil || subtle.ConstantTimeCompare(pt, []byte(verifierPlaintext)) != 1 {
		keys.wipe()
		return nil, &FileError{Path: path, Err: ErrWrongMasterKey}
	}
	return keys, nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields. Its
// errors never quote the input.
func decodeStrict(data []byte, v any) error {
	// A member given twice would be read as its last copy: refuse it, so
	// what was checked (a MAC over the file) is what is used.
	if err := jsondup.Check(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("malformed JSON at offset %d", syn.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("wrong JSON type for field %q", typ.Field)
		default:
			return errors.New("malformed JSON")
		}
	}
	if dec.More() {
		return errors.New("trailing data after JSON")
	}
	return nil
}

// readLimited reads a regular file (not a symlink, FIFO or device) of at
// most max bytes. Every error is a *FileError naming path.
func readLimited(path string, max int64) ([]byte, error) {
	data, _, err := readLimitedStat(path, max)
	return data, err
}

// readLimitedStat is readLimited that also returns the FileInfo of the file
// it read (taken from the open file, so it describes exactly these bytes).
func readLimitedStat(path string, max int64) ([]byte, os.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, nil, &FileError{Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, corrupt(path, "not a regular file")
	}
	if fi.Size() > max {
		return nil, nil, corrupt(path, "larger than %d bytes", max)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, &FileError{Path: path, Err: err}
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, &FileError{Path: path, Err: err}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, nil, &FileError{Path: path, Err: err}
	}
	if int64(len(data)) > max {
		return nil, nil, corrupt(path, "larger than %d bytes", max)
	}
	return data, fi, nil
}
