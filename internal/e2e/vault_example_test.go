package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestVaultExample builds examples/vault and runs it against the dev server,
// twice (the second run finds the key it created), as its README says.
func TestVaultExample(t *testing.T) {
	srv := sharedDevVault(t)
	bin := filepath.Join(t.TempDir(), "vault-example")
	build := exec.Command("go", "build", "-o", bin, "./examples/vault")
	build.Dir = "../.."
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	dir := t.TempDir()
	in := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(in, []byte(strings.Repeat("envelope encryption with Vault transit\n", 50000)), 0o600))
	key := "example-" + time.Now().Format("150405.000000")
	for i, args := range [][]string{{"-key", key, in}, {"-key", key, in}, {"-key", key}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "VAULT_ADDR="+srv.Addr, "VAULT_TOKEN="+srv.Token)
		out, err := cmd.CombinedOutput()
		if err != nil && strings.Contains(string(out), "envelope: operation not supported") {
			t.Skip("kms envelope streaming is still a stub (package stream not landed)")
		}
		require.NoError(t, err, "run %d: %s", i, out)
		require.Contains(t, string(out), "round trip OK", "run %d", i)
		require.Contains(t, string(out), "wrong encryption context refused")
		if i == 0 {
			require.Contains(t, string(out), "created master key")
		} else {
			require.NotContains(t, string(out), "created master key")
		}
		require.NotContains(t, string(out), srv.Token+"\n")
	}
	plain, err := os.ReadFile(in)
	require.NoError(t, err)
	dec, err := os.ReadFile(in + ".decrypted")
	require.NoError(t, err)
	require.Equal(t, plain, dec)
	enc, err := os.ReadFile(in + ".envkms")
	require.NoError(t, err)
	require.NotContains(t, string(enc), "envelope encryption with Vault")
}
