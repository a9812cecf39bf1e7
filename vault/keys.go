package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/envkms/kms/backend"
)

// Limits on the metadata kept in KV.
const (
	maxListLimit = 1000
	listWorkers  = 8
)

// CreateKey creates a transit key (aes256-gcm96, not derived, not
// exportable) and its KV metadata record. The record is claimed first with
// check-and-set 0, so two concurrent creates of one id cannot both succeed;
// if the transit key cannot be created the claim is removed again. An
// existing transit key of the right type without a record is adopted.
//
// The id of a purged key is tombstoned and never re-created: CreateKey
// fails with backend.ErrKeyDeleted (which wraps backend.ErrKeyExists). The
// tombstone is written by Purge before it deletes the key's record and is
// checked by CreateKey after it finds no record (and again after claiming
// the id), so a CreateKey racing a Purge of the same id cannot slip in
// between.
func (b *Backend) CreateKey(ctx context.Context, req backend.CreateKeyRequest) (backend.KeyMetadata, error) {
	id := req.KeyID
	if id == "" {
		id = backend.NewKeyID()
	}
	return callKey(ctx, b, "CreateKey", id, req.Validate(), func(ctx context.Context) (backend.KeyMetadata, error) {
		existing, version, err := b.readRecord(ctx, id)
		if err != nil {
			return backend.KeyMetadata{}, err
		}
		if existing != nil {
			return b.finishCreate(ctx, existing, req.RotationPeriod)
		}
		if err := b.refuseTombstoned(ctx, id); err != nil {
			return backend.KeyMetadata{}, err
		}
		rec := &record{
			Format:       recordFormat,
			KeyID:        id,
			Description:  req.Description,
			KeyUsage:     backend.KeyUsageEncryptDecrypt,
			State:        string(backend.KeyStateEnabled),
			CreationDate: time.Now().UTC(),
			Tags:         cloneTags(req.Tags),
		}
		if err := b.writeRecord(ctx, rec, version); err != nil {
			if errors.Is(err, errCASConflict) {
				err = backend.ErrKeyExists
			}
			return backend.KeyMetadata{}, err
		}
		// Again now that the id is claimed. Purge writes the tombstone
		// before it deletes the record, so the check above, made after the
		// record was found absent, already sees it; this one keeps that
		// true should the two reads ever be served out of order (a
		// performance standby answers reads from its own, lagging copy).
		if err := b.refuseTombstoned(ctx, id); err != nil {
			b.rollbackCreate(ctx, id)
			return backend.KeyMetadata{}, err
		}
		tk, err := b.createTransitKey(ctx, id, req.RotationPeriod)
		if err != nil {
			b.rollbackCreate(ctx, id)
			return backend.KeyMetadata{}, err
		}
		b.log.Info("vault: key created", "key_id", id, "version", tk.LatestVersion)
		return b.keyMetadata(rec, tk), nil
	})
}

// createTransitKey creates (or adopts) id's transit key with
// auto_rotate_period set to period (0: no automatic rotation).
func (b *Backend) createTransitKey(ctx context.Context, id string, period time.Duration) (transitKey, error) {
	// Creating an existing key is a no-op in Vault, so this is safe to retry.
	s, err := b.write(ctx, b.transitKeyPath(id), map[string]any{
		"type":                   "aes256-gcm96",
		"derived":                false,
		"exportable":             false,
		"allow_plaintext_backup": false,
		"auto_rotate_period":     autoRotatePeriod(period),
	}, true)
	if err != nil {
		return transitKey{}, err
	}
	tk, err := parseTransitKey(s)
	if err != nil { // older Vaults answer 204 without the key
		if tk, err = b.readTransitKey(ctx, id); err != nil {
			return transitKey{}, err
		}
	}
	if tk.Type != "aes256-gcm96" || tk.Derived || tk.Exportable {
		return transitKey{}, fmt.Errorf("%w: a transit key named %q exists that is not a plain, non-exportable aes256-gcm96 key", backend.ErrKeyExists, id)
	}
	if s != nil && len(s.Warnings) > 0 {
		b.log.Info("vault: adopting an existing transit key", "key_id", id, "version", tk.LatestVersion)
	}
	if tk.AutoRotatePeriod != period { // an adopted key keeps its config
		return b.setAutoRotate(ctx, id, period)
	}
	return tk, nil
}

