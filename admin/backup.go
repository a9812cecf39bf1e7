package admin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"

	"github.com/envkms/kms"
)

// Backup and restore endpoints (the local backend; others answer 400
// because the backend has no backup, see kms.Manager.Backup):
//
//	POST kms/backup          kms:Backup   {"backup_secret"} → {"success","message","backup":{bundle_id,creation_date,format,format_version,size_bytes,keys},"bundle":"<base64>"}
//	GET  kms/backup          kms:Backup   → {"backup":{...}} of the last backup this handler made (404 before one); no bundle, no secret needed
//	POST kms/restore/dry-run kms:Restore  {"bundle","backup_secret"} → {"success","message","plan"}; changes nothing
//	POST kms/restore         kms:Restore  {"bundle","backup_secret","confirm_bundle_id","conflict_policy":"skip|replace|fail"} → {"success","message","result"}
//
// "bundle" is the bundle in standard, padded base64. The backup secret is
// at least 16 bytes; it is never logged, audited or returned (the audit
// record names the call, never its body). Restore bodies may be up to
// maxRestoreBody bytes whatever WithMaxBodyBytes says, since they carry a
// whole bundle. Errors: a wrong secret, a malformed or tampered bundle, a
// bundle of another key directory, an unconfirmed bundle id or an unknown
// policy are 400; a conflict under "fail" is 409.

// maxRestoreBody bounds the body of the two restore endpoints.
const maxRestoreBody = 64 << 20

// backupState remembers the last backup made through one handler, for
// GET kms/backup.
type backupState struct {
	mu   sync.Mutex
	last *kms.BackupInfo
}

type backupRequest struct {
	BackupSecret string `json:"backup_secret"`
}

type backupResponse struct {
	Success bool           `json:"success"`
	Message string         `json:"message"`
	Backup  kms.BackupInfo `json:"backup"`
	Bundle  string         `json:"bundle"`
}

type restoreRequest struct {
	Bundle          string `json:"bundle"`
	BackupSecret    string `json:"backup_secret"`
	ConfirmBundleID string `json:"confirm_bundle_id"`
	ConflictPolicy  string `json:"conflict_policy"`
}

type dryRunRequest struct {
	Bundle       string `json:"bundle"`
	BackupSecret string `json:"backup_secret"`
}

func backupSecret(s string) ([]byte, error) {
	if s == "" {
		return nil, badRequest("backup_secret is required")
	}
	if len(s) < kms.MinBackupSecretLen {
		return nil, badRequest("backup_secret must be at least 16 bytes")
	}
	return []byte(s), nil
}

// backupError maps the typed backup errors to their status; others go
// through managerError.
func backupError(err error) error {
	switch {
	case errors.Is(err, kms.ErrRestoreConflict):
		return &apiError{status: http.StatusConflict, msg: err.Error(), err: err}
	case errors.Is(err, kms.ErrWrongBackupSecret), errors.Is(err, kms.ErrInvalidBundle),
		errors.Is(err, kms.ErrBundleMismatch), errors.Is(err, kms.ErrBundleIDMismatch):
		return &apiError{status: http.StatusBadRequest, msg: err.Error(), err: err}
	}
	return err
}

func (s *backupState) postBackup(c *call) error {
	var req backupRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	secret, err := backupSecret(req.BackupSecret)
	if err != nil {
		return err
	}
	defer clear(secret)
	var buf bytes.Buffer
	info, err := c.h.m.Backup(c.ctx, &buf, secret)
	if err != nil {
		return backupError(err)
	}
	s.mu.Lock()
	s.last = &info
	s.mu.Unlock()
	return c.writeJSON(http.StatusOK, backupResponse{Success: true, Message: "backup created", Backup: info, Bundle: base64.StdEncoding.EncodeToString(buf.Bytes())})
}

func (s *backupState) getBackup(c *call) error {
	if _, err := c.decodeBody(&struct{}{}, false); err != nil {
		return err
	}
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last == nil {
		return apiErr(http.StatusNotFound, "no backup made through this server since it started")
	}
	return c.writeJSON(http.StatusOK, struct {
		Backup kms.BackupInfo `json:"backup"`
	}{*last})
}

// decodeRestoreBody is decodeBody with the restore endpoints' limit.
func (c *call) decodeRestoreBody(v any) error {
	h := *c.h
	h.maxBody = max(h.maxBody, maxRestoreBody)
	cc := *c
	cc.h = &h
	_, err := cc.decodeBody(v, true)
	return err
}

func decodeBundle(s string) ([]byte, error) {
	if s == "" {
		return nil, badRequest("bundle is required")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, badRequest("bundle must be standard base64")
	}
	return b, nil
}

// bundleAndSecret decodes a restore request's bundle and backup secret;
// the caller clears the secret.
func bundleAndSecret(bundle, secret string) ([]byte, []byte, error) {
	b, err := decodeBundle(bundle)
	if err != nil {
		return nil, nil, err
	}
	s, err := backupSecret(secret)
	if err != nil {
		return nil, nil, err
	}
	return b, s, nil
}

func restoreDryRun(c *call) error {
	var req dryRunRequest
	if err := c.decodeRestoreBody(&req); err != nil {
		return err
	}
	bundle, secret, err := bundleAndSecret(req.Bundle, req.BackupSecret)
	if err != nil {
		return err
	}
	defer clear(secret)
	pl, err := c.h.m.RestoreDryRun(c.ctx, bytes.NewReader(bundle), secret)
	if err != nil {
		return backupError(err)
	}
	return c.writeJSON(http.StatusOK, struct {
		Success bool            `json:"success"`
		Message string          `json:"message"`
		Plan    kms.RestorePlan `json:"plan"`
	}{true, "dry run: nothing was changed", pl})
}

func restore(c *call) error {
	var req restoreRequest
	if err := c.decodeRestoreBody(&req); err != nil {
		return err
	}
	bundle, secret, err := bundleAndSecret(req.Bundle, req.BackupSecret)
	if err != nil {
		return err
	}
	defer clear(secret)
	if req.ConfirmBundleID == "" {
		return badRequest("confirm_bundle_id is required: the bundle_id the dry run shows")
	}
	policy := kms.ConflictPolicy(req.ConflictPolicy)
	if !policy.Valid() {
		return badRequest("conflict_policy must be skip, replace or fail")
	}
	res, err := c.h.m.Restore(c.ctx, bytes.NewReader(bundle), secret, kms.RestoreOptions{BundleID: req.ConfirmBundleID, Conflict: policy})
	if err != nil {
		return backupError(err)
	}
	return c.writeJSON(http.StatusOK, struct {
		Success bool              `json:"success"`
		Message string            `json:"message"`
		Result  kms.RestoreResult `json:"result"`
	}{true, "backup restored", res})
}
