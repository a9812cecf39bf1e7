package backend

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// KeyState is the lifecycle state of a master key.
type KeyState string

// Key states.
const (
	KeyStateEnabled         KeyState = "Enabled"
	KeyStateDisabled        KeyState = "Disabled"
	KeyStatePendingDeletion KeyState = "PendingDeletion"
)

// Deletion windows accepted by ScheduleKeyDeletion, in days (as AWS KMS).
const (
	MinPendingDays = 7
	MaxPendingDays = 30
)

// KeySpec is the only data-key size this library issues: 32 bytes (AES-256).
const DataKeySize = 32

// CreateKeyRequest describes a master key to create.
type CreateKeyRequest struct {
	KeyID       string            // empty: a generated UUID
	Description string            // free text
	KeyUsage    string            // e.g. "ENCRYPT_DECRYPT"; empty means that
	Tags        map[string]string // free-form labels

	// RotationPeriod, when not 0, rotates the key automatically once its
	// current version is that old (MinRotationPeriod..MaxRotationPeriod).
	// How and when is the backend's to document.
	RotationPeriod time.Duration
}

// KeyMetadata describes a master key. It never holds key material.
type KeyMetadata struct {
	KeyID        string            `json:"key_id"`
	Description  string            `json:"description"`
	State        KeyState          `json:"state"`
	KeyUsage     string            `json:"key_usage"`
	CreationDate time.Time         `json:"creation_date"`
	DeletionDate *time.Time        `json:"deletion_date,omitempty"`
	Version      int               `json:"version"` // current (newest) key version, from 1
	Tags         map[string]string `json:"tags,omitempty"`

	// RotationPeriod is the key's automatic rotation period, 0 for none.
	RotationPeriod time.Duration `json:"rotation_period,omitempty"`
	// RotationDue reports that the current version should be rotated: it
	// is older than RotationPeriod, or has wrapped MaxDataKeysPerVersion
	// data keys (as far as the backend counts them).
	RotationDue bool `json:"rotation_due,omitempty"`
}

// ListKeysRequest pages through keys in ascending KeyID order.
type ListKeysRequest struct {
	Limit  int    // maximum keys to return; 0 means the backend default
	Marker string // return keys after this one (a previous NextMarker)
}

// ListKeysResult is one page of keys.
type ListKeysResult struct {
	Keys       []KeyMetadata
	Truncated  bool   // more keys follow
	NextMarker string // pass as Marker for the next page when Truncated

	// UnreadableKeyIDs are keys of this page the backend found but could
	// not describe (a damaged record, or one written by a newer format), in
	// ascending order. They count towards Limit and NextMarker moves past
	// them, so a damaged key never strands the keys after it. A failure
	// that concerns no particular key (the store is unreachable, access
	// denied) fails the listing instead.
	UnreadableKeyIDs []string
}

// DefaultListLimit is the page size used when ListKeysRequest.Limit is 0.
const DefaultListLimit = 100

// DataKey is a data key: its plaintext (32 bytes) and its ciphertext under a
// master key. Callers should call Zero as soon as Plaintext is no longer
// needed. Printing a DataKey with fmt never shows Plaintext.
type DataKey struct {
	KeyID      string
	Plaintext  []byte
	Ciphertext []byte
}

// Zero overwrites Plaintext with zeros.
func (k *DataKey) Zero() {
	clear(k.Plaintext)
}

// String describes k without its plaintext.
func (k DataKey) String() string {
	return fmt.Sprintf("DataKey{KeyID: %q, Plaintext: [REDACTED %d bytes], Ciphertext: %d bytes}", k.KeyID, len(k.Plaintext), len(k.Ciphertext))
}

// GoString is like String, so %#v doesn't reveal the plaintext either.
func (k DataKey) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %x, %s, ...)
// prints the redacted form.
func (k DataKey) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, k.String()) }

// EncryptionContext is a set of non-secret key/value pairs bound to a data key
// as authenticated data: a data key decrypts only with the context it was
// generated with. Typical entries name the bucket and object.
type EncryptionContext map[string]string

// Canonical returns the one byte form of ec that backends authenticate: a
// JSON object with keys in sorted order and no insignificant whitespace,
// byte-identical to encoding/json's Marshal of the map. A nil or empty
// context is "{}".
func (ec EncryptionContext) Canonical() []byte {
	if len(ec) == 0 {
		return []byte("{}")
	}
	// Fast path: when no key or value needs escaping, build the bytes
	// directly (this sits on every GenerateDataKey and Decrypt).
	keys := make([]string, 0, len(ec))
	n := 2
	for k, v := range ec {
		if !plainJSON(k) || !plainJSON(v) {
			return marshalCanonical(ec)
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':', '"')
		b = append(b, ec[k]...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// plainJSON reports whether s is printable ASCII that encoding/json writes
// verbatim inside a string (it escapes '"', '\\', '<', '>' and '&').
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func marshalCanonical(ec EncryptionContext) []byte {
	b, err := json.Marshal(map[string]string(ec)) // encoding/json sorts map keys
	if err != nil {
		panic("backend: internal error: marshal of map[string]string failed: " + err.Error())
	}
	return b
}

// Clone returns a copy of ec.
func (ec EncryptionContext) Clone() EncryptionContext {
	if ec == nil {
		return nil
	}
	c := make(EncryptionContext, len(ec))
	for k, v := range ec {
		c[k] = v
	}
	return c
}

// MarshalJSON marshals KeyID and Ciphertext only: Plaintext never leaves the
// process through encoding/json by accident. Encode it explicitly where a
// protocol requires it (as the admin API's generate-data-key does).
func (k DataKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		KeyID      string
		Ciphertext []byte
	}{k.KeyID, k.Ciphertext})
}
