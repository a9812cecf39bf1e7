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

// testDestroyKeyVersions: a backend with backend.KeyVersionDestroyer
// destroys the versions below the one named and no other.
func (s *suite) testDestroyKeyVersions(t *testing.T) {
	ctx, b := s.setup(t)
	d, ok := b.(backend.KeyVersionDestroyer)
	if !ok {
		t.Skip("backend does not implement backend.KeyVersionDestroyer")
	}
	id := s.id("destroy-versions")
	mustCreateKey(t, ctx, b, id)
	var dks []backend.DataKey
	for v := 1; v <= 3; v++ {
		if v > 1 {
			if _, err := b.RotateKey(ctx, id); err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
		}
		dks = append(dks, generate(t, ctx, b, id, nil))
	}
	_, err := d.DestroyKeyVersions(ctx, id, 1)
	wantErr(t, "DestroyKeyVersions(below 1)", err, backend.ErrInvalidArgument)
	_, err = d.DestroyKeyVersions(ctx, id, 4)
	wantErr(t, "DestroyKeyVersions(below 4 of 3)", err, backend.ErrInvalidArgument)
	_, err = d.DestroyKeyVersions(ctx, s.id("destroy-missing"), 2)
	wantErr(t, "DestroyKeyVersions(missing)", err, backend.ErrKeyNotFound)
	for i, dk := range dks { // nothing destroyed by the refusals
		if _, err := b.Decrypt(ctx, dk.Ciphertext, nil); err != nil {
			t.Fatalf("Decrypt(version %d) before destroying: %v", i+1, err)
		}
	}
	for range 2 { // the second time is a no-op
		md, err := d.DestroyKeyVersions(ctx, id, 3)
		if err != nil || md.Version != 3 {
			t.Fatalf("DestroyKeyVersions(below 3) = %+v, %v", md, err)
		}
	}
	for _, dk := range dks[:2] {
		_, err := b.Decrypt(ctx, dk.Ciphertext, nil)
		wantErr(t, "Decrypt(destroyed version)", err, backend.ErrInvalidCiphertext)
		_, err = b.Rewrap(ctx, dk.Ciphertext, nil)
		wantErr(t, "Rewrap(destroyed version)", err, backend.ErrInvalidCiphertext)
	}
	if _, err := b.Decrypt(ctx, dks[2].Ciphertext, nil); err != nil {
		t.Fatalf("Decrypt(kept version 3): %v", err)
	}
	generate(t, ctx, b, id, nil)
	if md := describe(t, ctx, b, id); md.Version != 3 || md.State != backend.KeyStateEnabled {
		t.Fatalf("after DestroyKeyVersions: %+v", md)
	}
}
