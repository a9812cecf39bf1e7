package local

import (
	"context"
	"testing"

	"github.com/envkms/kms/backend"
)

// testKDF keeps Argon2id cheap in tests (production uses DefaultKDFParams()).
var testKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func testMasterKey() []byte { return []byte("0123456789abcdef0123456789abcdef-test-master-key") }

func testConfig(dir string) Config {
	return Config{Dir: dir, MasterKey: testMasterKey(), KDF: &testKDF}
}

func openTest(t testing.TB, cfg Config) *Backend {
	t.Helper()
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func newTestBackend(t testing.TB) *Backend {
	t.Helper()
	return openTest(t, testConfig(t.TempDir()))
}

func mustCreate(t testing.TB, b *Backend, id string) backend.KeyMetadata {
	t.Helper()
	md, err := b.CreateKey(context.Background(), backend.CreateKeyRequest{KeyID: id})
	if err != nil {
		t.Fatalf("CreateKey(%q): %v", id, err)
	}
	return md
}

func mustGenerate(t testing.TB, b *Backend, id string, ec backend.EncryptionContext) backend.DataKey {
	t.Helper()
	dk, err := b.GenerateDataKey(context.Background(), id, ec)
	if err != nil {
		t.Fatalf("GenerateDataKey(%q): %v", id, err)
	}
	return dk
}
