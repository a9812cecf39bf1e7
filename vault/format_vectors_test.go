package vault

// Test vectors of the vault backend's persisted formats (FORMAT.md): data-key
// blobs ("evt1:<key id>:vault:v<N>:<base64>") and the KV metadata records,
// in testdata/vectors.json, written once by today's code against fvVault, an
// in-process stand-in for the parts of Vault's HTTP API the backend uses,
// whose transit engine seals exactly as Vault's aes256-gcm96 keys do
// (nonce || AES-256-GCM ciphertext || tag, base64, "vault:v<N>:" prefix; see
// FORMAT.md). The vectors list the transit key material, so they can be
// checked without a Vault server; a real Vault holds different keys and
// cannot decrypt them (unless the key is imported with transit's BYOK).
//
// Written once by
//
//	VAULT_UPDATE_TESTDATA=1 go test -run TestFormatVectors ./vault/
//
// which refuses to overwrite existing vectors.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
)

const fvVectorsFile = "testdata/vectors.json"

// fvVectors is testdata/vectors.json.
type fvVectors struct {
	Comment string `json:"comment"`
	// TransitKeys are the transit keys' material, version by version (what
	// Vault keeps inside and never exports for these keys).
	TransitKeys []fvTransitKey `json:"transit_keys"`
	// Records are the KV v2 "data" objects at secret/data/envkms/keys/<id>.
	Records []json.RawMessage `json:"kv_records"`
	Blobs   []fvBlob          `json:"blobs"`
	// InvalidBlobs must all fail with backend.ErrInvalidCiphertext before
	// any request to Vault.
	InvalidBlobs []fvInvalidBlob `json:"invalid_blobs"`
}

type fvTransitKey struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Versions []string `json:"versions"` // hex of version 1, 2, ...
}

type fvBlob struct {
	Name             string            `json:"name"`
	KeyID            string            `json:"key_id"`
	Version          int               `json:"version"`
	Context          map[string]string `json:"encryption_context"`
	CanonicalContext string            `json:"canonical_context"`
	AssociatedData   string            `json:"associated_data"` // as sent to transit: base64(canonical context)
	DataKey          string            `json:"data_key"`        // hex
	Blob             string            `json:"blob"`
}

type fvInvalidBlob struct {
	Name string `json:"name"`
	Blob string `json:"blob"`
}

