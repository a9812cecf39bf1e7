package local

import (
	"context"

	"github.com/envkms/kms/backend"
)

// RewrapBatch rewraps each item as Rewrap does (it implements
// backend.BatchRewrapper): a local rewrap is no round trip, so a batch is a
// loop, offered so callers need no special case.
func (b *Backend) RewrapBatch(ctx context.Context, items []backend.RewrapItem) ([]backend.RewrapResult, error) {
	return backend.RewrapEach(ctx, b, items)
}

var (
	_ backend.BatchRewrapper      = (*Backend)(nil)
	_ backend.CiphertextVersioner = (*Backend)(nil)
)
