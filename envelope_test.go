package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/envkms/kms/stream"
	"github.com/stretchr/testify/require"
)

func sealEnvelope(t testing.TB, m *Manager, keyID string, ec EncryptionContext, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewEncryptWriter(context.Background(), m, &buf, keyID, ec)
	require.NoError(t, err)
	_, err = w.Write(plain)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// openEnvelope returns the plaintext, or the first error of
// NewDecryptReader or of reading.
func openEnvelope(m *Manager, env []byte, ec EncryptionContext) ([]byte, error) {
	r, err := NewDecryptReader(context.Background(), m, bytes.NewReader(env), ec)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func envelopeHeaderLen(t testing.TB, env []byte) int {
	_, raw, err := readEnvelopeHeader(bytes.NewReader(env))
	require.NoError(t, err)
	return len(raw)
}

func TestEnvelopeRoundTrip(t *testing.T) {
	m := startLocal(t, localConfig(newKeyDir(t, testMasterKey)))
	ec := EncryptionContext{"backup": "db", "day": "2024-06-01"}
	for _, n := range []int{0, 1, 1000, stream.DefaultSegmentSize - 40, 2*stream.DefaultSegmentSize + 17} {
		plain := make([]byte, n)
		_, _ = rand.Read(plain)
		env := sealEnvelope(t, m, "", ec, plain)
		got, err := openEnvelope(m, env, ec)
		require.NoError(t, err, n)
		require.True(t, bytes.Equal(plain, got), n)

		// Readable without the cache too, i.e. from the header alone.
		m.ClearCache()
		got, err = openEnvelope(m, env, EncryptionContext{"day": "2024-06-01", "backup": "db"})
		require.NoError(t, err, n)
		require.True(t, bytes.Equal(plain, got), n)
	}
}

func TestEnvelopeRejects(t *testing.T) {
	ctx := context.Background()
	m := startLocal(t, localConfig(newKeyDir(t, testMasterKey)))
	_, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: "other01"}) // same length as "default"
	require.NoError(t, err)
	ec := EncryptionContext{"object": "o"}
	plain := bytes.Repeat([]byte("secret payload "), 200)
	env := sealEnvelope(t, m, "default", ec, plain)
	hlen := envelopeHeaderLen(t, env)

	t.Run("wrong context", func(t *testing.T) {
		_, err := openEnvelope(m, env, EncryptionContext{"object": "p"})
		require.ErrorIs(t, err, ErrContextMismatch)
		_, err = openEnvelope(m, env, nil)
		require.ErrorIs(t, err, ErrContextMismatch)
	})

	t.Run("every header byte", func(t *testing.T) {
		for i := range hlen {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(env)
				bad[i] ^= bit
				got, err := openEnvelope(m, bad, ec)
				require.Error(t, err, "byte %d", i)
				require.Nil(t, got, "byte %d: no plaintext", i)
			}
		}
	})

	t.Run("header names another key", func(t *testing.T) {
		bad := bytes.Clone(env)
		copy(bad[6:], "other01")
		_, err := openEnvelope(m, bad, ec)
		require.ErrorIs(t, err, ErrInvalidEnvelope)
	})

	t.Run("payload bytes", func(t *testing.T) {
		for i := hlen; i < len(env); i += 97 {
			bad := bytes.Clone(env)
			bad[i] ^= 0x04
			got, err := openEnvelope(m, bad, ec)
			require.ErrorIs(t, err, stream.ErrAuthentication, "byte %d", i)
			require.Empty(t, got)
		}
	})

	t.Run("truncated", func(t *testing.T) {
		for n := 0; n < len(env); n++ {
			if n > hlen+64 && n < len(env)-64 && n%53 != 0 {
				continue
			}
			got, err := openEnvelope(m, env[:n], ec)
			require.Error(t, err, n)
			if n < hlen {
				require.ErrorIs(t, err, ErrInvalidEnvelope, n)
			} else {
				require.ErrorIs(t, err, stream.ErrAuthentication, n)
			}
			require.Empty(t, got, n)
		}
	})

	t.Run("appended", func(t *testing.T) {
		_, err := openEnvelope(m, append(bytes.Clone(env), 0), ec)
		require.ErrorIs(t, err, stream.ErrAuthentication)
	})

	t.Run("not an envelope", func(t *testing.T) {
		_, err := openEnvelope(m, plain, ec)
		require.ErrorIs(t, err, ErrInvalidEnvelope)
	})

	t.Run("not running", func(t *testing.T) {
		m2 := NewManager()
		_, err := NewEncryptWriter(ctx, m2, io.Discard, "", ec)
		require.ErrorIs(t, err, ErrNotRunning)
		_, err = openEnvelope(m2, env, ec)
		require.ErrorIs(t, err, ErrNotRunning)
		_, err = NewEncryptWriter(ctx, nil, io.Discard, "", ec)
		require.ErrorIs(t, err, ErrInvalidArgument)
	})

	t.Run("failing writer", func(t *testing.T) {
		boom := errors.New("disk full")
		_, err := NewEncryptWriter(ctx, m, failWriter{boom}, "", ec)
		require.ErrorIs(t, err, boom)
	})
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// The envelope wipes the plaintext data keys it obtained once the stream
// holds its own derived key.
func TestEnvelopeWipesDataKeys(t *testing.T) {
	w := newFakeWorld()
	cfg := fakeConfig("a")
	cfg.EnableCache = new(false) // Decrypt then hands out the backend's own slice
	m := startFake(t, w, cfg)
	ec := EncryptionContext{"x": "y"}
	env := sealEnvelope(t, m, "", ec, []byte("payload"))
	got, err := openEnvelope(m, env, ec)
	require.NoError(t, err)
	require.Equal(t, "payload", string(got))
	require.Len(t, w.issued, 2)
	for _, pt := range w.issued {
		require.Equal(t, make([]byte, 32), pt, "data key not wiped")
	}
}
