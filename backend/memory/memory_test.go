package memory

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/backendtest"
)

func newTest(t *testing.T, opts ...Option) *Backend {
	t.Helper()
	b, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func mustCreate(t *testing.T, b *Backend, id string) {
	t.Helper()
	if _, err := b.CreateKey(context.Background(), backend.CreateKeyRequest{KeyID: id}); err != nil {
		t.Fatalf("CreateKey(%q): %v", id, err)
	}
}

func mustGenerate(t *testing.T, b *Backend, id string, ec backend.EncryptionContext) backend.DataKey {
	t.Helper()
	dk, err := b.GenerateDataKey(context.Background(), id, ec)
	if err != nil {
		t.Fatalf("GenerateDataKey(%q): %v", id, err)
	}
	return dk
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s = %v, want an error wrapping %v", what, err, target)
	}
}

// materials returns (references to) every key version's material in b.
func materials(b *Backend) [][]byte {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out [][]byte
	for _, k := range b.keys {
		out = append(out, k.versions...)
	}
	return out
}

// TestWireFormat builds a wrapped data key from the documented layout with
// crypto/cipher directly and checks Decrypt accepts it, and that
// GenerateDataKey produces that layout.
func TestWireFormat(t *testing.T) {
	ctx := context.Background()
	b := newTest(t)
	const id = "fmt-key"
	mustCreate(t, b, id)
	if _, err := b.RotateKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	ec := backend.EncryptionContext{"bucket": "b", "object": "o/1"}

	dk := mustGenerate(t, b, id, ec)
	ct := dk.Ciphertext
	if want := 1 + 1 + len(id) + 4 + 12 + 48; len(ct) != want {
		t.Fatalf("ciphertext is %d bytes, want %d", len(ct), want)
	}
	if ct[0] != 0x01 || int(ct[1]) != len(id) || string(ct[2:2+len(id)]) != id || binary.BigEndian.Uint32(ct[2+len(id):]) != 2 {
		t.Fatalf("header = % x", ct[:2+len(id)+4])
	}
	if kid, v, err := b.CiphertextVersion(ct); err != nil || kid != id || v != 2 {
		t.Fatalf("CiphertextVersion = %q, %d, %v", kid, v, err)
	}

	// By hand, under version 1: AAD = header || ec.Canonical().
	b.mu.RLock()
	material := bytes.Clone(b.keys[id].versions[0])
	b.mu.RUnlock()
	header := []byte{0x01, byte(len(id))}
	header = append(header, id...)
	header = binary.BigEndian.AppendUint32(header, 1)
	nonce := bytes.Repeat([]byte{7}, 12)
	plain := bytes.Repeat([]byte{0xab}, 32)
	block, err := aes.NewCipher(material)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	aad := append(bytes.Clone(header), `{"bucket":"b","object":"o/1"}`...)
	if !bytes.Equal(aad[len(header):], ec.Canonical()) {
		t.Fatalf("test bug: canonical form is %s", ec.Canonical())
	}
	hand := gcm.Seal(append(bytes.Clone(header), nonce...), nonce, plain, aad)
	got, err := b.Decrypt(ctx, hand, ec)
	if err != nil {
		t.Fatalf("Decrypt(hand-made v1 ciphertext): %v", err)
	}
	if !bytes.Equal(got.Plaintext, plain) || got.KeyID != id {
		t.Fatal("Decrypt(hand-made) returned another plaintext")
	}
	// Rewrap moves it to version 2 and keeps the context binding.
	re, err := b.Rewrap(ctx, hand, ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, v, _ := b.CiphertextVersion(re); v != 2 {
		t.Fatalf("Rewrap gave version %d", v)
	}
	if got, err := b.Decrypt(ctx, re, ec); err != nil || !bytes.Equal(got.Plaintext, plain) {
		t.Fatalf("Decrypt(rewrapped) = %v", err)
	}
	// The same bytes sealed without the context (or with another header) fail.
	noCtx := gcm.Seal(append(bytes.Clone(header), nonce...), nonce, plain, header)
	_, err = b.Decrypt(ctx, noCtx, ec)
	wantIs(t, "Decrypt(AAD without context)", err, backend.ErrInvalidCiphertext)
}

func TestPlaintextIsCallersCopy(t *testing.T) {
	ctx := context.Background()
	b := newTest(t)
	mustCreate(t, b, "own")
	dk := mustGenerate(t, b, "own", nil)
	want := bytes.Clone(dk.Plaintext)
	ct := bytes.Clone(dk.Ciphertext)
	dk.Zero()
	clear(dk.Ciphertext)

	got, err := b.Decrypt(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Plaintext, want) {
		t.Fatal("zeroing GenerateDataKey's plaintext or ciphertext changed what Decrypt returns")
	}
	got.Zero()
	clear(got.Ciphertext)
	again, err := b.Decrypt(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Plaintext, want) {
		t.Fatal("zeroing Decrypt's result changed the next Decrypt")
	}
	if &again.Ciphertext[0] == &ct[0] {
		t.Fatal("Decrypt returned the caller's ciphertext slice")
	}
}

func TestCloseZeroesKeyMaterial(t *testing.T) {
	ctx := context.Background()
	b := newTest(t)
	for _, id := range []string{"a", "b", "c"} {
		mustCreate(t, b, id)
	}
	if _, err := b.RotateKey(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	dk := mustGenerate(t, b, "b", nil)
	ms := materials(b)
	if len(ms) != 4 {
		t.Fatalf("%d key versions, want 4", len(ms))
	}
	for _, m := range ms {
		if len(m) != 32 || bytes.Equal(m, make([]byte, 32)) {
			t.Fatal("key material is not 32 non-zero bytes")
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, m := range ms {
		if !bytes.Equal(m, make([]byte, 32)) {
			t.Fatal("Close left key material in memory")
		}
	}
	if len(b.keys) != 0 || len(b.ids) != 0 {
		t.Fatal("Close kept keys")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if s := b.String(); s != "memory.Backend{closed}" {
		t.Fatalf("String after Close = %q", s)
	}

	calls := map[string]func() error{
		"CreateKey":   func() error { _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "d"}); return err },
		"DescribeKey": func() error { _, err := b.DescribeKey(ctx, "a"); return err },
		"ListKeys":    func() error { _, err := b.ListKeys(ctx, backend.ListKeysRequest{}); return err },
		"EnableKey":   func() error { return b.EnableKey(ctx, "a") },
		"DisableKey":  func() error { return b.DisableKey(ctx, "a") },
		"ScheduleKeyDeletion": func() error {
			_, err := b.ScheduleKeyDeletion(ctx, "a", backend.MinPendingDays)
			return err
		},
		"CancelKeyDeletion": func() error { _, err := b.CancelKeyDeletion(ctx, "a"); return err },
		"RotateKey":         func() error { _, err := b.RotateKey(ctx, "a"); return err },
		"GenerateDataKey":   func() error { _, err := b.GenerateDataKey(ctx, "a", nil); return err },
		"Decrypt":           func() error { _, err := b.Decrypt(ctx, dk.Ciphertext, nil); return err },
		"Rewrap":            func() error { _, err := b.Rewrap(ctx, dk.Ciphertext, nil); return err },
		"Health":            func() error { return b.Health(ctx) },
		"Purge":             func() error { _, err := b.Purge(ctx); return err },
	}
	for name, call := range calls {
		err := call()
		wantIs(t, name+" after Close", err, backend.ErrClosed)
		var be *backend.Error
		if !errors.As(err, &be) || be.Op != name {
			t.Fatalf("%s after Close = %#v, want a *backend.Error for op %s", name, err, name)
		}
	}
}

// TestNoKeyMaterialInOutput drives every error path and prints every value
// the backend hands out, and checks no form of any master key version or
// data key appears.
func TestNoKeyMaterialInOutput(t *testing.T) {
	ctx := context.Background()
	b := newTest(t, WithKeys("pre"))
	mustCreate(t, b, "leak")
	if _, err := b.RotateKey(ctx, "leak"); err != nil {
		t.Fatal(err)
	}
	ec := backend.EncryptionContext{"bucket": "x"}
	dk := mustGenerate(t, b, "leak", ec)
	secrets := append([][]byte{bytes.Clone(dk.Plaintext)}, materials(b)...)
	for i := range secrets {
		secrets[i] = bytes.Clone(secrets[i]) // Close zeroes the originals
	}

	var shown []any
	rec := func(v any, err error) {
		shown = append(shown, v)
		if err != nil {
			shown = append(shown, err)
		}
	}
	rec2 := func(err error) { rec(nil, err) }
	flipped := bytes.Clone(dk.Ciphertext)
	flipped[len(flipped)-1] ^= 1
	rec(b.Decrypt(ctx, flipped, ec))
	rec(b.Decrypt(ctx, dk.Ciphertext, nil))
	rec(b.Decrypt(ctx, dk.Ciphertext[:40], ec))
	rec(b.Decrypt(ctx, dk.Ciphertext, backend.EncryptionContext{"k": "\xff"}))
	rec(b.Rewrap(ctx, flipped, ec))
	rec(b.GenerateDataKey(ctx, "missing", ec))
	rec(b.GenerateDataKey(ctx, "../bad", ec))
	rec(b.GenerateDataKey(ctx, "leak", backend.EncryptionContext{"\xfe": "v"}))
	rec(b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "leak"}))
	rec(b.CreateKey(ctx, backend.CreateKeyRequest{KeyUsage: "SIGN_VERIFY"}))
	rec(b.ListKeys(ctx, backend.ListKeysRequest{Limit: -1}))
	rec(b.ListKeys(ctx, backend.ListKeysRequest{}))
	rec(b.DescribeKey(ctx, "leak"))
	rec(b.ScheduleKeyDeletion(ctx, "leak", 1))
	rec(b.CancelKeyDeletion(ctx, "leak"))
	rec2(b.DisableKey(ctx, "leak"))
	rec(b.GenerateDataKey(ctx, "leak", ec))
	rec(b.Rewrap(ctx, dk.Ciphertext, ec))
	rec(b.ScheduleKeyDeletion(ctx, "leak", backend.MinPendingDays))
	rec(b.ScheduleKeyDeletion(ctx, "leak", backend.MinPendingDays))
	rec2(b.EnableKey(ctx, "leak"))
	rec(b.RotateKey(ctx, "leak"))
	rec(b.Decrypt(ctx, dk.Ciphertext, ec))
	rec(b.Rewrap(ctx, dk.Ciphertext, ec))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	rec(b.Decrypt(canceled, dk.Ciphertext, ec))
	shown = append(shown, b, dk, &dk)
	_, err := New(WithKeys("dup", "dup"))
	rec2(err)
	_ = b.Close()
	rec(b.Decrypt(ctx, dk.Ciphertext, ec))
	rec(b.GenerateDataKey(ctx, "leak", ec))
	shown = append(shown, b)

	errs := 0
	for _, v := range shown {
		var texts []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			texts = append(texts, fmt.Sprintf(verb, v))
		}
		if err, ok := v.(error); ok {
			errs++
			texts = append(texts, err.Error())
		}
		for _, text := range texts {
			for i, s := range secrets {
				for _, form := range backendtest.SecretForms(s) {
					if strings.Contains(text, form) {
						t.Fatalf("output reveals secret #%d (0 is the data key, then master keys): %q", i, text)
					}
				}
			}
		}
	}
	if errs < 20 {
		t.Fatalf("only %d errors recorded; the test lost its coverage", errs)
	}
	// Ciphertexts carry no key material either.
	for i, s := range secrets {
		if bytes.Contains(dk.Ciphertext, s[:8]) {
			t.Fatalf("ciphertext contains secret #%d", i)
		}
	}
}

