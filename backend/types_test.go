package backend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestCanonicalMatchesJSON(t *testing.T) {
	cases := []EncryptionContext{
		nil,
		{},
		{"bucket": "b"},
		{"object": "a/b/c.txt", "bucket": "photos", "x-amz": "1"},
		{"k": "<tag>&\"quote\"\\"},
		{"ünï": "cødé", "a": "\u2028\u2029"},
		{"ctl": "\x00\x1f\x7f", "": ""},
		{"bad": "\xff\xfe"},
	}
	for i, ec := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want, _ := json.Marshal(map[string]string(ec))
			if len(ec) == 0 {
				want = []byte("{}")
			}
			if got := ec.Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("Canonical() = %q, want %q", got, want)
			}
		})
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("bucket", "b", "object", "o")
	f.Add("a<", ">b", "&", "\x00")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		ec := EncryptionContext{k1: v1, k2: v2}
		want, _ := json.Marshal(map[string]string(ec))
		if got := ec.Canonical(); !bytes.Equal(got, want) {
			t.Fatalf("Canonical() = %q, want %q", got, want)
		}
	})
}

func TestDataKeyNeverPrintsPlaintext(t *testing.T) {
	dk := DataKey{KeyID: "k", Plaintext: bytes.Repeat([]byte{0xAB}, 32), Ciphertext: []byte{1, 2}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		for _, v := range []any{dk, &dk, []DataKey{dk}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") || strings.Contains(out, "\xab") {
				t.Errorf("%s of %T leaks plaintext: %s", verb, v, out)
			}
		}
	}
	dk.Zero()
	if !bytes.Equal(dk.Plaintext, make([]byte, 32)) {
		t.Fatal("Zero did not wipe Plaintext")
	}
}

func BenchmarkCanonical(b *testing.B) {
	ec := EncryptionContext{"bucket": "photos", "object": "2026/11/23/IMG_0001.jpg"}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ec.Canonical()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			marshalCanonical(ec)
		}
	})
}

func TestDataKeyJSONOmitsPlaintext(t *testing.T) {
	dk := DataKey{KeyID: "k", Plaintext: bytes.Repeat([]byte{0xAB}, 32), Ciphertext: []byte{1, 2}}
	b, err := json.Marshal(dk)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "q6ur") || strings.Contains(string(b), "Plaintext") {
		t.Fatalf("JSON leaks plaintext: %s", b)
	}
}
