package admin

import (
	"context"
	"errors"
	"net/http"
)

// Action is a permission the admin API checks before a call: one per
// endpoint (see NewHandler), named as RustFS's KMS admin contract names
// them.
type Action string

// Actions. Those marked per key are checked against the key's resource
// (KeyResource); the others against ResourceAll.
const (
	ActionConfigure            Action = "kms:Configure"            // configure, reconfigure, GET config
	ActionServiceControl       Action = "kms:ServiceControl"       // start, stop, status, service-status
	ActionClearCache           Action = "kms:ClearCache"           // clear-cache
	ActionListKeys             Action = "kms:ListKeys"             // GET keys
	ActionCreateKey            Action = "kms:CreateKey"            // POST keys (per key: the id it creates)
	ActionDescribeKey          Action = "kms:DescribeKey"          // GET keys/{key_id} (per key)
	ActionEnableKey            Action = "kms:EnableKey"            // per key
	ActionDisableKey           Action = "kms:DisableKey"           // per key
	ActionRotateKey            Action = "kms:RotateKey"            // per key
	ActionDeleteKey            Action = "kms:DeleteKey"            // delete, cancel-deletion (per key)
	ActionTagResource          Action = "kms:TagResource"          // tag (per key)
	ActionUntagResource        Action = "kms:UntagResource"        // untag (per key)
	ActionUpdateKeyDescription Action = "kms:UpdateKeyDescription" // update-description (per key)
	ActionGenerateDataKey      Action = "kms:GenerateDataKey"      // per key
	ActionDecrypt              Action = "kms:Decrypt"              // per key (the key the ciphertext names)
	ActionBackup               Action = "kms:Backup"               // GET and POST backup
	ActionRestore              Action = "kms:Restore"              // restore/dry-run, restore
)

// Actions returns every Action, in the order of the constants.
func Actions() []Action {
	return []Action{
		ActionConfigure, ActionServiceControl, ActionClearCache, ActionListKeys,
		ActionCreateKey, ActionDescribeKey, ActionEnableKey, ActionDisableKey,
		ActionRotateKey, ActionDeleteKey, ActionTagResource, ActionUntagResource,
		ActionUpdateKeyDescription, ActionGenerateDataKey, ActionDecrypt,
		ActionBackup, ActionRestore,
	}
}

// Resources an Action is checked against.
const (
	// ResourceAll is the resource of the actions that concern no one key
	// (configure, start, list, ...). A policy grants them only through a
	// resource pattern that matches it, such as ResourceAll itself or "*";
	// "arn:aws:kms:::key/*" does not.
	ResourceAll = "arn:aws:kms:::*"
	// keyResourcePrefix + key id is a key's resource.
	keyResourcePrefix = "arn:aws:kms:::key/"
)

// KeyResource returns the resource of per-key actions on keyID:
// arn:aws:kms:::key/<keyID>.
func KeyResource(keyID string) string { return keyResourcePrefix + keyID }

// Authorizer decides whether an authenticated principal may perform action
// on resource (KeyResource(id) for per-key actions, ResourceAll for the
// others). It returns nil to allow the call, an error wrapping ErrForbidden
// to deny it (403 AccessDenied), or another error when it cannot decide
// (500; the call is refused as well). It must be safe for concurrent use;
// ctx is the request's context. Policy is a ready implementation.
type Authorizer interface {
	Authorize(ctx context.Context, p Principal, action Action, resource string) error
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, p Principal, action Action, resource string) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, p Principal, action Action, resource string) error {
	return f(ctx, p, action, resource)
}

// WithAuthorizer makes every call subject to a's decision, after
// authentication: each endpoint's Action (see NewHandler) on its resource.
// With an Authorizer the Principal.Admin flag no longer gates the API;
// a decides (and may consult it). Without one, only admin principals may
// call, and may call everything.
func WithAuthorizer(a Authorizer) Option { return func(h *handler) { h.authz = a } }

// authorize checks the call's action on resource once the resource is
// known; per-key endpoints call authorizeKey. A success response is only
// written after it (writeRaw enforces that).
func (c *call) authorize(resource string) error {
	c.resource = resource
	if c.h.authz == nil {
		c.authorized = true
		return nil
	}
	err := c.h.authz.Authorize(c.ctx, c.principal, c.action, resource)
	switch {
	case err == nil:
		c.authorized = true
		return nil
	case errors.Is(err, ErrForbidden):
		reason := "denied by the authorizer"
		var pe *PolicyError
		if errors.As(err, &pe) {
			reason = pe.Error()
		}
		return &apiError{status: http.StatusForbidden, msg: "not authorized to perform " + string(c.action) + " on " + quoteField(resource), reason: reason, err: err}
	default:
		return &apiError{status: http.StatusInternalServerError, msg: "authorization failed", reason: "authorizer error", err: err}
	}
}

// authorizeKey checks the call's action on key keyID and records the key
// for the audit log.
func (c *call) authorizeKey(keyID string) error {
	c.keyID = keyID
	return c.authorize(KeyResource(keyID))
}
