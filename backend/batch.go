package backend

import (
	"context"
	"errors"
	"fmt"
)

// RewrapItem is one data-key ciphertext of a batch rewrap, with the
// encryption context it is bound to (and stays bound to).
type RewrapItem struct {
	Ciphertext []byte
	Context    EncryptionContext
}

// RewrapResult is the outcome of one RewrapItem: the ciphertext under its
// key's newest version, or the error Rewrap would have returned for it.
type RewrapResult struct {
	Ciphertext []byte
	Err        error
}

// MaxRewrapBatch is the most items a caller should pass to one RewrapBatch
// call; callers split longer lists. Implementations must accept it.
const MaxRewrapBatch = 250

// BatchRewrapper is optionally implemented by a Backend that can rewrap many
// data keys in fewer round trips than one Rewrap each (Vault transit's
// batch_input, for one).
//
// RewrapBatch returns exactly one result per item, in order; each item is
// rewrapped as Rewrap would rewrap it, and an item's failure (a damaged
// ciphertext, a context that does not match, an unknown or disabled key) is
// its own result's Err and does not fail the others. The error return is
// for what fails the whole call (a canceled context, an unreachable
// backend, a closed one, more than MaxRewrapBatch items); the results are
// then nil. Items may name different keys. An empty batch returns an empty
// result.
type BatchRewrapper interface {
	RewrapBatch(ctx context.Context, items []RewrapItem) ([]RewrapResult, error)
}

// CiphertextVersioner is optionally implemented by a Backend whose data-key
// ciphertexts name their master key and key version: it reports them
// without decrypting anything. A server uses it to inventory which key
// versions stored objects still need.
type CiphertextVersioner interface {
	CiphertextVersion(ciphertext []byte) (keyID string, version int, err error)
}

// ErrBatchTooLarge is wrapped by RewrapBatch's error for more than
// MaxRewrapBatch items.
var ErrBatchTooLarge = errors.New("backend: batch too large")

// CheckRewrapBatch returns an error wrapping ErrBatchTooLarge when items is
// longer than MaxRewrapBatch.
func CheckRewrapBatch(items []RewrapItem) error {
	if len(items) > MaxRewrapBatch {
		return fmt.Errorf("%w: %d items (at most %d)", ErrBatchTooLarge, len(items), MaxRewrapBatch)
	}
	return nil
}

// RewrapEach implements RewrapBatch with one Rewrap per item, for backends
// whose Rewrap has no batch form (each call is local and cheap) and for
// callers whose backend is not a BatchRewrapper. An item failing with a
// canceled context, ErrUnavailable or ErrClosed fails the whole call, as
// BatchRewrapper says.
func RewrapEach(ctx context.Context, b Backend, items []RewrapItem) ([]RewrapResult, error) {
	if err := CheckRewrapBatch(items); err != nil {
		return nil, err
	}
	out := make([]RewrapResult, len(items))
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ct, err := b.Rewrap(ctx, it.Ciphertext, it.Context)
		if err != nil && (errors.Is(err, ErrUnavailable) || errors.Is(err, ErrClosed) || ctx.Err() != nil) {
			return nil, err
		}
		out[i] = RewrapResult{Ciphertext: ct, Err: err}
	}
	return out, nil
}
