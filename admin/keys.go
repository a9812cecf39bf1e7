package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
)

// Key listing bounds: the page size when limit is absent, and the largest
// page served (a larger limit is served as this).
const (
	DefaultListLimit = 100
	maxListLimit     = 1000
)

// Default deletion window when pending_window_in_days is absent, in days.
const defaultPendingDays = 7

// keyMetadata is the JSON form of kms.KeyMetadata in responses.
type keyMetadata struct {
	KeyID           string       `json:"key_id"`
	Description     string       `json:"description"`
	Enabled         bool         `json:"enabled"`
	KeyState        kms.KeyState `json:"key_state"`
	KeyUsage        string       `json:"key_usage"`
	CreationDate    time.Time    `json:"creation_date"`
	DeletionDate    *time.Time   `json:"deletion_date"`
	RotationEnabled bool         `json:"rotation_enabled"`
	// RotationPeriod is the automatic rotation period (Go duration syntax,
	// e.g. "720h0m0s"), omitted when there is none.
	RotationPeriod string `json:"rotation_period,omitempty"`
	// RotationDue: the current version is due for rotation (by age or by
	// the number of data keys wrapped under it).
	RotationDue bool              `json:"rotation_due"`
	Version     int               `json:"version"`
	Tags        map[string]string `json:"tags,omitempty"`
}

func toKeyMetadata(m kms.KeyMetadata) keyMetadata {
	usage := m.KeyUsage
	if usage == "" {
		usage = keyUsageEncryptDecrypt
	}
	md := keyMetadata{
		KeyID:           m.KeyID,
		Description:     m.Description,
		Enabled:         m.State == kms.KeyStateEnabled,
		KeyState:        m.State,
		KeyUsage:        usage,
		CreationDate:    m.CreationDate,
		DeletionDate:    m.DeletionDate,
		RotationEnabled: m.RotationPeriod > 0,
		RotationDue:     m.RotationDue,
		Version:         m.Version,
		Tags:            m.Tags,
	}
	if m.RotationPeriod > 0 {
		md.RotationPeriod = m.RotationPeriod.String()
	}
	return md
}

// parseRotationPeriod reads a rotation_period: a Go duration ("720h",
// "1h30m") or a whole number of days ("90d"); "0", "0s" or "" turn
// automatic rotation off. The range is checked here too, so a bad one is a
// 400 whatever the backend.
func parseRotationPeriod(s string) (time.Duration, error) {
	var d time.Duration
	switch days, ok := strings.CutSuffix(s, "d"); {
	case s == "" || s == "0":
	case ok:
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, badRequest("rotation_period must be a duration such as \"720h\" or a number of days such as \"90d\"")
		}
		d = time.Duration(n) * 24 * time.Hour
	default:
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, badRequest("rotation_period must be a duration such as \"720h\" or a number of days such as \"90d\"")
		}
	}
	if err := backend.ValidateRotationPeriod(d); err != nil {
		return 0, badRequest(fmt.Sprintf("rotation_period must be 0 (off) or %v..%v", backend.MinRotationPeriod, backend.MaxRotationPeriod))
	}
	return d, nil
}

// keyResponse answers key calls that return one key: RustFS's
// {"success","message","key_id"} plus the key's metadata.
type keyResponse struct {
	Success     bool        `json:"success"`
	Message     string      `json:"message"`
	KeyID       string      `json:"key_id,omitempty"`
	KeyMetadata keyMetadata `json:"key_metadata"`
}

func (c *call) keyOK(msg string, md kms.KeyMetadata) error {
	return c.writeJSON(http.StatusOK, keyResponse{Success: true, Message: msg, KeyID: md.KeyID, KeyMetadata: toKeyMetadata(md)})
}

const keyUsageEncryptDecrypt = "ENCRYPT_DECRYPT"

// createKeyRequest is the kms/keys body. The reference API's names are
// PascalCase (KeyUsage, Description, Tags); the snake_case names of newer
// clients are accepted too, and KeyId / key_id choose the key id (default: a
// generated UUID). Giving the same field twice is an error: in two
// spellings (KeyId and key_id), or in one spelling twice, in any case
// (decodeStrict refuses those).
type createKeyRequest struct {
	KeyUsage    *string           `json:"KeyUsage"`
	Description *string           `json:"Description"`
	Tags        map[string]string `json:"Tags"`
	KeyID       *string           `json:"KeyId"`
	Rotation    *string           `json:"RotationPeriod"`

	KeyUsageSnake    *string           `json:"key_usage"`
	DescriptionSnake *string           `json:"description"`
	TagsSnake        map[string]string `json:"tags"`
	KeyIDSnake       *string           `json:"key_id"`
	RotationSnake    *string           `json:"rotation_period"`
}

