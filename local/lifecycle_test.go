package local

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/backendtest"
)

// testClock is a clock tests move forward.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestConformanceWithClock(t *testing.T) {
	clock := newTestClock()
	dir := t.TempDir()
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		cfg := testConfig(dir)
		cfg.Now = clock.now
		return openTest(t, cfg)
	}, backendtest.WithClock(clock.advance))
}

func TestPurgeTombstoneFile(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	cfg := testConfig(t.TempDir())
	cfg.Now = clock.now
	b := openTest(t, cfg)
	mustCreate(t, b, "gone")
	if _, err := b.ScheduleKeyDeletion(ctx, "gone", 7); err != nil {
		t.Fatal(err)
	}
	// A crash after the tombstone is written, before the key file is
	// removed: the key is still pending deletion, and the next Purge
	// finishes.
	b.testHook = func(step string) error {
		if step == stepDirSync {
			return errors.New("crash")
		}
		return nil
	}
	clock.advance(8 * 24 * time.Hour)
	if _, err := b.Purge(ctx); err == nil {
		t.Fatal("Purge with a crash: no error")
	}
	b.testHook = nil
	if _, err := os.Stat(b.keyPath("gone")); err != nil {
		t.Fatalf("key file gone after a crash before its removal: %v", err)
	}
	if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "gone"}); !errors.Is(err, backend.ErrKeyExists) {
		t.Fatalf("CreateKey during an interrupted purge: %v", err)
	}
	ids, err := b.Purge(ctx)
	if err != nil || len(ids) != 1 || ids[0] != "gone" {
		t.Fatalf("Purge = %v, %v", ids, err)
	}
	if _, err := os.Stat(b.tombstonePath("gone")); err != nil {
		t.Fatalf("no tombstone: %v", err)
	}
	// Another Backend on the directory (another process) refuses the id too.
	b2 := openTest(t, cfg)
	_, err = b2.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "gone"})
	if !errors.Is(err, backend.ErrKeyDeleted) {
		t.Fatalf("CreateKey(purged id) = %v", err)
	}
	res, err := b2.ListKeys(ctx, backend.ListKeysRequest{})
	if err != nil || len(res.Keys) != 0 || len(res.UnreadableKeyIDs) != 0 {
		t.Fatalf("ListKeys lists a tombstone: %+v, %v", res, err)
	}
}

func TestAutoRotateByAge(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	cfg := testConfig(t.TempDir())
	cfg.Now = clock.now
	b1, b2 := openTest(t, cfg), openTest(t, cfg)
	if _, err := b1.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "k", RotationPeriod: time.Hour}); err != nil {
		t.Fatal(err)
	}
	dk, err := b1.GenerateDataKey(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := b2.DescribeKey(ctx, "k"); md.Version != 1 || md.RotationDue || md.RotationPeriod != time.Hour {
		t.Fatalf("fresh key: %+v", md)
	}
	clock.advance(time.Hour + time.Minute)
	if md, _ := b2.DescribeKey(ctx, "k"); md.Version != 1 || !md.RotationDue {
		t.Fatalf("due key before use: %+v", md)
	}
	// Both Backends find the key due at once; it is rotated once.
	var wg sync.WaitGroup
	for _, b := range []*Backend{b1, b2, b1, b2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.GenerateDataKey(ctx, "k", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	time.Sleep(revalidateAfter + 10*time.Millisecond)
	for _, b := range []*Backend{b1, b2} {
		md, err := b.DescribeKey(ctx, "k")
		if err != nil || md.Version != 2 || md.RotationDue {
			t.Fatalf("after first use when due: %+v, %v (want exactly one rotation)", md, err)
		}
	}
	if _, err := b1.Decrypt(ctx, dk.Ciphertext, nil); err != nil {
		t.Fatalf("old version no longer decrypts: %v", err)
	}
	// A disabled key is not rotated.
	if err := b1.DisableKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Hour)
	if md, _ := b1.DescribeKey(ctx, "k"); md.Version != 2 || !md.RotationDue {
		t.Fatalf("disabled key: %+v", md)
	}
}

func TestAutoRotateByCount(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	b.maxWraps = 3
	mustCreate(t, b, "plain")
	if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "k", RotationPeriod: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		for _, id := range []string{"k", "plain"} {
			if _, err := b.GenerateDataKey(ctx, id, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if md, _ := b.DescribeKey(ctx, "plain"); !md.RotationDue || md.Version != 1 {
		t.Fatalf("key without a policy after the bound: %+v (want due, not rotated)", md)
	}
	if md, _ := b.DescribeKey(ctx, "k"); !md.RotationDue || md.Version != 1 {
		t.Fatalf("key with a policy after the bound, before use: %+v", md)
	}
	if _, err := b.GenerateDataKey(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	if md, _ := b.DescribeKey(ctx, "k"); md.RotationDue || md.Version != 2 {
		t.Fatalf("key with a policy after its next use: %+v", md)
	}
}

func TestRotationPeriodOnDisk(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t.TempDir())
	b := openTest(t, cfg)
	mustCreate(t, b, "k")
	raw, _ := os.ReadFile(b.keyPath("k"))
	if contains(raw, "rotation_period") {
		t.Fatal("a key without a policy writes rotation_period_seconds (old readers would refuse it)")
	}
	if _, err := b.SetRotationPeriod(ctx, "k", 90*time.Minute); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(b.keyPath("k"))
	if !contains(raw, `"rotation_period_seconds": 5400`) {
		t.Fatalf("key file: %s", raw)
	}
	if md, err := openTest(t, cfg).DescribeKey(ctx, "k"); err != nil || md.RotationPeriod != 90*time.Minute {
		t.Fatalf("reopened: %+v, %v", md, err)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
