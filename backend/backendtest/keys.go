package backendtest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
)

func (s *suite) testCreateDescribe(t *testing.T) {
	ctx, b := s.setup(t)
	req := backend.CreateKeyRequest{
		KeyID:       s.id("create"),
		Description: "a key for conformance",
		KeyUsage:    "ENCRYPT_DECRYPT",
		Tags:        map[string]string{"team": "storage", "env": "test"},
	}
	before := time.Now()
	md, err := b.CreateKey(ctx, req)
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	check := func(what string, md backend.KeyMetadata) {
		t.Helper()
		if md.KeyID != req.KeyID || md.Description != req.Description {
			t.Fatalf("%s: KeyID/Description = %q/%q, want %q/%q", what, md.KeyID, md.Description, req.KeyID, req.Description)
		}
		if md.State != backend.KeyStateEnabled {
			t.Fatalf("%s: State = %q, want Enabled", what, md.State)
		}
		if md.Version != 1 {
			t.Fatalf("%s: Version = %d, want 1", what, md.Version)
		}
		if md.DeletionDate != nil {
			t.Fatalf("%s: DeletionDate = %v, want nil", what, md.DeletionDate)
		}
		if md.KeyUsage != "" && md.KeyUsage != "ENCRYPT_DECRYPT" {
			t.Fatalf("%s: KeyUsage = %q", what, md.KeyUsage)
		}
		if !around(md.CreationDate, before, clockTolerance) {
			t.Fatalf("%s: CreationDate = %v, want about %v", what, md.CreationDate, before)
		}
		if len(md.Tags) != len(req.Tags) || md.Tags["team"] != "storage" || md.Tags["env"] != "test" {
			t.Fatalf("%s: Tags = %v, want %v", what, md.Tags, req.Tags)
		}
	}
	check("CreateKey", md)
	got := describe(t, ctx, b, req.KeyID)
	check("DescribeKey", got)
	if !around(got.CreationDate, md.CreationDate, time.Second) { // stores may truncate to seconds
		t.Fatalf("DescribeKey CreationDate %v != CreateKey's %v", got.CreationDate, md.CreationDate)
	}

	// Defaults: no usage, no tags, no description.
	md, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: s.id("create-min")})
	if err != nil {
		t.Fatalf("CreateKey(minimal): %v", err)
	}
	if md.State != backend.KeyStateEnabled || md.Version != 1 || (md.KeyUsage != "" && md.KeyUsage != "ENCRYPT_DECRYPT") {
		t.Fatalf("CreateKey(minimal) = %+v", md)
	}
}

func (s *suite) testCreateGeneratedID(t *testing.T) {
	ctx, b := s.setup(t)
	md, err := b.CreateKey(ctx, backend.CreateKeyRequest{Description: "generated id"})
	if err != nil {
		t.Fatalf("CreateKey(empty id): %v", err)
	}
	if !isUUID(md.KeyID) {
		t.Fatalf("generated KeyID %q is not a UUID", md.KeyID)
	}
	if got := describe(t, ctx, b, md.KeyID); got.KeyID != md.KeyID {
		t.Fatalf("DescribeKey(%q).KeyID = %q", md.KeyID, got.KeyID)
	}
	md2, err := b.CreateKey(ctx, backend.CreateKeyRequest{})
	if err != nil {
		t.Fatalf("CreateKey(empty id) again: %v", err)
	}
	if md2.KeyID == md.KeyID {
		t.Fatal("two generated KeyIDs are equal")
	}
	dk := generate(t, ctx, b, md.KeyID, nil)
	mustDecrypt(t, ctx, b, dk.Ciphertext, nil, dk.Plaintext)
}

// isUUID reports whether s has the 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func (s *suite) testCreateDuplicate(t *testing.T) {
	ctx, b := s.setup(t)
	first := s.createKey(t, ctx, b, "dup")
	_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: s.id("dup"), Description: "second"})
	wantErr(t, "CreateKey(duplicate)", err, backend.ErrKeyExists)
	if got := describe(t, ctx, b, s.id("dup")); got.Description != first.Description {
		t.Fatalf("duplicate CreateKey changed the key: Description %q", got.Description)
	}
}

