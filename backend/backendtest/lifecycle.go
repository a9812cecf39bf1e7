package backendtest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
)

// Option configures Run.
type Option func(*suite)

// WithClock lets the suite move the backend's clock forward by d (the clock
// of creation and deletion dates, Purge and rotation policies). Without it
// the tests that need time to pass (a purge after the window, rotation by
// age) are skipped.
func WithClock(advance func(d time.Duration)) Option {
	return func(s *suite) { s.advance = advance }
}

// testPurgeWindow: Purge (when implemented) leaves a key whose window has
// not passed alone, and it can still be cancelled.
func (s *suite) testPurgeWindow(t *testing.T) {
	ctx, b := s.setup(t)
	p, ok := b.(backend.Purger)
	if !ok {
		t.Skip("backend does not implement backend.Purger")
	}
	id := s.id("purge-window")
	mustCreateKey(t, ctx, b, id)
	if _, err := b.ScheduleKeyDeletion(ctx, id, backend.MinPendingDays); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	purged, err := p.Purge(ctx)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if slices.Contains(purged, id) {
		t.Fatalf("Purge destroyed %q before its deletion date", id)
	}
	if md := describe(t, ctx, b, id); md.State != backend.KeyStatePendingDeletion {
		t.Fatalf("after Purge within the window: %+v", md)
	}
	if _, err := b.CancelKeyDeletion(ctx, id); err != nil {
		t.Fatalf("CancelKeyDeletion after Purge within the window: %v", err)
	}
}

// testPurgeTombstone: after the window Purge destroys the key, and its id
// is never re-created.
func (s *suite) testPurgeTombstone(t *testing.T) {
	ctx, b := s.setup(t)
	p, ok := b.(backend.Purger)
	if !ok {
		t.Skip("backend does not implement backend.Purger")
	}
	if s.advance == nil {
		t.Skip("needs WithClock")
	}
	id := s.id("purge-tombstone")
	mustCreateKey(t, ctx, b, id)
	dk, err := b.GenerateDataKey(ctx, id, nil)
	if err != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	dk.Zero()
	if _, err := b.ScheduleKeyDeletion(ctx, id, backend.MinPendingDays); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	s.advance(backend.MinPendingDays*24*time.Hour + time.Hour)
	purged, err := p.Purge(ctx)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if !slices.Contains(purged, id) {
		t.Fatalf("Purge after the window = %v, want it to include %q", purged, id)
	}
	_, err = b.DescribeKey(ctx, id)
	wantErr(t, "DescribeKey(purged)", err, backend.ErrKeyNotFound)
	_, err = b.Decrypt(ctx, dk.Ciphertext, nil)
	wantErr(t, "Decrypt(purged)", err, backend.ErrKeyNotFound)
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
	wantErr(t, "CreateKey(purged id)", err, backend.ErrKeyDeleted)
	wantErr(t, "CreateKey(purged id)", err, backend.ErrKeyExists)
	if again, err := p.Purge(ctx); err != nil || slices.Contains(again, id) {
		t.Fatalf("second Purge = %v, %v", again, err)
	}
}

// testRotationPolicy: a backend with backend.RotationPolicySetter keeps
// RotationPeriod from CreateKey and SetRotationPeriod.
func (s *suite) testRotationPolicy(t *testing.T) {
	ctx, b := s.setup(t)
	rs, ok := b.(backend.RotationPolicySetter)
	if !ok {
		t.Skip("backend does not implement backend.RotationPolicySetter")
	}
	id := s.id("rotation-policy")
	md, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id, RotationPeriod: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatalf("CreateKey with RotationPeriod: %v", err)
	}
	if md.RotationPeriod != 30*24*time.Hour || md.RotationDue {
		t.Fatalf("CreateKey = RotationPeriod %v, RotationDue %v", md.RotationPeriod, md.RotationDue)
	}
	if md := describe(t, ctx, b, id); md.RotationPeriod != 30*24*time.Hour || md.RotationDue {
		t.Fatalf("DescribeKey = RotationPeriod %v, RotationDue %v", md.RotationPeriod, md.RotationDue)
	}
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: s.id("rotation-bad"), RotationPeriod: time.Minute})
	wantErr(t, "CreateKey(RotationPeriod 1m)", err, backend.ErrInvalidArgument)
	for _, d := range []time.Duration{48 * time.Hour, 0} {
		md, err := rs.SetRotationPeriod(ctx, id, d)
		if err != nil || md.RotationPeriod != d {
			t.Fatalf("SetRotationPeriod(%v) = %v, %v", d, md.RotationPeriod, err)
		}
		if got := describe(t, ctx, b, id).RotationPeriod; got != d {
			t.Fatalf("DescribeKey after SetRotationPeriod(%v): %v", d, got)
		}
	}
	_, err = rs.SetRotationPeriod(ctx, id, -time.Hour)
	wantErr(t, "SetRotationPeriod(-1h)", err, backend.ErrInvalidArgument)
	_, err = rs.SetRotationPeriod(ctx, s.id("rotation-missing"), time.Hour)
	wantErr(t, "SetRotationPeriod(missing)", err, backend.ErrKeyNotFound)

	if s.advance == nil {
		return
	}
	if _, err := rs.SetRotationPeriod(ctx, id, time.Hour); err != nil {
		t.Fatal(err)
	}
	s.advance(2 * time.Hour)
	if md := describe(t, ctx, b, id); !md.RotationDue && md.Version == 1 {
		t.Fatalf("a key older than its rotation period: neither RotationDue nor rotated: %+v", md)
	}
}

func mustCreateKey(t *testing.T, ctx context.Context, b backend.Backend, id string) {
	t.Helper()
	if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id}); err != nil {
		t.Fatalf("CreateKey(%q): %v", id, err)
	}
}
