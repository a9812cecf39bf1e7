package kms

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/stream"
)

// NewEncryptWriter starts a self-describing envelope on w: it asks m for a
// fresh data key under master key keyID (empty: the default key) bound to
// ec, writes the envelope header (format version, key id, wrapped data key,
// SHA-256 of ec's canonical form) and returns a writer that encrypts what is
// written to it as a stream (package stream) under the data key, with the
// header as associated data. Close must be called to finish the envelope; it
// does not close w. The plaintext data key is wiped before NewEncryptWriter
// returns.
//
// Decrypting needs only a running Manager with the same master keys and the
// same ec: see NewDecryptReader.
func NewEncryptWriter(ctx context.Context, m *Manager, w io.Writer, keyID string, ec EncryptionContext) (io.WriteCloser, error) {
	if m == nil || w == nil {
		return nil, fmt.Errorf("kms: NewEncryptWriter: %w: nil Manager or writer", backend.ErrInvalidArgument)
	}
	dk, err := m.GenerateDataKey(ctx, keyID, ec)
	if err != nil {
		return nil, fmt.Errorf("kms: envelope: %w", err)
	}
	defer dk.Zero()
	h := envelopeHeader{keyID: dk.KeyID, wrappedKey: dk.Ciphertext, contextDigest: contextDigest(ec)}
	raw, err := h.marshal()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, fmt.Errorf("kms: envelope: writing the header: %w", err)
	}
	sw, err := stream.NewEncryptWriter(w, dk.Plaintext, raw, stream.WithBufferPool(&m.buffers))
	if err != nil {
		return nil, fmt.Errorf("kms: envelope: %w", err)
	}
	return sw, nil
}

// NewDecryptReader reads an envelope header from r, checks that it was made
// with ec, unwraps its data key with m and returns a reader of the
// plaintext. The stream authenticates every segment (and the header, its
// associated data) before returning any of it; a tampered or truncated
// envelope yields an error wrapping stream.ErrAuthentication from Read, and
// never a clean EOF.
//
// Errors before any reading: ErrInvalidEnvelope (not an envelope, unknown
// version, bad lengths, truncated header, or a key id that disagrees with
// the wrapped key), ErrContextMismatch (ec differs from the one the envelope
// was made with), or the Manager's error unwrapping the data key (e.g.
// ErrNotRunning, ErrKeyNotFound, ErrInvalidCiphertext).
func NewDecryptReader(ctx context.Context, m *Manager, r io.Reader, ec EncryptionContext) (io.Reader, error) {
	if m == nil || r == nil {
		return nil, fmt.Errorf("kms: NewDecryptReader: %w: nil Manager or reader", backend.ErrInvalidArgument)
	}
	h, raw, err := readEnvelopeHeader(r)
	if err != nil {
		return nil, err
	}
	want := contextDigest(ec)
	if subtle.ConstantTimeCompare(want[:], h.contextDigest[:]) != 1 {
		return nil, fmt.Errorf("kms: envelope: %w: the envelope was made with another encryption context", backend.ErrContextMismatch)
	}
	dk, err := m.Decrypt(ctx, h.wrappedKey, ec)
	if err != nil {
		return nil, fmt.Errorf("kms: envelope under key %q: %w", h.keyID, err)
	}
	defer dk.Zero()
	if dk.KeyID != "" && dk.KeyID != h.keyID {
		return nil, fmt.Errorf("%w: header names key %q but its data key is wrapped under key %q", ErrInvalidEnvelope, h.keyID, dk.KeyID)
	}
	// The stream derives its own key (HKDF with its salt) before returning,
	// so the deferred Zero leaves it working.
	sr, err := stream.NewDecryptReader(r, dk.Plaintext, raw, stream.WithBufferPool(&m.buffers))
	if err != nil {
		return nil, fmt.Errorf("kms: envelope: %w", err)
	}
	return sr, nil
}