func pick[T any](a, b *T, field string) (*T, error) {
	if a != nil && b != nil {
		return nil, badRequest("field " + field + " given twice")
	}
	if a != nil {
		return a, nil
	}
	return b, nil
}

func (c *call) createKey() error {
	var req createKeyRequest
	if _, err := c.decodeBody(&req, false); err != nil {
		return err
	}
	usage, err := pick(req.KeyUsage, req.KeyUsageSnake, "KeyUsage")
	if err != nil {
		return err
	}
	desc, err := pick(req.Description, req.DescriptionSnake, "Description")
	if err != nil {
		return err
	}
	id, err := pick(req.KeyID, req.KeyIDSnake, "KeyId")
	if err != nil {
		return err
	}
	rotation, err := pick(req.Rotation, req.RotationSnake, "RotationPeriod")
	if err != nil {
		return err
	}
	if req.Tags != nil && req.TagsSnake != nil {
		return badRequest("field Tags given twice")
	}
	tags := req.Tags
	if tags == nil {
		tags = req.TagsSnake
	}
	cr := kms.CreateKeyRequest{KeyUsage: keyUsageEncryptDecrypt, Tags: tags}
	if usage != nil {
		switch *usage {
		case "", keyUsageEncryptDecrypt, "EncryptDecrypt":
		default:
			return badRequest("KeyUsage must be ENCRYPT_DECRYPT")
		}
	}
	if desc != nil {
		cr.Description = *desc
	}
	if rotation != nil {
		if cr.RotationPeriod, err = parseRotationPeriod(*rotation); err != nil {
			return err
		}
	}
	if id != nil {
		if *id == "" {
			return badRequest("KeyId must not be empty")
		}
		cr.KeyID = *id
	} else {
		// Generated here rather than by the backend, so that the
		// authorization names the key it creates.
		cr.KeyID = backend.NewKeyID()
	}
	if err := c.authorizeKey(cr.KeyID); err != nil {
		return err
	}
	md, err := c.h.m.CreateKey(c.ctx, cr)
	if err != nil {
		return err
	}
	c.keyID = md.KeyID
	return c.keyOK("key created", md)
}

// listEntry is one key in the kms/keys listing.
type listEntry struct {
	KeyID       string       `json:"key_id"`
	Description string       `json:"description"`
	Enabled     bool         `json:"enabled"`
	KeyState    kms.KeyState `json:"key_state"`
}

type listResponse struct {
	Keys             []listEntry `json:"keys"`
	Truncated        bool        `json:"truncated"`
	NextMarker       *string     `json:"next_marker"`
	UnreadableKeyIDs []string    `json:"unreadable_key_ids,omitempty"`
}

// queryValue returns query parameter name ("" when absent), refusing it given
// twice: url.Values.Get would take the first silently.
func queryValue(q url.Values, name string) (string, error) {
	switch vs := q[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", badRequest("query parameter " + quoteField(name) + " given twice")
}

// listKeys serves the listing contract: limit defaults to
// DefaultListLimit, must be a non-negative integer when given (a value-less
// or malformed limit is 400), and is served as at most maxListLimit (the
// page is then truncated with a next_marker when more keys follow);
// limit=0 is an empty page whose truncated says whether keys follow. The
// marker is opaque: the next_marker of the page before. Keys the backend
// found but could not read are reported in unreadable_key_ids; a listing of
// the whole key set (no marker, not truncated) in which nothing could be
// read is an error, not an empty list.
func (c *call) listKeys() error {
	q := c.r.URL.Query()
	marker, err := queryValue(q, "marker")
	if err != nil {
		return err
	}
	limit := DefaultListLimit
	if q.Has("limit") {
		v, err := queryValue(q, "limit")
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(v, 10, 64)
		switch {
		case err == nil:
			limit = int(min(n, maxListLimit))
		case errors.Is(err, strconv.ErrRange):
			limit = maxListLimit
		default:
			return badRequest("limit must be a non-negative integer")
		}
	}
	req := kms.ListKeysRequest{Marker: marker, Limit: max(limit, 1)}
	res, err := c.h.m.ListKeys(c.ctx, req)
	if err != nil {
		return err
	}
	if limit == 0 {
		out := listResponse{Keys: []listEntry{}, Truncated: len(res.Keys)+len(res.UnreadableKeyIDs) > 0 || res.Truncated}
		if out.Truncated && marker != "" {
			out.NextMarker = &marker
		}
		return c.writeJSON(http.StatusOK, out)
	}
	if marker == "" && !res.Truncated && len(res.Keys) == 0 && len(res.UnreadableKeyIDs) > 0 {
		ids := res.UnreadableKeyIDs
		return &apiError{
			status: http.StatusInternalServerError,
			msg:    fmt.Sprintf("no key could be read: %d damaged or unreadable key records", len(ids)),
			reason: fmt.Sprintf("listing found %d keys and could read none; the first is %s", len(ids), quoteField(ids[0])),
		}
	}
	out := listResponse{Keys: make([]listEntry, 0, len(res.Keys)), Truncated: res.Truncated, UnreadableKeyIDs: res.UnreadableKeyIDs}
	for _, k := range res.Keys {
		out.Keys = append(out.Keys, listEntry{KeyID: k.KeyID, Description: k.Description, Enabled: k.State == kms.KeyStateEnabled, KeyState: k.State})
	}
	if res.Truncated && res.NextMarker != "" {
		out.NextMarker = &res.NextMarker
	}
	return c.writeJSON(http.StatusOK, out)
}

func (c *call) describeKey() error {
	md, err := c.h.m.DescribeKey(c.ctx, c.keyID)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, struct {
		KeyMetadata keyMetadata `json:"key_metadata"`
	}{toKeyMetadata(md)})
}

