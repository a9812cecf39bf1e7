package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envkms/kms/backend"
)

var errCrash = errors.New("simulated crash")

// crashAt returns a hook that "crashes" at step (and counts the steps seen).
func crashAt(step string, seen *[]string) func(string) error {
	return func(s string) error {
		*seen = append(*seen, s)
		if s == step {
			return errCrash
		}
		return nil
	}
}

var allSteps = []string{stepCreated, stepPartial, stepWritten, stepSynced, stepClosed, stepRenamed, stepUnlinked, stepDirSync}

// committed reports whether a write that crashed after step has replaced
// the file (the rename or link is the commit point).
func committed(step string) bool {
	switch step {
	case stepRenamed, stepUnlinked, stepDirSync:
		return true
	}
	return false
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestCrashDuringUpdate crashes a rotation after every write step and checks
// that a fresh Backend finds either the old or the new key file, intact.
func TestCrashDuringUpdate(t *testing.T) {
	ctx := context.Background()
	for _, step := range allSteps {
		if step == stepUnlinked {
			continue // exclusive writes only
		}
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			b := openTest(t, testConfig(dir))
			mustCreate(t, b, "k1")
			dk := mustGenerate(t, b, "k1", nil)
			old, _ := os.ReadFile(filepath.Join(dir, "k1.json"))

			var seen []string
			cfg := testConfig(dir)
			cfg.testHook = crashAt(step, &seen)
			crashy := openTest(t, cfg)
			seen = nil
			if _, err := crashy.RotateKey(ctx, "k1"); !errors.Is(err, errCrash) {
				t.Fatalf("RotateKey = %v, want the simulated crash", err)
			}
			if seen[len(seen)-1] != step {
				t.Fatalf("steps %v", seen)
			}

			fresh := openTest(t, testConfig(dir))
			md, err := fresh.DescribeKey(ctx, "k1")
			if err != nil {
				t.Fatalf("after crash at %s: DescribeKey = %v", step, err)
			}
			want := 1
			if committed(step) {
				want = 2
			}
			if md.Version != want {
				t.Fatalf("after crash at %s: version %d, want %d", step, md.Version, want)
			}
			if now, _ := os.ReadFile(filepath.Join(dir, "k1.json")); !committed(step) && !bytes.Equal(now, old) {
				t.Fatal("old file changed before the commit point")
			}
			if out, err := fresh.Decrypt(ctx, dk.Ciphertext, nil); err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
				t.Fatalf("Decrypt after crash: %v", err)
			}
			// Leftover temp files don't disturb listing or further writes.
			if res, err := fresh.ListKeys(ctx, backend.ListKeysRequest{}); err != nil || len(res.Keys) != 1 {
				t.Fatalf("ListKeys after crash = %+v, %v", res, err)
			}
			if _, err := fresh.RotateKey(ctx, "k1"); err != nil {
				t.Fatalf("RotateKey after crash: %v", err)
			}
			if !committed(step) && len(tempFiles(t, dir)) != 1 {
				t.Fatalf("expected the crashed temp file to remain, got %v", tempFiles(t, dir))
			}
		})
	}
}

// TestCrashDuringCreate crashes CreateKey after every step: the key is then
// either absent (and can be created again) or complete.
func TestCrashDuringCreate(t *testing.T) {
	ctx := context.Background()
	for _, step := range allSteps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			openTest(t, testConfig(dir))
			var seen []string
			cfg := testConfig(dir)
			cfg.testHook = crashAt(step, &seen)
			crashy := openTest(t, cfg)
			if _, err := crashy.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "k1"}); !errors.Is(err, errCrash) {
				t.Fatalf("CreateKey = %v, want the simulated crash", err)
			}
			fresh := openTest(t, testConfig(dir))
			_, err := fresh.DescribeKey(ctx, "k1")
			if committed(step) {
				if err != nil {
					t.Fatalf("after crash at %s: DescribeKey = %v", step, err)
				}
				mustGenerate(t, fresh, "k1", nil)
				return
			}
			if !errors.Is(err, backend.ErrKeyNotFound) {
				t.Fatalf("after crash at %s: DescribeKey = %v, want not found", step, err)
			}
			mustCreate(t, fresh, "k1")
		})
	}
}

// TestCrashDuringDirectoryCreation crashes the header write of a new key
// directory: the next New either finds a complete header or makes one.
func TestCrashDuringDirectoryCreation(t *testing.T) {
	ctx := context.Background()
	for _, step := range allSteps {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			var seen []string
			cfg := testConfig(dir)
			cfg.testHook = crashAt(step, &seen)
			if _, err := New(ctx, cfg); !errors.Is(err, errCrash) {
				t.Fatalf("New = %v, want the simulated crash", err)
			}
			b := openTest(t, testConfig(dir))
			mustCreate(t, b, "k1")
			mustGenerate(t, b, "k1", nil)
		})
	}
}

// TestWriteFailureCleansUp: a real (non-crash) failure removes the temp file.
func TestWriteFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, testConfig(dir))
	mustCreate(t, b, "k1")
	// Creating an existing key fails at the link step: no temp file remains.
	if _, err := b.CreateKey(context.Background(), backend.CreateKeyRequest{KeyID: "k1"}); !errors.Is(err, backend.ErrKeyExists) {
		t.Fatal(err)
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}
