package kms

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The vault backend's wiring without a Vault server: an unreachable address
// fails Start with ErrUnavailable within timeout_seconds, and the Manager
// is left in state Error with a reason that holds no token. (Tests against a
// real Vault live in internal/e2e.)
func TestVaultUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := "http://" + l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.BackendType = BackendVault
	cfg.Address = addr
	cfg.AuthMethod = &AuthMethod{Token: "hvs.not-a-real-token-1234567"}
	cfg.TimeoutSeconds, cfg.RetryAttempts = 2, 2
	m := NewManager(WithLogger(quietLogger()))
	require.NoError(t, m.Configure(ctx, cfg))
	start := time.Now()
	err = m.Start(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second)
	st := m.Status(ctx)
	require.Equal(t, StateError, st.State)
	require.NotContains(t, st.Error, "not-a-real-token")
	require.Equal(t, "token", st.ConfigSummary.BackendSummary["auth_method"])

	// A local Manager hot-swapping to this Vault keeps serving locally.
	m2 := startLocal(t, localConfig(newKeyDir(t, testMasterKey)))
	vt := BackendVault
	err = m2.Reconfigure(ctx, ConfigPatch{BackendType: &vt, Address: &addr, AuthMethod: cfg.AuthMethod, TimeoutSeconds: &cfg.TimeoutSeconds})
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = m2.GenerateDataKey(ctx, "", nil)
	require.NoError(t, err)
	c, _ := m2.Config()
	require.Equal(t, BackendLocal, c.BackendType)
}
