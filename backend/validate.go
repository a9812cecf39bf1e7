package backend

import (
	"fmt"
	"unicode/utf8"
)

// KeyUsageEncryptDecrypt is the only key usage: wrapping data keys. An empty
// CreateKeyRequest.KeyUsage means this.
const KeyUsageEncryptDecrypt = "ENCRYPT_DECRYPT"

// Limits on key metadata (as AWS KMS), enforced by Validate and ValidateTags.
const (
	MaxDescriptionLen = 8192
	MaxTags           = 50
	MaxTagKeyLen      = 128
	MaxTagValueLen    = 256
)

// Validate checks req's usage, description and tags (not its KeyID, which may
// be empty; see ValidateKeyID). Errors wrap ErrInvalidArgument.
func (req CreateKeyRequest) Validate() error {
	if req.KeyUsage != "" && req.KeyUsage != KeyUsageEncryptDecrypt {
		return fmt.Errorf("%w: key usage %q not supported (want %s)", ErrInvalidArgument, req.KeyUsage, KeyUsageEncryptDecrypt)
	}
	if len(req.Description) > MaxDescriptionLen || !utf8.ValidString(req.Description) {
		return fmt.Errorf("%w: description must be valid UTF-8 of at most %d bytes", ErrInvalidArgument, MaxDescriptionLen)
	}
	if err := ValidateRotationPeriod(req.RotationPeriod); err != nil {
		return err
	}
	return ValidateTags(req.Tags)
}

// ValidateTags checks a key's tags against MaxTags, MaxTagKeyLen and
// MaxTagValueLen and that they are valid UTF-8. Errors wrap ErrInvalidArgument.
func ValidateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: at most %d tags", ErrInvalidArgument, MaxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > MaxTagKeyLen || len(v) > MaxTagValueLen || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: tag keys must be 1..%d and values 0..%d bytes of valid UTF-8", ErrInvalidArgument, MaxTagKeyLen, MaxTagValueLen)
		}
	}
	return nil
}
