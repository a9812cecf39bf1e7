package sse

import "github.com/envkms/kms/stream"

// EncryptedSize returns the number of bytes EncryptObject or EncryptPart
// write to dst for a plaintext of n bytes, given the metadata they returned
// (for a part: the upload's metadata).
func EncryptedSize(meta map[string]string, n int64) (int64, error) {
	if n < 0 {
		return 0, errInvalidArgument("negative size")
	}
	m, err := decodeMeta(meta)
	if err != nil {
		return 0, err
	}
	if m == nil {
		return n, nil
	}
	c, err := stream.EncryptedSize(n, m.segmentSize)
	if err != nil || n > maxObjectSize {
		return 0, errInvalidArgument("size too large")
	}
	return c, nil
}

// DecryptedSize returns the plaintext size of a stored object (or of one
// stored part, given the upload's metadata) of storedSize bytes: what
// Content-Length and listings show. A size that no encryption produces is an
// *Error wrapping ErrTampered.
func DecryptedSize(meta map[string]string, storedSize int64) (int64, error) {
	m, err := decodeMeta(meta)
	if err != nil {
		return 0, err
	}
	if m == nil {
		return storedSize, nil
	}
	if m.parts == nil {
		n, err := stream.DecryptedSize(storedSize, m.segmentSize)
		if err != nil {
			return 0, errTampered(err)
		}
		return n, nil
	}
	var plain, stored int64
	for _, p := range m.parts {
		plain += p.Size
		c, err := stream.EncryptedSize(p.Size, m.segmentSize)
		if err != nil {
			return 0, errCorrupt("part too large for the segment size")
		}
		stored += c
	}
	if stored != storedSize {
		return 0, errTampered(errSizeMismatch)
	}
	return plain, nil
}