// invalidIDs are rejected by backend.ValidateKeyID; backends must refuse them
// with ErrInvalidArgument (they are unsafe as file names or Vault paths).
var invalidIDs = []string{
	"../escape", "a/b", `a\b`, ".hidden", "-dash", "_under", "with space", "tab\tid",
	"nul\x00id", "ünïcode", "semi;colon", "q?x", strings.Repeat("k", backend.MaxKeyIDLen+1),
}

func (s *suite) testInvalidKeyIDs(t *testing.T) {
	ctx, b := s.setup(t)
	for _, id := range invalidIDs {
		if backend.ValidateKeyID(id) == nil {
			t.Fatalf("suite bug: %q is valid", id)
		}
		_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id})
		wantErr(t, "CreateKey("+quote(id)+")", err, backend.ErrInvalidArgument)
		for _, op := range keyOps(b) {
			err := call(t, op.name, func() error { return op.fn(ctx, id) })
			wantErr(t, op.name+"("+quote(id)+")", err, backend.ErrInvalidArgument)
		}
	}
}

func quote(id string) string {
	if len(id) > 20 {
		id = id[:20] + "..."
	}
	return strings.ReplaceAll(strings.ReplaceAll(id, "\x00", `\x00`), "\t", `\t`)
}

type keyOp struct {
	name string
	fn   func(ctx context.Context, id string) error
}

// keyOps lists every Backend call that takes a key id.
func keyOps(b backend.Backend) []keyOp {
	return []keyOp{
		{"DescribeKey", func(ctx context.Context, id string) error { _, err := b.DescribeKey(ctx, id); return err }},
		{"EnableKey", func(ctx context.Context, id string) error { return b.EnableKey(ctx, id) }},
		{"DisableKey", func(ctx context.Context, id string) error { return b.DisableKey(ctx, id) }},
		{"ScheduleKeyDeletion", func(ctx context.Context, id string) error {
			_, err := b.ScheduleKeyDeletion(ctx, id, backend.MinPendingDays)
			return err
		}},
		{"CancelKeyDeletion", func(ctx context.Context, id string) error { _, err := b.CancelKeyDeletion(ctx, id); return err }},
		{"RotateKey", func(ctx context.Context, id string) error { _, err := b.RotateKey(ctx, id); return err }},
		{"GenerateDataKey", func(ctx context.Context, id string) error {
			dk, err := b.GenerateDataKey(ctx, id, nil)
			dk.Zero()
			return err
		}},
	}
}

func (s *suite) testUnknownKey(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.id("never-created")
	for _, op := range keyOps(b) {
		err := call(t, op.name, func() error { return op.fn(ctx, id) })
		wantErr(t, op.name+"(unknown)", err, backend.ErrKeyNotFound)
	}
	// The failed calls must not have created the key.
	_, err := b.DescribeKey(ctx, id)
	wantErr(t, "DescribeKey after failed calls", err, backend.ErrKeyNotFound)
}

func (s *suite) testMetadataNotAliased(t *testing.T) {
	ctx, b := s.setup(t)
	tags := map[string]string{"a": "1"}
	md, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: s.id("alias"), Tags: tags})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	tags["a"] = "changed-by-caller"
	if md.Tags != nil {
		md.Tags["b"] = "added-by-caller"
	}
	got := describe(t, ctx, b, s.id("alias"))
	if len(got.Tags) != 1 || got.Tags["a"] != "1" {
		t.Fatalf("backend tags changed through a caller's map: %v", got.Tags)
	}
	got.Tags["c"] = "x"
	if again := describe(t, ctx, b, s.id("alias")); len(again.Tags) != 1 {
		t.Fatalf("DescribeKey result aliases the backend's tags: %v", again.Tags)
	}
}

