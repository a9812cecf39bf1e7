package stream

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// vector is one entry of testdata/vectors.json. All byte strings are hex.
// StreamKey is HKDF-SHA256(Key, Salt, AAD), listed to help implementers.
type vector struct {
	Name        string `json:"name"`
	SegmentSize int    `json:"segment_size"`
	Key         string `json:"key"`
	AAD         string `json:"aad"`
	Salt        string `json:"salt"`
	NoncePrefix string `json:"nonce_prefix"`
	StreamKey   string `json:"stream_key"`
	Plaintext   string `json:"plaintext"`
	Ciphertext  string `json:"ciphertext"`
}

const vectorsFile = "testdata/vectors.json"

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// makeVectors builds the vectors from fixed inputs.
func makeVectors(t *testing.T) []vector {
	key := seq(0, 32)
	salt, prefix := seq(0x80, 32), seq(0xa0, 7)
	type spec struct {
		name string
		seg  int
		aad  string
		pt   []byte
	}
	specs := []spec{
		{"empty plaintext", 64, "", nil},
		{"one byte, default segment size", DefaultSegmentSize, "bucket/object", []byte("a")},
		{"exactly one full first segment", 64, "aad", seq('A', 8)},
		{"first segment plus one byte", 64, "aad", seq('A', 9)},
		{"five segments, last one partial", 64, "bucket/object", []byte(strings.Repeat("0123456789", 20))},
		{"three full segments", 100, "", seq(0, 44+84+84)},
	}
	var vs []vector
	for _, s := range specs {
		var buf bytes.Buffer
		w, err := NewEncryptWriter(&buf, key, []byte(s.aad), WithSegmentSize(s.seg), withRand(bytes.NewReader(append(bytes.Clone(salt), prefix...))))
		require.NoError(t, err)
		_, err = w.Write(s.pt)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		sk, err := hkdf.Key(sha256.New, key, salt, s.aad, 32)
		require.NoError(t, err)
		vs = append(vs, vector{
			Name: s.name, SegmentSize: s.seg,
			Key: hex.EncodeToString(key), AAD: hex.EncodeToString([]byte(s.aad)),
			Salt: hex.EncodeToString(salt), NoncePrefix: hex.EncodeToString(prefix),
			StreamKey: hex.EncodeToString(sk),
			Plaintext: hex.EncodeToString(s.pt), Ciphertext: hex.EncodeToString(buf.Bytes()),
		})
	}
	return vs
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestVectors checks the checked-in vectors: encryption with the listed salt
// and prefix reproduces the ciphertext, and every reader decrypts it. Run
// with STREAM_UPDATE_TESTDATA=1 to regenerate the file.
func TestVectors(t *testing.T) {
	if os.Getenv("STREAM_UPDATE_TESTDATA") == "1" {
		b, err := json.MarshalIndent(makeVectors(t), "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(vectorsFile), 0o755))
		require.NoError(t, os.WriteFile(vectorsFile, append(b, '\n'), 0o644))
	}
	b, err := os.ReadFile(vectorsFile)
	require.NoError(t, err)
	var vs []vector
	require.NoError(t, json.Unmarshal(b, &vs))
	require.Equal(t, makeVectors(t), vs, "vectors changed: the format must not")
	for _, v := range vs {
		key, aad, pt, ct := unhex(t, v.Key), unhex(t, v.AAD), unhex(t, v.Plaintext), unhex(t, v.Ciphertext)
		opt := WithSegmentSize(v.SegmentSize)
		c, err := EncryptedSize(int64(len(pt)), v.SegmentSize)
		require.NoError(t, err, v.Name)
		require.Equal(t, c, int64(len(ct)), v.Name)
		segs, ok := refOpen(key, aad, ct, v.SegmentSize)
		require.True(t, ok, v.Name)
		require.Equal(t, pt, nonNil(bytes.Join(segs, nil)), v.Name)
		r, err := NewDecryptReader(bytes.NewReader(ct), key, aad, opt)
		require.NoError(t, err)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, pt, nonNil(got), v.Name)
		ra, err := NewDecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), key, aad, opt)
		require.NoError(t, err)
		require.Equal(t, int64(len(pt)), ra.Size())
	}
}