// autoRotatePeriod is period as transit's auto_rotate_period: whole
// seconds, "0s" for off.
func autoRotatePeriod(period time.Duration) string {
	return strconv.FormatInt(int64(period/time.Second), 10) + "s"
}

// setAutoRotate writes id's auto_rotate_period (idempotent) and returns the
// transit key as it is then.
func (b *Backend) setAutoRotate(ctx context.Context, id string, period time.Duration) (transitKey, error) {
	s, err := b.write(ctx, b.transitKeyPath(id)+"/config", map[string]any{"auto_rotate_period": autoRotatePeriod(period)}, true)
	if err != nil {
		return transitKey{}, fmt.Errorf("set the transit key's auto_rotate_period: %w", err)
	}
	tk, err := parseTransitKey(s)
	if err != nil { // older Vaults answer 204
		return b.readTransitKey(ctx, id)
	}
	return tk, nil
}

var _ backend.RotationPolicySetter = (*Backend)(nil)

// SetRotationPeriod sets the key's rotation period (see
// backend.RotationPolicySetter): transit's auto_rotate_period, so Vault
// itself rotates the key once its latest version is that old (transit
// checks about once an hour); 0 turns it off. The period is kept in whole
// seconds. It needs "update" on <mount>/keys/<id>/config. A key pending
// deletion (or being purged) yields backend.ErrKeyPendingDeletion.
func (b *Backend) SetRotationPeriod(ctx context.Context, keyID string, period time.Duration) (backend.KeyMetadata, error) {
	return callKey(ctx, b, "SetRotationPeriod", keyID, backend.ValidateRotationPeriod(period), func(ctx context.Context) (backend.KeyMetadata, error) {
		rec, err := b.readLiveRecord(ctx, keyID)
		if err != nil {
			return backend.KeyMetadata{}, err
		}
		if _, err := b.readTransitKey(ctx, keyID); err != nil {
			if errors.Is(err, backend.ErrKeyNotFound) {
				return backend.KeyMetadata{}, fmt.Errorf("%w: metadata exists but the transit key is missing", backend.ErrKeyNotFound)
			}
			return backend.KeyMetadata{}, err
		}
		tk, err := b.setAutoRotate(ctx, keyID, period)
		if err != nil {
			return backend.KeyMetadata{}, err
		}
		b.log.Info("vault: key rotation period set", "key_id", keyID, "rotation_period", period.String())
		return b.keyMetadata(rec, tk), nil
	})
}

// finishCreate handles a CreateKey that finds id's record already there:
// ErrKeyExists, unless the record has no transit key. That is a creation
// that claimed the id (the record is written first, with check-and-set),
// failed to create the transit key and could not roll back either (Vault
// went away in between, as when its active node dies): the key is then
// unusable and its id blocked. Creating the transit key now completes it,
// so a retried CreateKey after an outage succeeds instead of leaving the id
// stuck.
func (b *Backend) finishCreate(ctx context.Context, rec *record, period time.Duration) (backend.KeyMetadata, error) {
	// Only an abandoned creation: a record of a newly created key whose
	// creator has certainly given up (its call and its rollback are each
	// bounded by Timeout). A younger record may belong to a CreateKey still
	// in flight, which must stay the only one to succeed; a key pending
	// deletion or being purged must not get a new transit key.
	if rec.State == statePurging {
		return backend.KeyMetadata{}, fmt.Errorf("%w: purge in progress", backend.ErrKeyDeleted)
	}
	if rec.State != string(backend.KeyStateEnabled) || time.Since(rec.CreationDate) < b.abandonedCreateAge() {
		return backend.KeyMetadata{}, backend.ErrKeyExists
	}
	// A claim that found the tombstone after claiming and could not roll
	// back looks abandoned too: it must never get a transit key.
	if err := b.refuseTombstoned(ctx, rec.KeyID); err != nil {
		return backend.KeyMetadata{}, err
	}
	_, err := b.readTransitKey(ctx, rec.KeyID)
	switch {
	case err == nil:
		return backend.KeyMetadata{}, backend.ErrKeyExists
	case !errors.Is(err, backend.ErrKeyNotFound):
		return backend.KeyMetadata{}, err
	}
	tk, err := b.createTransitKey(ctx, rec.KeyID, period)
	if err != nil {
		return backend.KeyMetadata{}, err
	}
	b.log.Warn("vault: completed a key creation that an earlier failure left without its transit key", "key_id", rec.KeyID)
	return b.keyMetadata(rec, tk), nil
}

