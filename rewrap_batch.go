package kms

import (
	"context"
	"errors"
	"fmt"

	"github.com/envkms/kms/backend"
)

// Batch rewrap types (aliases of package backend's).
type (
	RewrapItem   = backend.RewrapItem
	RewrapResult = backend.RewrapResult
)

// ErrNoCiphertextVersion is returned by CiphertextVersion when the backend
// cannot tell a ciphertext's key version without decrypting it.
var ErrNoCiphertextVersion = errors.New("kms: the backend does not report ciphertext versions")

// RewrapBatch rewraps many data-key ciphertexts to their master keys'
// newest versions, each bound to its own context, without returning
// plaintexts: one result per item, in order, a failing item's error in its
// result (see backend.BatchRewrapper). The items are sent in chunks of
// backend.MaxRewrapBatch, each in one backend.BatchRewrapper call when the
// backend implements it (Vault: transit batch_input), else one Rewrap per
// item. The error return is for a chunk failing as a whole (the backend
// unreachable, ctx done); results are then nil. Each chunk counts as one
// Rewrap in Stats and metrics and is retried as Rewrap is.
func (m *Manager) RewrapBatch(ctx context.Context, items []RewrapItem) ([]RewrapResult, error) {
	out := make([]RewrapResult, 0, len(items))
	for len(items) > 0 {
		n := min(len(items), backend.MaxRewrapBatch)
		chunk := items[:n]
		items = items[n:]
		res, err := run(m, opRewrap, "", func(rt *runtime) ([]RewrapResult, error) {
			return invoke(ctx, m, rt, opRewrap, "", func(ctx context.Context, b backend.Backend) ([]RewrapResult, error) {
				if br, ok := b.(backend.BatchRewrapper); ok {
					return br.RewrapBatch(ctx, chunk)
				}
				return backend.RewrapEach(ctx, b, chunk)
			})
		})
		if err != nil {
			return nil, err
		}
		if len(res) != len(chunk) {
			return nil, fmt.Errorf("kms: Rewrap: the backend answered %d results for %d items: %w", len(res), len(chunk), backend.ErrUnavailable)
		}
		out = append(out, res...)
	}
	return out, nil
}

// CiphertextVersion returns the master key id and key version a data-key
// ciphertext names, without decrypting it or calling out, when the running
// backend can tell (local, vault and memory can: backend.CiphertextVersioner);
// otherwise an error wrapping ErrNoCiphertextVersion. A storage server uses
// it to inventory which key versions its objects still need.
func (m *Manager) CiphertextVersion(ciphertext []byte) (keyID string, version int, err error) {
	rt, err := m.acquire()
	if err != nil {
		return "", 0, err
	}
	defer rt.release()
	cv, ok := rt.be.Backend.(backend.CiphertextVersioner)
	if !ok {
		return "", 0, ErrNoCiphertextVersion
	}
	return cv.CiphertextVersion(ciphertext)
}
