package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
)

// haCall is one Manager call made by the HA load.
type haCall struct {
	op         string
	start, end time.Time
	err        error
}

// haDataKey is a data key GenerateDataKey returned: it must decrypt later.
type haDataKey struct {
	ciphertext, plaintext []byte
	ec                    kms.EncryptionContext
	at                    time.Time
}

// haRecorder collects what the HA load did and what was acknowledged.
type haRecorder struct {
	mu        sync.Mutex
	calls     []haCall
	generated []haDataKey
	// CreateKey: ids acknowledged, ids whose call failed after reaching
	// (maybe) the backend, ids refused by the open breaker.
	created, createUnsure, createRefused []string
	// RotateKey: versions acknowledged; failures that may or may not have
	// rotated; failures refused by the open breaker (certainly not sent).
	rotated                     []int
	rotateUnsure, rotateRefused int
}

func (r *haRecorder) add(op string, start time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, haCall{op: op, start: start, end: time.Now(), err: err})
}

func (r *haRecorder) failuresSince(t time.Time) (n int, last time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.err != nil && c.end.After(t) {
			n++
			last = c.end
		}
	}
	return n, last
}

// successesSince counts successful calls per op that started after t.
func (r *haRecorder) successesSince(t time.Time) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for _, c := range r.calls {
		if c.err == nil && c.start.After(t) {
			m[c.op]++
		}
	}
	return m
}

func (r *haRecorder) firstCircuitOpen() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if errors.Is(c.err, kms.ErrCircuitOpen) {
			return c.end, true
		}
	}
	return time.Time{}, false
}