// abandonedCreateAge is how old a record without its transit key must be
// before CreateKey completes it: past the first creator's call (Timeout)
// and its rollback (at most Timeout), with a second to spare.
func (b *Backend) abandonedCreateAge() time.Duration { return 2*b.cfg.Timeout + time.Second }

// rollbackCreate removes a record whose transit key could not be created.
func (b *Backend) rollbackCreate(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(5*time.Second, b.cfg.Timeout))
	defer cancel()
	if err := b.del(ctx, b.kvMetadataPath(id)); err != nil {
		b.log.Warn("vault: could not remove the metadata of a key whose creation failed", "key_id", id, "error", err)
	}
	b.states.drop(id)
}

// DescribeKey returns keyID's metadata: the KV record plus the transit key's
// latest_version.
func (b *Backend) DescribeKey(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	return callKey(ctx, b, "DescribeKey", keyID, nil, func(ctx context.Context) (backend.KeyMetadata, error) {
		return b.describe(ctx, keyID)
	})
}

func (b *Backend) describe(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	rec, _, err := b.readRecord(ctx, keyID)
	if err != nil {
		return backend.KeyMetadata{}, err
	}
	if rec == nil {
		return backend.KeyMetadata{}, backend.ErrKeyNotFound
	}
	b.states.put(keyID, rec.State)
	return b.withVersion(ctx, rec)
}

// errNoTransitKey: a key's record exists but its transit key does not (a
// creation in flight or abandoned, or a transit key deleted by hand).
var errNoTransitKey = fmt.Errorf("%w: metadata exists but the transit key is missing", backend.ErrKeyNotFound)

func (b *Backend) withVersion(ctx context.Context, rec *record) (backend.KeyMetadata, error) {
	tk, err := b.readTransitKey(ctx, rec.KeyID)
	if err != nil {
		if errors.Is(err, backend.ErrKeyNotFound) {
			return backend.KeyMetadata{}, errNoTransitKey
		}
		return backend.KeyMetadata{}, err
	}
	return b.keyMetadata(rec, tk), nil
}

// listEntry describes keyID for ListKeys: unreadable when its record is
// malformed or of an unknown format, or when its transit key is missing
// although the record is older than any creation still in flight; gone
// (neither listed nor unreadable) when it was deleted meanwhile or is being
// created. Other errors (Vault unreachable, access denied) concern no
// particular key and fail the listing.
func (b *Backend) listEntry(ctx context.Context, keyID string) (md backend.KeyMetadata, unreadable, gone bool, err error) {
	rec, _, err := b.readRecord(ctx, keyID)
	var re *recordError
	switch {
	case errors.As(err, &re):
		return backend.KeyMetadata{}, true, false, nil
	case err != nil:
		return backend.KeyMetadata{}, false, false, err
	case rec == nil:
		return backend.KeyMetadata{}, false, true, nil
	}
	b.states.put(keyID, rec.State)
	md, err = b.withVersion(ctx, rec)
	switch {
	case errors.Is(err, errNoTransitKey):
		if time.Since(rec.CreationDate) < b.abandonedCreateAge() {
			return backend.KeyMetadata{}, false, true, nil
		}
		return backend.KeyMetadata{}, true, false, nil
	case err != nil:
		return backend.KeyMetadata{}, false, false, err
	}
	return md, false, false, nil
}

