package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
)

// TestEveryBitFlipRejected flips every bit of a ciphertext (the shared suite
// samples; here we try them all).
func TestEveryBitFlipRejected(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	mustCreate(t, b, "k1")
	mustCreate(t, b, "k2") // a flip that renames the key may hit a real one
	ec := backend.EncryptionContext{"a": "b"}
	dk := mustGenerate(t, b, "k1", ec)
	for i := range dk.Ciphertext {
		for bit := 0; bit < 8; bit++ {
			ct := bytes.Clone(dk.Ciphertext)
			ct[i] ^= 1 << bit
			_, err := b.Decrypt(ctx, ct, ec)
			if !errors.Is(err, backend.ErrInvalidCiphertext) && !errors.Is(err, backend.ErrKeyNotFound) {
				t.Fatalf("byte %d bit %d: Decrypt = %v", i, bit, err)
			}
		}
	}
}

// TestHeaderBound: the key id and version in the header are authenticated.
func TestHeaderBound(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	mustCreate(t, b, "k1")
	mustCreate(t, b, "k2")
	dk := mustGenerate(t, b, "k1", nil)
	if _, err := b.RotateKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	// Same bytes but naming k2: a valid id of a real key, same length.
	renamed := bytes.Clone(dk.Ciphertext)
	copy(renamed[3:], "k2")
	if _, err := b.Decrypt(ctx, renamed, nil); !errors.Is(err, backend.ErrInvalidCiphertext) {
		t.Fatalf("ciphertext renamed to k2: %v", err)
	}
	// Claiming version 2 (which exists) for a version-1 ciphertext.
	bumped := bytes.Clone(dk.Ciphertext)
	binary.BigEndian.PutUint32(bumped[3+2:], 2)
	if _, err := b.Decrypt(ctx, bumped, nil); !errors.Is(err, backend.ErrInvalidCiphertext) {
		t.Fatalf("version bumped: %v", err)
	}
	// A version that doesn't exist.
	binary.BigEndian.PutUint32(bumped[3+2:], 9)
	if _, err := b.Decrypt(ctx, bumped, nil); !errors.Is(err, backend.ErrInvalidCiphertext) {
		t.Fatalf("unknown version: %v", err)
	}
	id, v, err := b.CiphertextVersion(dk.Ciphertext)
	if err != nil || id != "k1" || v != 1 {
		t.Fatalf("CiphertextVersion = %q %d %v", id, v, err)
	}
}

func TestParseCiphertext(t *testing.T) {
	valid := appendHeader(nil, "key-1", 3)
	valid = append(valid, make([]byte, ctBody)...)
	if p, err := parseCiphertext(valid); err != nil || p.keyID != "key-1" || p.version != 3 {
		t.Fatalf("parse valid = %+v, %v", p, err)
	}
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	for name, ct := range map[string][]byte{
		"nil":          nil,
		"short":        valid[:minCiphertext-1],
		"long":         append(bytes.Clone(valid), 0),
		"magic":        mut(func(b []byte) []byte { b[0] = 'X'; return b }),
		"format":       mut(func(b []byte) []byte { b[1] = 2; return b }),
		"id len 0":     mut(func(b []byte) []byte { b[2] = 0; return b }),
		"id len big":   mut(func(b []byte) []byte { b[2] = 255; return b }),
		"id invalid":   mut(func(b []byte) []byte { b[3] = '.'; return b }),
		"version 0":    mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0); return b }),
		"version huge": mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 1<<31); return b }),
		"max length":   make([]byte, maxCiphertext+1),
	} {
		if _, err := parseCiphertext(ct); !errors.Is(err, backend.ErrInvalidCiphertext) {
			t.Errorf("%s: parse = %v", name, err)
		}
	}
}

