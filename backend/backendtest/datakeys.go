package backendtest

import (
	"bytes"
	"testing"

	"github.com/envkms/kms/backend"
)

// checkVersion verifies, when b can tell, that ct names keyID at version want.
func checkVersion(t *testing.T, b backend.Backend, ct []byte, keyID string, want int) {
	t.Helper()
	vi, ok := b.(VersionInspector)
	if !ok {
		return
	}
	id, v, err := vi.CiphertextVersion(ct)
	if err != nil {
		t.Fatalf("CiphertextVersion: %v", err)
	}
	if id != keyID || v != want {
		t.Fatalf("CiphertextVersion = %q v%d, want %q v%d", id, v, keyID, want)
	}
}

func (s *suite) testRotate(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "rotate").KeyID
	ec := backend.EncryptionContext{"bucket": "b", "object": "o"}
	dk1 := generate(t, ctx, b, id, ec)
	checkVersion(t, b, dk1.Ciphertext, id, 1)

	md, err := b.RotateKey(ctx, id)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if md.Version != 2 {
		t.Fatalf("RotateKey: Version = %d, want 2", md.Version)
	}
	if d := describe(t, ctx, b, id); d.Version != 2 || d.State != backend.KeyStateEnabled {
		t.Fatalf("DescribeKey after RotateKey = Version %d, State %q", d.Version, d.State)
	}
	dk2 := generate(t, ctx, b, id, ec)
	checkVersion(t, b, dk2.Ciphertext, id, 2)
	if bytes.Equal(dk1.Ciphertext, dk2.Ciphertext) || bytes.Equal(dk1.Plaintext, dk2.Plaintext) {
		t.Fatal("data keys before and after rotation are equal")
	}
	mustDecrypt(t, ctx, b, dk1.Ciphertext, ec, dk1.Plaintext) // old version still decrypts
	mustDecrypt(t, ctx, b, dk2.Ciphertext, ec, dk2.Plaintext)

	// Rewrap moves the old ciphertext to the newest version.
	re, err := b.Rewrap(ctx, dk1.Ciphertext, ec)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if bytes.Equal(re, dk1.Ciphertext) {
		t.Fatal("Rewrap returned the ciphertext unchanged after a rotation")
	}
	if bytes.Contains(re, dk1.Plaintext) {
		t.Fatal("Rewrap output contains the plaintext")
	}
	checkVersion(t, b, re, id, 2)
	mustDecrypt(t, ctx, b, re, ec, dk1.Plaintext)

	// A third version: both older ciphertexts and the rewrapped one decrypt,
	// and rewrapping again reaches version 3.
	if md, err = b.RotateKey(ctx, id); err != nil || md.Version != 3 {
		t.Fatalf("RotateKey again = Version %d, %v; want 3", md.Version, err)
	}
	for _, ct := range [][]byte{dk1.Ciphertext, re} {
		mustDecrypt(t, ctx, b, ct, ec, dk1.Plaintext)
	}
	mustDecrypt(t, ctx, b, dk2.Ciphertext, ec, dk2.Plaintext)
	re3, err := b.Rewrap(ctx, re, ec)
	if err != nil {
		t.Fatalf("Rewrap to v3: %v", err)
	}
	checkVersion(t, b, re3, id, 3)
	mustDecrypt(t, ctx, b, re3, ec, dk1.Plaintext)
	dk3 := generate(t, ctx, b, id, ec)
	checkVersion(t, b, dk3.Ciphertext, id, 3)
	mustDecrypt(t, ctx, b, dk3.Ciphertext, ec, dk3.Plaintext)
}

func (s *suite) testRewrapContext(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "rewrap").KeyID
	ec := backend.EncryptionContext{"bucket": "b", "object": "o"}
	dk := generate(t, ctx, b, id, ec)
	if _, err := b.RotateKey(ctx, id); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}

	// Rewrap itself needs the right context.
	for _, bad := range badContexts(ec) {
		_, err := b.Rewrap(ctx, dk.Ciphertext, bad)
		wantErr(t, "Rewrap(wrong context)", err, backend.ErrContextMismatch, backend.ErrInvalidCiphertext)
	}
	re, err := b.Rewrap(ctx, dk.Ciphertext, ec)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	// The rewrapped key is still bound to the same context.
	mustDecrypt(t, ctx, b, re, ec, dk.Plaintext)
	for _, bad := range badContexts(ec) {
		_, err := b.Decrypt(ctx, re, bad)
		wantErr(t, "Decrypt(rewrapped, wrong context)", err, backend.ErrContextMismatch, backend.ErrInvalidCiphertext)
	}
	// Rewrap of garbage is refused like Decrypt.
	_, err = call2(t, "Rewrap(garbage)", func() ([]byte, error) { return b.Rewrap(ctx, []byte("garbage"), ec) })
	wantErr(t, "Rewrap(garbage)", err, backend.ErrInvalidCiphertext, backend.ErrKeyNotFound)
	// And rewrapping on a disabled key keeps its ciphertexts decryptable.
	if err := b.DisableKey(ctx, id); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	mustDecrypt(t, ctx, b, re, ec, dk.Plaintext)
}

func call2(t *testing.T, what string, fn func() ([]byte, error)) (out []byte, err error) {
	t.Helper()
	err = call(t, what, func() error {
		var e error
		out, e = fn()
		return e
	})
	return out, err
}

