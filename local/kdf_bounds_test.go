package local

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rewriteKDF edits the Argon2id parameters in dir's header, as someone who
// can write the directory could.
func rewriteKDF(t *testing.T, dir string, tm, memKiB uint32) {
	t.Helper()
	path := filepath.Join(dir, headerName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(data, &h))
	kdf := h["kdf"].(map[string]any)
	kdf["time"], kdf["memory_kib"] = tm, memKiB
	data, err = json.Marshal(h)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// A header asking for gigabytes and a hundred passes is refused before any
// derivation (it used to cost 48 s and 4 GB before the master key could be
// checked).
func TestHostileKDFHeaderRefused(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, openTest(t, testConfig(dir)).Close())
	for _, p := range []struct{ tm, mem uint32 }{{100, 4 << 20}, {3, 1 << 20}, {11, 64}} {
		rewriteKDF(t, dir, p.tm, p.mem)
		start := time.Now()
		_, err := New(context.Background(), testConfig(dir))
		require.ErrorIs(t, err, ErrKDFTooCostly, "%+v", p)
		var fe *FileError
		require.ErrorAs(t, err, &fe)
		require.Less(t, time.Since(start), time.Second)
	}
	// An operator who really wants more says so.
	rewriteKDF(t, dir, 11, 64)
	cfg := testConfig(dir)
	cfg.MaxKDF = &KDFParams{Time: 20, MemoryKiB: 1024, Threads: 4}
	_, err := New(context.Background(), cfg)
	require.ErrorIs(t, err, ErrWrongMasterKey, "within the raised bound the header is derived (and, edited, no longer verifies)")

	cfg = testConfig(t.TempDir())
	cfg.KDF = &KDFParams{Time: 1, MemoryKiB: 512 << 10, Threads: 1}
	_, err = New(context.Background(), cfg)
	require.ErrorIs(t, err, ErrInvalidConfig, "Config.KDF is bounded too")
	require.ErrorIs(t, err, ErrKDFTooCostly)
}

// Unlocking honours the context: a costly (but allowed) derivation does not
// hold New past its deadline.
func TestUnlockHonoursContext(t *testing.T) {
	dir := t.TempDir()
	slow := KDFParams{Time: 10, MemoryKiB: 128 << 10, Threads: 1} // about a second or more
	cfg := testConfig(dir)
	cfg.KDF = &slow
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New(ctx, cfg)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 500*time.Millisecond)
}

// A header or key file that gives a member twice is corrupt: JSON would use
// the last copy, which need not be what was checked.
func TestDuplicateMembersAreCorrupt(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, testConfig(dir))
	mustCreate(t, b, "k")
	require.NoError(t, b.Close())
	path := filepath.Join(dir, "k"+keyFileExt)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	dup := append([]byte(`{"state":"Enabled",`), data[1:]...)
	require.NoError(t, os.WriteFile(path, dup, 0o600))
	_, err = openTest(t, testConfig(dir)).DescribeKey(context.Background(), "k")
	require.ErrorIs(t, err, ErrCorruptFile)

	hp := filepath.Join(dir, headerName)
	data, err = os.ReadFile(hp)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(hp, append([]byte(`{"format_version":1,`), data[1:]...), 0o600))
	_, err = New(context.Background(), testConfig(dir))
	require.ErrorIs(t, err, ErrCorruptFile)
}
