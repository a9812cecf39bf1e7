package kms

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleHeader(t testing.TB) []byte {
	h := envelopeHeader{keyID: "default", wrappedKey: []byte("wrapped-data-key-ciphertext"), contextDigest: contextDigest(EncryptionContext{"bucket": "b"})}
	raw, err := h.marshal()
	require.NoError(t, err)
	return raw
}

func TestEnvelopeHeaderRoundTrip(t *testing.T) {
	raw := sampleHeader(t)
	require.Equal(t, "EKMS\x01\x07default\x00\x1bwrapped-data-key-ciphertext", string(raw[:len(raw)-32]))
	rest := []byte("payload follows")
	h, got, err := readEnvelopeHeader(bytes.NewReader(append(bytes.Clone(raw), rest...)))
	require.NoError(t, err)
	require.Equal(t, raw, got)
	require.Equal(t, "default", h.keyID)
	require.Equal(t, contextDigest(EncryptionContext{"bucket": "b"}), h.contextDigest)
}

func TestEnvelopeHeaderRejects(t *testing.T) {
	raw := sampleHeader(t)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(raw)) }
	tests := map[string][]byte{
		"empty":             {},
		"bad magic":         mod(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version 0":         mod(func(b []byte) []byte { b[4] = 0; return b }),
		"version 2":         mod(func(b []byte) []byte { b[4] = 2; return b }),
		"key id length 0":   mod(func(b []byte) []byte { b[5] = 0; return b }),
		"key id length 255": mod(func(b []byte) []byte { b[5] = 255; return b }),
		"key id bad char":   mod(func(b []byte) []byte { b[6] = '/'; return b }),
		"wrapped length 0":  mod(func(b []byte) []byte { b[13], b[14] = 0, 0; return b }),
		"wrapped too long":  mod(func(b []byte) []byte { b[13], b[14] = 0xff, 0xff; return b }),
		"no digest":         raw[:len(raw)-32],
		"half digest":       raw[:len(raw)-1],
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, err := readEnvelopeHeader(bytes.NewReader(in))
			require.ErrorIs(t, err, ErrInvalidEnvelope)
		})
	}
	// Every truncation.
	for n := range len(raw) {
		_, _, err := readEnvelopeHeader(bytes.NewReader(raw[:n]))
		require.ErrorIs(t, err, ErrInvalidEnvelope, n)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, n)
	}
	// A read error other than EOF is passed through, not called invalid.
	boom := errors.New("disk on fire")
	_, _, err := readEnvelopeHeader(io.MultiReader(bytes.NewReader(raw[:10]), iotestErrReader{boom}))
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, ErrInvalidEnvelope)

	// marshal bounds.
	_, err = (&envelopeHeader{keyID: "k", wrappedKey: make([]byte, maxWrappedKeyLen+1)}).marshal()
	require.ErrorIs(t, err, ErrInvalidEnvelope)
	_, err = (&envelopeHeader{keyID: strings.Repeat("k", 129), wrappedKey: []byte{1}}).marshal()
	require.ErrorIs(t, err, ErrInvalidEnvelope)
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzEnvelopeHeader: any input either parses into a header that marshals
// back to exactly the bytes consumed, or fails with ErrInvalidEnvelope; it
// never panics and never reads past the header bound.
func FuzzEnvelopeHeader(f *testing.F) {
	raw := sampleHeader(f)
	f.Add(raw)
	f.Add(raw[:7])
	f.Add([]byte("EKMS\x01\x80"))
	f.Add([]byte("EKMS\x01\x01k\xff\xff"))
	f.Add(append(bytes.Clone(raw), 0xde, 0xad))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, got, err := readEnvelopeHeader(r)
		if err != nil {
			if !errors.Is(err, ErrInvalidEnvelope) {
				t.Fatalf("error does not wrap ErrInvalidEnvelope: %v", err)
			}
			return
		}
		if len(got) > maxEnvelopeHdrSize || !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("raw header is not the consumed prefix")
		}
		if consumed := len(data) - r.Len(); consumed != len(got) {
			t.Fatalf("consumed %d bytes, header is %d", consumed, len(got))
		}
		again, err := h.marshal()
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("re-marshal differs: %v", err)
		}
	})
}
