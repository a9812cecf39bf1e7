package backend

import (
	"context"
)

// Backend holds master keys and wraps/unwraps data keys under them.
//
// Every method may block on I/O and honours ctx. Implementations must be safe
// for concurrent use. Errors wrap the sentinels of this package (ErrKeyNotFound,
// ErrUnavailable, ...) so callers can use errors.Is. No error, log line or
// String output of an implementation may contain key material or credentials.
type Backend interface {
	// CreateKey creates a master key. An empty req.KeyID gets a generated UUID.
	// An existing id yields ErrKeyExists.
	CreateKey(ctx context.Context, req CreateKeyRequest) (KeyMetadata, error)
	// DescribeKey returns a key's metadata or ErrKeyNotFound.
	DescribeKey(ctx context.Context, keyID string) (KeyMetadata, error)
	// ListKeys returns keys in ascending KeyID order, at most req.Limit of
	// them (0 means a backend default), starting after req.Marker. Keys it
	// finds but cannot describe are reported in UnreadableKeyIDs, not
	// dropped. A backend may also implement KeyEditor.
	ListKeys(ctx context.Context, req ListKeysRequest) (ListKeysResult, error)
	// EnableKey re-enables a disabled key (including one whose deletion
	// was cancelled).
	EnableKey(ctx context.Context, keyID string) error
	// DisableKey disables a key: GenerateDataKey is refused with
	// ErrKeyDisabled, Decrypt keeps working.
	//
	// A state change (this one, EnableKey, ScheduleKeyDeletion,
	// CancelKeyDeletion) applies at once to calls on the same Backend value.
	// Other instances sharing the key store (replicas, other processes) may
	// see it after a bounded propagation delay, which an implementation with
	// one documents (the vault backend: up to one second).
	DisableKey(ctx context.Context, keyID string) error
	// ScheduleKeyDeletion marks a key PendingDeletion (GenerateDataKey,
	// Decrypt and Rewrap then fail with ErrKeyPendingDeletion, as in AWS KMS,
	// so that dependants surface during the window) with a deletion date
	// pendingDays (MinPendingDays..MaxPendingDays) from now; outside that
	// window it returns ErrInvalidArgument. The key material is destroyed only
	// after the window, by an explicit purge the implementation documents.
	ScheduleKeyDeletion(ctx context.Context, keyID string, pendingDays int) (KeyMetadata, error)
	// CancelKeyDeletion returns a PendingDeletion key to Disabled and
	// clears its DeletionDate. As in AWS KMS the key does not come back
	// Enabled: Decrypt works again at once, but GenerateDataKey and Rewrap
	// need an explicit EnableKey, so an operator re-enables a key on
	// purpose.
	CancelKeyDeletion(ctx context.Context, keyID string) (KeyMetadata, error)
	// RotateKey creates a new key version used for new data keys; ciphertexts
	// under older versions keep decrypting.
	RotateKey(ctx context.Context, keyID string) (KeyMetadata, error)
	// GenerateDataKey returns 32 fresh random bytes and their ciphertext under
	// the key's current version, bound to ec.
	GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext) (DataKey, error)
	// Decrypt unwraps a ciphertext produced by GenerateDataKey (or Rewrap).
	// The ciphertext names its key; ec must equal the context it was made
	// with, or the result is ErrContextMismatch or ErrInvalidCiphertext.
	Decrypt(ctx context.Context, ciphertext []byte, ec EncryptionContext) (DataKey, error)
	// Rewrap moves a data-key ciphertext to its key's newest version, bound
	// to the same ec, without returning the plaintext to the caller.
	Rewrap(ctx context.Context, ciphertext []byte, ec EncryptionContext) ([]byte, error)
	// Health reports whether the backend can serve requests (nil) or why not.
	Health(ctx context.Context) error
	// Close releases resources. Calls after Close fail.
	Close() error
}