// keyIDRequest is the body of cancel-deletion (and the base of delete).
type keyIDRequest struct {
	KeyID string `json:"key_id"`
}

type deleteRequest struct {
	KeyID               string `json:"key_id"`
	PendingWindowInDays *int   `json:"pending_window_in_days"`
}

type deleteResponse struct {
	Success             bool        `json:"success"`
	Message             string      `json:"message"`
	KeyID               string      `json:"key_id"`
	DeletionDate        *time.Time  `json:"deletion_date"`
	PendingWindowInDays int         `json:"pending_window_in_days"`
	KeyMetadata         keyMetadata `json:"key_metadata"`
}

// scheduleDeletion takes the key from the JSON body or, with an empty body,
// from the keyId (or key_id) and pending_window_in_days query parameters. As
// in the body, a parameter given twice (or as both keyId and key_id) is an
// error, and so are parameters beside a body: which one would win is not
// for a destructive call to guess.
func (c *call) scheduleDeletion() error {
	var req deleteRequest
	present, err := c.decodeBody(&req, false)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	named := q.Has("keyId") || q.Has("key_id") || q.Has("pending_window_in_days")
	switch {
	case present && named:
		return badRequest("give key_id and pending_window_in_days in the body or in the query, not in both")
	case !present:
		if q.Has("keyId") && q.Has("key_id") {
			return badRequest("query parameter key_id given twice (as keyId and key_id)")
		}
		name := "keyId"
		if !q.Has(name) {
			name = "key_id"
		}
		if req.KeyID, err = queryValue(q, name); err != nil {
			return err
		}
		s, err := queryValue(q, "pending_window_in_days")
		if err != nil {
			return err
		}
		if s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return badRequest("pending_window_in_days must be an integer")
			}
			req.PendingWindowInDays = &n
		}
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	if err := c.authorizeKey(req.KeyID); err != nil {
		return err
	}
	days := defaultPendingDays
	if req.PendingWindowInDays != nil {
		days = *req.PendingWindowInDays
	}
	md, err := c.h.m.ScheduleKeyDeletion(c.ctx, req.KeyID, days)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, deleteResponse{
		Success: true, Message: "key deletion scheduled",
		KeyID: md.KeyID, DeletionDate: md.DeletionDate, PendingWindowInDays: days, KeyMetadata: toKeyMetadata(md),
	})
}

func (c *call) cancelDeletion() error {
	id, err := c.bodyKeyID()
	if err != nil {
		return err
	}
	md, err := c.h.m.CancelKeyDeletion(c.ctx, id)
	if err != nil {
		return err
	}
	return c.keyOK("key deletion cancelled", md)
}

// bodyKeyID reads a required {"key_id"} body and authorizes the call on
// that key.
func (c *call) bodyKeyID() (string, error) {
	var req keyIDRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return "", err
	}
	if req.KeyID == "" {
		return "", badRequest("key_id is required")
	}
	return req.KeyID, c.authorizeKey(req.KeyID)
}

// targetKey returns the key of enable, disable and rotate: the {key_id}
// path segment (already authorized; the body must be empty or {}), or else
// the key_id of a required {"key_id"} body.
func (c *call) targetKey() (string, error) {
	if id := c.params["key_id"]; id != "" {
		if _, err := c.decodeBody(&struct{}{}, false); err != nil {
			return "", err
		}
		return id, nil
	}
	return c.bodyKeyID()
}

