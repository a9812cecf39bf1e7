package vault

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/envkms/kms/backend"
)

var sampleCT = "vault:v12:" + base64.StdEncoding.EncodeToString(make([]byte, 60))

func TestParseBlob(t *testing.T) {
	good := "evt1:key-1:" + sampleCT
	id, ct, v, err := parseBlob([]byte(good))
	if err != nil || id != "key-1" || ct != sampleCT || v != 12 {
		t.Fatalf("parseBlob(good) = %q %q %d %v", id, ct, v, err)
	}
	if got := string(formatBlob(id, ct)); got != good {
		t.Fatalf("formatBlob = %q", got)
	}
	b64 := base64.StdEncoding.EncodeToString(make([]byte, 60))
	for name, in := range map[string]string{
		"empty":            "",
		"no prefix":        "key-1:" + sampleCT,
		"other version":    "evt2:key-1:" + sampleCT,
		"no key":           "evt1:" + sampleCT,
		"empty key":        "evt1::" + sampleCT,
		"bad key":          "evt1:../x:" + sampleCT,
		"no vault prefix":  "evt1:key-1:" + b64,
		"v0":               "evt1:key-1:vault:v0:" + b64,
		"leading zero":     "evt1:key-1:vault:v01:" + b64,
		"negative":         "evt1:key-1:vault:v-1:" + b64,
		"huge version":     "evt1:key-1:vault:v99999999999999999999:" + b64,
		"no version":       "evt1:key-1:vault:v:" + b64,
		"short":            "evt1:key-1:vault:v1:" + b64[:76],
		"long":             "evt1:key-1:vault:v1:" + b64 + "AAAA",
		"bad base64":       "evt1:key-1:vault:v1:" + strings.Repeat("!", 80),
		"non-strict b64":   "evt1:key-1:vault:v1:" + b64[:79] + "\n",
		"too long overall": "evt1:" + strings.Repeat("k", 2000),
	} {
		_, _, _, err := parseBlob([]byte(in))
		if !errors.Is(err, backend.ErrInvalidCiphertext) {
			t.Errorf("%s: parseBlob = %v, want ErrInvalidCiphertext", name, err)
		}
	}
}

func FuzzParseBlob(f *testing.F) {
	f.Add([]byte("evt1:key-1:" + sampleCT))
	f.Add([]byte("evt1:a:vault:v1:"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		id, ct, v, err := parseBlob(in)
		if err != nil {
			if !errors.Is(err, backend.ErrInvalidCiphertext) {
				t.Fatalf("untyped error %v", err)
			}
			if len(in) >= 20 && strings.Contains(err.Error(), string(in)) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if backend.ValidateKeyID(id) != nil || v < 1 {
			t.Fatalf("accepted id %q version %d", id, v)
		}
		if string(formatBlob(id, ct)) != string(in) {
			t.Fatal("parse/format do not round-trip")
		}
	})
}
