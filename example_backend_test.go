package kms_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend/memory"
)

// A backend written outside this module (here backend/memory, which passes
// backendtest.Run) runs under a Manager once registered with WithBackend;
// its own settings arrive in backend_options.
func ExampleWithBackend() {
	ctx := context.Background()
	m := kms.NewManager(
		kms.WithLogger(slog.New(slog.DiscardHandler)),
		kms.WithBackend("memory", func(ctx context.Context, cfg kms.Config) (kms.Backend, error) {
			return memory.Open(ctx, cfg.BackendOptions.Decode)
		}),
	)
	cfg := kms.Config{
		BackendType:    "memory",
		DefaultKeyID:   "app",
		BackendOptions: kms.BackendOptions(`{"keys": ["app"]}`),
	}
	if err := m.Configure(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer m.Stop(ctx)

	dk, err := m.GenerateDataKey(ctx, "", kms.EncryptionContext{"bucket": "b"})
	if err != nil {
		log.Fatal(err)
	}
	defer dk.Zero()
	again, err := m.Decrypt(ctx, dk.Ciphertext, kms.EncryptionContext{"bucket": "b"})
	if err != nil {
		log.Fatal(err)
	}
	st := m.Status(ctx)
	fmt.Println(st.State, st.BackendType, st.ConfigSummary.BackendSummary["backend_options"], again.KeyID)
	// Output: Running memory [REDACTED] app
}