// TestFormatVectors checks the blobs and records with today's code (parse,
// format, CiphertextVersion, and Decrypt and DescribeKey against fvVault
// loaded with the vectors) and with a decoder written from FORMAT.md.
func TestFormatVectors(t *testing.T) {
	if os.Getenv("VAULT_UPDATE_TESTDATA") == "1" {
		fvWrite(t)
	}
	raw, err := os.ReadFile(fvVectorsFile)
	require.NoError(t, err)
	var vs fvVectors
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&vs))
	require.NotEmpty(t, vs.Blobs)
	require.NotEmpty(t, vs.InvalidBlobs)

	keys := map[string][][]byte{}
	for _, k := range vs.TransitKeys {
		require.Equal(t, "aes256-gcm96", k.Type)
		for _, v := range k.Versions {
			b, err := hex.DecodeString(v)
			require.NoError(t, err)
			require.Len(t, b, 32)
			keys[k.Name] = append(keys[k.Name], b)
		}
	}

	// Reference decoder and the parser.
	for _, v := range vs.Blobs {
		ec := backend.EncryptionContext(v.Context)
		require.Equal(t, v.CanonicalContext, string(ec.Canonical()), v.Name)
		require.Equal(t, base64.StdEncoding.EncodeToString([]byte(v.CanonicalContext)), v.AssociatedData, v.Name)
		dk := fvRefOpen(t, keys, v.Blob, []byte(v.CanonicalContext))
		require.Equal(t, v.DataKey, hex.EncodeToString(dk), v.Name)

		id, vct, ver, err := parseBlob([]byte(v.Blob))
		require.NoError(t, err, v.Name)
		require.Equal(t, v.KeyID, id, v.Name)
		require.Equal(t, v.Version, ver, v.Name)
		require.Equal(t, v.Blob, string(formatBlob(id, vct)), v.Name)
	}
	for _, v := range vs.InvalidBlobs {
		_, _, _, err := parseBlob([]byte(v.Blob))
		require.ErrorIs(t, err, backend.ErrInvalidCiphertext, v.Name)
	}

	// Today's Backend against fvVault holding the vectors' keys and records.
	fv := newFVVault(t)
	for _, k := range vs.TransitKeys {
		fv.transit[k.Name] = keys[k.Name]
	}
	for _, r := range vs.Records {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(r, &rec))
		fv.kv[rec["key_id"].(string)] = fvKV{data: r, version: 1}
	}
	b := fv.backend(t)
	ctx := context.Background()
	for _, r := range vs.Records {
		var rec record
		require.NoError(t, json.Unmarshal(r, &rec))
		md, err := b.DescribeKey(ctx, rec.KeyID)
		require.NoError(t, err)
		require.Equal(t, rec.publicState(), md.State, rec.KeyID)
		require.Equal(t, rec.Description, md.Description)
		require.Equal(t, backend.KeyUsageEncryptDecrypt, md.KeyUsage)
		require.True(t, rec.CreationDate.Equal(md.CreationDate))
		require.Equal(t, len(keys[rec.KeyID]), md.Version)
		if len(rec.Tags) > 0 {
			require.Equal(t, rec.Tags, md.Tags)
		}
		require.Equal(t, rec.DeletionDate != nil, md.DeletionDate != nil)
	}
	for _, v := range vs.Blobs {
		ec := backend.EncryptionContext(v.Context)
		id, ver, err := b.CiphertextVersion([]byte(v.Blob))
		require.NoError(t, err)
		require.Equal(t, v.KeyID, id)
		require.Equal(t, v.Version, ver)
		dk, err := b.Decrypt(ctx, []byte(v.Blob), ec)
		require.NoError(t, err, v.Name)
		require.Equal(t, v.KeyID, dk.KeyID)
		require.Equal(t, v.DataKey, hex.EncodeToString(dk.Plaintext), v.Name)

		_, err = b.Decrypt(ctx, []byte(v.Blob), backend.EncryptionContext{"other": "context"})
		require.ErrorIs(t, err, backend.ErrInvalidCiphertext, v.Name)
	}
	// Every flipped byte of a blob fails: malformed (no request made), a key
	// that doesn't exist, or transit's authentication.
	blob := []byte(vs.Blobs[0].Blob)
	ec := backend.EncryptionContext(vs.Blobs[0].Context)
	for i := range blob {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		_, err := b.Decrypt(ctx, bad, ec)
		require.Error(t, err, "byte %d", i)
		if !errors.Is(err, backend.ErrInvalidCiphertext) {
			require.ErrorIs(t, err, backend.ErrKeyNotFound, "byte %d", i)
		}
	}
	before := fv.requests.Load()
	for _, v := range vs.InvalidBlobs {
		_, err := b.Decrypt(ctx, []byte(v.Blob), nil)
		require.ErrorIs(t, err, backend.ErrInvalidCiphertext, v.Name)
	}
	require.Equal(t, before, fv.requests.Load(), "malformed blobs must fail before any request")

	// A record of an unknown format is refused.
	var r0 map[string]any
	require.NoError(t, json.Unmarshal(vs.Records[0], &r0))
	r0["format"] = 2
	r2, err := json.Marshal(r0)
	require.NoError(t, err)
	fv.mu.Lock()
	fv.kv[r0["key_id"].(string)] = fvKV{data: r2, version: 2}
	fv.mu.Unlock()
	_, err = b.DescribeKey(ctx, r0["key_id"].(string))
	require.ErrorIs(t, err, backend.ErrUnavailable)
}

// fvRefOpen decodes a blob as FORMAT.md describes and opens it with the
// transit key material.
func fvRefOpen(t *testing.T, keys map[string][][]byte, blob string, aad []byte) []byte {
	t.Helper()
	rest, ok := strings.CutPrefix(blob, "evt1:")
	require.True(t, ok)
	keyID, transitCT, ok := strings.Cut(rest, ":")
	require.True(t, ok)
	parts := strings.Split(transitCT, ":")
	require.Len(t, parts, 3)
	require.Equal(t, "vault", parts[0])
	ver, err := strconv.Atoi(strings.TrimPrefix(parts[1], "v"))
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	require.NoError(t, err)
	require.Len(t, raw, 12+32+16)
	block, err := aes.NewCipher(keys[keyID][ver-1])
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	pt, err := gcm.Open(nil, raw[:12], raw[12:], aad)
	require.NoError(t, err)
	return pt
}

// --- fvVault: KV v2 and transit, as far as the backend uses them. ---