// TestVaultHAKillActiveMidLoad: a kms.Manager talks to a 3-node Vault Raft
// cluster through a load balancer (vaultLB: round-robin over healthy nodes,
// standbys forward to the active node). Under load — data keys generated and
// decrypted, keys created, the data key rotated — the active node is
// SIGKILLed. A new leader is elected; the same Manager keeps serving through
// the survivors. The only errors are ErrUnavailable (ErrCircuitOpen among
// them), none before the kill, none later than the election plus the
// breaker's cool-down plus one call timeout; no call outlives its timeout;
// every acknowledged data key decrypts afterwards, every acknowledged
// CreateKey exists, and the key's version count matches the acknowledged
// rotations (plus at most the rotations whose answer was lost). Then the
// killed node restarts, rejoins, and the load runs without errors.
func TestVaultHAKillActiveMidLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~30s")
	}
	setupStart := time.Now()
	cl := newVaultCluster(t, 3)
	lb := newVaultLB(t, cl.Nodes)
	t.Logf("3-node raft cluster up in %v; load balancer at %s", time.Since(setupStart).Round(time.Millisecond), lb.URL())
	ctx := vaultTestCtx(t, 3*time.Minute)
	const timeout = 2 * time.Second
	const bound = timeout + 1500*time.Millisecond // scheduling noise: race detector, 2 cores

	logs := &vaultLogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := kms.NewManager(kms.WithLogger(logger)) // circuit breaker: the defaults
	dataKey := "ha-" + backend.NewKeyID()
	require.NoError(t, m.Configure(ctx, kms.Config{
		BackendType:    kms.BackendVault,
		Address:        lb.URL(),
		AuthMethod:     &kms.AuthMethod{Token: kms.Secret(cl.Token)},
		DefaultKeyID:   dataKey,
		TimeoutSeconds: int(timeout / time.Second),
		EnableCache:    new(false), // every Decrypt goes to Vault
	}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	_, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: dataKey})
	require.NoError(t, err)

	rec := &haRecorder{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pause := func() bool {
		select {
		case <-stop:
			return false
		case <-time.After(20 * time.Millisecond):
			return true
		}
	}
	// Data-key workers: generate, decrypt at once (no cache: a Vault call).
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ec := kms.EncryptionContext{"worker": fmt.Sprint(w), "n": fmt.Sprint(n)}
				start := time.Now()
				dk, err := m.GenerateDataKey(context.Background(), "", ec)
				rec.add("GenerateDataKey", start, err)
				if err != nil {
					if !pause() {
						return
					}
					continue
				}
				rec.mu.Lock()
				rec.generated = append(rec.generated, haDataKey{ciphertext: bytes.Clone(dk.Ciphertext),
					plaintext: bytes.Clone(dk.Plaintext), ec: ec, at: time.Now()})
				rec.mu.Unlock()
				start = time.Now()
				got, err := m.Decrypt(context.Background(), dk.Ciphertext, ec)
				rec.add("Decrypt", start, err)
				if err == nil && !bytes.Equal(got.Plaintext, dk.Plaintext) {
					t.Errorf("Decrypt returned another plaintext")
				}
				got.Zero()
				dk.Zero()
			}
		}()
	}
	// Administration worker: create a key, rotate the data key, repeat.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			id := "ha-new-" + backend.NewKeyID()
			start := time.Now()
			_, err := m.CreateKey(context.Background(), kms.CreateKeyRequest{KeyID: id})
			rec.add("CreateKey", start, err)
			rec.mu.Lock()
			switch {
			case err == nil:
				rec.created = append(rec.created, id)
			case errors.Is(err, kms.ErrCircuitOpen):
				rec.createRefused = append(rec.createRefused, id)
			default:
				rec.createUnsure = append(rec.createUnsure, id)
			}
			rec.mu.Unlock()
			if !pause() {
				return
			}
			start = time.Now()
			md, err := m.RotateKey(context.Background(), dataKey)
			rec.add("RotateKey", start, err)
			rec.mu.Lock()
			switch {
			case err == nil:
				rec.rotated = append(rec.rotated, md.Version)
			case errors.Is(err, kms.ErrCircuitOpen):
				rec.rotateRefused++
			default:
				rec.rotateUnsure++
			}
			rec.mu.Unlock()
			if !pause() {
				return
			}
		}
	}()
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer stopLoad()

	// Healthy: no failures at all.
	time.Sleep(1500 * time.Millisecond)
	n, _ := rec.failuresSince(time.Time{})
	require.Zero(t, n, "failures while the cluster is healthy")
	require.Positive(t, len(rec.successesSince(time.Time{})), "no successful calls")

	// Kill the active node.
	active := cl.Active()
	require.GreaterOrEqual(t, active, 0, "no active node")
	killedAt := time.Now()
	cl.Nodes[active].Kill(t)
	t.Logf("SIGKILLed the active node %d (%s)", active, cl.Nodes[active].Addr)

	// Election: the first survivor to report itself active.
	var electedAt time.Time
	newActive := -1
	for electedAt.IsZero() {
		for i, s := range cl.Nodes {
			if i == active {
				continue
			}
			if h, err := vaultNodeHealth(s.Addr); err == nil && h.active() {
				electedAt, newActive = time.Now(), i
				break
			}
		}
		if electedAt.IsZero() {
			if time.Since(killedAt) > 30*time.Second {
				t.Fatalf("no new active node 30s after the kill\n%s\n%s", cl.Nodes[(active+1)%3].Logs(), cl.Nodes[(active+2)%3].Logs())
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	election := electedAt.Sub(killedAt)
	t.Logf("election: node %d active %v after the kill", newActive, election.Round(time.Millisecond))

	// While the breaker is open, Status says so (and does not call Vault).
	if at, ok := rec.firstCircuitOpen(); ok && time.Since(at) < kms.DefaultBreakerCoolDown/2 {
		st := m.Status(ctx)
		require.Contains(t, []kms.BreakerState{kms.BreakerOpen, kms.BreakerHalfOpen}, st.Breaker, "%+v", st)
		require.False(t, st.Healthy)
	}

	// Recovery: every op succeeds again, then 1.5 s without a failure.
	deadline := electedAt.Add(kms.DefaultBreakerCoolDown + 3*bound)
	for {
		_, last := rec.failuresSince(killedAt)
		quietSince := electedAt
		if last.After(quietSince) {
			quietSince = last
		}
		ok := rec.successesSince(quietSince)
		if time.Since(quietSince) >= 1500*time.Millisecond && ok["GenerateDataKey"] > 0 && ok["Decrypt"] > 0 &&
			ok["CreateKey"] > 0 && ok["RotateKey"] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Manager did not recover within %v of the election (last failure %v after it; successes since %v)",
				deadline.Sub(electedAt), last.Sub(electedAt), ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recoveredAt := time.Now()

	// The killed node comes back, rejoins the cluster as a standby, and the
	// load balancer sends it requests again: still no failures.
	restartedAt := time.Now()
	killed := cl.Nodes[active]
	killed.Restart(t)
	cl.unsealNode(t, killed)
	root := cl.Nodes[newActive].rootClient(t)
	cl.waitVoters(t, root, 3, 30*time.Second)
	t.Logf("node %d restarted and rejoined in %v", active, time.Since(restartedAt).Round(time.Millisecond))
	time.Sleep(time.Second)
	stopLoad()

	// What the load saw.
	rec.mu.Lock()
	calls := slices.Clone(rec.calls)
	rec.mu.Unlock()
	var (
		failures, circuitOpen int
		firstFail, lastFail   time.Time
		firstOK               time.Time // of a call started after the kill
		slowest               time.Duration
		perOp                 = map[string][2]int{}
		samples               []string
	)
	for _, c := range calls {
		d := c.end.Sub(c.start)
		slowest = max(slowest, d)
		require.LessOrEqual(t, d, bound, "%s took %v (timeout %v): %v", c.op, d, timeout, c.err)
		po := perOp[c.op]
		po[0]++
		if c.err == nil && c.start.After(killedAt) && (firstOK.IsZero() || c.end.Before(firstOK)) {
			firstOK = c.end
		}
		if c.err != nil {
			po[1]++
			failures++
			require.True(t, c.start.After(killedAt) || c.end.After(killedAt), "%s failed before the kill: %v", c.op, c.err)
			require.ErrorIs(t, c.err, kms.ErrUnavailable, "%s: a failure that is not ErrUnavailable", c.op)
			if errors.Is(c.err, kms.ErrCircuitOpen) {
				circuitOpen++
			} else if len(samples) < 6 {
				samples = append(samples, fmt.Sprintf("%s after %v: %v", c.op, c.end.Sub(killedAt).Round(time.Millisecond), c.err))
			}
			if firstFail.IsZero() {
				firstFail = c.end
			}
			if c.end.After(lastFail) {
				lastFail = c.end
			}
		}
		perOp[c.op] = po
	}
	for _, op := range []string{"GenerateDataKey", "Decrypt", "CreateKey", "RotateKey"} {
		t.Logf("%-16s calls %5d, failures %4d", op, perOp[op][0], perOp[op][1])
	}
	t.Logf("failures %d (%d ErrCircuitOpen), slowest call %v; load balancer: %d re-dispatched, %d answered 502",
		failures, circuitOpen, slowest.Round(time.Millisecond), lb.redispatched.Load(), lb.proxyErrors.Load())
	for _, s := range samples {
		t.Logf("  e.g. %s", s)
	}
	require.Positive(t, failures, "the active node died but no call failed")
	t.Logf("timeline after the kill: first failure %v, new leader active %v, first success %v, last failure %v, steady %v",
		firstFail.Sub(killedAt).Round(time.Millisecond), election.Round(time.Millisecond),
		firstOK.Sub(killedAt).Round(time.Millisecond), lastFail.Sub(killedAt).Round(time.Millisecond),
		recoveredAt.Sub(killedAt).Round(time.Millisecond))
	// Errors end within the election, the breaker's cool-down (a probe that
	// failed just before the new leader was ready reopens it for one more)
	// and one call's timeout.
	require.LessOrEqual(t, lastFail.Sub(electedAt), kms.DefaultBreakerCoolDown+bound,
		"failures went on %v after the election", lastFail.Sub(electedAt))

	// No lost operation: every data key acknowledged decrypts, through the
	// Manager (no cache: from Vault), to the same plaintext.
	rec.mu.Lock()
	generated := slices.Clone(rec.generated)
	created, createUnsure, createRefused := slices.Clone(rec.created), slices.Clone(rec.createUnsure), len(rec.createRefused)
	rotated, rotateUnsure, rotateRefused := slices.Clone(rec.rotated), rec.rotateUnsure, rec.rotateRefused
	rec.mu.Unlock()
	var afterKill int
	var verr sync.Map
	work := make(chan haDataKey)
	var vwg sync.WaitGroup
	for range 6 {
		vwg.Add(1)
		go func() {
			defer vwg.Done()
			for k := range work {
				got, err := m.Decrypt(ctx, k.ciphertext, k.ec)
				if err != nil {
					verr.Store(string(k.ciphertext), err)
					continue
				}
				if !bytes.Equal(got.Plaintext, k.plaintext) {
					verr.Store(string(k.ciphertext), errors.New("another plaintext"))
				}
				got.Zero()
			}
		}()
	}
	for _, k := range generated {
		if k.at.After(killedAt) {
			afterKill++
		}
		work <- k
	}
	close(work)
	vwg.Wait()
	bad := 0
	verr.Range(func(k, v any) bool {
		if bad++; bad <= 3 {
			t.Errorf("acknowledged data key %.40s... does not decrypt: %v", k, v)
		}
		return true
	})
	require.Zero(t, bad, "acknowledged data keys that do not decrypt")
	t.Logf("%d acknowledged data keys (%d after the kill) all decrypt", len(generated), afterKill)

	// Every acknowledged CreateKey exists. An unacknowledged one may or may
	// not have happened, but never half.
	for _, id := range created {
		_, err := m.DescribeKey(ctx, id)
		require.NoError(t, err, "acknowledged CreateKey %s", id)
	}
	unsureDone, unsureNot, unsureHalf := 0, 0, 0
	for _, id := range createUnsure {
		_, err := m.DescribeKey(ctx, id)
		switch {
		case err == nil:
			unsureDone++
		case errors.Is(err, kms.ErrKeyNotFound) && !strings.Contains(err.Error(), "transit key is missing"):
			unsureNot++
		case errors.Is(err, kms.ErrKeyNotFound):
			// CreateKey writes the KV record, then the transit key; when the
			// second write fails and the rollback cannot reach Vault either,
			// the record stays without its key. A retried CreateKey of the
			// same id completes it (vault.Backend.finishCreate).
			unsureHalf++
			// Completed once the first creator has certainly given up
			// (twice the timeout and a second, see finishCreate).
			require.Eventually(t, func() bool {
				_, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: id})
				return err == nil
			}, 30*time.Second, 250*time.Millisecond, "retrying the interrupted CreateKey %s completes it", id)
			_, err = m.DescribeKey(ctx, id)
			require.NoError(t, err, "%s usable once completed", id)
		default:
			t.Errorf("DescribeKey %s after its CreateKey failed: %v", id, err)
		}
	}
	t.Logf("CreateKey: %d acknowledged (all exist), %d refused by the breaker, %d failed in flight (%d happened, %d did not, %d left half-made)",
		len(created), createRefused, len(createUnsure), unsureDone, unsureNot, unsureHalf)

	// RotateKey: versions acknowledged are distinct and exist; the number of
	// rotations is what was acknowledged plus at most the calls whose answer
	// was lost (none is applied twice, none acknowledged is lost).
	md, err := m.DescribeKey(ctx, dataKey)
	require.NoError(t, err)
	rotations := md.Version - 1
	seen := map[int]bool{}
	for _, v := range rotated {
		require.False(t, seen[v], "two acknowledged rotations returned version %d", v)
		seen[v] = true
		require.LessOrEqual(t, v, md.Version)
	}
	t.Logf("RotateKey: %d acknowledged, %d refused by the breaker, %d failed in flight; the key has %d rotations (version %d)",
		len(rotated), rotateRefused, rotateUnsure, rotations, md.Version)
	require.GreaterOrEqual(t, rotations, len(rotated), "acknowledged rotations lost")
	require.LessOrEqual(t, rotations, len(rotated)+rotateUnsure, "more rotations than calls that may have made them")

	st := m.Status(ctx)
	require.Equal(t, kms.StateRunning, st.State)
	require.True(t, st.Healthy, "%+v", st)
	require.Equal(t, kms.BreakerClosed, st.Breaker)
	require.NotContains(t, logs.String(), cl.Token, "token in logs")
	require.NotContains(t, fmt.Sprintf("%v %+v", st, st), cl.Token)
}