// listIDs returns every key id under KeyPathPrefix, sorted.
func (b *Backend) listIDs(ctx context.Context) ([]string, error) {
	s, err := b.list(ctx, b.cfg.KVMount+"/metadata/"+b.cfg.KeyPathPrefix)
	if err != nil {
		if errors.Is(err, backend.ErrKeyNotFound) {
			return nil, nil
		}
		return nil, err
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	raw, _ := s.Data["keys"].([]any)
	ids := make([]string, 0, len(raw))
	for _, k := range raw {
		id, ok := k.(string)
		if ok && !strings.HasSuffix(id, "/") && backend.ValidateKeyID(id) == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// ListKeys pages through the keys in ascending id order. The KV metadata
// list is read in full (Vault's LIST does not page), then the page's keys are
// described concurrently. Keys whose KV record is malformed or of an
// unknown format, or whose transit key is missing (but for a creation in
// flight), are reported in UnreadableKeyIDs (and logged at Warn level),
// counting towards the page; a key deleted meanwhile is not listed; any
// other error (Vault unreachable or sealed, access denied) fails the
// listing.
func (b *Backend) ListKeys(ctx context.Context, req backend.ListKeysRequest) (backend.ListKeysResult, error) {
	const op = "ListKeys"
	limit, check := req.Limit, error(nil)
	switch {
	case limit < 0:
		check = fmt.Errorf("%w: negative limit", backend.ErrInvalidArgument)
	case limit == 0:
		limit = backend.DefaultListLimit
	case limit > maxListLimit:
		limit = maxListLimit
	}
	return call(ctx, b, op, "", check, func(ctx context.Context) (backend.ListKeysResult, error) {
		ids, err := b.listIDs(ctx)
		if err != nil {
			return backend.ListKeysResult{}, err
		}
		if req.Marker != "" {
			i, _ := slices.BinarySearch(ids, req.Marker)
			for i < len(ids) && ids[i] <= req.Marker {
				i++
			}
			ids = ids[i:]
		}
		var res backend.ListKeysResult
		if len(ids) > limit {
			ids, res.Truncated = ids[:limit], true
		}
		mds := make([]backend.KeyMetadata, len(ids))
		errs := make([]error, len(ids))
		unreadable := make([]bool, len(ids))
		gone := make([]bool, len(ids))
		sem := make(chan struct{}, listWorkers)
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				mds[i], unreadable[i], gone[i], errs[i] = b.listEntry(ctx, id)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			switch {
			case err != nil:
				return backend.ListKeysResult{}, opError(op, ids[i], err)
			case unreadable[i]:
				b.log.Warn("vault: listing a key whose metadata or transit key cannot be read", "key_id", ids[i])
				res.UnreadableKeyIDs = append(res.UnreadableKeyIDs, ids[i])
			case !gone[i]:
				res.Keys = append(res.Keys, mds[i])
			}
		}
		if res.Truncated && len(ids) > 0 {
			res.NextMarker = ids[len(ids)-1]
		}
		return res, nil
	})
}

// EnableKey re-enables a Disabled key (a no-op for an Enabled one).
func (b *Backend) EnableKey(ctx context.Context, keyID string) error {
	return b.update(ctx, "EnableKey", keyID, func(r *record) error {
		switch backend.KeyState(r.State) {
		case backend.KeyStateEnabled:
			return errNoChange
		case backend.KeyStateDisabled:
			r.State = string(backend.KeyStateEnabled)
			return nil
		}
		return backend.ErrKeyPendingDeletion
	})
}

// DisableKey disables an Enabled key (a no-op for a Disabled one):
// GenerateDataKey and Rewrap are then refused with backend.ErrKeyDisabled,
// Decrypt keeps working.
//
// Propagation: this Backend applies the change at once, but GenerateDataKey,
// Decrypt and Rewrap trust a key state read from KV for up to one second
// (stateTTL), so another Backend (another replica, process or operator tool)
// sharing the Vault may still wrap new data keys under the key for up to a
// second after DisableKey returns. The same bound applies to EnableKey,
// ScheduleKeyDeletion and CancelKeyDeletion. This saves a KV read on every
// data-key call and is a deliberate trade-off; callers that need a change to
// be effective everywhere wait a second after it.
func (b *Backend) DisableKey(ctx context.Context, keyID string) error {
	return b.update(ctx, "DisableKey", keyID, func(r *record) error {
		switch backend.KeyState(r.State) {
		case backend.KeyStateDisabled:
			return errNoChange
		case backend.KeyStateEnabled:
			r.State = string(backend.KeyStateDisabled)
			return nil
		}
		return backend.ErrKeyPendingDeletion
	})
}

// ScheduleKeyDeletion marks the key PendingDeletion with a deletion date
// pendingDays from now. Nothing is deleted until an operator calls Purge
// after that date.
func (b *Backend) ScheduleKeyDeletion(ctx context.Context, keyID string, pendingDays int) (backend.KeyMetadata, error) {
	const op = "ScheduleKeyDeletion"
	if err := backend.ValidatePendingDays(pendingDays); err != nil {
		return backend.KeyMetadata{}, opError(op, keyID, err)
	}
	return b.updateDescribe(ctx, op, keyID, func(r *record) error {
		if r.publicState() == backend.KeyStatePendingDeletion {
			return backend.ErrKeyPendingDeletion
		}
		d := time.Now().UTC().Add(time.Duration(pendingDays) * 24 * time.Hour)
		r.State, r.DeletionDate = string(backend.KeyStatePendingDeletion), &d
		return nil
	})
}

// CancelKeyDeletion returns a PendingDeletion key to Disabled and clears its
// deletion date, as AWS KMS does: Decrypt works again, but new data keys
// need an explicit EnableKey. A key that Purge has already claimed cannot be
// saved (backend.ErrKeyPendingDeletion); a key not pending deletion is
// refused with backend.ErrInvalidArgument.
func (b *Backend) CancelKeyDeletion(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	return b.updateDescribe(ctx, "CancelKeyDeletion", keyID, func(r *record) error {
		switch r.State {
		case string(backend.KeyStatePendingDeletion):
			r.State, r.DeletionDate = string(backend.KeyStateDisabled), nil
			return nil
		case statePurging:
			return fmt.Errorf("%w: purge in progress", backend.ErrKeyPendingDeletion)
		}
		return fmt.Errorf("%w: key is not pending deletion", backend.ErrInvalidArgument)
	})
}

// RotateKey rotates the transit key: new data keys use the new version,
// blobs under older versions keep decrypting. The key must be Enabled.
func (b *Backend) RotateKey(ctx context.Context, keyID string) (backend.KeyMetadata, error) {
	return callKey(ctx, b, "RotateKey", keyID, nil, func(ctx context.Context) (backend.KeyMetadata, error) {
		rec, err := b.readLiveRecord(ctx, keyID)
		if err != nil {
			return backend.KeyMetadata{}, err
		}
		switch {
		case rec.State == string(backend.KeyStateDisabled):
			return backend.KeyMetadata{}, backend.ErrKeyDisabled
		}
		// Not retried: a lost answer must not rotate twice.
		s, err := b.write(ctx, b.transitKeyPath(keyID)+"/rotate", nil, false)
		if err != nil {
			return backend.KeyMetadata{}, err
		}
		tk, err := parseTransitKey(s)
		if err != nil {
			if tk, err = b.readTransitKey(ctx, keyID); err != nil {
				return backend.KeyMetadata{}, err
			}
		}
		b.log.Info("vault: key rotated", "key_id", keyID, "version", tk.LatestVersion)
		return b.keyMetadata(rec, tk), nil
	})
}

var _ backend.KeyEditor = (*Backend)(nil)

// UpdateKeyDescription replaces a key's description (see
// backend.KeyEditor). Like every metadata change it is a check-and-set
// update of the KV record, so concurrent edits (from any number of
// processes) never lose each other.
func (b *Backend) UpdateKeyDescription(ctx context.Context, keyID, description string) (backend.KeyMetadata, error) {
	const op = "UpdateKeyDescription"
	if err := backend.ValidateDescription(description); err != nil {
		return backend.KeyMetadata{}, editArgErr(op, keyID, err)
	}
	return b.updateDescribe(ctx, op, keyID, func(r *record) error {
		if err := editable(r); err != nil {
			return err
		}
		if r.Description == description {
			return errNoChange
		}
		r.Description = description
		return nil
	})
}

// TagKey adds tags or replaces their values (see backend.KeyEditor; an
// empty value is a value: UntagKey removes tags). A check-and-set update,
// so concurrent TagKey calls (from any number of processes) never lose each
// other's tags.
func (b *Backend) TagKey(ctx context.Context, keyID string, tags map[string]string) (backend.KeyMetadata, error) {
	const op = "TagKey"
	if err := backend.ValidateTagRequest(tags); err != nil {
		return backend.KeyMetadata{}, editArgErr(op, keyID, err)
	}
	return b.updateDescribe(ctx, op, keyID, func(r *record) error {
		if err := editable(r); err != nil {
			return err
		}
		merged, err := backend.MergeTags(r.Tags, tags)
		if err != nil {
			return err
		}
		if maps.Equal(merged, r.Tags) {
			return errNoChange
		}
		r.Tags = merged
		return nil
	})
}

// UntagKey removes tags (see backend.KeyEditor), as a check-and-set update.
func (b *Backend) UntagKey(ctx context.Context, keyID string, tagKeys []string) (backend.KeyMetadata, error) {
	const op = "UntagKey"
	if err := backend.ValidateUntagRequest(tagKeys); err != nil {
		return backend.KeyMetadata{}, editArgErr(op, keyID, err)
	}
	return b.updateDescribe(ctx, op, keyID, func(r *record) error {
		if err := editable(r); err != nil {
			return err
		}
		rest, removed, err := backend.RemoveTags(r.Tags, tagKeys)
		if err != nil {
			return err
		}
		if !removed {
			return errNoChange
		}
		r.Tags = rest
		return nil
	})
}

// editable refuses edits of a key pending deletion (or being purged).
func editable(r *record) error {
	if r.publicState() == backend.KeyStatePendingDeletion {
		return backend.ErrKeyPendingDeletion
	}
	return nil
}

// editArgErr reports an invalid argument; an invalid key id wins.
func editArgErr(op, keyID string, err error) error {
	if kerr := backend.ValidateKeyID(keyID); kerr != nil {
		return opError(op, "", kerr)
	}
	return opError(op, keyID, err)
}

// update runs updateRecord for op with the usual checks and error wrapping.
func (b *Backend) update(ctx context.Context, op, keyID string, fn func(*record) error) error {
	_, err := b.updateThen(ctx, op, keyID, fn, false)
	return err
}

// updateDescribe is update followed by the transit version lookup, both
// within one Timeout.
func (b *Backend) updateDescribe(ctx context.Context, op, keyID string, fn func(*record) error) (backend.KeyMetadata, error) {
	return b.updateThen(ctx, op, keyID, fn, true)
}

func (b *Backend) updateThen(ctx context.Context, op, keyID string, fn func(*record) error, describe bool) (backend.KeyMetadata, error) {
	return callKey(ctx, b, op, keyID, nil, func(ctx context.Context) (backend.KeyMetadata, error) {
		rec, err := b.updateRecord(ctx, keyID, fn)
		if err != nil {
			return backend.KeyMetadata{}, err
		}
		b.log.Info("vault: key metadata updated", "op", op, "key_id", keyID, "state", rec.publicState())
		if !describe {
			return backend.KeyMetadata{}, nil
		}
		return b.withVersion(ctx, rec)
	})
}

func cloneTags(t map[string]string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	c := make(map[string]string, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}
