package local

import (
	"bytes"
	"context"
	"fmt"

	"github.com/envkms/kms/backend"
)

// canonicalContext returns ec's canonical bytes. Strings that are not valid
// UTF-8 are refused (ec.Validate): the canonical JSON form would map them all
// to U+FFFD, binding two different contexts to the same bytes.
func canonicalContext(ec backend.EncryptionContext) ([]byte, error) {
	if err := ec.Validate(); err != nil {
		return nil, err
	}
	return ec.Canonical(), nil
}

// GenerateDataKey returns 32 random bytes wrapped under the key's newest
// version, bound to ec. A disabled key yields backend.ErrKeyDisabled, a key
// pending deletion backend.ErrKeyPendingDeletion.
func (b *Backend) GenerateDataKey(ctx context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error) {
	const op = "GenerateDataKey"
	if err := b.begin(ctx, op, keyID); err != nil {
		return backend.DataKey{}, err
	}
	defer b.end()
	if err := backend.ValidateKeyID(keyID); err != nil {
		return backend.DataKey{}, &backend.Error{Op: op, Err: err}
	}
	canon, err := canonicalContext(ec)
	if err != nil {
		return backend.DataKey{}, &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	e, err := b.entry(ctx, keyID)
	if err != nil {
		return backend.DataKey{}, keyErr(op, keyID, err)
	}
	if err := usable(e); err != nil {
		return backend.DataKey{}, &backend.Error{Op: op, KeyID: keyID, Err: err}
	}
	e = b.maybeRotate(ctx, keyID, e)
	pt := make([]byte, backend.DataKeySize)
	randRead(pt)
	return backend.DataKey{KeyID: keyID, Plaintext: pt, Ciphertext: b.wrap(e, keyID, pt, canon)}, nil
}

// usable returns why e can't wrap new data keys, if it can't.
func usable(e *keyEntry) error {
	switch e.md.State {
	case backend.KeyStateDisabled:
		return backend.ErrKeyDisabled
	case backend.KeyStatePendingDeletion:
		return backend.ErrKeyPendingDeletion
	}
	return nil
}

// wrap seals pt under e's newest version and counts it.
func (b *Backend) wrap(e *keyEntry, keyID string, pt, canon []byte) []byte {
	version := len(e.aeads)
	b.wrapCounter(keyID, version).Add(1)
	hdrLen := ctFixedHdr + len(keyID)
	ct := make([]byte, 0, hdrLen+ctBody)
	ct = appendHeader(ct, keyID, version)
	ct = ct[:hdrLen+nonceSize]
	randRead(ct[hdrLen:])
	var aadBuf [256]byte
	aad := dataKeyAAD(aadBuf[:0], ct[:hdrLen], canon)
	return e.aeads[version-1].Seal(ct, ct[hdrLen:], pt, aad)
}

// Decrypt unwraps a data key. The ciphertext names its key and version.
// A wrong encryption context and a damaged ciphertext are indistinguishable
// to AES-GCM: both yield backend.ErrInvalidCiphertext (never
// ErrContextMismatch). A key pending deletion yields
// backend.ErrKeyPendingDeletion; a disabled key still decrypts.
func (b *Backend) Decrypt(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	const op = "Decrypt"
	if err := b.begin(ctx, op, ""); err != nil {
		return backend.DataKey{}, err
	}
	defer b.end()
	p, pt, err := b.unwrap(ctx, op, ciphertext, ec)
	if err != nil {
		return backend.DataKey{}, err
	}
	return backend.DataKey{KeyID: p.keyID, Plaintext: pt, Ciphertext: bytes.Clone(ciphertext)}, nil
}

// unwrap parses and opens ciphertext. Errors are *backend.Error for op.
func (b *Backend) unwrap(ctx context.Context, op string, ciphertext []byte, ec backend.EncryptionContext) (parsedCiphertext, []byte, error) {
	p, err := parseCiphertext(ciphertext)
	if err != nil {
		return p, nil, &backend.Error{Op: op, Err: err}
	}
	canon, err := canonicalContext(ec)
	if err != nil {
		return p, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: err}
	}
	e, err := b.entry(ctx, p.keyID)
	if err != nil {
		return p, nil, keyErr(op, p.keyID, err)
	}
	if p.version > len(e.aeads) {
		// Rotated by another Backend since we loaded it? Reload at once.
		if e, err = b.reload(ctx, p.keyID, e); err != nil {
			return p, nil, keyErr(op, p.keyID, err)
		}
		if p.version > len(e.aeads) {
			return p, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: fmt.Errorf("%w: unknown key version", backend.ErrInvalidCiphertext)}
		}
	}
	if e.md.State == backend.KeyStatePendingDeletion {
		return p, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: backend.ErrKeyPendingDeletion}
	}
	if e.aeads[p.version-1] == nil {
		return p, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: fmt.Errorf("%w: key version destroyed", backend.ErrInvalidCiphertext)}
	}
	var aadBuf [256]byte
	aad := dataKeyAAD(aadBuf[:0], p.header, canon)
	pt, err := e.aeads[p.version-1].Open(make([]byte, 0, backend.DataKeySize), p.nonce, p.sealed, aad)
	if err != nil {
		return p, nil, &backend.Error{Op: op, KeyID: p.keyID, Err: fmt.Errorf("%w: authentication failed (wrong encryption context, or damaged)", backend.ErrInvalidCiphertext)}
	}
	return p, pt, nil
}

// Rewrap moves a data-key ciphertext to its key's newest version, bound to
// the same ec: decrypt, then encrypt again; the plaintext never leaves the
// backend and is wiped. Like GenerateDataKey it is refused for a disabled
// key (backend.ErrKeyDisabled) and like Decrypt for a key pending deletion.
func (b *Backend) Rewrap(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) ([]byte, error) {
	const op = "Rewrap"
	if err := b.begin(ctx, op, ""); err != nil {
		return nil, err
	}
	defer b.end()
	p, pt, err := b.unwrap(ctx, op, ciphertext, ec)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	e, err := b.entry(ctx, p.keyID)
	if err != nil {
		return nil, keyErr(op, p.keyID, err)
	}
	if err := usable(e); err != nil {
		return nil, &backend.Error{Op: op, KeyID: p.keyID, Err: err}
	}
	canon, _ := canonicalContext(ec) // validated by unwrap
	return b.wrap(e, p.keyID, pt, canon), nil
}