// badContexts returns contexts that differ from ec in every way that matters.
func badContexts(ec backend.EncryptionContext) []backend.EncryptionContext {
	var out []backend.EncryptionContext
	out = append(out, nil) // missing entirely
	extra := ec.Clone()
	extra["extra"] = "1"
	out = append(out, extra)
	for k, v := range ec {
		changed := ec.Clone()
		changed[k] = v + "x"
		out = append(out, changed)
		dropped := ec.Clone()
		delete(dropped, k)
		out = append(out, dropped)
		renamed := ec.Clone()
		delete(renamed, k)
		renamed[k+"x"] = v
		out = append(out, renamed)
		// Moving a separator between key and value must not collide.
		if len(v) > 0 {
			shifted := ec.Clone()
			delete(shifted, k)
			shifted[k+v[:1]] = v[1:]
			out = append(out, shifted)
		}
	}
	return out
}

func (s *suite) testDataKeys(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "datakeys").KeyID
	const n = 8
	plain := map[string]bool{}
	cipher := map[string]bool{}
	for i := 0; i < n; i++ {
		dk := generate(t, ctx, b, id, nil)
		if dk.KeyID != id {
			t.Fatalf("DataKey.KeyID = %q, want %q", dk.KeyID, id)
		}
		if len(dk.Ciphertext) == 0 {
			t.Fatal("empty ciphertext")
		}
		if bytes.Equal(dk.Plaintext, make([]byte, backend.DataKeySize)) {
			t.Fatal("all-zero data key")
		}
		if bytes.Contains(dk.Ciphertext, dk.Plaintext) {
			t.Fatal("ciphertext contains the plaintext")
		}
		plain[string(dk.Plaintext)] = true
		cipher[string(dk.Ciphertext)] = true

		got, err := b.Decrypt(ctx, dk.Ciphertext, nil)
		if err != nil {
			t.Fatalf("Decrypt: %v", err)
		}
		if got.KeyID != id || !bytes.Equal(got.Plaintext, dk.Plaintext) {
			t.Fatalf("Decrypt = KeyID %q, same plaintext %v", got.KeyID, bytes.Equal(got.Plaintext, dk.Plaintext))
		}
		// The caller owns the returned plaintext: zeroing it must not affect
		// the next call.
		got.Zero()
		dk.Zero()
	}
	if len(plain) != n || len(cipher) != n {
		t.Fatalf("%d calls gave %d distinct plaintexts and %d distinct ciphertexts", n, len(plain), len(cipher))
	}
}

func (s *suite) testContextBinding(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "context").KeyID
	ec := backend.EncryptionContext{"bucket": "photos", "object": "2024/cat.jpg"}
	dk := generate(t, ctx, b, id, ec)

	// Same content, different map (order-independent).
	same := backend.EncryptionContext{}
	same["object"] = "2024/cat.jpg"
	same["bucket"] = "photos"
	mustDecrypt(t, ctx, b, dk.Ciphertext, same, dk.Plaintext)

	bad := append(badContexts(ec), backend.EncryptionContext{"photos": "bucket", "2024/cat.jpg": "object"})
	for i, wrong := range bad {
		dk2, err := b.Decrypt(ctx, dk.Ciphertext, wrong)
		if err == nil {
			t.Fatalf("Decrypt with wrong context #%d %v succeeded", i, wrong)
		}
		if len(dk2.Plaintext) != 0 {
			t.Fatalf("Decrypt with wrong context #%d returned plaintext bytes with its error", i)
		}
		wantErr(t, "Decrypt(wrong context)", err, backend.ErrContextMismatch, backend.ErrInvalidCiphertext)
	}
	// A key made without context doesn't decrypt with one.
	dk0 := generate(t, ctx, b, id, nil)
	_, err := b.Decrypt(ctx, dk0.Ciphertext, ec)
	wantErr(t, "Decrypt(context added)", err, backend.ErrContextMismatch, backend.ErrInvalidCiphertext)
}

func (s *suite) testNilEmptyContext(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "nilctx").KeyID
	dkNil := generate(t, ctx, b, id, nil)
	dkEmpty := generate(t, ctx, b, id, backend.EncryptionContext{})
	mustDecrypt(t, ctx, b, dkNil.Ciphertext, backend.EncryptionContext{}, dkNil.Plaintext)
	mustDecrypt(t, ctx, b, dkEmpty.Ciphertext, nil, dkEmpty.Plaintext)
}

// testNonUTF8Context checks that context strings that are not valid UTF-8 are
// either refused or bound exactly (two such strings must not be confused, as
// a lossy JSON encoding would).
func (s *suite) testNonUTF8Context(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "utf8").KeyID
	dk, err := b.GenerateDataKey(ctx, id, backend.EncryptionContext{"k": "\xff"})
	if err != nil {
		wantErr(t, "GenerateDataKey(non-UTF-8 context)", err, backend.ErrInvalidArgument)
		return
	}
	mustDecrypt(t, ctx, b, dk.Ciphertext, backend.EncryptionContext{"k": "\xff"}, dk.Plaintext)
	for _, other := range []string{"\xfe", "\uFFFD"} {
		_, err = b.Decrypt(ctx, dk.Ciphertext, backend.EncryptionContext{"k": other})
		if err == nil {
			t.Fatalf("context value %q decrypts a key bound to %q", other, "\xff")
		}
	}
}