type fvKV struct {
	data    json.RawMessage
	version int
}

type fvVault struct {
	srv      *httptest.Server
	mu       sync.Mutex
	kv       map[string]fvKV     // key id -> record
	transit  map[string][][]byte // key id -> versions
	requests atomic.Int64
}

const fvToken = "hvs.vector-test-token"

func newFVVault(t *testing.T) *fvVault {
	fv := &fvVault{kv: map[string]fvKV{}, transit: map[string][][]byte{}}
	fv.srv = httptest.NewServer(http.HandlerFunc(fv.serve))
	t.Cleanup(fv.srv.Close)
	return fv
}

func (fv *fvVault) backend(t *testing.T) *Backend {
	b, err := New(context.Background(), Config{Address: fv.srv.URL, Token: fvToken, Timeout: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func fvReply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func fvErr(w http.ResponseWriter, code int, msgs ...string) {
	fvReply(w, code, map[string]any{"errors": append([]string{}, msgs...)})
}

func (fv *fvVault) serve(w http.ResponseWriter, r *http.Request) {
	fv.requests.Add(1)
	if r.Header.Get("X-Vault-Token") != fvToken {
		fvErr(w, 403, "permission denied")
		return
	}
	body, _ := io.ReadAll(r.Body)
	fv.mu.Lock()
	defer fv.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	read := r.Method == http.MethodGet
	switch {
	case strings.HasPrefix(p, "secret/data/envkms/keys/"):
		id := strings.TrimPrefix(p, "secret/data/envkms/keys/")
		cur, ok := fv.kv[id]
		if read {
			if !ok {
				fvErr(w, 404)
				return
			}
			fvReply(w, 200, map[string]any{"data": map[string]any{"data": cur.data, "metadata": map[string]any{"version": cur.version}}})
			return
		}
		var req struct {
			Options struct {
				CAS int `json:"cas"`
			} `json:"options"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(body, &req) != nil || req.Options.CAS != cur.version {
			fvErr(w, 400, "check-and-set parameter did not match the current version")
			return
		}
		fv.kv[id] = fvKV{data: req.Data, version: cur.version + 1}
		fvReply(w, 200, map[string]any{"data": map[string]any{"version": cur.version + 1}})
	case strings.HasPrefix(p, "transit/keys/"):
		id, rotate := strings.CutSuffix(strings.TrimPrefix(p, "transit/keys/"), "/rotate")
		if !read {
			if rotate || fv.transit[id] == nil {
				k := make([]byte, 32)
				_, _ = rand.Read(k)
				fv.transit[id] = append(fv.transit[id], k)
			}
		}
		if fv.transit[id] == nil {
			fvErr(w, 404)
			return
		}
		fvReply(w, 200, map[string]any{"data": map[string]any{"type": "aes256-gcm96", "derived": false,
			"exportable": false, "latest_version": len(fv.transit[id])}})
	case strings.HasPrefix(p, "transit/encrypt/"), strings.HasPrefix(p, "transit/decrypt/"):
		encrypt := strings.HasPrefix(p, "transit/encrypt/")
		id := p[len("transit/encrypt/"):]
		var req struct {
			Plaintext      []byte `json:"plaintext"`
			Ciphertext     string `json:"ciphertext"`
			AssociatedData []byte `json:"associated_data"`
		}
		versions := fv.transit[id]
		if json.Unmarshal(body, &req) != nil || versions == nil {
			fvErr(w, 400, "encryption key not found")
			return
		}
		if encrypt {
			ver := len(versions)
			gcm := fvGCM(versions[ver-1])
			nonce := make([]byte, 12)
			_, _ = rand.Read(nonce)
			ct := gcm.Seal(nonce, nonce, req.Plaintext, req.AssociatedData)
			fvReply(w, 200, map[string]any{"data": map[string]any{
				"ciphertext": "vault:v" + strconv.Itoa(ver) + ":" + base64.StdEncoding.EncodeToString(ct)}})
			return
		}
		num, b64, _ := strings.Cut(strings.TrimPrefix(req.Ciphertext, "vault:v"), ":")
		ver, err := strconv.Atoi(num)
		raw, err2 := base64.StdEncoding.DecodeString(b64)
		if err != nil || err2 != nil || ver < 1 || ver > len(versions) || len(raw) < 28 {
			fvErr(w, 400, "invalid ciphertext")
			return
		}
		pt, err := fvGCM(versions[ver-1]).Open(nil, raw[:12], raw[12:], req.AssociatedData)
		if err != nil {
			fvErr(w, 400, "cipher: message authentication failed")
			return
		}
		fvReply(w, 200, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}})
	default:
		fvErr(w, 404)
	}
}

func fvGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}

// --- Generator (run once per format version). ---

func fvWrite(t *testing.T) {
	if _, err := os.Stat(fvVectorsFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists: vectors are written once; add a new format version's vectors beside them", fvVectorsFile)
	}
	cryptotest.SetGlobalRandom(t, 1)
	ctx := context.Background()
	fv := newFVVault(t)
	b := fv.backend(t)
	vs := fvVectors{Comment: "Test vectors of the vault backend's data-key blob (format evt1) and KV metadata record " +
		"(format 1), vault/FORMAT.md. The transit keys are public test keys, never use them."}

	gen := func(name, id string, ec backend.EncryptionContext) {
		dk, err := b.GenerateDataKey(ctx, id, ec)
		require.NoError(t, err)
		_, ver, err := b.CiphertextVersion(dk.Ciphertext)
		require.NoError(t, err)
		canon := ec.Canonical()
		vs.Blobs = append(vs.Blobs, fvBlob{Name: name, KeyID: id, Version: ver, Context: ec,
			CanonicalContext: string(canon), AssociatedData: base64.StdEncoding.EncodeToString(canon),
			DataKey: hex.EncodeToString(dk.Plaintext), Blob: string(dk.Ciphertext)})
	}
	_, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "vector-key", Description: "test vector key",
		Tags: map[string]string{"team": "storage", "env": "test"}})
	require.NoError(t, err)
	gen("empty encryption context, version 1", "vector-key", backend.EncryptionContext{})
	gen("S3 object context, version 1", "vector-key", backend.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object"})
	_, err = b.RotateKey(ctx, "vector-key")
	require.NoError(t, err)
	gen("escaped context (HTML-safe JSON, non-ASCII), version 2", "vector-key",
		backend.EncryptionContext{"app": `<a href="x">&</a>`, "ünïcödé": "日本\u2028", "z": "tab\there"})

	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "disabled.key_1"})
	require.NoError(t, err)
	gen("disabled key (still decrypts)", "disabled.key_1", backend.EncryptionContext{"k": "v"})
	require.NoError(t, b.DisableKey(ctx, "disabled.key_1"))

	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "pending-deletion"})
	require.NoError(t, err)
	_, err = b.ScheduleKeyDeletion(ctx, "pending-deletion", 7)
	require.NoError(t, err)

	for _, id := range []string{"disabled.key_1", "pending-deletion", "vector-key"} {
		var k fvTransitKey
		k.Name, k.Type = id, "aes256-gcm96"
		for _, m := range fv.transit[id] {
			k.Versions = append(k.Versions, hex.EncodeToString(m))
		}
		vs.TransitKeys = append(vs.TransitKeys, k)
		vs.Records = append(vs.Records, fv.kv[id].data)
	}

	good := vs.Blobs[0].Blob
	b64 := good[strings.LastIndexByte(good, ':')+1:]
	vs.InvalidBlobs = []fvInvalidBlob{
		{"empty", ""},
		{"unknown format evt2", "evt2" + strings.TrimPrefix(good, "evt1")},
		{"no format prefix", strings.TrimPrefix(good, "evt1:")},
		{"key id with a slash", "evt1:../vector-key:vault:v1:" + b64},
		{"empty key id", "evt1::vault:v1:" + b64},
		{"version 0", "evt1:vector-key:vault:v0:" + b64},
		{"version with a leading zero", "evt1:vector-key:vault:v01:" + b64},
		{"not a transit ciphertext", "evt1:vector-key:" + b64},
		{"ciphertext one base64 quantum short", "evt1:vector-key:vault:v1:" + b64[4:]},
		{"ciphertext one base64 quantum long", "evt1:vector-key:vault:v1:" + b64 + "AAAA"},
		{"URL-safe base64 character", "evt1:vector-key:vault:v1:-" + b64[1:]},
		{"base64 padding as data", "evt1:vector-key:vault:v1:=" + b64[1:]},
		{"trailing newline", good + "\n"},
		{"longer than 1024 bytes", "evt1:" + strings.Repeat("k", 1100)},
	}
	out, err := json.MarshalIndent(vs, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	require.NoError(t, os.WriteFile(fvVectorsFile, append(out, '\n'), 0o644))
}
