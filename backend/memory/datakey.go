package memory

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/envkms/kms/backend"
)

// A wrapped data key (DataKey.Ciphertext) is self-describing, so Decrypt
// needs nothing else:
//
//	format  1 byte   0x01 (format version 1 of this package)
//	idLen   1 byte   1..backend.MaxKeyIDLen
//	keyID   idLen bytes, a valid key id
//	version 4 bytes  big-endian key version, >= 1
//	nonce   12 bytes random
//	sealed  48 bytes AES-256-GCM(data key) || 16-byte tag
//
// The header is everything before the nonce. The AES-GCM associated data is
// header || ec.Canonical(): the header is self-delimiting (idLen), so no
// field of it and no byte of the context can change undetected.
const (
	formatV1  = 0x01
	keySize   = 32 // AES-256 master key material
	nonceSize = 12
	tagSize   = 16
	fixedHdr  = 1 + 1 + 4 // format, idLen, version
	body      = nonceSize + backend.DataKeySize + tagSize
	minCT     = fixedHdr + 1 + body
	maxCT     = fixedHdr + backend.MaxKeyIDLen + body
)

// newMaterial returns fresh AES-256 key material from crypto/rand.
func newMaterial() []byte {
	m := make([]byte, keySize)
	_, _ = rand.Read(m) // crypto/rand.Read never fails (Go 1.24+)
	return m
}

// newAEAD builds AES-256-GCM over material for one call; the caller holds
// b.mu, so Close cannot wipe material meanwhile.
func newAEAD(material []byte) cipher.AEAD {
	block, err := aes.NewCipher(material)
	if err != nil {
		panic("memory: internal error: AES-256 key of wrong size")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("memory: internal error: " + err.Error())
	}
	return aead
}

// parsed is a ciphertext split into its fields (slices alias it).
type parsed struct {
	keyID   string
	version int
	header  []byte
	nonce   []byte
	sealed  []byte
}

// parse validates the structure of ct without decrypting it. It never
// panics, and its errors wrap backend.ErrInvalidCiphertext; they describe
// the structure, never ct's bytes.
func parse(ct []byte) (parsed, error) {
	bad := func(why string) (parsed, error) {
		return parsed{}, fmt.Errorf("%w: %s", backend.ErrInvalidCiphertext, why)
	}
	if len(ct) < minCT || len(ct) > maxCT {
		return bad("bad length")
	}
	if ct[0] != formatV1 {
		return bad("not a memory backend ciphertext, or an unknown format version")
	}
	n := int(ct[1])
	if len(ct) != fixedHdr+n+body {
		return bad("bad length")
	}
	id := string(ct[2 : 2+n])
	if backend.ValidateKeyID(id) != nil {
		return bad("bad key id")
	}
	v := binary.BigEndian.Uint32(ct[2+n:])
	if v == 0 || v > maxVersions {
		return bad("bad key version")
	}
	h := fixedHdr + n
	return parsed{keyID: id, version: int(v), header: ct[:h], nonce: ct[h : h+nonceSize], sealed: ct[h+nonceSize:]}, nil
}

// appendHeader appends the ciphertext header for keyID at version.
func appendHeader(dst []byte, keyID string, version int) []byte {
	dst = append(dst, formatV1, byte(len(keyID)))
	dst = append(dst, keyID...)
	return binary.BigEndian.AppendUint32(dst, uint32(version))
}

// aad returns the associated data of a wrapped data key: header || canon.
func aad(header, canon []byte) []byte {
	a := make([]byte, 0, len(header)+len(canon))
	return append(append(a, header...), canon...)
}

// canonical returns ec.Canonical(), refusing (backend.ErrInvalidArgument)
// strings that are not valid UTF-8: the canonical JSON form maps them all to
// U+FFFD, which would bind two different contexts to the same bytes.
func canonical(ec backend.EncryptionContext) ([]byte, error) {
	if err := ec.Validate(); err != nil {
		return nil, err
	}
	return ec.Canonical(), nil
}

// usable returns why k can't wrap new data keys, if it can't.
func usable(k *key) error {
	switch k.md.State {
	case backend.KeyStateDisabled:
		return backend.ErrKeyDisabled
	case backend.KeyStatePendingDeletion:
		return backend.ErrKeyPendingDeletion
	}
	return nil
}

// wrap seals pt under k's newest version, bound to canon. The caller holds
// b.mu.
func wrap(k *key, keyID string, pt, canon []byte) []byte {
	version := len(k.versions)
	h := fixedHdr + len(keyID)
	ct := make([]byte, 0, h+body)
	ct = appendHeader(ct, keyID, version)
	ct = ct[:h+nonceSize]
	_, _ = rand.Read(ct[h:]) // crypto/rand.Read never fails (Go 1.24+)
	return newAEAD(k.versions[version-1]).Seal(ct, ct[h:], pt, aad(ct[:h], canon))
}

