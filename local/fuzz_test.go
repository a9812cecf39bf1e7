package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/envkms/kms/backend"
)

// FuzzDecrypt feeds arbitrary ciphertexts and contexts to Decrypt: it must
// never panic, only return the documented errors, and only succeed for the
// exact ciphertext and context it issued.
func FuzzDecrypt(f *testing.F) {
	b := newTestBackend(f)
	mustCreate(f, b, "fuzz-key")
	ec := backend.EncryptionContext{"bucket": "b"}
	dk := mustGenerate(f, b, "fuzz-key", ec)
	f.Add(dk.Ciphertext, "bucket", "b")
	f.Add(dk.Ciphertext[:len(dk.Ciphertext)-1], "bucket", "b")
	f.Fuzz(func(t *testing.T, ct []byte, k, v string) {
		fec := backend.EncryptionContext{k: v}
		out, err := b.Decrypt(context.Background(), ct, fec)
		if err == nil {
			if !bytes.Equal(ct, dk.Ciphertext) || k != "bucket" || v != "b" || !bytes.Equal(out.Plaintext, dk.Plaintext) {
				t.Fatalf("forged ciphertext accepted: %x", ct)
			}
			return
		}
		if !errors.Is(err, backend.ErrInvalidCiphertext) && !errors.Is(err, backend.ErrKeyNotFound) && !errors.Is(err, backend.ErrInvalidArgument) {
			t.Fatalf("unexpected error: %v", err)
		}
		if out.Plaintext != nil {
			t.Fatal("plaintext returned with an error")
		}
	})
}

// FuzzParseCiphertext: parsing never panics, and what parses re-encodes to
// the same bytes.
func FuzzParseCiphertext(f *testing.F) {
	valid := appendHeader(nil, "key-1", 1)
	f.Add(append(valid, make([]byte, ctBody)...))
	f.Fuzz(func(t *testing.T, ct []byte) {
		p, err := parseCiphertext(ct)
		if err != nil {
			if !errors.Is(err, backend.ErrInvalidCiphertext) {
				t.Fatalf("parse error %v does not wrap ErrInvalidCiphertext", err)
			}
			return
		}
		re := appendHeader(nil, p.keyID, p.version)
		re = append(append(re, p.nonce...), p.sealed...)
		if !bytes.Equal(re, ct) {
			t.Fatalf("round trip: %x != %x", re, ct)
		}
	})
}

// FuzzKeyFile loads arbitrary key files in a sealed and an insecure
// directory: never a panic, always a *FileError naming the file.
func FuzzKeyFile(f *testing.F) {
	sealed := newTestBackend(f)
	plain := openTest(f, Config{Dir: f.TempDir(), InsecurePlaintext: true})
	for _, b := range []*Backend{sealed, plain} {
		mustCreate(f, b, "k1")
		if _, err := b.RotateKey(context.Background(), "k1"); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(b.dir, "k1.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range []*Backend{sealed, plain} {
			path := b.keyPath("k1")
			kf, err := b.decodeKeyFile(path, "k1", data)
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) || fe.Path != path || !errors.Is(err, ErrCorruptFile) {
					t.Fatalf("decode error %v is not a *FileError for %s", err, path)
				}
				continue
			}
			e, err := b.entryFromFile(path, kf)
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("entry error %v is not a *FileError", err)
				}
				continue
			}
			if len(e.aeads) != e.md.Version || e.md.KeyID != "k1" {
				t.Fatalf("inconsistent entry: %+v", e.md)
			}
		}
	})
}

// FuzzHeader: header parsing never panics and fails with a *FileError.
func FuzzHeader(f *testing.F) {
	for _, cfg := range []Config{testConfig(f.TempDir()), {Dir: f.TempDir(), InsecurePlaintext: true}} {
		openTest(f, cfg)
		data, err := os.ReadFile(filepath.Join(cfg.Dir, headerName))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, insecure := range []bool{false, true} {
			h, err := parseHeader("hdr", data, insecure)
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) || fe.Path != "hdr" {
					t.Fatalf("error %v is not a *FileError", err)
				}
				continue
			}
			if !insecure && (h.KDF == nil || len(h.KDF.Salt) != saltSize) {
				t.Fatal("accepted a sealed header without KDF parameters")
			}
		}
	})
}