func TestErrorsAreTyped(t *testing.T) {
	ctx := context.Background()
	b := newTest(t)
	mustCreate(t, b, "k")
	for _, tc := range []struct {
		err    error
		op, id string
		is     error
	}{
		{func() error { _, err := b.DescribeKey(ctx, "nope"); return err }(), "DescribeKey", "nope", backend.ErrKeyNotFound},
		{func() error { _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "k"}); return err }(), "CreateKey", "k", backend.ErrKeyExists},
		{func() error { _, err := b.ScheduleKeyDeletion(ctx, "k", 3); return err }(), "ScheduleKeyDeletion", "k", backend.ErrInvalidArgument},
		{func() error { _, err := b.CancelKeyDeletion(ctx, "k"); return err }(), "CancelKeyDeletion", "k", backend.ErrInvalidArgument},
		{func() error { _, err := b.Decrypt(ctx, []byte("junk"), nil); return err }(), "Decrypt", "", backend.ErrInvalidCiphertext},
		{func() error { _, err := b.GenerateDataKey(ctx, "a/b", nil); return err }(), "GenerateDataKey", "", backend.ErrInvalidArgument},
	} {
		wantIs(t, tc.op, tc.err, tc.is)
		var be *backend.Error
		if !errors.As(tc.err, &be) || be.Op != tc.op || be.KeyID != tc.id {
			t.Fatalf("%s error = %#v, want *backend.Error{Op: %q, KeyID: %q}", tc.op, tc.err, tc.op, tc.id)
		}
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	b := newTest(t)
	mustCreate(t, b, "life")
	ec := backend.EncryptionContext{"o": "1"}
	dk := mustGenerate(t, b, "life", ec)

	// A disabled key rotates, decrypts, but neither wraps nor rewraps.
	if err := b.DisableKey(ctx, "life"); err != nil {
		t.Fatal(err)
	}
	if md, err := b.RotateKey(ctx, "life"); err != nil || md.Version != 2 || md.State != backend.KeyStateDisabled {
		t.Fatalf("RotateKey(disabled) = %+v, %v", md, err)
	}
	_, err := b.Rewrap(ctx, dk.Ciphertext, ec)
	wantIs(t, "Rewrap(disabled)", err, backend.ErrKeyDisabled)
	if _, err := b.Decrypt(ctx, dk.Ciphertext, ec); err != nil {
		t.Fatalf("Decrypt(disabled): %v", err)
	}

	md, err := b.ScheduleKeyDeletion(ctx, "life", backend.MaxPendingDays)
	if err != nil || md.State != backend.KeyStatePendingDeletion {
		t.Fatalf("ScheduleKeyDeletion = %+v, %v", md, err)
	}
	_, err = b.ScheduleKeyDeletion(ctx, "life", backend.MinPendingDays)
	wantIs(t, "ScheduleKeyDeletion twice", err, backend.ErrKeyPendingDeletion)
	wantIs(t, "EnableKey(pending)", b.EnableKey(ctx, "life"), backend.ErrKeyPendingDeletion)
	wantIs(t, "DisableKey(pending)", b.DisableKey(ctx, "life"), backend.ErrKeyPendingDeletion)
	_, err = b.RotateKey(ctx, "life")
	wantIs(t, "RotateKey(pending)", err, backend.ErrKeyPendingDeletion)

	// Cancelling leaves the key Disabled (as AWS KMS), not Enabled.
	md, err = b.CancelKeyDeletion(ctx, "life")
	if err != nil || md.State != backend.KeyStateDisabled || md.DeletionDate != nil || md.Version != 2 {
		t.Fatalf("CancelKeyDeletion = %+v, %v; want Disabled, no deletion date, version 2", md, err)
	}
	_, err = b.GenerateDataKey(ctx, "life", ec)
	wantIs(t, "GenerateDataKey after CancelKeyDeletion", err, backend.ErrKeyDisabled)
	if err := b.EnableKey(ctx, "life"); err != nil {
		t.Fatal(err)
	}
	re, err := b.Rewrap(ctx, dk.Ciphertext, ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, v, _ := b.CiphertextVersion(re); v != 2 {
		t.Fatalf("Rewrap to version %d, want 2", v)
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	b := newTest(t, WithClock(clock))
	for _, id := range []string{"keep", "gone", "cancelled"} {
		mustCreate(t, b, id)
	}
	md, _ := b.DescribeKey(ctx, "keep")
	if !md.CreationDate.Equal(now) {
		t.Fatalf("CreationDate = %v, want the clock's %v", md.CreationDate, now)
	}
	dk := mustGenerate(t, b, "gone", nil)
	md, err := b.ScheduleKeyDeletion(ctx, "gone", 7)
	if err != nil || !md.DeletionDate.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("ScheduleKeyDeletion = %+v, %v", md, err)
	}
	if _, err := b.ScheduleKeyDeletion(ctx, "cancelled", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CancelKeyDeletion(ctx, "cancelled"); err != nil {
		t.Fatal(err)
	}
	b.mu.RLock()
	gone := b.keys["gone"].versions[0]
	b.mu.RUnlock()

	advance(7*24*time.Hour - time.Second)
	if ids, err := b.Purge(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("Purge before the date = %v, %v", ids, err)
	}
	advance(time.Second)
	ids, err := b.Purge(ctx)
	if err != nil || len(ids) != 1 || ids[0] != "gone" {
		t.Fatalf("Purge = %v, %v; want [gone]", ids, err)
	}
	if !bytes.Equal(gone, make([]byte, 32)) {
		t.Fatal("Purge left the key material in memory")
	}
	_, err = b.DescribeKey(ctx, "gone")
	wantIs(t, "DescribeKey(purged)", err, backend.ErrKeyNotFound)
	_, err = b.Decrypt(ctx, dk.Ciphertext, nil)
	wantIs(t, "Decrypt(purged key)", err, backend.ErrKeyNotFound)
	res, err := b.ListKeys(ctx, backend.ListKeysRequest{})
	if err != nil || len(res.Keys) != 2 || res.Keys[0].KeyID != "cancelled" || res.Keys[1].KeyID != "keep" {
		t.Fatalf("ListKeys after Purge = %+v, %v", res, err)
	}
	// The id is tombstoned: never re-created (cf. minio#14716).
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "gone"})
	wantIs(t, "CreateKey(purged id)", err, backend.ErrKeyDeleted)
	wantIs(t, "CreateKey(purged id)", err, backend.ErrKeyExists)
}

