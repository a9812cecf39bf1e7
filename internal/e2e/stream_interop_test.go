package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	tinkstream "github.com/tink-crypto/tink-go/v2/streamingaead/subtle"

	"github.com/envkms/kms/stream"
)

// Interop with tink-go's AES-GCM-HKDF streaming AEAD, the format stream
// implements: NewAESGCMHKDF(key, "SHA256", 32, segmentSize, 0).

func newTink(t testing.TB, key []byte, seg int) *tinkstream.AESGCMHKDF {
	t.Helper()
	a, err := tinkstream.NewAESGCMHKDF(key, "SHA256", 32, seg, 0)
	require.NoError(t, err)
	return a
}

func tinkEncrypt(t testing.TB, a *tinkstream.AESGCMHKDF, pt, aad []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := a.NewEncryptingWriter(&buf, aad)
	require.NoError(t, err)
	_, err = w.Write(pt)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func tinkDecrypt(a *tinkstream.AESGCMHKDF, ct, aad []byte) ([]byte, error) {
	r, err := a.NewDecryptingReader(bytes.NewReader(ct), aad)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func oursEncrypt(t testing.TB, pt, key, aad []byte, opts ...stream.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := stream.NewEncryptWriter(&buf, key, aad, opts...)
	require.NoError(t, err)
	_, err = w.Write(pt)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// segmentLengths splits a ciphertext per the documented layout.
func segmentLengths(ctLen, seg int) []int {
	var lens []int
	rest := ctLen - stream.HeaderSize
	for i := 0; rest > 0; i++ {
		n := seg
		if i == 0 {
			n = seg - stream.HeaderSize
		}
		n = min(n, rest)
		lens = append(lens, n)
		rest -= n
	}
	return lens
}

func interopSizes(seg int) []int {
	first := seg - stream.HeaderSize - 16 // plaintext of the first segment
	full := seg - 16
	return []int{
		0, 1,
		first - 1, first, first + 1,
		first + full - 1, first + full, first + full + 1,
		first + 3*full + 17, // several segments, partial last
		first + 4*full,      // several segments, full last
	}
}

func TestStreamTinkInterop(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	aad := []byte("bucket/object")
	for _, seg := range []int{stream.DefaultSegmentSize, 4096, 100} {
		tink := newTink(t, key, seg)
		opt := stream.WithSegmentSize(seg)
		for _, size := range interopSizes(seg) {
			t.Run(fmt.Sprintf("seg=%d/size=%d", seg, size), func(t *testing.T) {
				pt := make([]byte, size)
				rand.Read(pt)

				// Ours -> Tink, sequential and parallel writers.
				for _, conc := range []int{1, 2} {
					ct := oursEncrypt(t, pt, key, aad, opt, stream.WithConcurrency(conc))
					got, err := tinkDecrypt(tink, ct, aad)
					require.NoError(t, err, "tink rejects ours (conc %d)", conc)
					require.True(t, bytes.Equal(pt, got))
					_, err = tinkDecrypt(tink, ct, []byte("other"))
					require.Error(t, err, "tink accepts ours under the wrong aad")
				}

				// Tink -> ours, every read path.
				tct := tinkEncrypt(t, tink, pt, aad)
				for _, conc := range []int{1, 2} {
					r, err := stream.NewDecryptReader(bytes.NewReader(tct), key, aad, opt, stream.WithConcurrency(conc))
					require.NoError(t, err)
					var out bytes.Buffer
					_, err = io.Copy(&out, r) // push path
					require.NoError(t, err)
					require.True(t, bytes.Equal(pt, out.Bytes()))
					r, err = stream.NewDecryptReader(io.MultiReader(bytes.NewReader(tct)), key, aad, opt, stream.WithConcurrency(conc))
					require.NoError(t, err)
					got, err := io.ReadAll(r) // pull path
					require.NoError(t, err)
					require.True(t, bytes.Equal(pt, got))
				}
				ra, err := stream.NewDecryptReaderAt(bytes.NewReader(tct), int64(len(tct)), key, aad, opt)
				require.NoError(t, err)
				require.Equal(t, int64(size), ra.Size())
				if size > 2 {
					part := make([]byte, size/2)
					_, err = ra.ReadAt(part, int64(size/3))
					require.NoError(t, err)
					require.Equal(t, pt[size/3:size/3+size/2], part)
				}
				r, err := stream.NewDecryptReader(bytes.NewReader(tct), key, []byte("other"), opt)
				require.NoError(t, err)
				_, err = io.ReadAll(r)
				require.ErrorIs(t, err, stream.ErrAuthentication)

				// Same layout: header, segment boundaries and lengths.
				ours := oursEncrypt(t, pt, key, aad, opt)
				require.Equal(t, len(tct), len(ours))
				c, err := stream.EncryptedSize(int64(size), seg)
				require.NoError(t, err)
				require.Equal(t, c, int64(len(tct)))
				require.Equal(t, tct[0], ours[0], "header length byte")
				require.Equal(t, byte(stream.HeaderSize), tct[0])
				require.Equal(t, segmentLengths(len(tct), seg), segmentLengths(len(ours), seg))
				d, err := stream.DecryptedSize(int64(len(tct)), seg)
				require.NoError(t, err)
				require.Equal(t, int64(size), d)
			})
		}
	}
}

// TestStreamTinkTruncation: a Tink stream cut anywhere is rejected by ours.
func TestStreamTinkTruncation(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	const seg = 100
	pt := make([]byte, 300)
	rand.Read(pt)
	tct := tinkEncrypt(t, newTink(t, key, seg), pt, nil)
	for n := range len(tct) {
		r, err := stream.NewDecryptReader(bytes.NewReader(tct[:n]), key, nil, stream.WithSegmentSize(seg))
		if err == nil {
			_, err = io.ReadAll(r)
		}
		require.ErrorIs(t, err, stream.ErrAuthentication, "cut at %d", n)
	}
}

// TestStreamVectorsTink: the checked-in test vectors of the format are
// decrypted by Tink, so the spec in stream/FORMAT.md is Tink's.
func TestStreamVectorsTink(t *testing.T) {
	b, err := os.ReadFile("../../stream/testdata/vectors.json")
	require.NoError(t, err)
	var vs []struct {
		Name        string `json:"name"`
		SegmentSize int    `json:"segment_size"`
		Key         string `json:"key"`
		AAD         string `json:"aad"`
		Plaintext   string `json:"plaintext"`
		Ciphertext  string `json:"ciphertext"`
	}
	require.NoError(t, json.Unmarshal(b, &vs))
	require.NotEmpty(t, vs)
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		require.NoError(t, err)
		return b
	}
	for _, v := range vs {
		got, err := tinkDecrypt(newTink(t, unhex(v.Key), v.SegmentSize), unhex(v.Ciphertext), unhex(v.AAD))
		require.NoError(t, err, v.Name)
		require.Equal(t, unhex(v.Plaintext), append([]byte{}, got...), v.Name)
	}
}
