package kms_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/envkms/kms"
)

// startExampleManager returns a running Manager on a fresh local key
// directory with master key "default", and a cleanup function.
func startExampleManager() (*kms.Manager, func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kms-example-")
	if err != nil {
		log.Fatal(err)
	}
	cfg := kms.DefaultConfig()
	cfg.BackendType = kms.BackendLocal
	cfg.KeyDir = filepath.Join(dir, "keys")
	cfg.MasterKey = "example only: use master_key_file with 32+ random bytes"
	cfg.DefaultKeyID = "default"
	m := kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler)))
	if err := m.Configure(ctx, cfg); err != nil {
		log.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: "default"}); err != nil {
		log.Fatal(err)
	}
	return m, func() {
		_ = m.Stop(ctx)
		_ = os.RemoveAll(dir)
	}
}

// A Manager on a local key directory: configure, start, create a master key,
// inspect, stop.
func ExampleManager() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kms-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg := kms.DefaultConfig() // cache on, 30 s timeout, 3 retries
	cfg.BackendType = kms.BackendLocal
	cfg.KeyDir = filepath.Join(dir, "keys") // created on first Start
	cfg.MasterKey = "example only: use master_key_file with 32+ random bytes"
	cfg.DefaultKeyID = "default"

	m := kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler)))
	if err := m.Configure(ctx, cfg); err != nil { // validates, starts nothing
		log.Fatal(err)
	}
	if err := m.Start(ctx); err != nil { // unlocks the key directory
		log.Fatal(err)
	}
	md, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: "default", Description: "SSE default key"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", md.KeyID, md.State, "version", md.Version)

	st := m.Status(ctx)
	fmt.Println(st.State, "healthy:", st.Healthy, "master_key:", st.ConfigSummary.BackendSummary["master_key"])

	if err := m.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = m.DescribeKey(ctx, "default")
	fmt.Println(m.Status(ctx).State, errors.Is(err, kms.ErrNotRunning))
	// Output:
	// created default Enabled version 1
	// Running healthy: true master_key: [REDACTED]
	// Configured true
}

// A data key per object, bound to the object's name by the encryption
// context; store the ciphertext with the object and unwrap it to read.
func ExampleManager_GenerateDataKey() {
	m, cleanup := startExampleManager()
	defer cleanup()
	ctx := context.Background()
	ec := kms.EncryptionContext{"bucket": "photos", "object": "cat.jpg"}

	dk, err := m.GenerateDataKey(ctx, "", ec) // "" = default_key_id
	if err != nil {
		log.Fatal(err)
	}
	defer dk.Zero()
	fmt.Println(dk.KeyID, len(dk.Plaintext), "byte key")
	fmt.Println(strings.Contains(fmt.Sprint(dk), "Plaintext: [REDACTED 32 bytes]")) // printing never shows it

	got, err := m.Decrypt(ctx, dk.Ciphertext, ec)
	if err != nil {
		log.Fatal(err)
	}
	defer got.Zero()
	fmt.Println("same key:", bytes.Equal(got.Plaintext, dk.Plaintext))

	_, err = m.Decrypt(ctx, dk.Ciphertext, kms.EncryptionContext{"bucket": "photos", "object": "dog.jpg"})
	fmt.Println("other object:", errors.Is(err, kms.ErrContextMismatch) || errors.Is(err, kms.ErrInvalidCiphertext))
	// Output:
	// default 32 byte key
	// true
	// same key: true
	// other object: true
}

// An envelope file: a header naming the key and carrying the wrapped data
// key, then the encrypted stream. Decrypting needs only the Manager and the
// same context.
func ExampleNewEncryptWriter() {
	m, cleanup := startExampleManager()
	defer cleanup()
	ctx := context.Background()
	ec := kms.EncryptionContext{"backup": "2024-06-01"}

	var envelope bytes.Buffer
	w, err := kms.NewEncryptWriter(ctx, m, &envelope, "default", ec)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.WriteString(w, "hello, envelope"); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // finishes the stream
		log.Fatal(err)
	}

	r, err := kms.NewDecryptReader(ctx, m, bytes.NewReader(envelope.Bytes()), ec)
	if err != nil {
		log.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", plain)

	_, err = kms.NewDecryptReader(ctx, m, bytes.NewReader(envelope.Bytes()), kms.EncryptionContext{"backup": "other"})
	fmt.Println("wrong context:", errors.Is(err, kms.ErrContextMismatch))
	// Output:
	// hello, envelope
	// wrong context: true
}
