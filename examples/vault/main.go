// Command vault encrypts a file into an envelope with master keys in
// HashiCorp Vault's transit engine, decrypts it again and checks the round
// trip.
//
// It reads VAULT_ADDR and VAULT_TOKEN, configures a kms.Manager with
// backend_type "vault", creates the master key if it does not exist yet, and
// writes <file>.envkms (the envelope) and <file>.decrypted.
//
// Against a dev server:
//
//	vault server -dev -dev-root-token-id=root &
//	export VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root
//	vault secrets enable transit      # KV v2 is already at secret/ in dev mode
//	go run ./examples/vault -key demo README.md
//
// Without a file argument it encrypts a generated 3 MiB sample.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vault example:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("vault", flag.ContinueOnError)
	keyID := fs.String("key", "envkms-example", "master key id (a transit key; created if missing)")
	outDir := fs.String("out", "", "directory for the output files (default: next to the input, or a temp dir)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addr, token := os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN")
	if addr == "" || token == "" {
		return errors.New("set VAULT_ADDR and VAULT_TOKEN (see the package comment)")
	}
	in, cleanup, err := input(fs.Arg(0))
	if err != nil {
		return err
	}
	defer cleanup()
	dir := *outDir
	if dir == "" {
		dir = filepath.Dir(in)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	m := kms.NewManager(kms.WithLogger(log))
	cfg := kms.DefaultConfig() // cache on, 30s timeout, 3 retries
	cfg.BackendType = kms.BackendVault
	cfg.Address = addr
	cfg.AuthMethod = &kms.AuthMethod{Token: kms.Secret(token)}
	cfg.DefaultKeyID = *keyID
	if err := m.Configure(ctx, cfg); err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("start (is Vault up, unsealed, transit enabled?): %w", err)
	}
	defer func() { _ = m.Stop(context.Background()) }()
	// The status is safe to print: secrets are redacted.
	fmt.Printf("kms: %s, backend %s, healthy %v\n", m.Status(ctx).State, m.Status(ctx).BackendType, m.Status(ctx).Healthy)

	md, err := m.DescribeKey(ctx, *keyID)
	if errors.Is(err, kms.ErrKeyNotFound) {
		md, err = m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: *keyID, Description: "envkms vault example"})
		if err == nil {
			fmt.Printf("created master key %q\n", md.KeyID)
		}
	}
	if err != nil {
		return err
	}
	fmt.Printf("master key %q: %s, version %d\n", md.KeyID, md.State, md.Version)

	// The encryption context binds the envelope to this file's name.
	ec := kms.EncryptionContext{"file": filepath.Base(in)}
	encPath := filepath.Join(dir, filepath.Base(in)+".envkms")
	decPath := filepath.Join(dir, filepath.Base(in)+".decrypted")

	sumIn, n, err := encryptFile(ctx, m, in, encPath, *keyID, ec)
	if err != nil {
		return err
	}
	fmt.Printf("encrypted %d bytes -> %s\n", n, encPath)

	sumOut, n, err := decryptFile(ctx, m, encPath, decPath, ec)
	if err != nil {
		return err
	}
	fmt.Printf("decrypted %d bytes -> %s\n", n, decPath)
	if !bytes.Equal(sumIn, sumOut) {
		return errors.New("round trip FAILED: decrypted data differs")
	}
	fmt.Println("round trip OK (SHA-256 matches)")

	// The wrong context is refused before any plaintext is produced.
	f, err := os.Open(encPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := kms.NewDecryptReader(ctx, m, f, kms.EncryptionContext{"file": "another"}); err == nil {
		return errors.New("decrypting with the wrong context succeeded")
	}
	fmt.Println("wrong encryption context refused")
	return nil
}

// input returns the file to encrypt: path, or a generated sample.
func input(path string) (string, func(), error) {
	if path != "" {
		return path, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "envkms-vault-example-")
	if err != nil {
		return "", nil, err
	}
	sample := filepath.Join(dir, "sample.bin")
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(sample, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	fmt.Printf("no file given; using a generated sample in %s (removed on exit)\n", dir)
	return sample, func() { os.RemoveAll(dir) }, nil
}

func encryptFile(ctx context.Context, m *kms.Manager, in, out, keyID string, ec kms.EncryptionContext) ([]byte, int64, error) {
	src, err := os.Open(in)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	dst, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer dst.Close()
	w, err := kms.NewEncryptWriter(ctx, m, dst, keyID, ec)
	if err != nil {
		return nil, 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), src)
	if err != nil {
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return h.Sum(nil), n, dst.Close()
}

func decryptFile(ctx context.Context, m *kms.Manager, in, out string, ec kms.EncryptionContext) ([]byte, int64, error) {
	src, err := os.Open(in)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	r, err := kms.NewDecryptReader(ctx, m, src, ec)
	if err != nil {
		return nil, 0, err
	}
	dst, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer dst.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), r)
	if err != nil {
		return nil, 0, err
	}
	return h.Sum(nil), n, dst.Close()
}
