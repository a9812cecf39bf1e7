package memory

import (
	"context"

	"github.com/envkms/kms/backend"
)

// RewrapBatch rewraps each item as Rewrap does (it implements
// backend.BatchRewrapper) in a loop.
func (b *Backend) RewrapBatch(ctx context.Context, items []backend.RewrapItem) ([]backend.RewrapResult, error) {
	return backend.RewrapEach(ctx, b, items)
}

var (
	_ backend.BatchRewrapper      = (*Backend)(nil)
	_ backend.CiphertextVersioner = (*Backend)(nil)
)
