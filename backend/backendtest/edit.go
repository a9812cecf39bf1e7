package backendtest

import (
	"maps"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/envkms/kms/backend"
)

// testKeyEditor checks backend.KeyEditor when the backend implements it.
func (s *suite) testKeyEditor(t *testing.T) {
	ctx, b := s.setup(t)
	ed, ok := b.(backend.KeyEditor)
	if !ok {
		t.Skip("backend does not implement backend.KeyEditor")
	}
	id := s.id("edit")
	if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id, Description: "before", Tags: map[string]string{"keep": "1", "drop": "2"}}); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	wantMD := func(what string, md backend.KeyMetadata, desc string, tags map[string]string) {
		t.Helper()
		if md.KeyID != id || md.Description != desc || !maps.Equal(md.Tags, tags) || md.Version != 1 {
			t.Fatalf("%s = %+v, want description %q, tags %v", what, md, desc, tags)
		}
		got := describe(t, ctx, b, id)
		if got.Description != desc || !maps.Equal(got.Tags, tags) {
			t.Fatalf("%s: DescribeKey = %+v, want description %q, tags %v", what, got, desc, tags)
		}
	}

	md, err := ed.UpdateKeyDescription(ctx, id, "after")
	if err != nil {
		t.Fatalf("UpdateKeyDescription: %v", err)
	}
	wantMD("UpdateKeyDescription", md, "after", map[string]string{"keep": "1", "drop": "2"})
	if md, err = ed.UpdateKeyDescription(ctx, id, "after"); err != nil {
		t.Fatalf("UpdateKeyDescription (same): %v", err)
	}
	wantMD("UpdateKeyDescription (same)", md, "after", map[string]string{"keep": "1", "drop": "2"})

	md, err = ed.TagKey(ctx, id, map[string]string{"drop": "3", "new": ""})
	if err != nil {
		t.Fatalf("TagKey: %v", err)
	}
	wantMD("TagKey", md, "after", map[string]string{"keep": "1", "drop": "3", "new": ""})

	md, err = ed.UntagKey(ctx, id, []string{"drop", "new", "absent"})
	if err != nil {
		t.Fatalf("UntagKey: %v", err)
	}
	wantMD("UntagKey", md, "after", map[string]string{"keep": "1"})
	if md, err = ed.UntagKey(ctx, id, []string{"absent"}); err != nil {
		t.Fatalf("UntagKey (absent): %v", err)
	}
	wantMD("UntagKey (absent)", md, "after", map[string]string{"keep": "1"})
	if md, err = ed.UpdateKeyDescription(ctx, id, ""); err != nil {
		t.Fatalf("UpdateKeyDescription (clear): %v", err)
	}
	wantMD("UpdateKeyDescription (clear)", md, "", map[string]string{"keep": "1"})

	// Invalid arguments change nothing.
	tooMany := map[string]string{}
	for i := range backend.MaxTags {
		tooMany["t"+strconv.Itoa(i)] = "v"
	}
	for name, fn := range map[string]func() error{
		"TagKey(nil)":        func() error { _, err := ed.TagKey(ctx, id, nil); return err },
		"TagKey(empty name)": func() error { _, err := ed.TagKey(ctx, id, map[string]string{"": "v"}); return err },
		"TagKey(long value)": func() error {
			_, err := ed.TagKey(ctx, id, map[string]string{"k": strings.Repeat("v", backend.MaxTagValueLen+1)})
			return err
		},
		"TagKey(above MaxTags)": func() error { _, err := ed.TagKey(ctx, id, tooMany); return err },
		"UntagKey(nil)":         func() error { _, err := ed.UntagKey(ctx, id, nil); return err },
		"UntagKey(empty name)":  func() error { _, err := ed.UntagKey(ctx, id, []string{""}); return err },
		"UpdateKeyDescription(big)": func() error {
			_, err := ed.UpdateKeyDescription(ctx, id, strings.Repeat("d", backend.MaxDescriptionLen+1))
			return err
		},
		"UpdateKeyDescription(bad UTF-8)": func() error {
			_, err := ed.UpdateKeyDescription(ctx, id, "\xff")
			return err
		},
	} {
		wantErr(t, name, call(t, name, fn), backend.ErrInvalidArgument)
	}
	wantMD("after invalid edits", describe(t, ctx, b, id), "", map[string]string{"keep": "1"})

	// Unknown and invalid ids.
	for _, bad := range []struct {
		id   string
		want error
	}{{s.id("edit-missing"), backend.ErrKeyNotFound}, {"a/b", backend.ErrInvalidArgument}} {
		_, err := ed.UpdateKeyDescription(ctx, bad.id, "x")
		wantErr(t, "UpdateKeyDescription("+quote(bad.id)+")", err, bad.want)
		_, err = ed.TagKey(ctx, bad.id, map[string]string{"a": "b"})
		wantErr(t, "TagKey("+quote(bad.id)+")", err, bad.want)
		_, err = ed.UntagKey(ctx, bad.id, []string{"a"})
		wantErr(t, "UntagKey("+quote(bad.id)+")", err, bad.want)
	}

	// A Disabled key can be edited; a key pending deletion cannot.
	if err := b.DisableKey(ctx, id); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	if md, err = ed.TagKey(ctx, id, map[string]string{"state": "off"}); err != nil || md.State != backend.KeyStateDisabled {
		t.Fatalf("TagKey(disabled key) = %+v, %v", md, err)
	}
	if _, err := b.ScheduleKeyDeletion(ctx, id, backend.MinPendingDays); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	_, err = ed.UpdateKeyDescription(ctx, id, "x")
	wantErr(t, "UpdateKeyDescription(pending deletion)", err, backend.ErrKeyPendingDeletion)
	_, err = ed.TagKey(ctx, id, map[string]string{"a": "b"})
	wantErr(t, "TagKey(pending deletion)", err, backend.ErrKeyPendingDeletion)
	_, err = ed.UntagKey(ctx, id, []string{"state"})
	wantErr(t, "UntagKey(pending deletion)", err, backend.ErrKeyPendingDeletion)
	if _, err := b.CancelKeyDeletion(ctx, id); err != nil {
		t.Fatalf("CancelKeyDeletion: %v", err)
	}
	wantMD("after refused edits", describe(t, ctx, b, id), "", map[string]string{"keep": "1", "state": "off"})
}

// testKeyEditorConcurrent: concurrent TagKey calls on one key never lose
// each other's tags.
func (s *suite) testKeyEditorConcurrent(t *testing.T) {
	ctx, b := s.setup(t)
	ed, ok := b.(backend.KeyEditor)
	if !ok {
		t.Skip("backend does not implement backend.KeyEditor")
	}
	id := s.createKey(t, ctx, b, "edit-concurrent").KeyID
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = ed.TagKey(ctx, id, map[string]string{"w" + strconv.Itoa(i): "x"})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("TagKey %d: %v", i, err)
		}
	}
	if md := describe(t, ctx, b, id); len(md.Tags) != n {
		t.Fatalf("after %d concurrent TagKey calls the key has tags %v", n, md.Tags)
	}
}
