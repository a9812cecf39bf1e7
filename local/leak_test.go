package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envkms/kms/backend"
)

// TestNothingSecretInLogsOrErrors runs every operation, successful and
// failing, with a debug logger, and checks neither the logs nor any error
// (as Error() and %+v) contain the master key, a data key or key material.
func TestNothingSecretInLogsOrErrors(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Logger = logger
	b := openTest(t, cfg)

	var secrets [][]byte
	var errs []error
	rec := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	secrets = append(secrets, testMasterKey())
	mustCreate(t, b, "k1")
	ec := backend.EncryptionContext{"bucket": "b"}
	dk := mustGenerate(t, b, "k1", ec)
	secrets = append(secrets, bytes.Clone(dk.Plaintext))
	_, err := b.Decrypt(ctx, dk.Ciphertext, nil)
	rec(err)
	_, err = b.Rewrap(ctx, dk.Ciphertext, nil)
	rec(err)
	_, err = b.RotateKey(ctx, "k1")
	rec(err)
	rec(b.DisableKey(ctx, "k1"))
	_, err = b.GenerateDataKey(ctx, "k1", ec)
	rec(err)
	_, err = b.ScheduleKeyDeletion(ctx, "k1", 7)
	rec(err)
	_, err = b.Decrypt(ctx, dk.Ciphertext, ec)
	rec(err)
	_, err = b.CreateKey(ctx, backend.CreateKeyRequest{KeyID: "k1"})
	rec(err)
	// Damage the file and the header, and use a wrong master key.
	path := filepath.Join(dir, "k1.json")
	data, _ := os.ReadFile(path)
	_ = os.WriteFile(path, data[:len(data)-40], 0o600)
	b2 := openTest(t, cfg)
	_, err = b2.DescribeKey(ctx, "k1")
	rec(err)
	_, err = b2.ListKeys(ctx, backend.ListKeysRequest{})
	rec(err)
	_, err = b2.Purge(ctx)
	rec(err)
	bad := cfg
	bad.MasterKey = []byte("wrong-master-key-wrong-master-key")
	secrets = append(secrets, bad.MasterKey)
	_, err = New(ctx, bad)
	rec(err)
	// Insecure directory: plaintext key material on disk, damaged.
	plainDir := t.TempDir()
	pb := openTest(t, Config{Dir: plainDir, InsecurePlaintext: true, Logger: logger})
	mustCreate(t, pb, "p1")
	pdata, _ := os.ReadFile(filepath.Join(plainDir, "p1.json"))
	i := bytes.Index(pdata, []byte(`"plaintext_key": "`)) + len(`"plaintext_key": "`)
	material, err := base64.StdEncoding.DecodeString(string(pdata[i : i+44]))
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, material)
	_ = os.WriteFile(filepath.Join(plainDir, "p1.json"), pdata[:i+30], 0o600)
	pb2 := openTest(t, Config{Dir: plainDir, InsecurePlaintext: true, Logger: logger})
	_, err = pb2.GenerateDataKey(ctx, "p1", nil)
	rec(err)
	_, err = pb2.ListKeys(ctx, backend.ListKeysRequest{})
	rec(err)

	if len(errs) < 9 {
		t.Fatalf("only %d errors recorded", len(errs))
	}
	if !strings.Contains(logs.String(), "listing an unreadable key file") {
		t.Fatalf("corrupt file not logged:\n%s", logs.String())
	}
	var texts []string
	texts = append(texts, logs.String())
	for _, err := range errs {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	for _, s := range secrets {
		forms := []string{string(s), hex.EncodeToString(s), base64.StdEncoding.EncodeToString(s), base64.RawStdEncoding.EncodeToString(s)[:20]}
		if len(s) >= 16 {
			forms = append(forms, string(s[:16]), hex.EncodeToString(s[:8]))
		}
		for _, text := range texts {
			for _, f := range forms {
				if strings.Contains(text, f) {
					t.Fatalf("secret form %q found in %q", f, text)
				}
			}
		}
	}
}