func (s *suite) testListPagination(t *testing.T) {
	ctx, b := s.setup(t)
	prefix := s.id("list") + "-"
	const n = 7
	var want []string
	for i := n - 1; i >= 0; i-- { // create out of order
		id := prefix + string(rune('a'+i))
		if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: id}); err != nil {
			t.Fatalf("CreateKey(%q): %v", id, err)
		}
	}
	for i := 0; i < n; i++ {
		want = append(want, prefix+string(rune('a'+i)))
	}

	// Every id after the prefix that starts with it sorts before every id
	// after the prefix that doesn't, so walking from Marker=prefix meets ours
	// first; stop at the first foreign id.
	for _, limit := range []int{1, 2, 3, n, 0} {
		var got []string
		marker, last := prefix, prefix
		for page := 0; ; page++ {
			if page > n+2 {
				t.Fatalf("Limit %d: too many pages", limit)
			}
			res, err := b.ListKeys(ctx, backend.ListKeysRequest{Limit: limit, Marker: marker})
			if err != nil {
				t.Fatalf("ListKeys(Limit %d, Marker %q): %v", limit, marker, err)
			}
			max := limit
			if max == 0 {
				max = backend.DefaultListLimit
			}
			if len(res.Keys) > max {
				t.Fatalf("Limit %d: page has %d keys", limit, len(res.Keys))
			}
			if res.Truncated && len(res.Keys) == 0 {
				t.Fatalf("Limit %d: empty page marked Truncated", limit)
			}
			foreign := false
			for _, k := range res.Keys {
				if k.KeyID <= last {
					t.Fatalf("Limit %d: %q listed after %q (not ascending, or repeated)", limit, k.KeyID, last)
				}
				last = k.KeyID
				if !strings.HasPrefix(k.KeyID, prefix) {
					foreign = true
					continue
				}
				if k.State != backend.KeyStateEnabled || k.Version != 1 {
					t.Fatalf("ListKeys metadata for %q = %+v", k.KeyID, k)
				}
				got = append(got, k.KeyID)
			}
			if res.Truncated && res.NextMarker != res.Keys[len(res.Keys)-1].KeyID {
				t.Fatalf("Limit %d: NextMarker %q, last key %q", limit, res.NextMarker, res.Keys[len(res.Keys)-1].KeyID)
			}
			if !res.Truncated || foreign {
				break
			}
			marker = res.NextMarker
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("Limit %d: listed %v, want %v", limit, got, want)
		}
	}

	// A marker in the middle starts right after it.
	res, err := b.ListKeys(ctx, backend.ListKeysRequest{Limit: 2, Marker: want[3]})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(res.Keys) != 2 || res.Keys[0].KeyID != want[4] || res.Keys[1].KeyID != want[5] || !res.Truncated {
		t.Fatalf("ListKeys(Marker %q) = %+v", want[3], res)
	}
}

func (s *suite) testEnableDisable(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "disable").KeyID
	dk := generate(t, ctx, b, id, backend.EncryptionContext{"k": "v"})

	if err := b.DisableKey(ctx, id); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	if md := describe(t, ctx, b, id); md.State != backend.KeyStateDisabled {
		t.Fatalf("State after DisableKey = %q", md.State)
	}
	_, err := b.GenerateDataKey(ctx, id, nil)
	wantErr(t, "GenerateDataKey(disabled)", err, backend.ErrKeyDisabled)
	mustDecrypt(t, ctx, b, dk.Ciphertext, backend.EncryptionContext{"k": "v"}, dk.Plaintext)
	if err := b.DisableKey(ctx, id); err != nil {
		t.Fatalf("DisableKey twice: %v", err)
	}

	if err := b.EnableKey(ctx, id); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	if md := describe(t, ctx, b, id); md.State != backend.KeyStateEnabled {
		t.Fatalf("State after EnableKey = %q", md.State)
	}
	dk2 := generate(t, ctx, b, id, nil)
	mustDecrypt(t, ctx, b, dk2.Ciphertext, nil, dk2.Plaintext)
	if err := b.EnableKey(ctx, id); err != nil {
		t.Fatalf("EnableKey twice: %v", err)
	}
}

func (s *suite) testScheduleDeletionWindow(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "window").KeyID
	for _, days := range []int{-1, 0, backend.MinPendingDays - 1, backend.MaxPendingDays + 1, 365} {
		_, err := b.ScheduleKeyDeletion(ctx, id, days)
		wantErr(t, "ScheduleKeyDeletion(days="+strconv.Itoa(days)+")", err, backend.ErrInvalidArgument)
	}
	if md := describe(t, ctx, b, id); md.State != backend.KeyStateEnabled || md.DeletionDate != nil {
		t.Fatalf("refused ScheduleKeyDeletion changed the key: %+v", md)
	}
	for _, days := range []int{backend.MinPendingDays, backend.MaxPendingDays} {
		kid := s.createKey(t, ctx, b, "window-"+strconv.Itoa(days)).KeyID
		now := time.Now()
		md, err := b.ScheduleKeyDeletion(ctx, kid, days)
		if err != nil {
			t.Fatalf("ScheduleKeyDeletion(%d days): %v", days, err)
		}
		want := now.Add(time.Duration(days) * 24 * time.Hour)
		if md.State != backend.KeyStatePendingDeletion || md.DeletionDate == nil || !around(*md.DeletionDate, want, clockTolerance) {
			t.Fatalf("ScheduleKeyDeletion(%d days) = State %q, DeletionDate %v; want PendingDeletion about %v", days, md.State, md.DeletionDate, want)
		}
	}
}

