package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
)

// VersionInspector is optionally implemented by a Backend whose ciphertexts
// name their master key and key version. It must not decrypt anything.
type VersionInspector interface {
	CiphertextVersion(ciphertext []byte) (keyID string, version int, err error)
}

// Run runs the conformance suite as subtests of t. newBackend is called once
// per subtest and should register its own cleanup (Close) with t.Cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) backend.Backend, opts ...Option) {
	t.Helper()
	s := &suite{newBackend: newBackend, prefix: randomPrefix()}
	for _, o := range opts {
		o(s)
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"CreateDescribe", s.testCreateDescribe},
		{"CreateGeneratedID", s.testCreateGeneratedID},
		{"CreateDuplicate", s.testCreateDuplicate},
		{"InvalidKeyIDs", s.testInvalidKeyIDs},
		{"UnknownKey", s.testUnknownKey},
		{"MetadataNotAliased", s.testMetadataNotAliased},
		{"ListPagination", s.testListPagination},
		{"EnableDisable", s.testEnableDisable},
		{"ScheduleDeletionWindow", s.testScheduleDeletionWindow},
		{"ScheduleAndCancelDeletion", s.testScheduleAndCancelDeletion},
		{"PurgeWindow", s.testPurgeWindow},
		{"PurgeTombstone", s.testPurgeTombstone},
		{"RotationPolicy", s.testRotationPolicy},
		{"DestroyKeyVersions", s.testDestroyKeyVersions},
		{"KeyEditor", s.testKeyEditor},
		{"KeyEditorConcurrent", s.testKeyEditorConcurrent},
		{"Rotate", s.testRotate},
		{"RewrapContext", s.testRewrapContext},
		{"RewrapBatch", s.testRewrapBatch},
		{"DataKeys", s.testDataKeys},
		{"EncryptionContextBinding", s.testContextBinding},
		{"NilAndEmptyContext", s.testNilEmptyContext},
		{"NonUTF8Context", s.testNonUTF8Context},
		{"BitFlips", s.testBitFlips},
		{"GarbageCiphertexts", s.testGarbage},
		{"NoPlaintextInErrors", s.testNoLeak},
		{"CanceledContext", s.testCanceledContext},
		{"Health", s.testHealth},
		{"Concurrent", s.testConcurrent},
		{"Close", s.testClose},
	} {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	newBackend func(t *testing.T) backend.Backend
	prefix     string              // random per Run, so shared backends do not collide
	advance    func(time.Duration) // WithClock; nil: tests needing time skip
}

func randomPrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "bt" + hex.EncodeToString(b[:])
}

// id returns a key id unique to this run: prefix-name.
func (s *suite) id(name string) string { return s.prefix + "-" + name }

// setup returns a fresh backend and a context bounded so no call hangs the
// suite.
func (s *suite) setup(t *testing.T) (context.Context, backend.Backend) {
	t.Helper()
	b := s.newBackend(t)
	if b == nil {
		t.Fatal("newBackend returned nil")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx, b
}

// createKey creates a key named s.id(name) and fails the test on error.
func (s *suite) createKey(t *testing.T, ctx context.Context, b backend.Backend, name string) backend.KeyMetadata {
	t.Helper()
	md, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: s.id(name), Description: "backendtest " + name})
	if err != nil {
		t.Fatalf("CreateKey(%q): %v", s.id(name), err)
	}
	return md
}

func generate(t *testing.T, ctx context.Context, b backend.Backend, keyID string, ec backend.EncryptionContext) backend.DataKey {
	t.Helper()
	dk, err := b.GenerateDataKey(ctx, keyID, ec)
	if err != nil {
		t.Fatalf("GenerateDataKey(%q): %v", keyID, err)
	}
	if len(dk.Plaintext) != backend.DataKeySize {
		t.Fatalf("GenerateDataKey: plaintext is %d bytes, want %d", len(dk.Plaintext), backend.DataKeySize)
	}
	return dk
}

func mustDecrypt(t *testing.T, ctx context.Context, b backend.Backend, ct []byte, ec backend.EncryptionContext, want []byte) {
	t.Helper()
	dk, err := b.Decrypt(ctx, ct, ec)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !equal(dk.Plaintext, want) {
		t.Fatal("Decrypt returned a different plaintext")
	}
}

// wantErr fails unless err matches one of targets.
func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %v", what, targets)
	}
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Fatalf("%s: got %v, want one of %v", what, err, targets)
}

// call runs fn and turns a panic into a test failure naming what.
func call(t *testing.T, what string, fn func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", what, r)
		}
	}()
	return fn()
}

func equal(a, b []byte) bool { return string(a) == string(b) }

// around reports whether got is within tol of want.
func around(got, want time.Time, tol time.Duration) bool {
	d := got.Sub(want)
	return d >= -tol && d <= tol
}

// clockTolerance allows for a backend on another host with a skewed clock.
const clockTolerance = 10 * time.Minute

func describe(t *testing.T, ctx context.Context, b backend.Backend, id string) backend.KeyMetadata {
	t.Helper()
	md, err := b.DescribeKey(ctx, id)
	if err != nil {
		t.Fatalf("DescribeKey(%q): %v", id, err)
	}
	return md
}
