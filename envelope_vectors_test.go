package kms

// Test vectors of the envelope format (ENVELOPE_FORMAT.md), in
// testdata/envelope-v1: envelopes written once by today's NewEncryptWriter
// through a Manager on the local backend, the key directory that Manager
// used (testdata/envelope-v1/keydir) and vectors.json with every secret
// needed to open them (master key, data keys). One envelope is longer than a
// 1 MiB segment, so it is a file of its own (two-segments.ekms).
//
// Written once by
//
//	KMS_UPDATE_TESTDATA=1 go test -run TestEnvelopeFormatVectors .
//
// which refuses to overwrite existing vectors.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"testing/cryptotest"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/local"
	"github.com/envkms/kms/stream"
)

const (
	envVecDir  = "testdata/envelope-v1"
	envVecFile = envVecDir + "/vectors.json"
	// envVecMasterKey seals the vectors' key directory (public).
	envVecMasterKey = "envkms envelope test-vector master key (public, never use it)"
)

// envVectors is testdata/envelope-v1/vectors.json.
type envVectors struct {
	Comment string `json:"comment"`
	// Backend, KeyDir and MasterKey configure the Manager that wrote the
	// envelopes (KeyDir relative to this file's directory).
	Backend   BackendType   `json:"backend_type"`
	KeyDir    string        `json:"key_dir"`
	MasterKey string        `json:"master_key"`
	Envelopes []envVecEntry `json:"envelopes"`
}

type envVecEntry struct {
	Name             string            `json:"name"`
	KeyID            string            `json:"key_id"`
	Context          map[string]string `json:"encryption_context"`
	CanonicalContext string            `json:"canonical_context"`
	ContextDigest    string            `json:"context_digest"` // hex SHA-256 of the canonical context
	DataKey          string            `json:"data_key"`       // hex: the stream key input
	WrappedKey       string            `json:"wrapped_key"`    // hex: the backend ciphertext in the header
	HeaderSize       int               `json:"header_size"`
	// Envelope is the whole envelope (hex), or File names a file beside
	// vectors.json holding it.
	Envelope string `json:"envelope,omitempty"`
	File     string `json:"file,omitempty"`
	// Plaintext (hex), or PlaintextPattern: byte i is i mod 251, for
	// PlaintextSize bytes.
	Plaintext        string `json:"plaintext,omitempty"`
	PlaintextPattern bool   `json:"plaintext_pattern,omitempty"`
	PlaintextSize    int    `json:"plaintext_size"`
	PlaintextSHA256  string `json:"plaintext_sha256"`
}

func envVecPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func (v envVecEntry) bytes(t *testing.T) (envelope, plaintext []byte) {
	t.Helper()
	var err error
	if v.File != "" {
		envelope, err = os.ReadFile(filepath.Join(envVecDir, v.File))
	} else {
		envelope, err = hex.DecodeString(v.Envelope)
	}
	require.NoError(t, err)
	if v.PlaintextPattern {
		plaintext = envVecPattern(v.PlaintextSize)
	} else {
		plaintext, err = hex.DecodeString(v.Plaintext)
		require.NoError(t, err)
	}
	require.Len(t, plaintext, v.PlaintextSize)
	sum := sha256.Sum256(plaintext)
	require.Equal(t, v.PlaintextSHA256, hex.EncodeToString(sum[:]))
	return envelope, plaintext
}

func envVecUnhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// envVecManager starts a Manager on dir with the vectors' master key.
func envVecManager(t *testing.T, dir string) *Manager {
	t.Helper()
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.BackendType = BackendLocal
	cfg.KeyDir = dir
	cfg.MasterKey = envVecMasterKey
	cfg.DefaultKeyID = "envelope-key"
	m := NewManager(WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, m.Configure(ctx, cfg))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

// TestEnvelopeFormatVectors opens every checked-in envelope with today's
// NewDecryptReader (through a Manager on a copy of the vectors' key
// directory), with the header parser, and with a decoder written from
// ENVELOPE_FORMAT.md that is given the data key; and checks that damage
// fails with the documented errors.
func TestEnvelopeFormatVectors(t *testing.T) {
	if os.Getenv("KMS_UPDATE_TESTDATA") == "1" {
		envVecWrite(t)
	}
	raw, err := os.ReadFile(envVecFile)
	require.NoError(t, err)
	var vs envVectors
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&vs))
	require.Equal(t, BackendLocal, vs.Backend)
	require.Equal(t, envVecMasterKey, vs.MasterKey)

	// A private copy of the key directory (git keeps no modes).
	dir := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.Mkdir(dir, 0o700))
	src := filepath.Join(envVecDir, vs.KeyDir)
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600))
	}
	m := envVecManager(t, dir)
	ctx := context.Background()

	for _, v := range vs.Envelopes {
		t.Run(v.Name, func(t *testing.T) {
			env, pt := v.bytes(t)
			ec := EncryptionContext(v.Context)
			require.Equal(t, v.CanonicalContext, string(ec.Canonical()))
			digest := sha256.Sum256([]byte(v.CanonicalContext))
			require.Equal(t, v.ContextDigest, hex.EncodeToString(digest[:]))

			// The parser.
			h, hdr, err := readEnvelopeHeader(bytes.NewReader(env))
			require.NoError(t, err)
			require.Equal(t, v.KeyID, h.keyID)
			require.Equal(t, v.WrappedKey, hex.EncodeToString(h.wrappedKey))
			require.Equal(t, v.ContextDigest, hex.EncodeToString(h.contextDigest[:]))
			require.Len(t, hdr, v.HeaderSize)

			// The reference decoder, given the data key.
			require.Equal(t, pt, envVecRefOpen(t, env, envVecUnhex(t, v.DataKey), v.CanonicalContext))

			// Today's API.
			r, err := NewDecryptReader(ctx, m, bytes.NewReader(env), ec)
			require.NoError(t, err)
			got, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, pt, append([]byte{}, got...))
			dk, err := m.Decrypt(ctx, h.wrappedKey, ec)
			require.NoError(t, err)
			require.Equal(t, v.DataKey, hex.EncodeToString(dk.Plaintext))
			require.Equal(t, v.KeyID, dk.KeyID)
			dk.Zero()

			envVecNegative(t, m, env, ec, v.HeaderSize)
		})
	}
}

// envVecOpen decrypts env fully, returning the first error.
func envVecOpen(m *Manager, env []byte, ec EncryptionContext) error {
	r, err := NewDecryptReader(context.Background(), m, bytes.NewReader(env), ec)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, r)
	return err
}

func envVecNegative(t *testing.T, m *Manager, env []byte, ec EncryptionContext, hdrSize int) {
	mod := func(f func(b []byte)) []byte {
		b := bytes.Clone(env)
		f(b)
		return b
	}
	// Another encryption context.
	err := envVecOpen(m, env, EncryptionContext{"other": "context"})
	require.ErrorIs(t, err, ErrContextMismatch)
	// An unknown version, a bad magic.
	require.ErrorIs(t, envVecOpen(m, mod(func(b []byte) { b[4] = 2 }), ec), ErrInvalidEnvelope)
	require.ErrorIs(t, envVecOpen(m, mod(func(b []byte) { b[0] = 'X' }), ec), ErrInvalidEnvelope)
	// Every flipped header byte fails, before the plaintext or while reading it.
	for i := range hdrSize {
		err := envVecOpen(m, mod(func(b []byte) { b[i] ^= 0x01 }), ec)
		require.Error(t, err, "header byte %d", i)
		require.True(t, errors.Is(err, ErrInvalidEnvelope) || errors.Is(err, ErrContextMismatch) ||
			errors.Is(err, ErrInvalidCiphertext) || errors.Is(err, ErrKeyNotFound) ||
			errors.Is(err, stream.ErrAuthentication), "header byte %d: %v", i, err)
	}
	// The payload: flipped first, middle and last bytes, truncation,
	// extension.
	for _, bad := range [][]byte{
		mod(func(b []byte) { b[hdrSize] ^= 0x01 }),
		mod(func(b []byte) { b[(hdrSize+len(b))/2] ^= 0x01 }),
		mod(func(b []byte) { b[len(b)-1] ^= 0x01 }),
		env[:len(env)-1],
		append(bytes.Clone(env), 0),
	} {
		require.ErrorIs(t, envVecOpen(m, bad, ec), stream.ErrAuthentication)
	}
	// Cut inside the header.
	require.ErrorIs(t, envVecOpen(m, env[:hdrSize-1], ec), ErrInvalidEnvelope)
}