func (c *call) enableKey() error {
	id, err := c.targetKey()
	if err != nil {
		return err
	}
	if err := c.h.m.EnableKey(c.ctx, id); err != nil {
		return err
	}
	return c.respondKey(id, "key enabled")
}

func (c *call) disableKey() error {
	id, err := c.targetKey()
	if err != nil {
		return err
	}
	if err := c.h.m.DisableKey(c.ctx, id); err != nil {
		return err
	}
	return c.respondKey(id, "key disabled")
}

func (c *call) rotateKey() error {
	id, err := c.targetKey()
	if err != nil {
		return err
	}
	md, err := c.h.m.RotateKey(c.ctx, id)
	if err != nil {
		return err
	}
	return c.keyOK("key rotated", md)
}

func (c *call) respondKey(keyID, msg string) error {
	md, err := c.h.m.DescribeKey(c.ctx, keyID)
	if err != nil {
		return err
	}
	return c.keyOK(msg, md)
}

// rotationPeriodRequest is the kms/keys/rotation-period body, shaped like
// RustFS's other per-key requests.
type rotationPeriodRequest struct {
	KeyID          string  `json:"key_id"`
	RotationPeriod *string `json:"rotation_period"`
}

func (c *call) setRotationPeriod() error {
	var req rotationPeriodRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	if req.RotationPeriod == nil {
		return badRequest("rotation_period is required (\"0\" turns automatic rotation off)")
	}
	d, err := parseRotationPeriod(*req.RotationPeriod)
	if err != nil {
		return err
	}
	if err := c.authorizeKey(req.KeyID); err != nil {
		return err
	}
	md, err := c.h.m.SetRotationPeriod(c.ctx, req.KeyID, d)
	if err != nil {
		return err
	}
	return c.keyOK("key rotation period set", md)
}

// destroyVersionsRequest is the kms/keys/destroy-versions body.
type destroyVersionsRequest struct {
	KeyID        string `json:"key_id"`
	BelowVersion *int   `json:"below_version"`
}

func (c *call) destroyVersions() error {
	var req destroyVersionsRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	if req.BelowVersion == nil || *req.BelowVersion < 2 {
		return badRequest("below_version is required: the oldest version to keep, at least 2")
	}
	if err := c.authorizeKey(req.KeyID); err != nil {
		return err
	}
	md, err := c.h.m.DestroyKeyVersions(c.ctx, req.KeyID, *req.BelowVersion)
	if err != nil {
		return err
	}
	return c.keyOK(fmt.Sprintf("key versions below %d destroyed", *req.BelowVersion), md)
}

// updateDescriptionRequest is RustFS's UpdateKeyDescriptionRequest.
type updateDescriptionRequest struct {
	KeyID       string  `json:"key_id"`
	Description *string `json:"description"`
}

func (c *call) updateDescription() error {
	var req updateDescriptionRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	if req.Description == nil {
		return badRequest("description is required")
	}
	if err := c.authorizeKey(req.KeyID); err != nil {
		return err
	}
	md, err := c.h.m.UpdateKeyDescription(c.ctx, req.KeyID, *req.Description)
	if err != nil {
		return err
	}
	return c.keyOK("key description updated", md)
}

// tagRequest is RustFS's TagKeyRequest.
type tagRequest struct {
	KeyID string            `json:"key_id"`
	Tags  map[string]string `json:"tags"`
}

func (c *call) tagKey() error {
	var req tagRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	if len(req.Tags) == 0 {
		return badRequest("tags must name at least one tag")
	}
	if err := c.authorizeKey(req.KeyID); err != nil {
		return err
	}
	md, err := c.h.m.TagKey(c.ctx, req.KeyID, req.Tags)
	if err != nil {
		return err
	}
	return c.keyOK("key tagged", md)
}

// untagRequest is RustFS's UntagKeyRequest.
type untagRequest struct {
	KeyID   string   `json:"key_id"`
	TagKeys []string `json:"tag_keys"`
}

func (c *call) untagKey() error {
	var req untagRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	if len(req.TagKeys) == 0 {
		return badRequest("tag_keys must name at least one tag")
	}
	if err := c.authorizeKey(req.KeyID); err != nil {
		return err
	}
	md, err := c.h.m.UntagKey(c.ctx, req.KeyID, req.TagKeys)
	if err != nil {
		return err
	}
	return c.keyOK("key untagged", md)
}
