package admin_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// encoding/json keeps the last of two members with the same name, and
// matches struct field names case-insensitively: {"KeyId":"a","KeyId":"b"}
// would create b, {"KeyId":"c","KEYID":"d"} d. Every request body that gives
// a field twice, in any case and at any depth, is refused with a 400 that
// names the field and no value, and nothing happens.
func TestDuplicateJSONFields(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	e.ok("POST", "kms/keys", `{"KeyId":"ctx"}`)

	const secret = "987654321012345" // a value that must never be echoed
	cases := []struct {
		name, method, path, body string
		contains                 string
	}{
		{"same name", "POST", "kms/keys", `{"KeyId":"dup-a","KeyId":"dup-b"}`, `field "KeyId" given twice`},
		{"case variant", "POST", "kms/keys", `{"KeyId":"dup-c","KEYID":"dup-d"}`, `field "KEYID" given twice (also as "KeyId"`},
		{"case variant, escaped", "POST", "kms/keys", `{"KeyId":"dup-e","\u006beyid":"dup-f"}`, `field "keyid" given twice`},
		{"Kelvin sign folds to K", "POST", "kms/keys", `{"KeyId":"dup-g","\u212aeyId":"dup-h"}`, `given twice`},
		{"snake_case variant", "POST", "kms/keys", `{"key_id":"dup-i","KEY_ID":"dup-j"}`, `field "KEY_ID" given twice`},
		{"tag given twice", "POST", "kms/keys", `{"KeyId":"dup-k","Tags":{"env":"a","env":"b"}}`, `a key of "Tags" given twice`},
		{"context key given twice", "POST", "kms/generate-data-key",
			`{"key_id":"ctx","encryption_context":{"bucket":"a","bucket":"` + secret + `"}}`, `a key of "encryption_context" given twice`},
		{"context key given twice (decrypt)", "POST", "kms/decrypt",
			`{"ciphertext_blob":"AAAA","encryption_context":{"bucket":"a","bucket":"b"}}`, `a key of "encryption_context" given twice`},
		{"context given twice", "POST", "kms/generate-data-key",
			`{"key_id":"ctx","encryption_context":{"a":"1"},"Encryption_Context":{"a":"2"}}`, `field "Encryption_Context" given twice`},
		{"secret given twice", "POST", "kms/reconfigure", `{"master_key":"` + secret + `","MASTER_KEY":"` + secret + `x"}`, `field "MASTER_KEY" given twice`},
		{"nested in auth_method", "POST", "kms/reconfigure", `{"auth_method":{"token":"` + secret + `","Token":"x"}}`, `field "auth_method.Token" given twice`},
		{"nested in tls", "POST", "kms/reconfigure", `{"tls":{"ca_file":"/a","ca_file":"/b"}}`, `field "tls.ca_file" given twice`},
		{"cache_ttl_seconds twice", "POST", "kms/reconfigure", `{"cache_ttl_seconds":60,"cache_ttl_seconds":61}`, `field "cache_ttl_seconds" given twice`},
		{"backend_type twice (configure)", "POST", "kms/configure", `{"backend_type":"local","Backend_Type":"vault"}`, `field "Backend_Type" given twice`},
		{"pending window twice", "DELETE", "kms/keys/delete", `{"key_id":"ctx","pending_window_in_days":7,"pending_window_in_days":30}`, `field "pending_window_in_days" given twice`},
		{"force twice", "POST", "kms/start", `{"force":false,"Force":true}`, `field "Force" given twice`},
		{"deep in an unknown field", "POST", "kms/stop", `{"a":[{"b":{"c":1,"C":2}}]}`, `field "a[0].b.C" given twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.fails(tc.method, tc.path, tc.body, "admin", http.StatusBadRequest, "InvalidRequest")
			require.Contains(t, msg, tc.contains)
			require.NotContains(t, msg, secret)
		})
	}
	require.NotContains(t, e.logs.String(), secret)

	// Nothing happened: no key created, the config and the service as they were.
	for _, id := range []string{"dup-a", "dup-b", "dup-c", "dup-d", "dup-e", "dup-f", "dup-g", "dup-h", "dup-i", "dup-j", "dup-k"} {
		e.fails("GET", "kms/keys/"+id, "", "admin", http.StatusNotFound, "NotFound")
	}
	cfg := e.ok("GET", "kms/config", "")
	require.Equal(t, float64(120), cfg["cache_ttl_seconds"])
	require.Equal(t, "Running", e.ok("GET", "kms/status", "")["status"])
	md := e.ok("GET", "kms/keys/ctx", "")["key_metadata"].(map[string]any)
	require.Equal(t, "Enabled", md["key_state"])

	// One spelling per field is fine, in any case; map keys that differ
	// only in case are distinct entries (encryption contexts and tags are
	// case-sensitive), and so are accepted.
	ck := e.ok("POST", "kms/keys", `{"keyid":"one-name","tags":{"env":"a","Env":"b"}}`)
	require.Equal(t, "one-name", ck["key_id"])
	require.Equal(t, map[string]any{"env": "a", "Env": "b"}, ck["key_metadata"].(map[string]any)["tags"])
	dk := e.ok("POST", "kms/generate-data-key", `{"key_id":"ctx","encryption_context":{"bucket":"a","Bucket":"b"}}`)
	blob, _ := json.Marshal(map[string]any{"ciphertext_blob": dk["ciphertext_blob"], "encryption_context": map[string]string{"bucket": "a", "Bucket": "b"}})
	pt := e.ok("POST", "kms/decrypt", string(blob))
	require.Equal(t, dk["plaintext_key"], pt["plaintext"])
	// ... and they are both bound: dropping one fails.
	blob, _ = json.Marshal(map[string]any{"ciphertext_blob": dk["ciphertext_blob"], "encryption_context": map[string]string{"bucket": "a"}})
	e.fails("POST", "kms/decrypt", string(blob), "admin", http.StatusBadRequest, "InvalidRequest")
}

// The same rule for query parameters: url.Values.Get takes the first of a
// repeated parameter, and kms/keys/delete used to take keyId over key_id
// and the body over the query, silently. Now each is a 400, and nothing is
// scheduled for deletion.
func TestDuplicateQueryParameters(t *testing.T) {
	e := newEnv(t)
	e.startLocal()
	for _, id := range []string{"qa", "qb"} {
		e.ok("POST", "kms/keys", `{"KeyId":"`+id+`"}`)
	}
	for _, tc := range []struct{ name, path, body, contains string }{
		{"keyId twice", "kms/keys/delete?keyId=qa&keyId=qb", "", `"keyId" given twice`},
		{"key_id twice", "kms/keys/delete?key_id=qa&key_id=qb", "", `"key_id" given twice`},
		{"keyId and key_id", "kms/keys/delete?keyId=qa&key_id=qb", "", "key_id given twice"},
		{"window twice", "kms/keys/delete?keyId=qa&pending_window_in_days=30&pending_window_in_days=7", "", `"pending_window_in_days" given twice`},
		{"query and body", "kms/keys/delete?keyId=qa", `{"key_id":"qb"}`, "not in both"},
		{"window in the query, key in the body", "kms/keys/delete?pending_window_in_days=30", `{"key_id":"qb"}`, "not in both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.fails("DELETE", tc.path, tc.body, "admin", http.StatusBadRequest, "InvalidRequest")
			require.Contains(t, msg, tc.contains)
		})
	}
	for _, id := range []string{"qa", "qb"} {
		md := e.ok("GET", "kms/keys/"+id, "")["key_metadata"].(map[string]any)
		require.Equal(t, "Enabled", md["key_state"], id)
	}
	msg := e.fails("GET", "kms/keys?limit=1&limit=1000", "", "admin", http.StatusBadRequest, "InvalidRequest")
	require.Contains(t, msg, `"limit" given twice`)
	msg = e.fails("GET", "kms/keys?marker=a&marker=b", "", "admin", http.StatusBadRequest, "InvalidRequest")
	require.Contains(t, msg, `"marker" given twice`)

	// One of each is fine.
	r := e.ok("DELETE", "kms/keys/delete?key_id=qa&pending_window_in_days=7", "")
	require.Equal(t, "qa", r["key_id"])
	require.Len(t, e.ok("GET", "kms/keys?limit=1", "")["keys"], 1)
}
