package backendtest_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/backendtest"
	"github.com/envkms/kms/local"
)

func newLocal(t *testing.T) *local.Backend {
	t.Helper()
	b, err := local.New(context.Background(), local.Config{
		Dir:       t.TempDir(),
		MasterKey: []byte("backendtest master key, test only"),
		KDF:       &local.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestLocalConforms: the reference backend passes (also run by package local).
func TestLocalConforms(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return newLocal(t) })
}

// mutants are backends with one bug each, and the subtest that must catch it.
var mutants = map[string]string{
	"ignore-context":     "EncryptionContextBinding",
	"disable-noop":       "EnableDisable",
	"clamp-days":         "ScheduleDeletionWindow",
	"list-ignores-limit": "ListPagination",
	"list-unsorted":      "ListPagination",
	"unchecked-tail":     "BitFlips",
	"leaky-errors":       "NoPlaintextInErrors",
	"panics-on-empty":    "GarbageCiphertexts",
	"generic-not-found":  "UnknownKey",
	"invalid-not-found":  "InvalidKeyIDs",
	"fake-rotate":        "Rotate",
	"rewrap-noop":        "Rotate",
	"dup-overwrites":     "CreateDuplicate",
	"same-datakey":       "DataKeys",
	"counter-ids":        "CreateGeneratedID",
	"ignore-cancel":      "CanceledContext",
	"close-noop":         "Close",
	"aliased-tags":       "MetadataNotAliased",
	"pending-decrypts":   "ScheduleAndCancelDeletion",
	"cancel-enables":     "ScheduleAndCancelDeletion",
	"racy":               "Concurrent",
}

// TestSuiteCatchesBugs runs the suite against each mutant in a child process
// and checks it fails, in the expected subtest.
func TestSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process per mutant")
	}
	names := make([]string, 0, len(mutants))
	for name := range mutants {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if name == "racy" && !raceEnabled {
				t.Skip("needs -race")
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutantChild$", "-test.v")
			cmd.Env = append(os.Environ(), "BACKENDTEST_MUTANT="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("suite passed a backend with bug %q:\n%s", name, tail(out))
			}
			want := "--- FAIL: TestMutantChild/" + mutants[name]
			if !strings.Contains(string(out), want) {
				t.Fatalf("bug %q not caught by %s:\n%s", name, mutants[name], tail(out))
			}
		})
	}
}

func tail(out []byte) string {
	lines := strings.Split(string(out), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func TestMutantChild(t *testing.T) {
	name := os.Getenv("BACKENDTEST_MUTANT")
	if name == "" {
		t.Skip("run by TestSuiteCatchesBugs")
	}
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return &mutant{Backend: newLocal(t), bug: name}
	})
}

// mutant wraps a correct backend and breaks one property.
type mutant struct {
	backend.Backend
	bug string

	mu       sync.Mutex
	last     []byte                     // leaky-errors: last plaintext
	issued   map[string]backend.DataKey // same-datakey
	counter  int                        // counter-ids, racy
	tagAlias map[string]map[string]string
}

func (m *mutant) CiphertextVersion(ct []byte) (string, int, error) {
	if m.bug == "unchecked-tail" && len(ct) > 0 {
		ct = ct[:len(ct)-1]
	}
	return m.Backend.(backendtest.VersionInspector).CiphertextVersion(ct)
}

func (m *mutant) leak(err error) error {
	if m.bug != "leaky-errors" || err == nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Errorf("%w (last key %s)", err, hex.EncodeToString(m.last))
}

func (m *mutant) CreateKey(ctx context.Context, req backend.CreateKeyRequest) (backend.KeyMetadata, error) {
	if m.bug == "counter-ids" && req.KeyID == "" {
		m.mu.Lock()
		m.counter++
		req.KeyID = fmt.Sprintf("key-%d-%p", m.counter, m)
		m.mu.Unlock()
	}
	md, err := m.Backend.CreateKey(ctx, req)
	if m.bug == "dup-overwrites" && errors.Is(err, backend.ErrKeyExists) {
		return m.Backend.DescribeKey(ctx, req.KeyID)
	}
	if m.bug == "aliased-tags" && err == nil && req.Tags != nil {
		m.mu.Lock()
		if m.tagAlias == nil {
			m.tagAlias = map[string]map[string]string{}
		}
		m.tagAlias[md.KeyID] = req.Tags
		m.mu.Unlock()
	}
	return md, err
}

