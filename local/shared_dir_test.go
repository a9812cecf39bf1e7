package local

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/stretchr/testify/require"
)

// issuedKey is a data key some Backend returned: it must decrypt forever.
type issuedKey struct {
	ct, pt []byte
	ec     backend.EncryptionContext
}

// churn runs n mixed calls (rotate, disable, enable, generate) on b against
// keys, and returns every data key b handed out.
func churn(t testing.TB, b *Backend, keys []string, n int, seed uint64) []issuedKey {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []issuedKey
	for i := range n {
		id := keys[r.IntN(len(keys))]
		var err error
		switch op := r.IntN(10); {
		case op < 2:
			_, err = b.RotateKey(ctx, id)
		case op == 2:
			err = b.DisableKey(ctx, id)
		case op == 3:
			err = b.EnableKey(ctx, id)
		default:
			ec := backend.EncryptionContext{"i": strconv.Itoa(i), "seed": strconv.FormatUint(seed, 10)}
			var dk backend.DataKey
			dk, err = b.GenerateDataKey(ctx, id, ec)
			if err == nil {
				out = append(out, issuedKey{ct: dk.Ciphertext, pt: dk.Plaintext, ec: ec})
			}
		}
		if err != nil && !errors.Is(err, backend.ErrKeyDisabled) {
			t.Errorf("call %d on %s: %v", i, id, err)
			return out
		}
	}
	return out
}

// allDecrypt opens a fresh Backend on dir and checks every issued key.
func allDecrypt(t *testing.T, dir string, issued []issuedKey) {
	t.Helper()
	b := openTest(t, testConfig(dir))
	lost := 0
	for _, k := range issued {
		dk, err := b.Decrypt(context.Background(), k.ct, k.ec)
		if err != nil || string(dk.Plaintext) != string(k.pt) {
			lost++
		}
	}
	require.Zero(t, lost, "%d of %d issued data keys no longer decrypt", lost, len(issued))
}

// Two Backends on one directory (as during a hot swap) rotating, disabling,
// enabling and generating at once: no version is lost, so every data key
// either of them returned decrypts afterwards, and every rotation is kept.
func TestSharedDirTwoBackends(t *testing.T) {
	dir := t.TempDir()
	a := openTest(t, testConfig(dir))
	b := openTest(t, testConfig(dir))
	keys := []string{"k1", "k2", "k3"}
	for _, id := range keys {
		mustCreate(t, a, id)
	}
	n := 600 // per goroutine: 2,400 calls in all
	if testing.Short() {
		n = 150
	}
	var wg sync.WaitGroup
	results := make([][]issuedKey, 4)
	for i, be := range []*Backend{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = churn(t, be, keys, n, uint64(i+1))
		}()
	}
	wg.Wait()
	var issued []issuedKey
	for _, r := range results {
		issued = append(issued, r...)
	}
	require.NotEmpty(t, issued)
	allDecrypt(t, dir, issued)

	// Rotations are counted too: two Backends rotating one key 50 times each
	// leave 101 versions.
	mustCreate(t, a, "r")
	var rw sync.WaitGroup
	for _, be := range []*Backend{a, b} {
		rw.Add(1)
		go func() {
			defer rw.Done()
			for range 50 {
				_, err := be.RotateKey(context.Background(), "r")
				require.NoError(t, err)
			}
		}()
	}
	rw.Wait()
	md, err := openTest(t, testConfig(dir)).DescribeKey(context.Background(), "r")
	require.NoError(t, err)
	require.Equal(t, 101, md.Version)
}

