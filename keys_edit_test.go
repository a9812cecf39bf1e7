package kms_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend/memory"
)

// plainBackend hides every optional interface of the backend it wraps.
type plainBackend struct{ kms.Backend }

func editManager(t *testing.T, hide bool) *kms.Manager {
	t.Helper()
	ctx := context.Background()
	m := kms.NewManager(
		kms.WithLogger(slog.New(slog.DiscardHandler)),
		kms.WithBackend("memory", func(ctx context.Context, cfg kms.Config) (kms.Backend, error) {
			b, err := memory.Open(ctx, cfg.BackendOptions.Decode)
			if err != nil || !hide {
				return b, err
			}
			return plainBackend{b}, nil
		}),
	)
	if err := m.Configure(ctx, kms.Config{BackendType: "memory", DefaultKeyID: "app", BackendOptions: kms.BackendOptions(`{"keys": ["app"]}`)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

func TestManagerKeyEdits(t *testing.T) {
	ctx := context.Background()
	m := editManager(t, false)
	md, err := m.UpdateKeyDescription(ctx, "app", "application key")
	if err != nil || md.Description != "application key" {
		t.Fatalf("UpdateKeyDescription = %+v, %v", md, err)
	}
	if md, err = m.TagKey(ctx, "app", map[string]string{"team": "storage", "env": "prod"}); err != nil || !maps.Equal(md.Tags, map[string]string{"team": "storage", "env": "prod"}) {
		t.Fatalf("TagKey = %+v, %v", md, err)
	}
	if md, err = m.UntagKey(ctx, "app", []string{"env"}); err != nil || !maps.Equal(md.Tags, map[string]string{"team": "storage"}) {
		t.Fatalf("UntagKey = %+v, %v", md, err)
	}
	if got, err := m.DescribeKey(ctx, "app"); err != nil || got.Description != "application key" || !maps.Equal(got.Tags, md.Tags) {
		t.Fatalf("DescribeKey = %+v, %v", got, err)
	}
	if _, err := m.TagKey(ctx, "app", nil); !errors.Is(err, kms.ErrInvalidArgument) {
		t.Fatalf("TagKey(nil) = %v, want ErrInvalidArgument", err)
	}
	if _, err := m.UntagKey(ctx, "missing", []string{"a"}); !errors.Is(err, kms.ErrKeyNotFound) {
		t.Fatalf("UntagKey(missing) = %v, want ErrKeyNotFound", err)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TagKey(ctx, "app", map[string]string{"a": "b"}); !errors.Is(err, kms.ErrNotRunning) {
		t.Fatalf("TagKey on a stopped Manager = %v, want ErrNotRunning", err)
	}
}

func TestManagerKeyEditsUnsupported(t *testing.T) {
	ctx := context.Background()
	m := editManager(t, true)
	for name, fn := range map[string]func() error{
		"UpdateKeyDescription": func() error { _, err := m.UpdateKeyDescription(ctx, "app", "x"); return err },
		"TagKey":               func() error { _, err := m.TagKey(ctx, "app", map[string]string{"a": "b"}); return err },
		"UntagKey":             func() error { _, err := m.UntagKey(ctx, "app", []string{"a"}); return err },
		"SetRotationPeriod":    func() error { _, err := m.SetRotationPeriod(ctx, "app", time.Hour); return err },
	} {
		if err := fn(); !errors.Is(err, kms.ErrUnsupported) {
			t.Errorf("%s = %v, want ErrUnsupported", name, err)
		}
	}
	if md, err := m.DescribeKey(ctx, "app"); err != nil || md.Description != "" || len(md.Tags) != 0 {
		t.Fatalf("DescribeKey = %+v, %v", md, err)
	}
}
