package kms

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/envkms/kms/backend"
)

// Envelope header, format version 1. All integers are big-endian.
//
//	offset     size  field
//	0          4     magic "EKMS"
//	4          1     format version (1)
//	5          1     key id length n, 1..128
//	6          n     key id (the master key; [A-Za-z0-9_.-])
//	6+n        2     wrapped data key length w, 1..4096
//	8+n        w     wrapped data key (the backend's ciphertext)
//	8+n+w      32    SHA-256 of the canonical encryption context
//
// The payload that follows is a stream (package stream, Tink's
// AES-GCM-HKDF streaming format) whose key is the data key and whose
// associated data is the complete header, so changing any header byte makes
// authentication fail.
const (
	envelopeMagic      = "EKMS"
	envelopeVersion    = 1
	maxWrappedKeyLen   = 4096
	contextDigestSize  = sha256.Size
	envelopeFixedSize  = len(envelopeMagic) + 1 + 1 // magic, version, key id length
	maxEnvelopeHdrSize = envelopeFixedSize + backend.MaxKeyIDLen + 2 + maxWrappedKeyLen + contextDigestSize
)

// envelopeHeader is a parsed envelope header.
type envelopeHeader struct {
	keyID         string
	wrappedKey    []byte
	contextDigest [contextDigestSize]byte
}

func contextDigest(ec EncryptionContext) [contextDigestSize]byte {
	return sha256.Sum256(ec.Canonical())
}

// marshal returns the header bytes, or an error if a field is out of bounds.
func (h *envelopeHeader) marshal() ([]byte, error) {
	if err := backend.ValidateKeyID(h.keyID); err != nil {
		return nil, fmt.Errorf("%w: key id: %w", ErrInvalidEnvelope, err)
	}
	if len(h.wrappedKey) == 0 || len(h.wrappedKey) > maxWrappedKeyLen {
		return nil, fmt.Errorf("%w: wrapped data key of %d bytes, want 1..%d", ErrInvalidEnvelope, len(h.wrappedKey), maxWrappedKeyLen)
	}
	b := make([]byte, 0, envelopeFixedSize+len(h.keyID)+2+len(h.wrappedKey)+contextDigestSize)
	b = append(b, envelopeMagic...)
	b = append(b, envelopeVersion, byte(len(h.keyID)))
	b = append(b, h.keyID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.wrappedKey)))
	b = append(b, h.wrappedKey...)
	b = append(b, h.contextDigest[:]...)
	return b, nil
}

// readEnvelopeHeader reads one header from r and returns it parsed and as
// the raw bytes (the stream's associated data). It reads exactly the header,
// checks every length before reading what it covers (so at most
// maxEnvelopeHdrSize bytes are ever buffered), and fails with an error
// wrapping ErrInvalidEnvelope on a bad magic, version or length, or on a
// header cut short; other read errors are returned wrapped as they are.
func readEnvelopeHeader(r io.Reader) (envelopeHeader, []byte, error) {
	var h envelopeHeader
	raw := make([]byte, envelopeFixedSize, 64)
	if err := readFull(r, raw); err != nil {
		return h, nil, err
	}
	if string(raw[:4]) != envelopeMagic {
		return h, nil, fmt.Errorf("%w: not an envelope (bad magic)", ErrInvalidEnvelope)
	}
	if raw[4] != envelopeVersion {
		return h, nil, fmt.Errorf("%w: unsupported format version %d", ErrInvalidEnvelope, raw[4])
	}
	n := int(raw[5])
	if n == 0 || n > backend.MaxKeyIDLen {
		return h, nil, fmt.Errorf("%w: key id length %d, want 1..%d", ErrInvalidEnvelope, n, backend.MaxKeyIDLen)
	}
	raw, err := readMore(r, raw, n+2)
	if err != nil {
		return h, nil, err
	}
	h.keyID = string(raw[envelopeFixedSize : envelopeFixedSize+n])
	if backend.ValidateKeyID(h.keyID) != nil {
		return envelopeHeader{}, nil, fmt.Errorf("%w: malformed key id", ErrInvalidEnvelope)
	}
	w := int(binary.BigEndian.Uint16(raw[len(raw)-2:]))
	if w == 0 || w > maxWrappedKeyLen {
		return envelopeHeader{}, nil, fmt.Errorf("%w: wrapped data key length %d, want 1..%d", ErrInvalidEnvelope, w, maxWrappedKeyLen)
	}
	if raw, err = readMore(r, raw, w+contextDigestSize); err != nil {
		return envelopeHeader{}, nil, err
	}
	body := raw[len(raw)-w-contextDigestSize:]
	h.wrappedKey = body[:w:w]
	copy(h.contextDigest[:], body[w:])
	return h, raw, nil
}

// readMore appends exactly n bytes from r to b.
func readMore(r io.Reader, b []byte, n int) ([]byte, error) {
	b = append(b, make([]byte, n)...)
	return b, readFull(r, b[len(b)-n:])
}

func readFull(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated header: %w", ErrInvalidEnvelope, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("kms: envelope: reading the header: %w", err)
	}
	return nil
}
