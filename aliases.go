package kms

import "github.com/envkms/kms/backend"

// Types of package backend, re-exported so most users import only kms.
type (
	Backend           = backend.Backend
	CreateKeyRequest  = backend.CreateKeyRequest
	KeyMetadata       = backend.KeyMetadata
	KeyState          = backend.KeyState
	DataKey           = backend.DataKey
	EncryptionContext = backend.EncryptionContext
	ListKeysRequest   = backend.ListKeysRequest
	ListKeysResult    = backend.ListKeysResult
)

// Key states, re-exported from package backend.
const (
	KeyStateEnabled         = backend.KeyStateEnabled
	KeyStateDisabled        = backend.KeyStateDisabled
	KeyStatePendingDeletion = backend.KeyStatePendingDeletion
)
