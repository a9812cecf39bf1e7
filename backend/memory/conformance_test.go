package memory_test

import (
	"testing"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/backendtest"
	"github.com/envkms/kms/backend/memory"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := memory.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}
