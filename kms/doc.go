// Package kms is the entry point of the library: a Manager that owns a
// master-key backend (local key directory or HashiCorp Vault transit), a
// data-key cache and its lifecycle (configure, start, stop, hot-swap, status),
// and self-describing envelope files (NewEncryptWriter / NewDecryptReader).
package kms
