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

func TestNewConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{MasterKey: testMasterKey()}, "Dir"},
		{"relative dir", Config{Dir: "keys", MasterKey: testMasterKey()}, "absolute"},
		{"no master key", Config{Dir: dir}, "MasterKey"},
		{"master key and insecure", Config{Dir: dir, MasterKey: testMasterKey(), InsecurePlaintext: true}, "InsecurePlaintext"},
		{"kdf threads", Config{Dir: dir, MasterKey: testMasterKey(), KDF: &KDFParams{Time: 1, MemoryKiB: 64}}, "threads"},
		{"kdf time", Config{Dir: dir, MasterKey: testMasterKey(), KDF: &KDFParams{MemoryKiB: 64, Threads: 1}}, "time"},
		{"kdf memory", Config{Dir: dir, MasterKey: testMasterKey(), KDF: &KDFParams{Time: 1, MemoryKiB: 7, Threads: 1}}, "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(testMasterKey())) {
				t.Fatal("error reveals the master key")
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("invalid configs touched the directory: %v", entries)
	}
}

func TestDefaultKDFParams(t *testing.T) {
	p := DefaultKDFParams()
	if want := (KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}); p != want {
		t.Fatalf("DefaultKDFParams() = %+v, want %+v", p, want)
	}
	if err := p.validate(); err != nil {
		t.Fatalf("DefaultKDFParams() invalid: %v", err)
	}
	p.Time++ // a caller's copy; the default stays
	if DefaultKDFParams() == p {
		t.Fatal("changing a returned KDFParams changed the default")
	}
}

func TestNewCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "keys")
	b := openTest(t, testConfig(dir))
	mustCreate(t, b, "k1")
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, want 0700", fi.Mode().Perm())
	}
	for _, name := range []string{headerName, "k1.json"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "k1.json"))
	if bytes.Contains(data, []byte("plaintext_key")) || !bytes.Contains(data, []byte(`"sealed"`)) {
		t.Fatalf("sealed directory stores key material unsealed:\n%s", data)
	}
}

func TestWrongMasterKey(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, testConfig(dir))
	mustCreate(t, b, "k1")
	cfg := testConfig(dir)
	cfg.MasterKey = []byte("another master key, same length.................")
	_, err := New(context.Background(), cfg)
	var fe *FileError
	if !errors.Is(err, ErrWrongMasterKey) || !errors.As(err, &fe) || fe.Path != filepath.Join(dir, headerName) {
		t.Fatalf("New(wrong master key) = %v, want *FileError(header) wrapping ErrWrongMasterKey", err)
	}
	for _, secret := range [][]byte{cfg.MasterKey, testMasterKey()} {
		if strings.Contains(err.Error(), string(secret)) {
			t.Fatal("error reveals a master key")
		}
	}
	// The right key still opens it; the KDF parameters come from the header.
	cfg = testConfig(dir)
	cfg.KDF = &KDFParams{Time: 2, MemoryKiB: 128, Threads: 2} // ignored for an existing dir
	b2 := openTest(t, cfg)
	if _, err := b2.DescribeKey(context.Background(), "k1"); err != nil {
		t.Fatal(err)
	}
}

func TestProtectionMismatch(t *testing.T) {
	sealed, plain := t.TempDir(), t.TempDir()
	openTest(t, testConfig(sealed))
	openTest(t, Config{Dir: plain, InsecurePlaintext: true})
	_, err := New(context.Background(), Config{Dir: sealed, InsecurePlaintext: true})
	if !errors.Is(err, ErrProtectionMismatch) {
		t.Fatalf("insecure open of sealed dir = %v", err)
	}
	_, err = New(context.Background(), testConfig(plain))
	if !errors.Is(err, ErrProtectionMismatch) {
		t.Fatalf("sealed open of insecure dir = %v", err)
	}
}

func TestHeaderProblems(t *testing.T) {
	ctx := context.Background()
	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		openTest(t, testConfig(dir))
		path := filepath.Join(dir, headerName)
		data, _ := os.ReadFile(path)
		for name, bad := range map[string][]byte{
			"truncated": data[:len(data)/2],
			"empty":     {},
			"foreign":   []byte(`{"hello":"world"}`),
			"version":   bytes.Replace(data, []byte(`"format_version": 1`), []byte(`"format_version": 9`), 1),
			"weak kdf":  bytes.Replace(data, []byte(`"time": 1`), []byte(`"time": 2`), 1),
		} {
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(ctx, testConfig(dir))
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != path || !(errors.Is(err, ErrCorruptFile) || errors.Is(err, ErrWrongMasterKey)) {
				t.Fatalf("%s header: New = %v", name, err)
			}
		}
	})
	t.Run("missing with keys", func(t *testing.T) {
		dir := t.TempDir()
		b := openTest(t, testConfig(dir))
		mustCreate(t, b, "k1")
		if err := os.Remove(filepath.Join(dir, headerName)); err != nil {
			t.Fatal(err)
		}
		_, err := New(ctx, testConfig(dir))
		if !errors.Is(err, ErrCorruptFile) || !strings.Contains(err.Error(), headerName) {
			t.Fatalf("New without header but with keys = %v", err)
		}
	})
	t.Run("dir is a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var fe *FileError
		if _, err := New(ctx, testConfig(path)); !errors.As(err, &fe) {
			t.Fatalf("New(file) = %v", err)
		}
	})
}

func TestReopenKeepsKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, testConfig(dir))
	md := mustCreate(t, b, "k1")
	ec := backend.EncryptionContext{"bucket": "b"}
	dk1 := mustGenerate(t, b, "k1", ec)
	if _, err := b.RotateKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	dk2 := mustGenerate(t, b, "k1", ec)
	if err := b.DisableKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := openTest(t, testConfig(dir))
	got, err := b2.DescribeKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.State != backend.KeyStateDisabled || !got.CreationDate.Equal(md.CreationDate) {
		t.Fatalf("after reopen: %+v", got)
	}
	for _, dk := range []backend.DataKey{dk1, dk2} {
		out, err := b2.Decrypt(ctx, dk.Ciphertext, ec)
		if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
			t.Fatalf("Decrypt after reopen: %v", err)
		}
	}
}

func TestClose(t *testing.T) {
	b := newTestBackend(t)
	mustCreate(t, b, "k1")
	mac := b.keys.mac
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mac, make([]byte, len(mac))) {
		t.Fatal("MAC key not wiped by Close")
	}
	if len(b.cache) != 0 {
		t.Fatal("loaded keys kept after Close")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Health":    b.Health(context.Background()),
		"EnableKey": b.EnableKey(context.Background(), "k1"),
	} {
		if !errors.Is(err, backend.ErrClosed) {
			t.Fatalf("%s after Close = %v", name, err)
		}
	}
	if _, err := b.Purge(context.Background()); !errors.Is(err, backend.ErrClosed) {
		t.Fatalf("Purge after Close = %v", err)
	}
}

// TestTwoBackendsOneDir: a second Backend on the same directory (as during a
// hot swap) sees keys and rotations made through the first.
func TestTwoBackendsOneDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openTest(t, testConfig(dir))
	b := openTest(t, testConfig(dir))
	mustCreate(t, a, "k1")
	dk := mustGenerate(t, b, "k1", nil) // b loads k1 at version 1
	if _, err := a.RotateKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	dk2 := mustGenerate(t, a, "k1", nil)
	for _, d := range []backend.DataKey{dk, dk2} {
		if out, err := b.Decrypt(ctx, d.Ciphertext, nil); err != nil || !bytes.Equal(out.Plaintext, d.Plaintext) {
			t.Fatalf("b.Decrypt: %v", err)
		}
	}
	// An update through b starts from the file, so it keeps a's rotation.
	md, err := b.RotateKey(ctx, "k1")
	if err != nil || md.Version != 3 {
		t.Fatalf("b.RotateKey = %d, %v; want version 3", md.Version, err)
	}
	mustCreate(t, a, "k2")
	res, err := b.ListKeys(ctx, backend.ListKeysRequest{})
	if err != nil || len(res.Keys) != 2 {
		t.Fatalf("b.ListKeys = %+v, %v", res, err)
	}
}

func TestListOrderIsKeyIDOrder(t *testing.T) {
	b := newTestBackend(t)
	// File names sort differently: "a-b.json" < "a.json" < "a0.json".
	for _, id := range []string{"a0", "a.x", "a", "a-b", "A", "a_"} {
		mustCreate(t, b, id)
	}
	res, err := b.ListKeys(context.Background(), backend.ListKeysRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range res.Keys {
		got = append(got, k.KeyID)
	}
	if strings.Join(got, " ") != "A a a-b a.x a0 a_" {
		t.Fatalf("ListKeys order = %v", got)
	}
	if _, err := b.ListKeys(context.Background(), backend.ListKeysRequest{Limit: -1}); !errors.Is(err, backend.ErrInvalidArgument) {
		t.Fatalf("ListKeys(Limit -1) = %v", err)
	}
}

func TestCreateKeyValidation(t *testing.T) {
	b := newTestBackend(t)
	long := strings.Repeat("x", 300)
	for name, req := range map[string]backend.CreateKeyRequest{
		"usage":       {KeyID: "k", KeyUsage: "SIGN_VERIFY"},
		"description": {KeyID: "k", Description: strings.Repeat("d", backend.MaxDescriptionLen+1)},
		"utf8":        {KeyID: "k", Description: "\xff"},
		"tag key":     {KeyID: "k", Tags: map[string]string{"": "v"}},
		"tag value":   {KeyID: "k", Tags: map[string]string{"k": long}},
		"tag utf8":    {KeyID: "k", Tags: map[string]string{"k": "\xfe"}},
	} {
		if _, err := b.CreateKey(context.Background(), req); !errors.Is(err, backend.ErrInvalidArgument) {
			t.Errorf("%s: CreateKey = %v, want ErrInvalidArgument", name, err)
		}
	}
}

// TestConcurrentFirstOpen: when another opener creates the header between
// our temp file and our link, we adopt theirs (same salt, same keys).
func TestConcurrentFirstOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var other *Backend
	cfg := testConfig(dir)
	cfg.testHook = func(step string) error {
		if step == stepClosed && other == nil {
			other = openTest(t, testConfig(dir))
		}
		return nil
	}
	b := openTest(t, cfg)
	if other == nil {
		t.Fatal("hook did not run")
	}
	mustCreate(t, other, "k1")
	dk := mustGenerate(t, other, "k1", nil)
	if out, err := b.Decrypt(ctx, dk.Ciphertext, nil); err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
		t.Fatalf("second opener can't use the first one's keys: %v", err)
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}
