// Package backend defines the contract every master-key backend implements:
// the [Backend] interface, the request and metadata types it exchanges, and the
// sentinel errors callers match with [errors.Is].
//
// Backends hold master keys and never release them. They generate data keys
// (32 random bytes) wrapped under a master key and bound to an
// [EncryptionContext], and unwrap them again given the same context.
//
// Implementations in this module: package local (a key directory) and package
// vault (HashiCorp Vault transit). Any Backend, including a user's own, can
// prove conformance with backend/backendtest.Run.
package backend
