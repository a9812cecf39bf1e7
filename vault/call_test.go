package vault

import (
	"context"
	"errors"
	"testing"

	"github.com/envkms/kms/backend"
)

// TestCallPreamble pins what every method does before talking to Vault, in
// order: argument checks (an invalid key id first, reported without KeyID),
// then a closed Backend, then a done ctx; every error a *backend.Error naming
// the method, and no request sent.
func TestCallPreamble(t *testing.T) {
	badEC := backend.EncryptionContext{"k": "\xff"}
	type method struct {
		op    string
		keyID string // KeyID of the error once the arguments are valid
		ok    func(context.Context, *Backend) error
		bad   func(context.Context, *Backend) error // invalid arguments; nil if none
		badID string                                // KeyID of bad's error
	}
	methods := []method{
		{"CreateKey", fakeKey,
			func(ctx context.Context, b *Backend) error {
				_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: fakeKey})
				return err
			},
			func(ctx context.Context, b *Backend) error {
				_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "-bad"})
				return err
			}, ""},
		{"DescribeKey", fakeKey,
			func(ctx context.Context, b *Backend) error { _, err := b.DescribeKey(ctx, fakeKey); return err },
			func(ctx context.Context, b *Backend) error { _, err := b.DescribeKey(ctx, ""); return err }, ""},
		{"ListKeys", "",
			func(ctx context.Context, b *Backend) error {
				_, err := b.ListKeys(ctx, backend.ListKeysRequest{})
				return err
			},
			func(ctx context.Context, b *Backend) error {
				_, err := b.ListKeys(ctx, backend.ListKeysRequest{Limit: -1})
				return err
			}, ""},
		{"EnableKey", fakeKey,
			func(ctx context.Context, b *Backend) error { return b.EnableKey(ctx, fakeKey) },
			func(ctx context.Context, b *Backend) error { return b.EnableKey(ctx, "a/b") }, ""},
		{"DisableKey", fakeKey,
			func(ctx context.Context, b *Backend) error { return b.DisableKey(ctx, fakeKey) },
			func(ctx context.Context, b *Backend) error { return b.DisableKey(ctx, "a/b") }, ""},
		{"ScheduleKeyDeletion", fakeKey,
			func(ctx context.Context, b *Backend) error {
				_, err := b.ScheduleKeyDeletion(ctx, fakeKey, 7)
				return err
			},
			func(ctx context.Context, b *Backend) error {
				_, err := b.ScheduleKeyDeletion(ctx, fakeKey, 1)
				return err
			}, fakeKey},
		{"CancelKeyDeletion", fakeKey,
			func(ctx context.Context, b *Backend) error { _, err := b.CancelKeyDeletion(ctx, fakeKey); return err },
			func(ctx context.Context, b *Backend) error { _, err := b.CancelKeyDeletion(ctx, "a/b"); return err }, ""},
		{"RotateKey", fakeKey,
			func(ctx context.Context, b *Backend) error { _, err := b.RotateKey(ctx, fakeKey); return err },
			func(ctx context.Context, b *Backend) error { _, err := b.RotateKey(ctx, "a/b"); return err }, ""},
		{"TagKey", fakeKey,
			func(ctx context.Context, b *Backend) error {
				_, err := b.TagKey(ctx, fakeKey, map[string]string{"a": "b"})
				return err
			},
			func(ctx context.Context, b *Backend) error { _, err := b.TagKey(ctx, "a/b", nil); return err }, ""},
		{"UntagKey", fakeKey,
			func(ctx context.Context, b *Backend) error {
				_, err := b.UntagKey(ctx, fakeKey, []string{"a"})
				return err
			},
			func(ctx context.Context, b *Backend) error { _, err := b.UntagKey(ctx, "a/b", nil); return err }, ""},
		{"UpdateKeyDescription", fakeKey,
			func(ctx context.Context, b *Backend) error {
				_, err := b.UpdateKeyDescription(ctx, fakeKey, "d")
				return err
			},
			func(ctx context.Context, b *Backend) error {
				_, err := b.UpdateKeyDescription(ctx, "a/b", "")
				return err
			}, ""},
		{"GenerateDataKey", fakeKey,
			func(ctx context.Context, b *Backend) error {
				_, err := b.GenerateDataKey(ctx, fakeKey, nil)
				return err
			},
			func(ctx context.Context, b *Backend) error {
				_, err := b.GenerateDataKey(ctx, fakeKey, badEC)
				return err
			}, fakeKey},
		{"Decrypt", fakeKey,
			func(ctx context.Context, b *Backend) error { _, err := b.Decrypt(ctx, fakeBlob(), nil); return err },
			func(ctx context.Context, b *Backend) error { _, err := b.Decrypt(ctx, fakeBlob(), badEC); return err }, fakeKey},
		{"Rewrap", fakeKey,
			func(ctx context.Context, b *Backend) error { _, err := b.Rewrap(ctx, fakeBlob(), nil); return err },
			func(ctx context.Context, b *Backend) error {
				_, err := b.Rewrap(ctx, []byte("evt1:x"), nil)
				return err
			}, ""},
		{"Health", "",
			func(ctx context.Context, b *Backend) error { return b.Health(ctx) },
			nil, ""},
		{"Purge", "",
			func(ctx context.Context, b *Backend) error { _, err := b.Purge(ctx); return err },
			nil, ""},
	}
	check := func(t *testing.T, what string, err error, op, keyID string, want error) {
		t.Helper()
		var be *backend.Error
		if !errors.As(err, &be) || be.Op != op || be.KeyID != keyID || !errors.Is(err, want) {
			t.Fatalf("%s: got %#v (%v); want a *backend.Error{Op: %q, KeyID: %q} wrapping %v", what, err, err, op, keyID, want)
		}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, m := range methods {
		t.Run(m.op, func(t *testing.T) {
			f := newFakeVault(t)
			b := newFakeBackend(t, f, Config{})
			badErr := backend.ErrInvalidArgument
			if m.op == "Rewrap" {
				badErr = backend.ErrInvalidCiphertext
			}
			if m.bad != nil {
				check(t, "invalid arguments, canceled ctx", m.bad(canceled, b), m.op, m.badID, badErr)
			}
			err := m.ok(canceled, b)
			check(t, "canceled ctx", err, m.op, m.keyID, backend.ErrUnavailable)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("canceled ctx: %v does not wrap context.Canceled", err)
			}
			_ = b.Close()
			check(t, "closed, canceled ctx", m.ok(canceled, b), m.op, m.keyID, backend.ErrClosed)
			if m.bad != nil {
				check(t, "closed, invalid arguments", m.bad(context.Background(), b), m.op, m.badID, badErr)
			}
			f.mu.Lock()
			hits := len(f.hits)
			f.mu.Unlock()
			if hits != 0 {
				t.Fatalf("requests sent: %v", f.hits)
			}
		})
	}
}
