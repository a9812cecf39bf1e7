package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend/backendtest"
)

// leakChecker collects secrets and texts (logs, error strings, printed
// values) and asserts that no text contains any form of any secret.
type leakChecker struct {
	mu      sync.Mutex
	secrets [][]byte
	texts   []string
}

func (c *leakChecker) secret(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.secrets = append(c.secrets, bytes.Clone(b))
}

func (c *leakChecker) text(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts = append(c.texts, fmt.Sprintf(format, args...))
}

// printed records v under every verb.
func (c *leakChecker) printed(v any) {
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		c.text(verb, v)
	}
	if _, isDataKey := v.(DataKey); isDataKey {
		// backend.DataKey has no MarshalJSON: its JSON form carries the
		// plaintext by design of that package (reported upstream), so only
		// its fmt forms are checked here.
		return
	}
	if b, err := json.Marshal(v); err == nil {
		c.text("%s", b)
	}
}

func (c *leakChecker) check(t *testing.T, logs string) {
	t.Helper()
	all := strings.Join(append(c.texts, logs), "\n")
	for _, s := range c.secrets {
		for _, form := range backendtest.SecretForms(s) {
			if i := strings.Index(all, form); len(form) >= 8 && i >= 0 {
				t.Fatalf("secret leaked in the form %q: ...%s...", form, all[max(0, i-300):min(len(all), i+100)])
			}
		}
	}
}

// TestNothingLeaks runs a full workload with logging at Debug into a JSON
// handler and checks that no data key, master key or token appears in the
// logs, in any error (printed with every verb) or in printed Config,
// ConfigPatch, Status and Stats values.
func TestNothingLeaks(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lc := &leakChecker{}
	errs := func(err error) {
		if err != nil {
			lc.printed(err)
		}
	}

	const token = "hvs.CAESIJ-sUpErSeCrEtToKeN-4f1d2e3c"
	const secretID = "approle-secret-id-9a8b7c6d5e"
	lc.secret([]byte(testMasterKey))
	lc.secret([]byte(token))
	lc.secret([]byte(secretID))

	dir := newKeyDir(t, testMasterKey)
	m := NewManager(WithLogger(logger))
	cfg := localConfig(dir)
	errs(m.Start(ctx))
	errs(m.Configure(ctx, Config{BackendType: "local", KeyDir: "relative", MasterKey: testMasterKey}))
	require.NoError(t, m.Configure(ctx, cfg))
	lc.printed(cfg)
	lc.printed(m.Status(ctx))
	require.NoError(t, m.Start(ctx))
	_, err := m.CreateKey(ctx, CreateKeyRequest{KeyID: "default", Tags: map[string]string{"team": "storage"}})
	require.NoError(t, err)

	ec := EncryptionContext{"bucket": "photos", "object": "cat.jpg"}
	var cts [][]byte
	for i := range 20 {
		dk, err := m.GenerateDataKey(ctx, "", ec)
		require.NoError(t, err)
		lc.secret(dk.Plaintext)
		lc.printed(dk)
		cts = append(cts, dk.Ciphertext)
		if i%2 == 0 {
			m.ClearCache()
		}
		got, err := m.Decrypt(ctx, dk.Ciphertext, ec)
		require.NoError(t, err)
		lc.printed(got)
	}
	// Failures of every kind, logged and returned.
	_, err = m.Decrypt(ctx, cts[0], EncryptionContext{"bucket": "other"})
	errs(err)
	bad := bytes.Clone(cts[1])
	bad[len(bad)-1] ^= 1
	_, err = m.Decrypt(ctx, bad, ec)
	errs(err)
	_, err = m.Decrypt(ctx, []byte("garbage"), ec)
	errs(err)
	_, err = m.GenerateDataKey(ctx, "missing", ec)
	errs(err)
	_, err = m.CreateKey(ctx, CreateKeyRequest{KeyID: "default"})
	errs(err)
	_, err = m.ScheduleKeyDeletion(ctx, "default", 1)
	errs(err)
	rw, err := m.Rewrap(ctx, cts[2], ec)
	require.NoError(t, err)
	lc.text("%x", rw)
	_, err = m.RotateKey(ctx, "default")
	require.NoError(t, err)

	// Envelopes: a round trip and every kind of rejection.
	payload := []byte("PAYLOAD-PLAINTEXT: the quarterly numbers, 0123456789")
	lc.secret(payload)
	var env bytes.Buffer
	ew, err := NewEncryptWriter(ctx, m, &env, "", ec)
	require.NoError(t, err)
	_, err = ew.Write(payload)
	require.NoError(t, err)
	require.NoError(t, ew.Close())
	_, err = openEnvelope(m, env.Bytes(), EncryptionContext{"bucket": "x"})
	errs(err)
	for _, i := range []int{0, 5, 8, 20, env.Len() - 20, env.Len() - 1} {
		bad := bytes.Clone(env.Bytes())
		bad[i] ^= 0x10
		_, err = openEnvelope(m, bad, ec)
		errs(err)
	}
	_, err = openEnvelope(m, env.Bytes()[:env.Len()-3], ec)
	errs(err)
	_, err = openEnvelope(m, payload, ec)
	errs(err)

	// Hot swaps: to a master key file, a failing one (wrong key), back.
	mkFile := filepath.Join(t.TempDir(), "mk")
	require.NoError(t, os.WriteFile(mkFile, []byte(testMasterKey+"\n"), 0o600))
	empty := Secret("")
	require.NoError(t, m.Reconfigure(ctx, ConfigPatch{MasterKey: &empty, MasterKeyFile: &mkFile}))
	wrong := Secret("wrong-master-key-value-123")
	lc.secret([]byte(wrong))
	noFile := ""
	p := ConfigPatch{MasterKey: &wrong, MasterKeyFile: &noFile}
	lc.printed(p)
	errs(m.Reconfigure(ctx, p))
	zero := 0
	errs(m.Reconfigure(ctx, ConfigPatch{MaxCachedKeys: &zero}))
	lc.printed(m.Status(ctx))
	lc.printed(m.Stats())
	c, _ := m.Config()
	lc.printed(c)
	require.NoError(t, m.Stop(ctx))

	// A vault config whose server is unreachable: the token must not leak.
	vcfg := DefaultConfig()
	vcfg.BackendType = BackendVault
	vcfg.Address = "http://127.0.0.1:1"
	vcfg.AuthMethod = &AuthMethod{Token: token}
	vcfg.TimeoutSeconds, vcfg.RetryAttempts = 2, 1
	require.NoError(t, m.Configure(ctx, vcfg))
	errs(m.Start(ctx))
	lc.printed(vcfg)
	lc.printed(m.Status(ctx))
	approle := Secret(secretID)
	vp := ConfigPatch{AuthMethod: &AuthMethod{AppRole: &AppRole{RoleID: "role", SecretID: approle}}}
	lc.printed(vp)
	errs(m.Reconfigure(ctx, vp))
	errs(m.Start(ctx))
	lc.printed(m.Status(ctx))

	// Config decoding and environment errors.
	var dc Config
	errs(json.Unmarshal([]byte(`{"master_key": 5, "auth_method": {"token": 7}}`), &dc))
	t.Setenv("LEAK_MAX_CACHED_KEYS", testMasterKey)
	_, err = ConfigFromEnv("LEAK_", DefaultConfig())
	errs(err)

	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	require.Contains(t, out, `"key_id":"default"`, "key ids are logged")
	require.Contains(t, out, "kms: start failed")
	if os.Getenv("KMS_DUMP_LOGS") != "" {
		t.Log(out)
	}
	lc.check(t, out)
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
