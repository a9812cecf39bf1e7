package s3srv

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// A second server on a data directory in use refuses to start, and touches
// nothing on its way out: the first server's writes in progress in DIR/tmp
// survive. Once the first one is closed, the directory can be opened again.
func TestDataDirLocked(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock: the lock is best effort")
	}
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	first, err := New(context.Background(), Config{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// A write of the first server in progress.
	inflight := filepath.Join(dir, "tmp", "w-inflight")
	if err := os.WriteFile(inflight, []byte("half an object"), 0o600); err != nil {
		t.Fatal(err)
	}

	second, err := New(context.Background(), Config{DataDir: dir, Logger: quiet})
	if err == nil {
		_ = second.Close(context.Background())
		t.Fatal("a second server started on a data directory in use")
	}
	if !errors.Is(err, ErrDataDirLocked) {
		t.Fatalf("second New = %v, want ErrDataDirLocked", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("error %q does not name the holder", err)
	}
	if b, err := os.ReadFile(inflight); err != nil || string(b) != "half an object" {
		t.Fatalf("the refused server touched DIR/tmp: %q, %v", b, err)
	}

	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	third, err := New(context.Background(), Config{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	defer third.Close(context.Background())
	// Its start-up clears the leftovers of the (now finished) first server.
	if _, err := os.Stat(inflight); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover temp file after a clean start: %v", err)
	}
}

// The lock file also keeps out a server whose New fails later: the lock is
// released on every error path.
func TestDataDirLockReleasedOnNewError(t *testing.T) {
	dir := t.TempDir()
	// A master key file that is a directory makes the KMS set-up fail.
	if err := os.MkdirAll(filepath.Join(dir, ".kms", "master.key"), 0o700); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	if s, err := New(context.Background(), Config{DataDir: dir, Logger: quiet}); err == nil {
		_ = s.Close(context.Background())
		t.Fatal("New succeeded with a broken master key file")
	}
	if err := os.RemoveAll(filepath.Join(dir, ".kms", "master.key")); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), Config{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatalf("New after a failed New: %v", err)
	}
	_ = s.Close(context.Background())
}