// GenerateDataKey returns 32 fresh random bytes and their ciphertext under
// the key's newest version, bound to ec. Plaintext and Ciphertext are new
// slices the caller owns. A disabled key yields backend.ErrKeyDisabled, a
// key pending deletion backend.ErrKeyPendingDeletion, a context string that
// is not valid UTF-8 backend.ErrInvalidArgument.
func (b *Backend) GenerateDataKey(ctx context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error) {
	const op = "GenerateDataKey"
	if err := b.rlock(ctx, op, keyID); err != nil {
		return backend.DataKey{}, err
	}
	defer b.mu.RUnlock()
	k, err := b.find(op, keyID)
	if err != nil {
		return backend.DataKey{}, err
	}
	canon, err := canonical(ec)
	if err != nil {
		return backend.DataKey{}, &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	if err := usable(k); err != nil {
		return backend.DataKey{}, &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	pt := make([]byte, backend.DataKeySize)
	_, _ = rand.Read(pt) // crypto/rand.Read never fails (Go 1.24+)
	return backend.DataKey{KeyID: keyID, Plaintext: pt, Ciphertext: wrap(k, keyID, pt, canon)}, nil
}

var errAuth = errors.New("authentication failed (wrong encryption context, or damaged)")

// unwrap parses and opens ct, returning its key and a fresh plaintext.
// Errors are *backend.Error values for op. The caller holds b.mu.
func (b *Backend) unwrap(op string, ct []byte, ec backend.EncryptionContext) (parsed, *key, []byte, error) {
	p, err := parse(ct)
	if err != nil {
		return p, nil, nil, &backend.Error{Op: op, Err: err}
	}
	canon, err := canonical(ec)
	if err != nil {
		return p, nil, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: err}
	}
	k := b.keys[p.keyID]
	if k == nil {
		return p, nil, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: backend.ErrKeyNotFound}
	}
	if p.version > len(k.versions) {
		return p, nil, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: fmt.Errorf("%w: unknown key version", backend.ErrInvalidCiphertext)}
	}
	if k.versions[p.version-1] == nil {
		return p, nil, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: fmt.Errorf("%w: key version destroyed", backend.ErrInvalidCiphertext)}
	}
	if k.md.State == backend.KeyStatePendingDeletion {
		return p, nil, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: backend.ErrKeyPendingDeletion}
	}
	pt, err := newAEAD(k.versions[p.version-1]).Open(make([]byte, 0, backend.DataKeySize), p.nonce, p.sealed, aad(p.header, canon))
	if err != nil {
		return p, nil, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: fmt.Errorf("%w: %w", backend.ErrInvalidCiphertext, errAuth)}
	}
	return p, k, pt, nil
}

// Decrypt unwraps a data key made by GenerateDataKey or Rewrap of this
// Backend; the ciphertext names its key and version. Plaintext and
// Ciphertext of the result are new slices the caller owns. A wrong
// encryption context and a damaged ciphertext are indistinguishable to
// AES-GCM: both yield backend.ErrInvalidCiphertext (never
// backend.ErrContextMismatch). A ciphertext naming a key b does not hold
// (another Backend's, or a purged one) yields backend.ErrKeyNotFound, a key
// pending deletion backend.ErrKeyPendingDeletion; a disabled key still
// decrypts.
func (b *Backend) Decrypt(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	const op = "Decrypt"
	if err := b.rlock(ctx, op, ""); err != nil {
		return backend.DataKey{}, err
	}
	defer b.mu.RUnlock()
	p, _, pt, err := b.unwrap(op, ciphertext, ec)
	if err != nil {
		return backend.DataKey{}, err
	}
	return backend.DataKey{KeyID: p.keyID, Plaintext: pt, Ciphertext: bytes.Clone(ciphertext)}, nil
}

// Rewrap moves a data-key ciphertext to its key's newest version, bound to
// the same ec: it decrypts and encrypts again inside the backend and zeroes
// the plaintext. Errors are those of Decrypt, plus backend.ErrKeyDisabled
// for a disabled key (which, like GenerateDataKey, wraps nothing new).
func (b *Backend) Rewrap(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) ([]byte, error) {
	const op = "Rewrap"
	if err := b.rlock(ctx, op, ""); err != nil {
		return nil, err
	}
	defer b.mu.RUnlock()
	p, k, pt, err := b.unwrap(op, ciphertext, ec)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if err := usable(k); err != nil {
		return nil, &backend.Error{Op: op, KeyID: p.keyID, Err: err}
	}
	canon := ec.Canonical() // validated by unwrap
	return wrap(k, p.keyID, pt, canon), nil
}

// CiphertextVersion returns the key id and key version a data-key
// ciphertext names, without decrypting it or checking that b holds the key
// (it implements backendtest.VersionInspector). Errors wrap
// backend.ErrInvalidCiphertext.
func (b *Backend) CiphertextVersion(ciphertext []byte) (keyID string, version int, err error) {
	p, err := parse(ciphertext)
	if err != nil {
		return "", 0, err
	}
	return p.keyID, p.version, nil
}
