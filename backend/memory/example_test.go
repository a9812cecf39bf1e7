package memory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strings"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/memory"
)

func Example() {
	ctx := context.Background()
	b, err := memory.New()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close() // zeroes the keys: nothing wrapped by b decrypts afterwards

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
	fmt.Println(dk) // never shows the plaintext

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

	// Rotation: new data keys use version 2, old ones keep decrypting, and
	// Rewrap moves an old one to the newest version.
	if _, err := b.RotateKey(ctx, "photos"); err != nil {
		log.Fatal(err)
	}
	re, err := b.Rewrap(ctx, dk.Ciphertext, ec)
	if err != nil {
		log.Fatal(err)
	}
	_, v, _ := b.CiphertextVersion(re)
	fmt.Println("rewrapped to version", v)
	// Output:
	// DataKey{KeyID: "photos", Plaintext: [REDACTED 32 bytes], Ciphertext: 72 bytes}
	// photos true
	// Decrypt "photos": invalid ciphertext: authentication failed (wrong encryption context, or damaged)
	// rewrapped to version 2
}

// Open decodes backend_options; in a kms.WithBackend factory pass
// cfg.BackendOptions.Decode. Here a JSON decoder stands in for it.
func ExampleOpen() {
	dec := json.NewDecoder(strings.NewReader(`{"keys": ["app", "logs"]}`))
	dec.DisallowUnknownFields()
	b, err := memory.Open(context.Background(), dec.Decode)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	res, err := b.ListKeys(context.Background(), backend.ListKeysRequest{})
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range res.Keys {
		fmt.Println(k.KeyID, k.State, k.Version)
	}
	// Output:
	// app Enabled 1
	// logs Enabled 1
}