func TestRewrap(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	mustCreate(t, b, "k1")
	ec := backend.EncryptionContext{"x": "y"}
	dk := mustGenerate(t, b, "k1", ec)
	for i := 0; i < 3; i++ {
		if _, err := b.RotateKey(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	re, err := b.Rewrap(ctx, dk.Ciphertext, ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, v, _ := b.CiphertextVersion(re); v != 4 {
		t.Fatalf("rewrapped to version %d, want 4", v)
	}
	if err := b.DisableKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rewrap(ctx, dk.Ciphertext, ec); !errors.Is(err, backend.ErrKeyDisabled) {
		t.Fatalf("Rewrap(disabled) = %v", err)
	}
	if out, err := b.Decrypt(ctx, re, ec); err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
		t.Fatalf("Decrypt(rewrapped, disabled key) = %v", err)
	}
	if _, err := b.GenerateDataKey(ctx, "k1", backend.EncryptionContext{"\xff": "x"}); !errors.Is(err, backend.ErrInvalidArgument) {
		t.Fatalf("non-UTF-8 context = %v", err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func TestPurge(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	cfg := testConfig(t.TempDir())
	cfg.Now = clk.Now
	b := openTest(t, cfg)
	for _, id := range []string{"keep", "soon", "later", "cancelled"} {
		mustCreate(t, b, id)
	}
	dk := mustGenerate(t, b, "soon", nil)
	mustSchedule := func(id string, days int) {
		t.Helper()
		md, err := b.ScheduleKeyDeletion(ctx, id, days)
		if err != nil {
			t.Fatal(err)
		}
		if want := clk.Now().Add(time.Duration(days) * 24 * time.Hour); !md.DeletionDate.Equal(want) {
			t.Fatalf("DeletionDate = %v, want %v", md.DeletionDate, want)
		}
	}
	mustSchedule("soon", 7)
	mustSchedule("later", 30)
	mustSchedule("cancelled", 7)
	if _, err := b.ScheduleKeyDeletion(ctx, "soon", 8); !errors.Is(err, backend.ErrKeyPendingDeletion) {
		t.Fatalf("rescheduling = %v", err)
	}
	if md, err := b.CancelKeyDeletion(ctx, "cancelled"); err != nil || md.State != backend.KeyStateDisabled || md.DeletionDate != nil {
		t.Fatalf("CancelKeyDeletion = %+v, %v; want Disabled without a deletion date", md, err)
	}
	if _, err := b.CancelKeyDeletion(ctx, "keep"); !errors.Is(err, backend.ErrInvalidArgument) {
		t.Fatalf("cancel on enabled key = %v", err)
	}
	for _, op := range []func() error{
		func() error { return b.EnableKey(ctx, "soon") },
		func() error { return b.DisableKey(ctx, "soon") },
		func() error { _, err := b.RotateKey(ctx, "soon"); return err },
	} {
		if err := op(); !errors.Is(err, backend.ErrKeyPendingDeletion) {
			t.Fatalf("op on pending key = %v", err)
		}
	}

	clk.add(7*24*time.Hour - time.Second)
	if purged, err := b.Purge(ctx); err != nil || len(purged) != 0 {
		t.Fatalf("Purge before the date = %v, %v", purged, err)
	}
	clk.add(time.Second)
	purged, err := b.Purge(ctx)
	if err != nil || len(purged) != 1 || purged[0] != "soon" {
		t.Fatalf("Purge = %v, %v; want [soon]", purged, err)
	}
	if _, err := b.DescribeKey(ctx, "soon"); !errors.Is(err, backend.ErrKeyNotFound) {
		t.Fatalf("purged key: %v", err)
	}
	if _, err := b.Decrypt(ctx, dk.Ciphertext, nil); !errors.Is(err, backend.ErrKeyNotFound) {
		t.Fatalf("Decrypt under purged key: %v", err)
	}
	clk.add(30 * 24 * time.Hour)
	if purged, err := b.Purge(ctx); err != nil || len(purged) != 1 || purged[0] != "later" {
		t.Fatalf("second Purge = %v, %v", purged, err)
	}
	res, _ := b.ListKeys(ctx, backend.ListKeysRequest{})
	if len(res.Keys) != 2 {
		t.Fatalf("left: %+v", res.Keys)
	}
}

// TestConcurrentAdminAndData mixes key creation, rotation, state changes,
// listing and data-key calls across goroutines (run with -race), then closes
// the backend while calls are in flight.
func TestConcurrentAdminAndData(t *testing.T) {
	ctx := context.Background()
	b := newTestBackend(t)
	ids := []string{"c0", "c1", "c2"}
	for _, id := range ids {
		mustCreate(t, b, id)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			id := ids[g%len(ids)]
			for i := 0; i < 30; i++ {
				ec := backend.EncryptionContext{"g": string(rune('a' + g))}
				switch {
				case g == 0 && i%5 == 0:
					if _, err := b.RotateKey(ctx, id); err != nil {
						errc <- err
					}
				case g == 1 && i%7 == 0:
					if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{}); err != nil {
						errc <- err
					}
				case g == 2 && i%4 == 0:
					if _, err := b.ListKeys(ctx, backend.ListKeysRequest{Limit: 2}); err != nil {
						errc <- err
					}
				default:
					dk, err := b.GenerateDataKey(ctx, id, ec)
					if err != nil {
						errc <- err
						continue
					}
					out, err := b.Decrypt(ctx, dk.Ciphertext, ec)
					if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
						errc <- errors.Join(errors.New("round trip failed"), err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}

	// Close with calls in flight: every call either completes or fails with
	// ErrClosed; nothing races or panics.
	var wg2 sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for i := 0; i < 50; i++ {
				dk, err := b.GenerateDataKey(ctx, "c0", nil)
				if err != nil {
					if !errors.Is(err, backend.ErrClosed) {
						t.Errorf("GenerateDataKey during Close: %v", err)
					}
					return
				}
				if _, err := b.Decrypt(ctx, dk.Ciphertext, nil); err != nil && !errors.Is(err, backend.ErrClosed) {
					t.Errorf("Decrypt during Close: %v", err)
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	wg2.Wait()
}
