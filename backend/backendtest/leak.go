package backendtest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/envkms/kms/backend"
)

// SecretForms returns the ways a secret could show up in text (raw, hex,
// base64 in every alphabet, Go's %v of the bytes, and prefixes of those), for
// tests that assert logs, errors and printed values never contain it.
func SecretForms(secret []byte) []string {
	forms := []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawStdEncoding.EncodeToString(secret),
		base64.URLEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		fmt.Sprint(secret),             // [1 2 3 ...]
		hex.EncodeToString(secret[:8]), // a prefix is a leak too
		fmt.Sprint(secret[:8]),         // [1 2 3 ...
		base64.RawStdEncoding.EncodeToString(secret[:9]),
	}
	forms[8] = strings.TrimSuffix(forms[8], "]")
	forms[9] = strings.TrimSuffix(forms[9], "]")
	return forms
}

// assertNoLeak fails if any rendering of v contains secret.
func assertNoLeak(t *testing.T, what string, v any, secret []byte) {
	t.Helper()
	var texts []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		texts = append(texts, fmt.Sprintf(verb, v))
	}
	if err, ok := v.(error); ok {
		texts = append(texts, err.Error())
	}
	for _, text := range texts {
		for _, form := range SecretForms(secret) {
			if strings.Contains(text, form) {
				t.Fatalf("%s reveals the data key: %q", what, text)
			}
		}
	}
}

func (s *suite) testNoLeak(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "leak").KeyID
	ec := backend.EncryptionContext{"bucket": "secret-bucket"}
	dk := generate(t, ctx, b, id, ec)
	secret := bytes.Clone(dk.Plaintext)
	assertNoLeak(t, "DataKey", dk, secret)
	assertNoLeak(t, "*DataKey", &dk, secret)

	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err := b.Decrypt(ctx, dk.Ciphertext, backend.EncryptionContext{"bucket": "other"})
	record(err)
	flipped := bytes.Clone(dk.Ciphertext)
	flipped[len(flipped)-1] ^= 1
	_, err = b.Decrypt(ctx, flipped, ec)
	record(err)
	_, err = b.Decrypt(ctx, dk.Ciphertext[:len(dk.Ciphertext)-3], ec)
	record(err)
	_, err = b.Rewrap(ctx, dk.Ciphertext, nil)
	record(err)
	if err := b.DisableKey(ctx, id); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	_, err = b.GenerateDataKey(ctx, id, ec)
	record(err)
	if _, err := b.ScheduleKeyDeletion(ctx, id, backend.MinPendingDays); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	_, err = b.Decrypt(ctx, dk.Ciphertext, ec)
	record(err)
	_, err = b.Rewrap(ctx, dk.Ciphertext, ec)
	record(err)
	if len(errs) < 6 {
		t.Fatalf("expected errors from every bad call, got %d", len(errs))
	}
	for _, err := range errs {
		assertNoLeak(t, "error", err, secret)
	}
}