func (m *mutant) DescribeKey(ctx context.Context, id string) (backend.KeyMetadata, error) {
	md, err := m.Backend.DescribeKey(ctx, id)
	switch {
	case m.bug == "generic-not-found" && errors.Is(err, backend.ErrKeyNotFound):
		return md, errors.New("no such thing")
	case m.bug == "invalid-not-found" && errors.Is(err, backend.ErrInvalidArgument):
		return md, backend.ErrKeyNotFound
	case m.bug == "aliased-tags" && err == nil:
		m.mu.Lock()
		if tags, ok := m.tagAlias[id]; ok {
			md.Tags = tags
		}
		m.mu.Unlock()
	}
	return md, err
}

func (m *mutant) ListKeys(ctx context.Context, req backend.ListKeysRequest) (backend.ListKeysResult, error) {
	if m.bug == "list-ignores-limit" {
		req.Limit = 0
	}
	res, err := m.Backend.ListKeys(ctx, req)
	if m.bug == "list-unsorted" {
		slices.Reverse(res.Keys)
	}
	return res, err
}

func (m *mutant) DisableKey(ctx context.Context, id string) error {
	if m.bug == "disable-noop" {
		return nil
	}
	return m.Backend.DisableKey(ctx, id)
}

func (m *mutant) ScheduleKeyDeletion(ctx context.Context, id string, days int) (backend.KeyMetadata, error) {
	if m.bug == "clamp-days" {
		days = max(backend.MinPendingDays, min(days, backend.MaxPendingDays))
	}
	return m.Backend.ScheduleKeyDeletion(ctx, id, days)
}

func (m *mutant) CancelKeyDeletion(ctx context.Context, id string) (backend.KeyMetadata, error) {
	md, err := m.Backend.CancelKeyDeletion(ctx, id)
	if m.bug == "cancel-enables" && err == nil {
		if err := m.Backend.EnableKey(ctx, id); err != nil {
			return md, err
		}
		return m.Backend.DescribeKey(ctx, id)
	}
	return md, err
}

func (m *mutant) RotateKey(ctx context.Context, id string) (backend.KeyMetadata, error) {
	if m.bug == "fake-rotate" {
		md, err := m.Backend.DescribeKey(ctx, id)
		md.Version++
		return md, err
	}
	return m.Backend.RotateKey(ctx, id)
}

func (m *mutant) GenerateDataKey(ctx context.Context, id string, ec backend.EncryptionContext) (backend.DataKey, error) {
	switch m.bug {
	case "ignore-context":
		ec = nil
	case "ignore-cancel":
		ctx = context.Background()
	case "racy":
		m.counter++ // unsynchronised
	case "same-datakey":
		m.mu.Lock()
		defer m.mu.Unlock()
		if dk, ok := m.issued[id]; ok {
			return dk, nil
		}
	}
	dk, err := m.Backend.GenerateDataKey(ctx, id, ec)
	if err != nil {
		return dk, m.leak(err)
	}
	switch m.bug {
	case "unchecked-tail":
		dk.Ciphertext = append(dk.Ciphertext, 0)
	case "leaky-errors":
		m.mu.Lock()
		m.last = append([]byte(nil), dk.Plaintext...)
		m.mu.Unlock()
	case "same-datakey":
		if m.issued == nil {
			m.issued = map[string]backend.DataKey{}
		}
		m.issued[id] = dk
	}
	return dk, nil
}

func (m *mutant) Decrypt(ctx context.Context, ct []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	switch m.bug {
	case "ignore-context":
		ec = nil
	case "panics-on-empty":
		_ = ct[0]
	case "unchecked-tail":
		if len(ct) > 0 {
			ct = ct[:len(ct)-1]
		}
	case "pending-decrypts":
		dk, err := m.Backend.Decrypt(ctx, ct, ec)
		if errors.Is(err, backend.ErrKeyPendingDeletion) {
			return backend.DataKey{KeyID: "x", Plaintext: make([]byte, 32)}, nil
		}
		return dk, err
	}
	dk, err := m.Backend.Decrypt(ctx, ct, ec)
	return dk, m.leak(err)
}

func (m *mutant) Rewrap(ctx context.Context, ct []byte, ec backend.EncryptionContext) ([]byte, error) {
	switch m.bug {
	case "rewrap-noop":
		return ct, nil
	case "ignore-context":
		ec = nil
	case "unchecked-tail":
		if len(ct) > 0 {
			ct = ct[:len(ct)-1]
		}
		out, err := m.Backend.Rewrap(ctx, ct, ec)
		if err == nil {
			out = append(out, 0)
		}
		return out, err
	}
	out, err := m.Backend.Rewrap(ctx, ct, ec)
	return out, m.leak(err)
}

func (m *mutant) Close() error {
	if m.bug == "close-noop" {
		return nil
	}
	return m.Backend.Close()
}