func (s *suite) testScheduleAndCancelDeletion(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "delete").KeyID
	ec := backend.EncryptionContext{"obj": "1"}
	dk := generate(t, ctx, b, id, ec)

	md, err := b.ScheduleKeyDeletion(ctx, id, 10)
	if err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	if d := describe(t, ctx, b, id); d.State != backend.KeyStatePendingDeletion || d.DeletionDate == nil || !around(*d.DeletionDate, *md.DeletionDate, time.Second) {
		t.Fatalf("DescribeKey after ScheduleKeyDeletion = %+v", d)
	}
	_, err = b.GenerateDataKey(ctx, id, ec)
	wantErr(t, "GenerateDataKey(pending deletion)", err, backend.ErrKeyPendingDeletion)
	_, err = b.Decrypt(ctx, dk.Ciphertext, ec)
	wantErr(t, "Decrypt(pending deletion)", err, backend.ErrKeyPendingDeletion)
	_, err = b.Rewrap(ctx, dk.Ciphertext, ec)
	wantErr(t, "Rewrap(pending deletion)", err, backend.ErrKeyPendingDeletion)

	md, err = b.CancelKeyDeletion(ctx, id)
	if err != nil {
		t.Fatalf("CancelKeyDeletion: %v", err)
	}
	// As in AWS KMS, a cancelled deletion leaves the key Disabled: it
	// decrypts again, but wraps nothing new until enabled on purpose.
	if md.State != backend.KeyStateDisabled || md.DeletionDate != nil {
		t.Fatalf("CancelKeyDeletion = State %q, DeletionDate %v; want Disabled, no DeletionDate", md.State, md.DeletionDate)
	}
	if d := describe(t, ctx, b, id); d.State != backend.KeyStateDisabled || d.DeletionDate != nil {
		t.Fatalf("DescribeKey after CancelKeyDeletion = %+v; want Disabled, no DeletionDate", d)
	}
	mustDecrypt(t, ctx, b, dk.Ciphertext, ec, dk.Plaintext)
	_, err = b.GenerateDataKey(ctx, id, ec)
	wantErr(t, "GenerateDataKey(after CancelKeyDeletion)", err, backend.ErrKeyDisabled)

	if err := b.EnableKey(ctx, id); err != nil {
		t.Fatalf("EnableKey after CancelKeyDeletion: %v", err)
	}
	if d := describe(t, ctx, b, id); d.State != backend.KeyStateEnabled {
		t.Fatalf("State after EnableKey = %q", d.State)
	}
	dk2 := generate(t, ctx, b, id, ec)
	mustDecrypt(t, ctx, b, dk2.Ciphertext, ec, dk2.Plaintext)
}

func (s *suite) testHealth(t *testing.T) {
	ctx, b := s.setup(t)
	if err := b.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
}

func (s *suite) testCanceledContext(t *testing.T) {
	_, b := s.setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.GenerateDataKey(ctx, s.id("canceled"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GenerateDataKey(canceled ctx) = %v, want an error wrapping context.Canceled", err)
	}
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: s.id("canceled")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateKey(canceled ctx) = %v, want an error wrapping context.Canceled", err)
	}
}

func (s *suite) testClose(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "close").KeyID
	dk := generate(t, ctx, b, id, nil)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := b.GenerateDataKey(ctx, id, nil)
	wantErr(t, "GenerateDataKey after Close", err, backend.ErrClosed)
	_, err = b.Decrypt(ctx, dk.Ciphertext, nil)
	wantErr(t, "Decrypt after Close", err, backend.ErrClosed)
	_, err = b.DescribeKey(ctx, id)
	wantErr(t, "DescribeKey after Close", err, backend.ErrClosed)
	_ = call(t, "second Close", b.Close) // may return an error, must not panic
}