// envVecRefOpen is ENVELOPE_FORMAT.md's decoder: parse the header, check
// the context digest, and open the stream with the data key and the header
// as associated data.
func envVecRefOpen(t *testing.T, env, dataKey []byte, canonicalContext string) []byte {
	t.Helper()
	require.Equal(t, "EKMS", string(env[:4]))
	require.Equal(t, byte(1), env[4])
	n := int(env[5])
	require.True(t, n >= 1 && n <= 128)
	w := int(binary.BigEndian.Uint16(env[6+n:]))
	require.True(t, w >= 1 && w <= 4096)
	hdrLen := 6 + n + 2 + w + 32
	digest := sha256.Sum256([]byte(canonicalContext))
	require.Equal(t, digest[:], env[8+n+w:hdrLen])
	r, err := stream.NewDecryptReader(bytes.NewReader(env[hdrLen:]), dataKey, env[:hdrLen], stream.WithSegmentSize(1<<20))
	require.NoError(t, err)
	pt, err := io.ReadAll(r)
	require.NoError(t, err)
	return append([]byte{}, pt...)
}

// --- Generator (run once per format version). ---

func envVecWrite(t *testing.T) {
	if _, err := os.Stat(envVecDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists: vectors are written once; add a new format version's vectors beside them", envVecDir)
	}
	cryptotest.SetGlobalRandom(t, 3)
	ctx := context.Background()
	keyDir, err := filepath.Abs(filepath.Join(envVecDir, "keydir"))
	require.NoError(t, err)
	// Create the directory with cheap KDF parameters (it keeps them).
	b, err := local.New(ctx, local.Config{Dir: keyDir, MasterKey: []byte(envVecMasterKey),
		KDF: &local.KDFParams{Time: 2, MemoryKiB: 256, Threads: 2}})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	m := envVecManager(t, keyDir)
	_, err = m.CreateKey(ctx, CreateKeyRequest{KeyID: "envelope-key", Description: "envelope test vector key"})
	require.NoError(t, err)

	vs := envVectors{
		Comment: "Test vectors of the kms envelope format, version 1 (ENVELOPE_FORMAT.md), written by a Manager " +
			"on the local backend whose key directory is key_dir. Every secret is public: never use these keys. " +
			"Byte strings are hex.",
		Backend: BackendLocal, KeyDir: "keydir", MasterKey: envVecMasterKey,
	}
	seal := func(name, keyID string, ec EncryptionContext, pt []byte, file string) {
		var buf bytes.Buffer
		w, err := NewEncryptWriter(ctx, m, &buf, keyID, ec)
		require.NoError(t, err)
		_, err = w.Write(pt)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		h, hdr, err := readEnvelopeHeader(bytes.NewReader(buf.Bytes()))
		require.NoError(t, err)
		dk, err := m.Decrypt(ctx, h.wrappedKey, ec)
		require.NoError(t, err)
		canon := ec.Canonical()
		digest, sum := sha256.Sum256(canon), sha256.Sum256(pt)
		v := envVecEntry{Name: name, KeyID: h.keyID, Context: ec, CanonicalContext: string(canon),
			ContextDigest: hex.EncodeToString(digest[:]), DataKey: hex.EncodeToString(dk.Plaintext),
			WrappedKey: hex.EncodeToString(h.wrappedKey), HeaderSize: len(hdr),
			PlaintextSize: len(pt), PlaintextSHA256: hex.EncodeToString(sum[:])}
		if file == "" {
			v.Envelope, v.Plaintext = hex.EncodeToString(buf.Bytes()), hex.EncodeToString(pt)
		} else {
			v.File, v.PlaintextPattern = file, true
			require.Equal(t, envVecPattern(len(pt)), pt)
			require.NoError(t, os.WriteFile(filepath.Join(envVecDir, file), buf.Bytes(), 0o644))
		}
		vs.Envelopes = append(vs.Envelopes, v)
	}
	seal("short, key version 1", "envelope-key", EncryptionContext{"bucket": "b", "object": "o"}, []byte("hello, envelope\n"), "")
	seal("empty plaintext and context, default key", "", EncryptionContext{}, nil, "")
	_, err = m.RotateKey(ctx, "envelope-key")
	require.NoError(t, err)
	seal("escaped context, key version 2", "envelope-key",
		EncryptionContext{"app": `<a href="x">&</a>`, "ünïcödé": "日本\u2028"}, []byte("rotated"), "")
	// Crosses the first border of the 1 MiB segments the format implies.
	seal("two 1 MiB segments", "envelope-key", EncryptionContext{"size": "large"}, envVecPattern(1<<20-56+100), "two-segments.ekms")

	out, err := json.MarshalIndent(vs, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(envVecFile, append(out, '\n'), 0o644))
}
