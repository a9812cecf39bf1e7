package admin

import (
	"errors"
	"strings"
	"testing"

	"github.com/envkms/kms"
)

// requestTargets returns a fresh value of every request body type.
func requestTargets() map[string]func() any {
	return map[string]func() any{
		"configure":   func() any { return new(kms.Config) },
		"reconfigure": func() any { return new(kms.ConfigPatch) },
		"start":       func() any { return new(startRequest) },
		"createKey":   func() any { return new(createKeyRequest) },
		"delete":      func() any { return new(deleteRequest) },
		"cancel":      func() any { return new(keyIDRequest) },
		"generate":    func() any { return new(generateDataKeyRequest) },
		"decrypt":     func() any { return new(decryptRequest) },
		"empty":       func() any { return new(struct{}) },
	}
}

// secretTemplates place a value where a secret (or any value) goes, with the
// wrong JSON type or broken syntax, so decoding fails around it. %s is the
// value.
var secretTemplates = []string{
	`{"backend_type":"local","master_key":%s}`,
	`{"master_key":%s,"key_dir":"/k"}`,
	`{"auth_method":{"token":%s}}`,
	`{"auth_method":{"approle":{"role_id":"r","secret_id":%s}}}`,
	`{"key_dir":%s}`,
	`{"max_cached_keys":%s}`,
	`{"enable_cache":%s}`,
	`{"tls":%s}`,
	`{"ciphertext_blob":%s}`,
	`{"encryption_context":{"k":%s}}`,
	`{"encryption_context":%s}`,
	`{"key_id":%s}`,
	`{"KeyId":%s,"Tags":{"a":"b"}}`,
	`{"pending_window_in_days":%s}`,
	`{"force":%s}`,
	`{"key_id":"k"} %s`,
	`{"key_id":%s,"KEY_ID":%s}`,
	`{"encryption_context":{"k":%s,"k":%s}}`,
	`{"master_key":%s,"Master_Key":"x"}`,
	`[%s]`,
}

// FuzzDecodeJSON checks every request body decoder: no panic, every failure
// is a 400 apiError, and no failure message echoes a value from the body.
// Values are made recognisable: digits for numbers (the standard library
// would print "number 1234"), a ZQX marker for strings and bare words.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"backend_type":"local","key_dir":"/k","master_key":"m"}`), "123456789")
	f.Add([]byte(`{"key_id":"k","key_spec":"AES_256","encryption_context":{"a":"b"}}`), "secretvalue")
	f.Add([]byte(`{"KeyUsage":"ENCRYPT_DECRYPT","Description":"d","Tags":{"t":"v"}}`), "00000000")
	f.Add([]byte(`{"ciphertext_blob":"AAAA","encryption_context":null}`), "4242424242")
	f.Add([]byte(`{"auth_method":{"token":{"token":"x"}}}`), "tok3n")
	f.Add([]byte(`{"key_id":1e999}`), "1e999")
	f.Add([]byte("\xff\xfe{"), "x")
	f.Add([]byte(`{"a":`+strings.Repeat("[", 100)), "9")
	f.Add([]byte(`{"KeyId":"c","KEYID":"d","Tags":{"t":"1","t":"2"}}`), "dupl1cate")
	f.Add([]byte(`{"auth_method":{"approle":{"role_id":"r","ROLE_ID":"s"}},"encryption_context":{"a":"1","a":"2"}}`), "424242424")
	targets := requestTargets()
	f.Fuzz(func(t *testing.T, body []byte, value string) {
		for name, mk := range targets {
			if err := decodeStrict(body, mk()); err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || ae.status != 400 {
					t.Fatalf("%s: decode error is not a 400 apiError: %v", name, err)
				}
			}
		}
		digits := keep(value, func(r rune) bool { return r >= '0' && r <= '9' })
		word := "ZQX" + keep(value, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' })
		var probes []string
		if len(digits) >= 6 && digits[0] != '0' {
			probes = append(probes, digits)
		}
		probes = append(probes, `"`+word+`"`, word, `{"`+word+`x":"`+word+`"}`, `["`+word+`"]`)
		for _, tmpl := range secretTemplates {
			for _, p := range probes {
				doc := []byte(strings.ReplaceAll(tmpl, "%s", p))
				secret := strings.Trim(p, `"`)
				if strings.HasPrefix(p, "{") || strings.HasPrefix(p, "[") {
					secret = word
				}
				for name, mk := range targets {
					err := decodeStrict(doc, mk())
					if err == nil {
						continue
					}
					msg := err.Error()
					// A misplaced object may name its own key as an unknown
					// field (field names are shown); its values never are.
					check := strings.ReplaceAll(msg, `"`+word+`x"`, "")
					if strings.Contains(check, secret) {
						t.Fatalf("%s: message %q echoes a value of %s", name, msg, doc)
					}
				}
			}
		}
	})
}

func keep(s string, ok func(rune) bool) string {
	var b strings.Builder
	for _, r := range s {
		if ok(r) && b.Len() < 24 {
			b.WriteRune(r)
		}
	}
	return b.String()
}