func TestListKeys(t *testing.T) {
	ctx := context.Background()
	b := newTest(t)
	res, err := b.ListKeys(ctx, backend.ListKeysRequest{})
	if err != nil || len(res.Keys) != 0 || res.Truncated {
		t.Fatalf("ListKeys(empty) = %+v, %v", res, err)
	}
	for _, id := range []string{"b", "a-b", "a", "c"} {
		mustCreate(t, b, id)
	}
	for _, tc := range []struct {
		req       backend.ListKeysRequest
		want      string
		truncated bool
	}{
		{backend.ListKeysRequest{}, "a,a-b,b,c", false},
		{backend.ListKeysRequest{Limit: 4}, "a,a-b,b,c", false},
		{backend.ListKeysRequest{Limit: 3}, "a,a-b,b", true},
		{backend.ListKeysRequest{Limit: 2, Marker: "a"}, "a-b,b", true},
		{backend.ListKeysRequest{Limit: 2, Marker: "a-a"}, "a-b,b", true},
		{backend.ListKeysRequest{Limit: 2, Marker: "b"}, "c", false},
		{backend.ListKeysRequest{Marker: "c"}, "", false},
		{backend.ListKeysRequest{Marker: "zzz"}, "", false},
	} {
		res, err := b.ListKeys(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range res.Keys {
			ids = append(ids, k.KeyID)
		}
		if got := strings.Join(ids, ","); got != tc.want || res.Truncated != tc.truncated {
			t.Fatalf("ListKeys(%+v) = %s truncated %v, want %s truncated %v", tc.req, got, res.Truncated, tc.want, tc.truncated)
		}
		if res.Truncated && res.NextMarker != ids[len(ids)-1] {
			t.Fatalf("NextMarker = %q", res.NextMarker)
		}
	}
	_, err = b.ListKeys(ctx, backend.ListKeysRequest{Limit: -1})
	wantIs(t, "ListKeys(Limit -1)", err, backend.ErrInvalidArgument)
}

func TestNewAndOpen(t *testing.T) {
	ctx := context.Background()
	b := newTest(t, WithKeys("x", "y"), nil)
	if res, _ := b.ListKeys(ctx, backend.ListKeysRequest{}); len(res.Keys) != 2 {
		t.Fatalf("WithKeys: %d keys", len(res.Keys))
	}
	for _, ids := range [][]string{{"ok", "../bad"}, {"dup", "dup"}, {""}} {
		_, err := New(WithKeys(ids...))
		wantIs(t, fmt.Sprintf("New(WithKeys(%q))", ids), err, backend.ErrInvalidArgument)
	}

	decodeErr := errors.New("backend_options: unknown field")
	_, err := Open(ctx, func(any) error { return decodeErr })
	if err != decodeErr {
		t.Fatalf("Open with a failing decode = %v, want decode's error unchanged", err)
	}
	o, err := Open(ctx, func(v any) error { v.(*Options).Keys = []string{"app"}; return nil }, WithKeys("extra"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if res, _ := o.ListKeys(ctx, backend.ListKeysRequest{}); len(res.Keys) != 2 || res.Keys[0].KeyID != "app" {
		t.Fatalf("Open: keys %+v", res.Keys)
	}
	if o2, err := Open(ctx, nil); err != nil {
		t.Fatalf("Open(nil decode): %v", err)
	} else {
		_ = o2.Close()
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Open(canceled, nil)
	wantIs(t, "Open(canceled)", err, context.Canceled)
}

func TestForeignCiphertexts(t *testing.T) {
	ctx := context.Background()
	a, b := newTest(t), newTest(t)
	mustCreate(t, a, "same")
	mustCreate(t, b, "same")
	mustCreate(t, a, "only-a")
	dk := mustGenerate(t, a, "same", nil)
	_, err := b.Decrypt(ctx, dk.Ciphertext, nil)
	wantIs(t, "Decrypt(other backend, same id)", err, backend.ErrInvalidCiphertext)
	dk = mustGenerate(t, a, "only-a", nil)
	_, err = b.Decrypt(ctx, dk.Ciphertext, nil)
	wantIs(t, "Decrypt(other backend, unknown id)", err, backend.ErrKeyNotFound)
	// A version the key does not have.
	ct := bytes.Clone(dk.Ciphertext)
	binary.BigEndian.PutUint32(ct[2+len("only-a"):], 2)
	_, err = a.Decrypt(ctx, ct, nil)
	wantIs(t, "Decrypt(unknown version)", err, backend.ErrInvalidCiphertext)
	// The local backend's format (0x4c 0x01 ...) is refused by its format byte.
	local := bytes.Clone(dk.Ciphertext)
	local[0] = 0x4c
	_, err = a.Decrypt(ctx, local, nil)
	wantIs(t, "Decrypt(local format)", err, backend.ErrInvalidCiphertext)
}

// TestCloseDuringCalls races Close against calls of every kind (run with
// -race): each call either succeeds or fails with backend.ErrClosed.
func TestCloseDuringCalls(t *testing.T) {
	ctx := context.Background()
	b := newTest(t)
	mustCreate(t, b, "race")
	dk := mustGenerate(t, b, "race", nil)
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	start := make(chan struct{})
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			for i := 0; i < 200; i++ {
				var err error
				switch (w + i) % 6 {
				case 0:
					_, err = b.GenerateDataKey(ctx, "race", nil)
				case 1:
					_, err = b.Decrypt(ctx, dk.Ciphertext, nil)
				case 2:
					_, err = b.RotateKey(ctx, "race")
				case 3:
					_, err = b.ListKeys(ctx, backend.ListKeysRequest{})
				case 4:
					_, err = b.CreateKey(ctx, backend.CreateKeyRequest{})
				case 5:
					_, err = b.Rewrap(ctx, dk.Ciphertext, nil)
				}
				if err != nil && !errors.Is(err, backend.ErrClosed) {
					errc <- err
					return
				}
			}
		}(w)
	}
	close(start)
	_ = b.Close()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func FuzzDecrypt(f *testing.F) {
	b, err := New(WithKeys("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	defer b.Close()
	dk, err := b.GenerateDataKey(context.Background(), "fuzz", nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dk.Ciphertext)
	f.Add([]byte{})
	f.Add([]byte{0x01, 0x04, 'f', 'u', 'z', 'z', 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, ct []byte) {
		got, err := b.Decrypt(context.Background(), ct, nil)
		if bytes.Equal(ct, dk.Ciphertext) {
			if err != nil || !bytes.Equal(got.Plaintext, dk.Plaintext) {
				t.Fatalf("Decrypt(original) = %v", err)
			}
			return
		}
		if err == nil {
			t.Fatal("Decrypt of a different ciphertext succeeded")
		}
		if len(got.Plaintext) != 0 {
			t.Fatal("plaintext returned with an error")
		}
		if !errors.Is(err, backend.ErrInvalidCiphertext) && !errors.Is(err, backend.ErrKeyNotFound) {
			t.Fatalf("Decrypt = %v", err)
		}
	})
}
