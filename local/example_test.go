package local_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/local"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "keys")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The master key comes from configuration (master_key); use 32+ random bytes.
	b, err := local.New(ctx, local.Config{Dir: dir, MasterKey: []byte("example master key: use 32+ random bytes")})
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
	// Encrypt the object with dk.Plaintext, store dk.Ciphertext beside it.

	// Later: unwrap with the same context.
	again, err := b.Decrypt(ctx, dk.Ciphertext, ec)
	if err != nil {
		log.Fatal(err)
	}
	defer again.Zero()
	fmt.Println(again.KeyID, bytes.Equal(again.Plaintext, dk.Plaintext))

	// A different context does not decrypt.
	_, err = b.Decrypt(ctx, dk.Ciphertext, backend.EncryptionContext{"bucket": "photos"})
	fmt.Println(err)
	// Output:
	// photos true
	// Decrypt "photos": invalid ciphertext: authentication failed (wrong encryption context, or damaged)
}

func ExampleBackend_Purge() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	b, err := local.New(ctx, local.Config{Dir: dir, MasterKey: []byte("example master key: use 32+ random bytes")})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if _, err := b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "old"}); err != nil {
		log.Fatal(err)
	}
	md, _ := b.ScheduleKeyDeletion(ctx, "old", 7)
	fmt.Println(md.State)

	// Run by an operator (e.g. daily): destroys keys whose date has passed.
	purged, err := b.Purge(ctx)
	fmt.Println(purged, err) // nothing yet: the window has 7 days to run
	// Output:
	// PendingDeletion
	// [] <nil>
}
