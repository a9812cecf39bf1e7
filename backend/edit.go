package backend

import (
	"context"
	"fmt"
	"maps"
	"unicode/utf8"
)

// KeyEditor is optionally implemented by a Backend that can change a key's
// description and tags after creation. Callers find it with a type
// assertion; the kms Manager answers ErrUnsupported for a backend without
// it.
//
// Each method returns the key's metadata after the change. The change is
// atomic per key: concurrent edits of the same key, from this or another
// instance sharing the key store, never lose each other's tags. Editing a
// key pending deletion fails with ErrKeyPendingDeletion; a Disabled key can
// be edited. Arguments are checked as in CreateKey (ValidateTags,
// MaxDescriptionLen) against the key's resulting tags, and an invalid one
// yields ErrInvalidArgument without changing anything.
type KeyEditor interface {
	// UpdateKeyDescription replaces the key's description ("" clears it).
	UpdateKeyDescription(ctx context.Context, keyID, description string) (KeyMetadata, error)
	// TagKey adds tags to the key or replaces the values of tags it has
	// (an empty value is a value, as in AWS KMS TagResource). Tags not
	// named are kept. An empty map is ErrInvalidArgument.
	TagKey(ctx context.Context, keyID string, tags map[string]string) (KeyMetadata, error)
	// UntagKey removes the named tags; names the key does not have are
	// ignored. An empty list, or an empty name, is ErrInvalidArgument.
	UntagKey(ctx context.Context, keyID string, tagKeys []string) (KeyMetadata, error)
}

// ValidateDescription checks a key description against MaxDescriptionLen
// and that it is valid UTF-8. Errors wrap ErrInvalidArgument.
func ValidateDescription(d string) error {
	if len(d) > MaxDescriptionLen || !utf8.ValidString(d) {
		return fmt.Errorf("%w: description must be valid UTF-8 of at most %d bytes", ErrInvalidArgument, MaxDescriptionLen)
	}
	return nil
}

// ValidateTagRequest checks the argument of KeyEditor.TagKey on its own:
// at least one tag, each valid (see ValidateTags).
func ValidateTagRequest(tags map[string]string) error {
	if len(tags) == 0 {
		return fmt.Errorf("%w: no tags given", ErrInvalidArgument)
	}
	return ValidateTags(tags)
}

// ValidateUntagRequest checks the argument of KeyEditor.UntagKey: at least
// one name, none empty or longer than MaxTagKeyLen.
func ValidateUntagRequest(tagKeys []string) error {
	if len(tagKeys) == 0 {
		return fmt.Errorf("%w: no tag keys given", ErrInvalidArgument)
	}
	for _, k := range tagKeys {
		if k == "" || len(k) > MaxTagKeyLen || !utf8.ValidString(k) {
			return fmt.Errorf("%w: tag keys must be 1..%d bytes of valid UTF-8", ErrInvalidArgument, MaxTagKeyLen)
		}
	}
	return nil
}

// MergeTags returns cur with tags added or replaced, as TagKey defines it,
// in a new map (cur is not modified), checked with ValidateTags: a result
// above MaxTags is ErrInvalidArgument.
func MergeTags(cur, tags map[string]string) (map[string]string, error) {
	if err := ValidateTagRequest(tags); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cur)+len(tags))
	maps.Copy(out, cur)
	maps.Copy(out, tags)
	if err := ValidateTags(out); err != nil {
		return nil, err
	}
	return out, nil
}

// RemoveTags returns cur without the named tags, as UntagKey defines it, in
// a new map (nil when no tag is left), and whether anything was removed.
func RemoveTags(cur map[string]string, tagKeys []string) (map[string]string, bool, error) {
	if err := ValidateUntagRequest(tagKeys); err != nil {
		return nil, false, err
	}
	out := maps.Clone(cur)
	n := len(out)
	for _, k := range tagKeys {
		delete(out, k)
	}
	removed := len(out) != n
	if len(out) == 0 {
		out = nil
	}
	return out, removed, nil
}
