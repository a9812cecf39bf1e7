package local

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/envkms/kms/backend"
)

// A data-key ciphertext is self-describing, so Decrypt needs nothing else:
//
//	magic   1 byte   0x4c ('L')
//	format  1 byte   0x01
//	idLen   1 byte   1..backend.MaxKeyIDLen
//	keyID   idLen bytes, a valid key id
//	version 4 bytes  big-endian key version, >= 1
//	nonce   12 bytes
//	sealed  48 bytes AES-256-GCM(data key) || tag
//
// Everything before the nonce is the header; it is authenticated as part of
// the associated data (see dataKeyAAD), so no field can be changed.
const (
	ctMagic       = 0x4c
	ctFormat      = 0x01
	ctFixedHdr    = 3 + 4
	ctBody        = nonceSize + keySize + tagSize
	minCiphertext = ctFixedHdr + 1 + ctBody
	maxCiphertext = ctFixedHdr + backend.MaxKeyIDLen + ctBody
)

// parsedCiphertext is a ciphertext split into its fields (slices alias it).
type parsedCiphertext struct {
	keyID   string
	version int
	header  []byte // magic .. version
	nonce   []byte
	sealed  []byte
}

var (
	errCTLength  = errors.New("bad length")
	errCTMagic   = errors.New("not a local backend ciphertext")
	errCTFormat  = errors.New("unsupported ciphertext format")
	errCTKeyID   = errors.New("bad key id")
	errCTVersion = errors.New("bad key version")
)

// parseCiphertext validates the structure of ct. It never panics and its
// errors wrap backend.ErrInvalidCiphertext.
func parseCiphertext(ct []byte) (parsedCiphertext, error) {
	bad := func(err error) (parsedCiphertext, error) {
		return parsedCiphertext{}, fmt.Errorf("%w: %w", backend.ErrInvalidCiphertext, err)
	}
	if len(ct) < minCiphertext || len(ct) > maxCiphertext {
		return bad(errCTLength)
	}
	if ct[0] != ctMagic {
		return bad(errCTMagic)
	}
	if ct[1] != ctFormat {
		return bad(errCTFormat)
	}
	n := int(ct[2])
	if len(ct) != ctFixedHdr+n+ctBody {
		return bad(errCTLength)
	}
	id := string(ct[3 : 3+n])
	if backend.ValidateKeyID(id) != nil {
		return bad(errCTKeyID)
	}
	v := binary.BigEndian.Uint32(ct[3+n:])
	if v == 0 || v > maxVersions {
		return bad(errCTVersion)
	}
	h := ctFixedHdr + n
	return parsedCiphertext{
		keyID:   id,
		version: int(v),
		header:  ct[:h],
		nonce:   ct[h : h+nonceSize],
		sealed:  ct[h+nonceSize:],
	}, nil
}

// appendHeader appends the ciphertext header for keyID at version.
func appendHeader(dst []byte, keyID string, version int) []byte {
	dst = append(dst, ctMagic, ctFormat, byte(len(keyID)))
	dst = append(dst, keyID...)
	return binary.BigEndian.AppendUint32(dst, uint32(version))
}

// dataKeyAAD is the associated data of a wrapped data key: a domain label,
// the ciphertext header (key id and version, length-prefixed by its format)
// and the length-prefixed canonical encryption context.
func dataKeyAAD(dst, header, canonicalEC []byte) []byte {
	dst = append(dst, labelDataKey...)
	dst = append(dst, header...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(canonicalEC)))
	return append(dst, canonicalEC...)
}

// CiphertextVersion returns the key id and key version a data-key ciphertext
// names, without decrypting it (it implements backendtest.VersionInspector).
// Errors wrap backend.ErrInvalidCiphertext.
func (b *Backend) CiphertextVersion(ciphertext []byte) (keyID string, version int, err error) {
	p, err := parseCiphertext(ciphertext)
	if err != nil {
		return "", 0, err
	}
	return p.keyID, p.version, nil
}
