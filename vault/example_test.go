package vault_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/vault"
)

// Wrap and unwrap a data key with a transit key. Needs a Vault server, e.g.
// `vault server -dev -dev-root-token-id=root` with `vault secrets enable
// transit`, so it is compiled but not run by go test.
func ExampleNew() {
	ctx := context.Background()
	b, err := vault.New(ctx, vault.Config{
		Address: "http://127.0.0.1:8200",
		Token:   "root", // or TokenFile, or AppRole: &vault.AppRole{RoleID: ..., SecretIDFile: ...}
		Timeout: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "photos"}); err != nil {
		log.Fatal(err)
	}
	ec := backend.EncryptionContext{"bucket": "photos", "object": "cat.jpg"}
	dk, err := b.GenerateDataKey(ctx, "photos", ec)
	if err != nil {
		log.Fatal(err)
	}
	defer dk.Zero()
	// Store dk.Ciphertext next to the data; encrypt with dk.Plaintext.

	again, err := b.Decrypt(ctx, dk.Ciphertext, ec) // only with the same context
	if err != nil {
		log.Fatal(err)
	}
	defer again.Zero()
	fmt.Println(again.KeyID)
}

// Purge is the only call that destroys key material, and only for keys whose
// scheduled deletion date has passed. Run it from an operator job.
func ExampleBackend_Purge() {
	ctx := context.Background()
	b, err := vault.New(ctx, vault.Config{Address: "http://127.0.0.1:8200", TokenFile: "/run/secrets/vault-admin-token"})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	purged, err := b.Purge(ctx)
	for _, id := range purged {
		log.Printf("destroyed master key %s", id)
	}
	if err != nil {
		log.Printf("some keys could not be purged (will be retried next run): %v", err)
	}
}
