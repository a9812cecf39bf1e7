// Command quickstart shows the library end to end with no setup: it creates a
// temporary key directory, runs a kms.Manager on the local backend with a
// freshly generated master key, creates a master key, encrypts a file (the
// first argument) or 4 MiB of generated data into an envelope file, decrypts
// it, verifies the result, shows that a wrong encryption context and a
// flipped byte are rejected, and removes everything it created.
//
//	go run ./examples/quickstart [file]
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/envkms/kms"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: quickstart [file]\n\nEncrypts file (default: 4 MiB of generated data) into a temporary envelope, decrypts and verifies it.\n")
	}
	flag.Parse()
	if err := run(context.Background(), flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, input string) error {
	work, err := os.MkdirTemp("", "envkms-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	say("working in %s (removed at the end)", work)

	// 1. A master secret. In production: master_key_file pointing at a
	// secret mounted by your orchestrator, or the vault backend.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	cfg := kms.DefaultConfig()
	cfg.BackendType = kms.BackendLocal
	cfg.KeyDir = filepath.Join(work, "keys")
	cfg.MasterKey = kms.Secret(base64.StdEncoding.EncodeToString(secret))
	clear(secret)
	cfg.DefaultKeyID = "quickstart"

	// 2. Configure (validates) and Start (creates and unlocks the key dir).
	m := kms.NewManager(kms.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err := m.Configure(ctx, cfg); err != nil {
		return err
	}
	start := time.Now()
	if err := m.Start(ctx); err != nil {
		return err
	}
	defer m.Stop(ctx)
	say("local backend running on %s (Argon2id unlock and health probe took %v)", cfg.KeyDir, time.Since(start).Round(time.Millisecond))

	md, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: "quickstart", Description: "quickstart master key"})
	if err != nil {
		return err
	}
	say("created master key %q (state %s, version %d)", md.KeyID, md.State, md.Version)

	// 3. The input: a file or generated data.
	plain, name, err := readInput(input)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(plain)
	ec := kms.EncryptionContext{"file": name}
	say("encrypting %s (%d bytes, SHA-256 %x...) with encryption context %s", name, len(plain), sum[:8], ec.Canonical())

	// 4. Encrypt into an envelope file.
	envPath := filepath.Join(work, "data.envelope")
	if err := encryptFile(ctx, m, envPath, plain, ec); err != nil {
		return err
	}
	fi, err := os.Stat(envPath)
	if err != nil {
		return err
	}
	say("wrote envelope %s: %d bytes (header with key id + wrapped data key + context digest, then the AES-256-GCM stream)", filepath.Base(envPath), fi.Size())

	// 5. Decrypt and verify.
	got, err := decryptFile(ctx, m, envPath, ec)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, plain) {
		return errors.New("decrypted data differs from the input")
	}
	say("decrypted %d bytes; SHA-256 matches the input", len(got))

	// 6. What is rejected.
	if _, err := decryptFile(ctx, m, envPath, kms.EncryptionContext{"file": "something else"}); err == nil {
		return errors.New("a wrong encryption context was accepted")
	} else {
		say("wrong encryption context rejected: %v", err)
	}
	env, err := os.ReadFile(envPath)
	if err != nil {
		return err
	}
	env[len(env)/2] ^= 0x01
	if err := os.WriteFile(envPath, env, 0o600); err != nil {
		return err
	}
	if _, err := decryptFile(ctx, m, envPath, ec); err == nil {
		return errors.New("a tampered envelope was accepted")
	} else {
		say("flipped bit rejected: %v", err)
	}

	st := m.Stats()
	say("stats: %d data keys generated, %d unwrapped (cache hit ratio %.2f)", st.Operations["GenerateDataKey"], st.Operations["Decrypt"], st.CacheHitRatio)
	say("done")
	return nil
}

func readInput(path string) (data []byte, name string, err error) {
	if path != "" {
		data, err = os.ReadFile(path)
		return data, filepath.Base(path), err
	}
	data = make([]byte, 4<<20)
	_, _ = rand.Read(data)
	return data, "generated-4MiB", nil
}

func encryptFile(ctx context.Context, m *kms.Manager, path string, plain []byte, ec kms.EncryptionContext) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w, err := kms.NewEncryptWriter(ctx, m, f, "", ec) // "" = default_key_id
	if err != nil {
		f.Close()
		return err
	}
	if _, err := w.Write(plain); err != nil {
		f.Close()
		return err
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func decryptFile(ctx context.Context, m *kms.Manager, path string, ec kms.EncryptionContext) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := kms.NewDecryptReader(ctx, m, f, ec)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func say(format string, args ...any) {
	fmt.Printf("quickstart: "+format+"\n", args...)
}
