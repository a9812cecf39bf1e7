package kms

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/envkms/kms/backend"
)

// Backup and restore types of package backend, re-exported.
type (
	Backupper      = backend.Backupper
	BackupInfo     = backend.BackupInfo
	BackupKey      = backend.BackupKey
	RestorePlan    = backend.RestorePlan
	RestoreOptions = backend.RestoreOptions
	RestoreResult  = backend.RestoreResult
	KeyConflict    = backend.KeyConflict
	ConflictPolicy = backend.ConflictPolicy
)

// Conflict policies of Restore, re-exported from package backend.
const (
	ConflictSkip    = backend.ConflictSkip
	ConflictReplace = backend.ConflictReplace
	ConflictFail    = backend.ConflictFail
	// MinBackupSecretLen is the shortest backup secret accepted (bytes).
	MinBackupSecretLen = backend.MinBackupSecretLen
)

// Backup and restore errors, re-exported from package backend.
var (
	ErrWrongBackupSecret = backend.ErrWrongBackupSecret
	ErrInvalidBundle     = backend.ErrInvalidBundle
	ErrBundleMismatch    = backend.ErrBundleMismatch
	ErrBundleIDMismatch  = backend.ErrBundleIDMismatch
	ErrRestoreConflict   = backend.ErrRestoreConflict
)

// withBackupper runs fn on the running backend if it implements
// backend.Backupper (the local backend does), else ErrUnsupported. The
// call holds a reference on the runtime, so a hot swap waits for it. It is
// not retried, nor bounded by timeout_seconds (a bundle of many keys takes
// what it takes; ctx bounds it).
func withBackupper[T any](m *Manager, op string, fn func(backend.Backupper) (T, error)) (T, error) {
	var zero T
	rt, err := m.acquire()
	if err != nil {
		return zero, err
	}
	defer rt.release()
	b, ok := rt.be.Backend.(backend.Backupper)
	if !ok {
		return zero, &backend.Error{Op: op, Err: fmt.Errorf("%w: the %s backend has no backup here (see its documentation)", ErrUnsupported, rt.cfg.BackendType)}
	}
	v, err := fn(b)
	if err != nil {
		m.logger.Warn("kms: "+op+" failed", "err", err)
	}
	return v, err
}

// Backup writes a sealed bundle of every key to w, encrypted under a key
// derived from secret (at least backend.MinBackupSecretLen bytes; never
// logged), and returns its id and listing. Backends without
// backend.Backupper (vault: use Vault's own snapshots) yield ErrUnsupported.
func (m *Manager) Backup(ctx context.Context, w io.Writer, secret []byte) (BackupInfo, error) {
	info, err := withBackupper(m, "Backup", func(b backend.Backupper) (BackupInfo, error) {
		return b.Backup(ctx, w, secret)
	})
	if err == nil {
		m.logger.Info("kms: backup written", "bundle_id", info.BundleID, "keys", len(info.Keys))
	}
	return info, err
}

// RestoreDryRun opens the bundle read from r and reports what Restore
// would do now, changing nothing.
func (m *Manager) RestoreDryRun(ctx context.Context, r io.Reader, secret []byte) (RestorePlan, error) {
	return withBackupper(m, "RestoreDryRun", func(b backend.Backupper) (RestorePlan, error) {
		return b.RestorePlan(ctx, r, secret)
	})
}

// Restore restores the bundle read from r: opts must confirm the bundle's
// id and choose a conflict policy. Afterwards the data-key cache is
// cleared (ClearCache), since restored keys may differ from the cached
// ones.
func (m *Manager) Restore(ctx context.Context, r io.Reader, secret []byte, opts RestoreOptions) (RestoreResult, error) {
	res, err := withBackupper(m, "Restore", func(b backend.Backupper) (RestoreResult, error) {
		return b.Restore(ctx, r, secret, opts)
	})
	// Also after a failure: a crash-like error may have restored some keys.
	if err == nil || len(res.Added)+len(res.Replaced) > 0 || !isRefusal(err) {
		m.ClearCache()
	}
	if err == nil {
		m.logger.Info("kms: backup restored", "bundle_id", res.Plan.Bundle.BundleID, "policy", string(opts.Conflict),
			"added", len(res.Added), "replaced", len(res.Replaced), "skipped", len(res.Skipped))
	}
	return res, err
}

// isRefusal reports whether a Restore error means nothing was written.
func isRefusal(err error) bool {
	for _, e := range []error{ErrNotRunning, ErrUnsupported, ErrInvalidArgument, ErrWrongBackupSecret, ErrInvalidBundle,
		ErrBundleMismatch, ErrBundleIDMismatch, ErrRestoreConflict, ErrKDFTooCostly} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