// The same across processes: this test binary runs itself twice on one
// directory (TestSharedDirHelperProcess), and every data key either process
// reported decrypts afterwards.
func TestSharedDirTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	keys := []string{"k1", "k2"}
	{
		b := openTest(t, testConfig(dir))
		for _, id := range keys {
			mustCreate(t, b, id)
		}
		require.NoError(t, b.Close())
	}
	n := 1000 // per process
	if testing.Short() {
		n = 200
	}
	var cmds []*exec.Cmd
	var outs []string
	for i := range 2 {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("issued-%d", i))
		cmd := exec.Command(os.Args[0], "-test.run=^TestSharedDirHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"LOCAL_SHARED_DIR="+dir, "LOCAL_SHARED_OUT="+out,
			"LOCAL_SHARED_KEYS="+strings.Join(keys, ","),
			"LOCAL_SHARED_N="+strconv.Itoa(n), "LOCAL_SHARED_SEED="+strconv.Itoa(i+10))
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	for _, c := range cmds {
		require.NoError(t, c.Wait())
	}
	var issued []issuedKey
	for _, out := range outs {
		f, err := os.Open(out)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var k issuedKey
			var ct, pt, i, seed string
			_, err := fmt.Sscan(sc.Text(), &ct, &pt, &i, &seed)
			require.NoError(t, err)
			k.ct, _ = hex.DecodeString(ct)
			k.pt, _ = hex.DecodeString(pt)
			k.ec = backend.EncryptionContext{"i": i, "seed": seed}
			issued = append(issued, k)
		}
		require.NoError(t, f.Close())
	}
	require.Greater(t, len(issued), n/2)
	allDecrypt(t, dir, issued)
}

// TestSharedDirHelperProcess is the child of TestSharedDirTwoProcesses.
func TestSharedDirHelperProcess(t *testing.T) {
	dir := os.Getenv("LOCAL_SHARED_DIR")
	if dir == "" {
		t.Skip("helper process of TestSharedDirTwoProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("LOCAL_SHARED_N"))
	seed, _ := strconv.ParseUint(os.Getenv("LOCAL_SHARED_SEED"), 10, 64)
	b := openTest(t, testConfig(dir))
	issued := churn(t, b, strings.Split(os.Getenv("LOCAL_SHARED_KEYS"), ","), n, seed)
	var sb strings.Builder
	for _, k := range issued {
		fmt.Fprintf(&sb, "%x %x %s %s\n", k.ct, k.pt, k.ec["i"], k.ec["seed"])
	}
	require.NoError(t, os.WriteFile(os.Getenv("LOCAL_SHARED_OUT"), []byte(sb.String()), 0o600))
}

// A state change through one Backend takes effect on another within
// revalidateAfter (it checks that the key file is still the one it loaded).
func TestSharedDirStateSeenWithinRevalidation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openTest(t, testConfig(dir))
	b := openTest(t, testConfig(dir))
	mustCreate(t, a, "k")
	mustGenerate(t, b, "k", nil) // b caches k
	require.NoError(t, a.DisableKey(ctx, "k"))
	start := time.Now()
	require.Eventually(t, func() bool {
		_, err := b.GenerateDataKey(ctx, "k", nil)
		return errors.Is(err, backend.ErrKeyDisabled)
	}, 3*revalidateAfter, 10*time.Millisecond)
	require.Less(t, time.Since(start), revalidateAfter+500*time.Millisecond)

	require.NoError(t, a.EnableKey(ctx, "k"))
	_, err := a.RotateKey(ctx, "k")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		dk, err := b.GenerateDataKey(ctx, "k", nil)
		if err != nil {
			return false
		}
		_, v, err := b.CiphertextVersion(dk.Ciphertext)
		return err == nil && v == 2
	}, 3*revalidateAfter, 10*time.Millisecond, "b wraps under the version a added")

	// A purge elsewhere: the key is gone here too.
	_, err = a.ScheduleKeyDeletion(ctx, "k", 7)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, "k"+keyFileExt)))
	require.Eventually(t, func() bool {
		_, err := b.DescribeKey(ctx, "k")
		return errors.Is(err, backend.ErrKeyNotFound)
	}, 3*revalidateAfter, 10*time.Millisecond)
}

// An update waiting for the directory lock gives up when its context ends.
func TestSharedDirLockHonoursContext(t *testing.T) {
	dir := t.TempDir()
	a := openTest(t, testConfig(dir))
	mustCreate(t, a, "k")
	other, err := openDirLock(dir)
	require.NoError(t, err)
	defer other.close()
	unlock, err := other.lock(context.Background(), true)
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = a.RotateKey(ctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
