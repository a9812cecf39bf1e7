package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/envkms/kms/backend"
)

// record is a key's metadata as stored in KV v2 at
// <KVMount>/data/<KeyPathPrefix>/<key id>. Transit holds the key material and
// versions; everything else lives here.
type record struct {
	Format       int               `json:"format"` // recordFormat
	KeyID        string            `json:"key_id"`
	Description  string            `json:"description"`
	KeyUsage     string            `json:"key_usage"`
	State        string            `json:"state"` // a backend.KeyState, or statePurging
	CreationDate time.Time         `json:"creation_date"`
	DeletionDate *time.Time        `json:"deletion_date,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

const recordFormat = 1

// statePurging marks a PendingDeletion key that Purge has claimed: it can no
// longer be cancelled. It is reported as PendingDeletion.
const statePurging = "Purging"

// publicState maps a stored state to the one callers see.
func (r *record) publicState() backend.KeyState {
	if r.State == statePurging {
		return backend.KeyStatePendingDeletion
	}
	return backend.KeyState(r.State)
}

// wrapKey names one key version.
type wrapKey struct {
	id      string
	version int
}

// wrapCounts counts the data keys this Backend wrapped under each key
// version (GenerateDataKey, Rewrap, RewrapBatch), for RotationDue. It is
// per process, not persisted, like the local backend's count. It holds
// versions of keys that exist only (a successful encrypt names one).
type wrapCounts struct {
	mu sync.Mutex
	m  map[wrapKey]uint64
}

func (c *wrapCounts) add(id string, version int, n uint64) {
	c.mu.Lock()
	c.m[wrapKey{id, version}] += n
	c.mu.Unlock()
}

func (c *wrapCounts) get(id string, version int) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[wrapKey{id, version}]
}

// metadata is the key's metadata: the record's, plus the transit key's
// latest version and rotation policy (auto_rotate_period). RotationDue is
// by age: the latest version is at least RotationPeriod old (transit then
// rotates it within the hour, on its own schedule); Backend.keyMetadata
// adds the data-key count.
func (r *record) metadata(tk transitKey) backend.KeyMetadata {
	md := backend.KeyMetadata{
		KeyID:          r.KeyID,
		Description:    r.Description,
		State:          r.publicState(),
		KeyUsage:       r.KeyUsage,
		CreationDate:   r.CreationDate,
		Version:        tk.LatestVersion,
		RotationPeriod: tk.AutoRotatePeriod,
		RotationDue:    backend.RotationDue(tk.AutoRotatePeriod, tk.LatestCreated, time.Now()),
	}
	if r.DeletionDate != nil {
		d := *r.DeletionDate
		md.DeletionDate = &d
	}
	if len(r.Tags) > 0 {
		md.Tags = make(map[string]string, len(r.Tags))
		for k, v := range r.Tags {
			md.Tags[k] = v
		}
	}
	return md
}

func (b *Backend) kvDataPath(keyID string) string {
	return b.cfg.KVMount + "/data/" + b.cfg.KeyPathPrefix + "/" + keyID
}

func (b *Backend) kvMetadataPath(keyID string) string {
	return b.cfg.KVMount + "/metadata/" + b.cfg.KeyPathPrefix + "/" + keyID
}

// readRecord reads keyID's record and the KV version to use for
// check-and-set. rec is nil when there is none (never written, or its latest
// version deleted); version is then still the one a create must name.
// readLiveRecord reads keyID's record for an operation on a live key:
// backend.ErrKeyNotFound without one, backend.ErrKeyPendingDeletion for a
// key pending deletion (or being purged).
func (b *Backend) readLiveRecord(ctx context.Context, keyID string) (*record, error) {
	rec, _, err := b.readRecord(ctx, keyID)
	switch {
	case err != nil:
		return nil, err
	case rec == nil:
		return nil, backend.ErrKeyNotFound
	case rec.publicState() == backend.KeyStatePendingDeletion:
		return nil, backend.ErrKeyPendingDeletion
	}
	return rec, nil
}

func (b *Backend) readRecord(ctx context.Context, keyID string) (rec *record, version int, err error) {
	s, err := b.read(ctx, b.kvDataPath(keyID))
	if err != nil {
		if errors.Is(err, backend.ErrKeyNotFound) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	if s == nil || s.Data == nil {
		return nil, 0, nil
	}
	if md, ok := s.Data["metadata"].(map[string]any); ok {
		if n, ok := md["version"].(json.Number); ok {
			v, err := n.Int64()
			if err == nil && v >= 0 {
				version = int(v)
			}
		}
	}
	data, ok := s.Data["data"].(map[string]any)
	if !ok || data == nil {
		return nil, version, nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: vault KV record for %q: %v", backend.ErrUnavailable, keyID, err)
	}
	rec = new(record)
	if err := json.Unmarshal(raw, rec); err != nil || rec.Format != recordFormat || rec.KeyID != keyID || !knownState(rec.State) {
		return nil, 0, fmt.Errorf("%w: %w", backend.ErrUnavailable, &recordError{keyID: keyID})
	}
	return rec, version, nil
}

// recordError: a key's KV record exists but is malformed or of an unknown
// format. ListKeys reports such keys as unreadable.
type recordError struct{ keyID string }

func (e *recordError) Error() string {
	return fmt.Sprintf("vault KV record for %q is malformed or of an unknown format", e.keyID)
}

func knownState(s string) bool {
	switch backend.KeyState(s) {
	case backend.KeyStateEnabled, backend.KeyStateDisabled, backend.KeyStatePendingDeletion, statePurging:
		return true
	}
	return false
}

// errCASConflict: another writer got in between our read and write.
var errCASConflict = errors.New("vault: check-and-set conflict")

// writeRecord writes rec with check-and-set version cas (0: only if absent).
func (b *Backend) writeRecord(ctx context.Context, rec *record, cas int) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("vault: internal error: marshal record: %w", err)
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return fmt.Errorf("vault: internal error: unmarshal record: %w", err)
	}
	_, err = b.write(ctx, b.kvDataPath(rec.KeyID), map[string]any{
		"options": map[string]any{"cas": cas},
		"data":    data,
	}, false)
	var se *statusError
	if errors.As(err, &se) && se.status == 400 && se.has("check-and-set") {
		return errCASConflict
	}
	if err == nil {
		b.states.put(rec.KeyID, rec.State)
	}
	return err
}

// errNoChange from an update function: nothing to write.
var errNoChange = errors.New("vault: no change")

// maxCASAttempts bounds updateRecord's read-modify-write loop.
const maxCASAttempts = 64

// updateRecord applies fn to keyID's record with check-and-set, re-reading
// and re-applying fn when another writer got in first, so concurrent admin
// updates are never lost. fn may return errNoChange to skip the write.
func (b *Backend) updateRecord(ctx context.Context, keyID string, fn func(*record) error) (*record, error) {
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		rec, version, err := b.readRecord(ctx, keyID)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, backend.ErrKeyNotFound
		}
		b.states.put(keyID, rec.State)
		switch err := fn(rec); {
		case errors.Is(err, errNoChange):
			return rec, nil
		case err != nil:
			return nil, err
		}
		err = b.writeRecord(ctx, rec, version)
		if !errors.Is(err, errCASConflict) {
			if err != nil {
				return nil, err
			}
			return rec, nil
		}
		if attempt > 0 {
			t := time.NewTimer(backoff(min(attempt, 3)) / 4)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("%w: %w", backend.ErrUnavailable, ctx.Err())
			case <-t.C:
			}
		}
	}
	return nil, fmt.Errorf("%w: vault KV record for %q: too many concurrent updates", backend.ErrUnavailable, keyID)
}

// stateTTL is how long GenerateDataKey, Decrypt and Rewrap trust a key state
// read from KV. Changes made through this Backend apply at once; changes by
// another process (another replica, an operator) apply within stateTTL. The
// cache saves a KV round trip on every data-key call; this bounded
// propagation delay is a deliberate choice, documented on Backend.DisableKey.
const stateTTL = time.Second

type stateEntry struct {
	state string
	at    time.Time
}

// stateCache remembers the states of existing keys only (so it is bounded by
// the number of keys in Vault, whatever ciphertexts callers send).
type stateCache struct {
	mu sync.RWMutex
	m  map[string]stateEntry
}

func newStateCache() *stateCache { return &stateCache{m: make(map[string]stateEntry)} }

func (c *stateCache) get(keyID string) (string, bool) {
	c.mu.RLock()
	e, ok := c.m[keyID]
	c.mu.RUnlock()
	if !ok || time.Since(e.at) > stateTTL {
		return "", false
	}
	return e.state, true
}

func (c *stateCache) put(keyID, state string) {
	c.mu.Lock()
	c.m[keyID] = stateEntry{state: state, at: time.Now()}
	c.mu.Unlock()
}

func (c *stateCache) drop(keyID string) {
	c.mu.Lock()
	delete(c.m, keyID)
	c.mu.Unlock()
}

// keyState returns keyID's state, from the cache or KV.
func (b *Backend) keyState(ctx context.Context, keyID string) (string, error) {
	if s, ok := b.states.get(keyID); ok {
		return s, nil
	}
	rec, _, err := b.readRecord(ctx, keyID)
	if err != nil {
		return "", err
	}
	if rec == nil {
		return "", backend.ErrKeyNotFound
	}
	b.states.put(keyID, rec.State)
	return rec.State, nil
}

// transitKey is what DescribeKey needs from transit/keys/<id>.
type transitKey struct {
	Type          string
	Derived       bool
	Exportable    bool
	LatestVersion int
	// AutoRotatePeriod is transit's auto_rotate_period (0: off).
	AutoRotatePeriod time.Duration
	// LatestCreated is when the latest version was created (zero if
	// Vault did not say).
	LatestCreated time.Time
	// MinDecryptionVersion, MinEncryptionVersion and MinAvailableVersion
	// are transit's min_decryption_version, min_encryption_version and
	// min_available_version (0 or 1: all).
	MinDecryptionVersion, MinEncryptionVersion, MinAvailableVersion int
}

func parseTransitKey(s *api.Secret) (transitKey, error) {
	if s == nil || s.Data == nil {
		return transitKey{}, backend.ErrKeyNotFound
	}
	var k transitKey
	k.Type, _ = s.Data["type"].(string)
	k.Derived, _ = s.Data["derived"].(bool)
	k.Exportable, _ = s.Data["exportable"].(bool)
	if n, ok := s.Data["latest_version"].(json.Number); ok {
		if v, err := n.Int64(); err == nil && v > 0 && v < 1<<31 {
			k.LatestVersion = int(v)
		}
	}
	if k.LatestVersion == 0 {
		return transitKey{}, fmt.Errorf("%w: vault transit key answer without latest_version", backend.ErrUnavailable)
	}
	for name, dst := range map[string]*int{"min_decryption_version": &k.MinDecryptionVersion,
		"min_encryption_version": &k.MinEncryptionVersion, "min_available_version": &k.MinAvailableVersion} {
		if n, ok := s.Data[name].(json.Number); ok {
			if v, err := n.Int64(); err == nil && v > 0 && v <= int64(k.LatestVersion) {
				*dst = int(v)
			}
		}
	}
	if n, ok := s.Data["auto_rotate_period"].(json.Number); ok {
		if v, err := n.Int64(); err == nil && v > 0 && v <= int64(backend.MaxRotationPeriod/time.Second) {
			k.AutoRotatePeriod = time.Duration(v) * time.Second
		}
	}
	// keys maps each version to its creation time: unix seconds for
	// symmetric keys.
	if versions, ok := s.Data["keys"].(map[string]any); ok {
		if n, ok := versions[strconv.Itoa(k.LatestVersion)].(json.Number); ok {
			if v, err := n.Int64(); err == nil && v > 0 {
				k.LatestCreated = time.Unix(v, 0).UTC()
			}
		}
	}
	return k, nil
}

func (b *Backend) transitKeyPath(keyID string) string { return b.cfg.MountPath + "/keys/" + keyID }

// readTransitKey reads transit/keys/<id>; ErrKeyNotFound if absent.
func (b *Backend) readTransitKey(ctx context.Context, keyID string) (transitKey, error) {
	s, err := b.read(ctx, b.transitKeyPath(keyID))
	if err != nil {
		return transitKey{}, err
	}
	return parseTransitKey(s)
}

// keyMetadata is rec.metadata(tk) with RotationDue also set once this
// Backend has wrapped backend.MaxDataKeysPerVersion data keys under the
// latest version.
func (b *Backend) keyMetadata(rec *record, tk transitKey) backend.KeyMetadata {
	md := rec.metadata(tk)
	if b.wraps.get(rec.KeyID, tk.LatestVersion) >= backend.MaxDataKeysPerVersion {
		md.RotationDue = true
	}
	return md
}
