package local

import (
	"testing"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/backendtest"
)

func TestConformance(t *testing.T) {
	t.Run("sealed", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend { return newTestBackend(t) })
	})
	t.Run("insecure", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backend.Backend {
			return openTest(t, Config{Dir: t.TempDir(), InsecurePlaintext: true})
		})
	})
	t.Run("shared-dir", func(t *testing.T) {
		// Every subtest gets its own Backend on one directory.
		dir := t.TempDir()
		backendtest.Run(t, func(t *testing.T) backend.Backend { return openTest(t, testConfig(dir)) })
	})
}
